#!/usr/bin/env node
/**
 * `npm run recompute -- --view pageviews_by_url`: asks a running platform to recompute a view (or every
 * view) now, through its admin API, and shows each run's progress until it completes or fails.
 *
 * Options: --view NAME (every view when absent), --url URL (default http://127.0.0.1:$HTTP_PORT or :8080),
 * --token TOKEN (default $API_TOKEN). Exit code 0 when every run completed, 1 otherwise.
 */
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { platformClient } from '../platform-client.js';

interface Run {
  id: string;
  view: string | null;
  state: 'waiting' | 'running' | 'completed' | 'failed';
  progress: { percent: number; message?: string };
  version: number | null;
  horizon: number[] | null;
  durationMs: number | null;
  error: string | null;
}

const options = new Command()
  .name('recompute')
  .description('Recompute batch views now, and show their progress')
  .option('--view <name>', 'the view to recompute (every view when absent)')
  .option('--url <url>', "the platform's URL", `http://127.0.0.1:${process.env.HTTP_PORT ?? 8080}`)
  .option('--token <token>', 'the API token, when the platform has one', process.env.API_TOKEN)
  .parse()
  .opts<{ view?: string; url: string; token?: string }>();

const call = platformClient(options);

try {
  const { runs } = await call<{ runs: Run[] }>('POST', '/batch/run', options.view === undefined ? {} : { view: options.view });
  // A terminal gets a bar per run; a log (cron, CI) gets a line whenever a run's state or message changes.
  const bars = process.stderr.isTTY
    ? new cliProgress.MultiBar({ format: '  {view} [{bar}] {percentage}% {message}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic)
    : undefined;
  const bar = new Map(runs.map((run) => [run.id, bars?.create(100, 0, { view: (run.view ?? run.id).padEnd(24), message: run.state })]));
  const lastLine = new Map<string, string>();
  const finished = new Map<string, Run>();
  while (finished.size < runs.length) {
    for (const { id } of runs) {
      if (finished.has(id)) continue;
      const run = await call<Run>('GET', `/batch/jobs/${encodeURIComponent(id)}`);
      const percent = Math.round(run.progress.percent);
      const message = run.progress.message ?? run.state;
      bar.get(id)?.update(percent, { message });
      const line = `${run.view ?? run.id}: ${run.state} ${percent}% ${message}`;
      if (!bars && lastLine.get(id) !== line) {
        lastLine.set(id, line);
        console.log(line);
      }
      if (run.state === 'completed' || run.state === 'failed') finished.set(id, run);
    }
    if (finished.size < runs.length) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  bars?.stop();
  let failed = 0;
  for (const run of finished.values()) {
    const view = run.view ?? run.id;
    const seconds = run.durationMs === null ? '' : ` in ${(run.durationMs / 1000).toFixed(1)} s`;
    if (run.state === 'failed') {
      failed++;
      console.log(`${view}: failed${seconds}: ${run.error}`);
    } else if (run.version === null) {
      console.log(`${view}: up to date, no new slice edge to recompute to${seconds}`);
    } else {
      console.log(`${view}: published version ${run.version}, horizon [${run.horizon?.join(', ')}]${seconds}`);
    }
  }
  process.exitCode = failed > 0 ? 1 : 0;
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
