/**
 * `npm run recompute`: the operator's command, run as a child process against a platform listening on a
 * real socket, with the demo stream flowing into it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, loadConfig, silentLogger } from '@lambda/core';
import { createAllInOne, type AllInOne } from '../src/all-in-one.js';
import { makeTempDir } from '@lambda/test-kit';
import { runCommand, type EntrypointRun } from './helpers/run-entrypoint.js';

const VIEW = 'pageviews_by_url';
const TOKEN = 'recompute-cli-test-token-0123';

function recompute(args: string[], env: Record<string, string> = {}): Promise<EntrypointRun> {
  return runCommand('recompute', args, env);
}

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

describe('npm run recompute', () => {
  let platform: AllInOne;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    const dataDir = await makeTempDir('recompute-cli');
    remove = dataDir.remove;
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
    // A recompute needs a slice edge to recompute to: wait until the speed layer has cut one.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const slices = await platform.ports.viewStore.listSlices(VIEW);
      if (slices.some((slice) => slice.closed)) break;
      if (Date.now() > deadline) throw new Error('the speed layer cut no slice in 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 30_000);

  afterAll(async () => {
    await platform?.close();
    await remove?.();
  });

  describe('when the platform is running and the token is given', () => {
    it('should recompute the view, report the version it published, and exit 0', async () => {
      const run = await recompute(['--url', platform.url, '--view', VIEW], { API_TOKEN: TOKEN });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const reported = /pageviews_by_url: published version (\d+), horizon \[([\d, ]+)\] in [\d.]+ s/.exec(run.stdout);
      expect(reported, run.stdout).not.toBeNull();

      // What it reported is what the platform now serves.
      const { views } = await json<{ views: { name: string; status: { batch: { version: number; horizon: number[] } | null } }[] }>(`${platform.url}/views`);
      const status = views.find((view) => view.name === VIEW)!.status;
      expect(status.batch?.version).toBeGreaterThanOrEqual(Number(reported![1]));
      const { runs } = await json<{ runs: { view: string; state: string; version: number | null; horizon: number[] | null; trigger: string }[] }>(`${platform.url}/batch/jobs?view=${VIEW}`);
      const ours = runs.find((candidate) => candidate.version === Number(reported![1]));
      expect(ours).toMatchObject({ view: VIEW, state: 'completed', trigger: 'manual' });
      expect(ours!.horizon!.join(', ')).toBe(reported![2]);
    }, 30_000);
  });

  describe('when no view is named', () => {
    it('should recompute every view of the catalog', async () => {
      const run = await recompute(['--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(0);
      for (const view of platform.catalog.views.keys()) expect(run.stdout).toMatch(new RegExp(`^${view}: (published version \\d+|up to date)`, 'm'));
    }, 30_000);
  });

  describe('when the token is missing', () => {
    it('should exit 1 with the API error and start nothing', async () => {
      const before = await json<{ runs: unknown[] }>(`${platform.url}/batch/jobs`);
      const run = await recompute(['--url', platform.url, '--view', VIEW]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/token/i);
      const after = await json<{ runs: unknown[] }>(`${platform.url}/batch/jobs`);
      expect(after.runs.length).toBe(before.runs.length);
    });
  });

  describe('when the view is unknown', () => {
    it('should exit 1 naming the view', async () => {
      const run = await recompute(['--url', platform.url, '--view', 'no_such_view', '--token', TOKEN]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('no_such_view');
    });
  });

  describe('when nothing listens at the URL', () => {
    it('should exit 1 and say the platform cannot be reached', async () => {
      const run = await recompute(['--url', 'http://127.0.0.1:9', '--view', VIEW]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('cannot reach the platform at http://127.0.0.1:9');
    });
  });
});
