import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Metrics, loadConfig, recomputeJobName, silentLogger, type Ports, seededRandom } from '@lambda/core';
import { openPorts } from '@lambda/adapters';
import { describeWhenAvailable, makeTempDir, RedisServer, redisServerSkipReason } from '@lambda/test-kit';
import { createServer, listen, type DependencyHealth, type MergedAnswer, type RunningServer } from '../src/index.js';
import { client } from './api-helpers.js';
import { BASE, MINUTE, VIEW, below, generateRecords, naiveAnswer, publishBatch, putSlice, testCatalog } from './helpers.js';

const skipReason = redisServerSkipReason();

const records = generateRecords(seededRandom(7), [30, 20]);
const HORIZON = [12, 8];
const POSITION = [30, 20];
const counted = below(records, POSITION);

interface Health {
  status: string;
  dependencies: Record<string, DependencyHealth>;
}

/** Polls until `check` holds, failing after `timeoutMs`. */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(50);
  }
}

describeWhenAvailable('the serving layer with the scheduler on BullMQ, when Redis goes away and comes back', skipReason, () => {
  let redis: RedisServer;
  let dir: { path: string; remove: () => Promise<void> };
  let ports: Ports;
  let server: RunningServer;
  let api: ReturnType<typeof client>;
  const recomputes: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    dir = await makeTempDir('serving');
    const config = loadConfig({
      env: {},
      overrides: { dataDir: dir.path, scheduler: { adapter: 'bullmq', bullmq: { redisUrl: redis.url, prefix: `lambda-serving-${randomUUID()}` } } },
    });
    const metrics = new Metrics();
    ports = await openPorts(config, { logger: silentLogger(), metrics });
    await publishBatch(ports.viewStore, records, 1, HORIZON, BASE + 20 * MINUTE);
    await putSlice(ports.viewStore, records, { partition: 0, start: 12, end: 30, closed: false });
    await putSlice(ports.viewStore, records, { partition: 1, start: 8, end: 20, closed: false });
    // Stands in for the batch layer: the recompute's handler, in a process that shares the Redis.
    await ports.scheduler.register(recomputeJobName(VIEW), async ({ runId }) => {
      recomputes.push(runId);
      return { version: 2, horizon: POSITION };
    });
    server = await listen(createServer({ ports, catalog: testCatalog(), metrics, logger: silentLogger() }), { host: '127.0.0.1', port: 0 });
    api = client(server.url);
  });

  afterAll(async () => {
    await server?.close();
    await ports?.close();
    await redis?.stop();
    await dir?.remove();
  });

  async function readView(): Promise<MergedAnswer> {
    const answer = await api.get(`/views/${VIEW}`, [
      ['key', '/a'],
      ['key', '/c'],
    ]);
    expect(answer.status).toBe(200);
    return answer.body as MergedAnswer;
  }

  async function runRecompute(): Promise<{ id: string; state: string; version: number | null }> {
    const triggered = await api.post('/batch/run', { view: VIEW });
    expect(triggered.status).toBe(202);
    const [run] = (triggered.body as { runs: { id: string }[] }).runs;
    let described: { id: string; state: string; version: number | null } | undefined;
    await waitUntil('the recompute run finished', async () => {
      described = (await api.get(`/batch/jobs/${encodeURIComponent(run!.id)}`)).body as typeof described;
      return described?.state === 'completed' || described?.state === 'failed';
    });
    return described!;
  }

  it('should keep answering views, report the scheduler down, and recover when Redis returns', async () => {
    const expected = naiveAnswer(counted, { keys: ['/a', '/c'] });
    expect(expected.length).toBeGreaterThan(0);
    expect((await readView()).windows).toEqual(expected);
    expect((await api.get('/health')).status).toBe(200);
    const before = await runRecompute();
    expect(before).toMatchObject({ state: 'completed', version: 2 });

    await redis.stop();
    for (let i = 0; i < 3; i++) expect((await readView()).windows).toEqual(expected);
    const down = await api.get('/health');
    expect(down.status).toBe(503);
    const health = down.body as Health;
    expect(health.dependencies.scheduler).toMatchObject({ status: 'down' });
    expect(health.dependencies.scheduler!.lastError).toContain(redis.url);
    expect(health.dependencies.viewStore!.status).toBe('up');
    const refused = await api.post('/batch/run', { view: VIEW });
    expect(refused.status).toBe(503);
    expect((await readView()).windows).toEqual(expected);

    await redis.resume();
    await waitUntil('the health is up again', async () => (await api.get('/health')).status === 200);
    const recovered = (await api.get('/health')).body as Health;
    expect(recovered.dependencies.scheduler!.status).toBe('up');
    // The last error stays on record for operators.
    expect(recovered.dependencies.scheduler!.lastError).toContain(redis.url);
    const after = await runRecompute();
    expect(after).toMatchObject({ state: 'completed', version: 2 });
    expect(after.id).not.toBe(before.id);
    expect(recomputes).toEqual([before.id, after.id]);
    expect((await readView()).windows).toEqual(expected);
  });
});
