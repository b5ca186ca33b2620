#!/usr/bin/env node
/**
 * `npm run demo:compare -- --scenario web|social|stocks`: Lambda and Kappa side by side on the same
 * seeded stream, a logic change midway, and a report (Markdown, SVG charts, JSON) in `--out`, which the
 * dashboard shows under "Lambda vs Kappa" (`GET /reports/latest`). A progress bar on a terminal, a line
 * per phase otherwise; exit code 1 when the run fails or an answer differs from the truth.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError as InvalidOptionError } from 'commander';
import { runComparison } from '../demo/compare/comparison-run.js';
import { REPORT_FILES, writeReport } from '../demo/compare/report.js';
import { SCENARIOS, scenarioNamed } from '../demo/scenarios/scenarios.js';

const positive = (value: string) => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidOptionError('must be a positive number');
  return number;
};

const options = new Command()
  .name('demo-compare')
  .description('Runs Lambda and Kappa side by side on one stream, changes a view\'s logic midway, and writes a report')
  .requiredOption('--scenario <name>', `the scenario: ${[...SCENARIOS.keys()].join(', ')}`)
  .option('--out <dir>', 'where the report goes (default: reports/<scenario>)')
  .option('--seed <n>', 'the seed of the event generator', (value) => Math.trunc(positive(value)), 7)
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
    eventsPerSecond: number;
    duration: number;
    batchInterval: number;
    recomputeEvery: number;
    compactEvery: number;
    keep: boolean;
  }>();

const scenario = (() => {
  try {
    return scenarioNamed(options.scenario);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
})();
const out = resolve(options.out ?? join('reports', scenario.name));
const workDirectory = await mkdtemp(join(tmpdir(), `lambda-vs-kappa-${scenario.name}-`));
const bar = process.stderr.isTTY
  ? new cliProgress.SingleBar({ format: '  [{bar}] {percentage}% {phase}', hideCursor: true }, cliProgress.Presets.shades_classic)
  : undefined;
bar?.start(100, 0, { phase: 'starting' });
let lastPhase = '';
try {
  const result = await runComparison({
    scenario,
    workDirectory,
    seed: options.seed,
    eventsPerSecond: options.eventsPerSecond,
    durationMs: options.duration * 1000,
    batchIntervalMs: options.batchInterval,
    recomputeEveryMs: options.recomputeEvery * 1000,
    compactEveryMs: options.compactEvery * 1000,
    onProgress: ({ percent, phase }) => {
      if (bar) bar.update(Math.round(percent), { phase });
      else if (phase !== lastPhase) console.log(`${Math.round(percent)}% ${phase}`);
      lastPhase = phase;
    },
  });
  bar?.stop();
  await writeReport(result, out);
  const differing = result.checkpoints.flatMap((checkpoint) =>
    Object.entries(checkpoint.modes).flatMap(([mode, views]) => views.filter((view) => !view.equal).map((view) => `${mode} ${view.view} at "${checkpoint.label}"`)),
  );
  console.log(`Report: ${join(out, REPORT_FILES.markdown)}`);
  if (differing.length > 0) {
    console.error(`Answers differ from the truth: ${differing.join('; ')}`);
    process.exitCode = 1;
  }
} catch (error) {
  bar?.stop();
  console.error(`The comparison failed: ${(error as Error).message}`);
  console.error(`Each mode's log is in ${workDirectory}`);
  process.exitCode = 1;
} finally {
  if (options.keep || process.exitCode === 1) console.log(`Data directories: ${workDirectory}`);
  else await rm(workDirectory, { recursive: true, force: true });
}
