#!/usr/bin/env node
/**
 * `npm run demo:compare -- --scenario web|social|stocks`: Lambda and Kappa side by side on the same
 * seeded stream, a logic change midway, and a report (Markdown, SVG charts, JSON) in `--out`, which the
 * dashboard shows under "Lambda vs Kappa" (`GET /reports/latest`). `--history N` starts both modes from a
 * pre-built history of N events (built once, cached); `--scaling 100k,1m,...` runs once per history size
 * and reports the change's cost against the size. Progress bars on a terminal (the run, and each mode's
 * reprocess as its API reports it), a line per phase otherwise; exit code 1 when the run fails or an
 * answer differs from the truth.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError as InvalidOptionError } from 'commander';
import { runComparison } from '../demo/compare/comparison-run.js';
import { defaultHistoryCache, formatCount, parseCount, prepareHistory, type HistoryProgress } from '../demo/compare/history.js';
import { LiveReportWriter } from '../demo/compare/live-report.js';
import type { Mode } from '../demo/compare/mode-protocol.js';
import type { ProgressSample } from '../demo/compare/reprocess-over-api.js';
import { REPORT_FILES, writeReport } from '../demo/compare/report.js';
import { runScaling } from '../demo/compare/scaling-run.js';
import { writeScalingReport } from '../demo/compare/scaling-report.js';
import { SCENARIOS, scenarioNamed } from '../demo/scenarios/scenarios.js';

const positive = (value: string) => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidOptionError('must be a positive number');
  return number;
};
const count = (value: string) => {
  try {
    return parseCount(value);
  } catch (error) {
    throw new InvalidOptionError((error as Error).message);
  }
};
const counts = (value: string) => value.split(',').map(count);

const options = new Command()
  .name('demo-compare')
  .description('Runs Lambda and Kappa side by side on one stream, changes a view\'s logic midway, and writes a report')
  .requiredOption('--scenario <name>', `the scenario: ${[...SCENARIOS.keys()].join(', ')}`)
  .option('--out <dir>', 'where the report goes (default: reports/<scenario>, or reports/<scenario>-scaling)')
  .option('--seed <n>', 'the seed of the event generator', (value) => Math.trunc(positive(value)), 7)
  .option('--history <n>', 'start both modes from a pre-built history of n events (e.g. 100k, 1m, 20m)', count)
  .option('--scaling <sizes>', 'run once per history size and report the cost against it (e.g. 100k,1m,5m,20m)', counts)
  .option('--cache-dir <dir>', 'where pre-built histories are kept between runs', defaultHistoryCache())
  .option('--events-per-second <n>', 'events appended per second to both modes', positive, 300)
  .option('--duration <seconds>', 'how long events flow; the change comes halfway', positive, 16)
  .option('--batch-interval <ms>', "the speed layer's micro-batch interval (both modes)", positive, 250)
  .option('--recompute-every <seconds>', "Lambda's batch recompute interval", positive, 5)
  .option('--compact-every <seconds>', "Kappa's compaction interval", positive, 5)
  .option('--keep', "keep each mode's data directory (printed) instead of deleting it", false)
  .parse()
  .opts<{
    scenario: string;
    out?: string;
    seed: number;
    history?: number;
    scaling?: number[];
    cacheDir: string;
    eventsPerSecond: number;
    duration: number;
    batchInterval: number;
    recomputeEvery: number;
    compactEvery: number;
    keep: boolean;
  }>();

const scenario = (() => {
  try {
    if (options.history !== undefined && options.scaling) throw new Error('--history and --scaling do not go together: --scaling names the history sizes');
    return scenarioNamed(options.scenario);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
})();

/** The run's bar and, during the change, one bar per mode's reprocess (a line per change without a terminal). */
class Bars {
  private readonly multi = process.stderr.isTTY
    ? new cliProgress.MultiBar({ format: '  {name} [{bar}] {percentage}% {phase}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic)
    : undefined;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly last = new Map<string, string>();

  /** `key` names the phase for the line printed without a terminal (a line per new key). */
  update(name: string, percent: number, phase: string, key = phase): void {
    if (this.multi) {
      let bar = this.bars.get(name);
      if (!bar) this.bars.set(name, (bar = this.multi.create(100, 0, { name: name.padEnd(9), phase })));
      bar.update(Math.round(percent), { name: name.padEnd(9), phase });
    } else if (this.last.get(name) !== key) {
      console.log(`${name}: ${Math.round(percent)}% ${phase}`);
    }
    this.last.set(name, key);
  }

  history(size: number, { phase, done, total }: HistoryProgress): void {
    this.update('history', total === 0 ? 100 : (100 * done) / total, `${phase} ${formatCount(size)} events (${done.toLocaleString('en')} of ${total.toLocaleString('en')})`, `${phase} ${size}`);
  }

  reprocess(mode: Mode, sample: ProgressSample): void {
    this.update(mode === 'lambda' ? 'Lambda' : 'Kappa', sample.percent, `${sample.state === 'running' ? sample.phase : sample.state} (reprocess)`);
  }

  stop(): void {
    this.multi?.stop();
    this.bars.clear();
  }
}

const bars = new Bars();
const out = resolve(options.out ?? join('reports', options.scaling ? `${scenario.name}-scaling` : scenario.name));
// The report folder shows the run while it goes (the dashboard's comparison card), then the final report.
const live = new LiveReportWriter(out, scenario);
const workDirectory = await mkdtemp(join(tmpdir(), `lambda-vs-kappa-${scenario.name}-`));
const settings = {
  scenario,
  seed: options.seed,
  eventsPerSecond: options.eventsPerSecond,
  durationMs: options.duration * 1000,
  batchIntervalMs: options.batchInterval,
  recomputeEveryMs: options.recomputeEvery * 1000,
  compactEveryMs: options.compactEvery * 1000,
  onReprocessProgress: (mode: Mode, sample: ProgressSample) => {
    bars.reprocess(mode, sample);
    live.reprocess(mode, sample);
  },
};
const building = (size: number, progress: HistoryProgress) => {
  bars.history(size, progress);
  live.building(size, `${progress.phase} the history`, progress.total === 0 ? 100 : (100 * progress.done) / progress.total);
};
try {
  if (options.scaling) {
    const result = await runScaling({
      ...settings,
      sizes: options.scaling,
      cacheDirectory: options.cacheDir,
      workDirectory,
      keep: options.keep,
      onHistoryProgress: building,
      // Each size's figures are kept as soon as they are measured; the live report takes over again after.
      onPoint: async (partial) => {
        if (partial.pending.length === 0) return;
        await writeScalingReport(partial, join(out, 'partial'));
      },
      onProgress: (size, { percent, phase }) => {
        bars.update('run', percent, `${formatCount(size)}: ${phase}`);
        live.run(size, percent, phase);
      },
    });
    bars.stop();
    await live.close();
    await writeScalingReport(result, out);
    await rm(join(out, 'partial'), { recursive: true, force: true });
    console.log(`Report: ${join(out, REPORT_FILES.markdown)} (${(result.wallMs / 1000).toFixed(0)} s in all)`);
    const differing = result.points.flatMap((point) =>
      point.checkpoints.flatMap((checkpoint) =>
        Object.entries(checkpoint.equal)
          .filter(([, equal]) => !equal)
          .map(([mode]) => `${mode} at ${formatCount(point.history)}, "${checkpoint.label}"`),
      ),
    );
    if (differing.length > 0) {
      console.error(`Answers differ from the truth: ${differing.join('; ')}`);
      process.exitCode = 1;
    }
  } else {
    const history =
      options.history === undefined
        ? undefined
        : await prepareHistory({ scenario, seed: options.seed, count: options.history, cacheDirectory: options.cacheDir, onProgress: (progress) => building(options.history!, progress) });
    const result = await runComparison({
      ...settings,
      workDirectory,
      history,
      onProgress: ({ percent, phase }) => {
        bars.update('run', percent, phase);
        live.run(options.history ?? null, percent, phase);
      },
    });
    bars.stop();
    await live.close();
    await writeReport(result, out);
    const differing = result.checkpoints.flatMap((checkpoint) =>
      Object.entries(checkpoint.modes).flatMap(([mode, views]) => views.filter((view) => !view.equal).map((view) => `${mode} ${view.view} at "${checkpoint.label}"`)),
    );
    console.log(`Report: ${join(out, REPORT_FILES.markdown)}`);
    if (differing.length > 0) {
      console.error(`Answers differ from the truth: ${differing.join('; ')}`);
      process.exitCode = 1;
    }
  }
} catch (error) {
  bars.stop();
  await live.fail(error as Error).catch(() => undefined);
  await live.close();
  console.error(`The comparison failed: ${(error as Error).message}`);
  console.error(`Each mode's log is in ${workDirectory}`);
  process.exitCode = 1;
} finally {
  if (options.keep || process.exitCode === 1) console.log(`Data directories: ${workDirectory}`);
  else await rm(workDirectory, { recursive: true, force: true });
}
