/**
 * The whole platform with its lake on S3 (s3rver, a real S3 HTTP API) and its scheduler on BullMQ (the
 * real Redis), wired from config exactly as `npm start` wires it: events go in through the REST API,
 * recomputes are triggered through the admin API and run as BullMQ jobs over Parquet files in S3, and at
 * every checkpoint each view's merged answer equals DuckDB's recompute from scratch over every valid
 * record the log holds below the answer's position.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DuckDbEngine } from '@lambda/batch-layer';
import { Metrics, loadConfig, silentLogger } from '@lambda/core';
import { S3Lake } from '@lambda/adapters';
import { MergedViewReader } from '@lambda/serving-layer';
import {
  describeWhenAvailable,
  makeTempDir,
  REDIS_URL,
  redisSkipReason,
  removeKeysUnder,
  startS3Server,
  type S3TestServer,
} from '@lambda/test-kit';
import { createAllInOne, type AllInOne } from '../src/all-in-one.js';
import { PAGEVIEWS, PageViewGenerator } from '../src/demo/web-analytics.js';
import { TruthTable, differences, readAllRecords } from './helpers/truth.js';

interface Run {
  id: string;
  view: string | null;
  state: string;
  version: number | null;
  error: string | null;
}

const skipReason = await redisSkipReason();

describeWhenAvailable('when the lake is on S3 and the scheduler on BullMQ', skipReason, () => {
  let s3: S3TestServer;
  let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
  let platform: AllInOne;
  let engine: DuckDbEngine;
  const prefix = `lambda-e2e-${randomUUID()}`;

  beforeAll(async () => {
    s3 = await startS3Server();
    dataDir = await makeTempDir('real-engines');
    engine = await DuckDbEngine.create({ threads: 1 });
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dataDir.path,
        http: { port: 0 },
        kafkaServer: { enabled: false },
        demo: { enabled: false },
        lake: {
          adapter: 's3',
          s3: { bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, ...s3.credentials },
        },
        scheduler: { adapter: 'bullmq', bullmq: { redisUrl: REDIS_URL, prefix } },
        // Every micro-batch with records cuts a slice, so each recompute has a fresh edge to reach.
        speedLayer: { batchIntervalMs: 50, workers: 0, sliceMicroBatches: 1 },
        batchLayer: { recomputeEvery: '1h' },
      },
    });
    platform = await createAllInOne(config, { logger: silentLogger(), metrics: new Metrics() });
  }, 60_000);

  afterAll(async () => {
    await platform?.close();
    await engine?.close();
    await s3?.close();
    await dataDir?.remove();
    // Leave nothing in the shared Redis.
    await removeKeysUnder(prefix);
  });

  async function api<T>(method: 'GET' | 'POST', path: string, body?: string, contentType = 'application/json'): Promise<T> {
    const response = await fetch(platform.url + path, { method, body, headers: body === undefined ? {} : { 'content-type': contentType } });
    const payload = (await response.json()) as T;
    expect(response.status, `${method} ${path}: ${JSON.stringify(payload)}`).toBeLessThan(300);
    return payload;
  }

  /** Ingests `count` generated page views (late and malformed ones among them) through the API. */
  async function ingest(generator: PageViewGenerator, count: number, now: number): Promise<void> {
    const lines = Array.from({ length: count }, (_, i) => generator.event(now + i * 10).value);
    await api('POST', `/ingest/${PAGEVIEWS}`, lines.join('\n'), 'application/x-ndjson');
  }

  /** Triggers every view's recompute through the admin API and waits for each BullMQ run to finish. */
  async function recomputeAll(): Promise<Run[]> {
    const { runs } = await api<{ runs: Run[] }>('POST', '/batch/run', '{}');
    const finished: Run[] = [];
    for (const { id } of runs) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const run = await api<Run>('GET', `/batch/jobs/${encodeURIComponent(id)}`);
        if (run.state === 'completed' || run.state === 'failed') {
          finished.push(run);
          break;
        }
        if (Date.now() > deadline) throw new Error(`run ${id} did not finish: ${JSON.stringify(run)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return finished;
  }

  /** Waits until the speed layer has read everything the log holds, for every view. */
  async function speedLayerCaughtUp(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ends = await platform.ports.eventLog.endOffsets(PAGEVIEWS);
      const caughtUp = [...platform.catalog.views.keys()].every((view) => platform.speedLayer.positions(view).every((position, p) => position === ends[p]));
      if (caughtUp) return;
      if (Date.now() > deadline) throw new Error('the speed layer did not catch up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }



  /** Each view's merged answer, for every key the truth has, equals the truth at the answer's position. */
  async function expectExact(label: string): Promise<void> {
    const source = platform.catalog.sources.get(PAGEVIEWS)!;
    const truth = new TruthTable(engine, source);
    await truth.create();
    expect(await truth.add(await readAllRecords(platform.ports.eventLog, PAGEVIEWS))).toBeGreaterThan(0);
    const reader = new MergedViewReader(platform.ports.viewStore, platform.catalog);
    for (const view of platform.catalog.views.values()) {
      if (view.source.topic !== PAGEVIEWS) continue;
      // The position first, then the truth below it: the speed layer keeps running meanwhile.
      const probe = await reader.read(view.name, { keys: ['-'] });
      const expected = await truth.windows(view, probe.provenance.position);
      const keys = new Set([...expected.values()].map((window) => window.key));
      const answer = await reader.read(view.name, { keys: [...keys] });
      if (answer.provenance.position.join() !== probe.provenance.position.join()) {
        // A micro-batch landed between the two reads: compare at the answer's own position.
        expected.clear();
        for (const [id, window] of await truth.windows(view, answer.provenance.position)) expected.set(id, window);
      }
      expect(differences(answer.windows, expected, keys), `${label}: ${view.name}`).toEqual([]);
      expect(keys.size, `${label}: ${view.name} has data`).toBeGreaterThan(0);
    }
  }

  it('should keep every merged answer exact across recomputes that run on BullMQ over Parquet in S3', async () => {
    const generator = new PageViewGenerator({ eventsPerSecond: 100, lateShare: 0.2, invalidShare: 0.02, seed: 5 });
    const base = Date.UTC(2026, 10, 24, 12, 0, 0);

    await ingest(generator, 400, base);
    await speedLayerCaughtUp();
    await expectExact('before any batch version');

    const first = await recomputeAll();
    expect(first.map((run) => run.state)).toEqual(first.map(() => 'completed'));
    expect(first.every((run) => run.version === 1)).toBe(true);
    // Not vacuous: each batch version covers records, read back from the archive in S3.
    for (const view of platform.catalog.views.keys()) {
      const manifest = await platform.ports.viewStore.readManifest(view);
      expect(manifest!.horizon.reduce((sum, offset) => sum + offset, 0), view).toBeGreaterThan(0);
    }
    await expectExact('after the first recompute');

    // The archive is Parquet in the S3 bucket, read back through the S3 API.
    const lake = await S3Lake.open({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3.credentials });
    try {
      const archived: string[] = [];
      for await (const object of lake.list(`master/${PAGEVIEWS}/`)) archived.push(object.key);
      expect(archived.length).toBeGreaterThan(0);
      expect(archived.every((key) => key.endsWith('.parquet'))).toBe(true);
    } finally {
      await lake.close();
    }

    // More events, some late for windows the batch version already covers; then a second flip.
    await ingest(generator, 300, base + 120_000);
    await speedLayerCaughtUp();
    await expectExact('with real-time slices on top of version 1');
    const second = await recomputeAll();
    expect(second.every((run) => run.state === 'completed' && run.version === 2)).toBe(true);
    await expectExact('after the second recompute');

    // The runs' history is in Redis, where any process (here, the admin API) reads it.
    const { runs } = await api<{ runs: Run[] }>('GET', '/batch/jobs');
    expect(runs.filter((run) => run.state === 'completed').length).toBeGreaterThanOrEqual(first.length + second.length);
  }, 120_000);
});
