/**
 * `npm run reprocess`: the operator's command, run as a child process against a platform listening on a
 * real socket, with the demo stream flowing into it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, loadConfig, readViewGeneration, silentLogger, type ViewDefinition } from '@lambda/core';
import { createAllInOne, type AllInOne } from '../src/all-in-one.js';
import { makeTempDir } from '@lambda/test-kit';
import { runCommand, type EntrypointRun } from './helpers/run-entrypoint.js';

const VIEW = 'pageviews_by_url';
const TOKEN = 'reprocess-cli-test-token-01234';

function reprocess(args: string[], env: Record<string, string> = {}): Promise<EntrypointRun> {
  return runCommand('reprocess', args, env);
}

describe('npm run reprocess', () => {
  let platform: AllInOne;
  let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
  let newLogic: string;
  let badLogic: string;

  beforeAll(async () => {
    dataDir = await makeTempDir('reprocess-cli');
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dataDir.path,
        http: { port: 0, apiToken: TOKEN },
        kafkaServer: { enabled: false },
        demo: { enabled: true, eventsPerSecond: 200 },
        speedLayer: { batchIntervalMs: 100, workers: 0, sliceMicroBatches: 2 },
        batchLayer: { recomputeEvery: '1h' },
      },
    });
    platform = await createAllInOne(config, { logger: silentLogger(), metrics: new Metrics() });
    const definition: ViewDefinition = { ...platform.catalog.views.get(VIEW)!.definition, filter: 'latency < 250' };
    newLogic = join(dataDir.path, 'new-logic.json');
    await writeFile(newLogic, JSON.stringify(definition));
    badLogic = join(dataDir.path, 'bad-logic.json');
    await writeFile(badLogic, JSON.stringify({ ...definition, aggregates: { views: 'median(latency)' } }));
    // Some history to replay.
    const deadline = Date.now() + 20_000;
    while ((await platform.ports.eventLog.endOffsets('pageviews')).reduce((sum, end) => sum + end, 0) < 200) {
      if (Date.now() > deadline) throw new Error('the demo stream appended fewer than 200 events in 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 30_000);

  afterAll(async () => {
    await platform?.close();
    await dataDir?.remove();
  });

  describe('when the platform is running and the definition is valid', () => {
    it('should print its progress, switch the view to the new generation, and exit 0', async () => {
      const run = await reprocess(['--url', platform.url, '--view', VIEW, '--definition', newLogic], { API_TOKEN: TOKEN });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      // Without a terminal, a line per change of phase or percent.
      const lines = [...run.stdout.matchAll(/^pageviews_by_url: (archive|replay|switch|cleanup|done) (\d+)% \((\d+) of (\d+) records\)$/gm)];
      expect(lines.length).toBeGreaterThan(0);
      const percents = lines.map((line) => Number(line[2]));
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(lines.at(-1)![1]).toBe('done');
      const reported = /^pageviews_by_url: switched to generation (\d+) \((\S+)\) after [\d.]+ s, (\d+) records replayed \((\d+) from the lake archive\)$/m.exec(run.stdout);
      expect(reported, run.stdout).not.toBeNull();

      // What it reported is what the platform now serves, with the new definition.
      const serving = await readViewGeneration(platform.ports.viewStore, platform.catalog, VIEW);
      expect(serving.generation).toBe(Number(reported![1]));
      expect(serving.storage).toBe(reported![2]);
      expect(serving.definition.filter).toBe('latency < 250');
      expect(Number(reported![3])).toBeGreaterThanOrEqual(200);
      const answer = await fetch(`${platform.url}/views/${VIEW}/reprocess`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(((await answer.json()) as { job: { state: string; result: { storage: string } } }).job).toMatchObject({ state: 'completed', result: { storage: serving.storage } });
    }, 60_000);
  });

  describe('when the definition is invalid', () => {
    it('should exit 1 naming the problem, and switch nothing', async () => {
      const before = await readViewGeneration(platform.ports.viewStore, platform.catalog, VIEW);
      const run = await reprocess(['--url', platform.url, '--view', VIEW, '--definition', badLogic, '--token', TOKEN]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('median');
      expect((await readViewGeneration(platform.ports.viewStore, platform.catalog, VIEW)).storage).toBe(before.storage);
    });
  });

  describe('when the token is missing', () => {
    it('should exit 1 with the API error', async () => {
      const run = await reprocess(['--url', platform.url, '--view', VIEW]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/token/i);
    });
  });

  describe('when the view is unknown', () => {
    it('should exit 1 naming the view', async () => {
      const run = await reprocess(['--url', platform.url, '--view', 'no_such_view', '--token', TOKEN]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('no_such_view');
    });
  });

  describe('when nothing listens at the URL', () => {
    it('should exit 1 and say the platform cannot be reached', async () => {
      const run = await reprocess(['--url', 'http://127.0.0.1:9', '--view', VIEW]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('cannot reach the platform at http://127.0.0.1:9');
    });
  });
});
