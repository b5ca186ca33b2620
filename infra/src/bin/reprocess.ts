#!/usr/bin/env node
/**
 * `npm run reprocess -- --view pageviews_by_url [--definition new-view.json]`: asks a running platform
 * (npm start) to reprocess a view after its logic changed, through its API, and shows the percent of
 * records replayed until readers switched to the new generation, or the run failed.
 *
 * Options: --view NAME, --definition FILE (the view's new definition as JSON; the catalog file's, read
 * again by the platform, when absent), --url URL (default http://127.0.0.1:$HTTP_PORT or :8080),
 * --token TOKEN (default $API_TOKEN). Exit code 0 when the switch happened, 1 otherwise.
 */
import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import type { ReprocessJobAnswer } from '@lambda/serving-layer';
import { platformClient } from '../platform-client.js';

const options = new Command()
  .name('reprocess')
  .description("Reprocess a view after its logic changed, and show the replay's progress")
  .requiredOption('--view <name>', 'the view to reprocess')
  .option('--definition <file>', "a JSON file with the view's new definition (the catalog file's when absent)")
  .option('--url <url>', "the platform's URL", `http://127.0.0.1:${process.env.HTTP_PORT ?? 8080}`)
  .option('--token <token>', 'the API token, when the platform has one', process.env.API_TOKEN)
  .parse()
  .opts<{ view: string; definition?: string; url: string; token?: string }>();

const api = platformClient(options);
/** Every answer of the reprocess endpoints carries the job. */
const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<ReprocessJobAnswer> =>
  (await api<{ job: ReprocessJobAnswer }>(method, path, body)).job;

try {
  const definition = options.definition === undefined ? undefined : (JSON.parse(await readFile(options.definition, 'utf8')) as unknown);
  const path = `/views/${encodeURIComponent(options.view)}/reprocess`;
  let job = await call('POST', path, definition === undefined ? {} : { definition });
  // A terminal gets a bar; a log (cron, CI) gets a line whenever the phase or percent changes.
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: `  ${options.view} [{bar}] {percentage}% {phase} {records}`, hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(100, 0, { phase: job.progress.phase, records: '' });
  let lastLine = '';
  while (job.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 250));
    job = await call('GET', path);
    const { phase, percent, recordsReplayed, recordsTotal } = job.progress;
    const records = `${recordsReplayed} of ${recordsTotal} records`;
    bar?.update(Math.round(percent), { phase, records });
    const line = `${options.view}: ${phase} ${Math.round(percent)}% (${records})`;
    if (!bar && line !== lastLine) {
      lastLine = line;
      console.log(line);
    }
  }
  bar?.stop();
  if (job.state === 'failed' || !job.result) {
    console.error(`${options.view}: failed: ${job.error}`);
    process.exitCode = 1;
  } else {
    const { generation, storage, recordsReplayed, recordsFromArchive, switchedAt, startedAt } = job.result;
    console.log(
      `${options.view}: switched to generation ${generation} (${storage}) after ${((switchedAt - startedAt) / 1000).toFixed(1)} s, ${recordsReplayed} records replayed (${recordsFromArchive} from the lake archive)`,
    );
    process.exitCode = 0;
  }
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
