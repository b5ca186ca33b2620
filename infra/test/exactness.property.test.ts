/**
 * The exactness contract, as a property: under any interleaving of appends (with out-of-order, late and
 * invalid events), micro-batches, archiving, batch preparation, publishing, clean-ups and speed-layer
 * restarts, every view's merged answer equals the view's SQL run by DuckDB from scratch over every valid
 * record the log accepted below the answer's position, and that position is the speed layer's.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archiver, DuckDbEngine, Recomputer, type PreparedVersion } from '@lambda/batch-layer';
import {
  Catalog,
  ConflictError,
  EmbeddedEventLog,
  EmbeddedViewStore,
  LocalLake,
  formatKey,
  silentLogger,
  type CatalogDefinition,
  type LogMessage,
  type LogRecord,
  type Slice,
  type ViewRow,
  type ViewStore,
} from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { SpeedLayer } from '@lambda/speed-layer';
import { makeTempDir } from '@lambda/test-kit';
import { TruthTable, differences } from './helpers/truth.js';

const TOPIC = 'clicks';
const PARTITIONS = 3;
const URLS = ['/', '/a', '/b', '/c/d', '/é'];
const USERS = Array.from({ length: 12 }, (_, i) => `u${i}`);
const REFERRERS = ['search', 'social', 'mail', 'direct'];
const BASE_TIME = Date.UTC(2026, 0, 1, 12, 0, 0);

const catalogDefinition: CatalogDefinition = {
  sources: [
    { topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', user: 'string', referrer: 'string', latency: 'number' }, partitionKey: 'user' },
  ],
  views: [
    {
      name: 'by_url_minute',
      source: TOPIC,
      key: 'url',
      window: { type: 'tumbling', size: '1m' },
      aggregates: { views: 'count()', visitors: 'approx_distinct(user)', latency: 'avg(latency)', slowest: 'max(latency)', top: 'top_k(referrer, 2)' },
    },
    {
      name: 'by_referrer_hopping',
      source: TOPIC,
      key: ['referrer', 'url'],
      window: { type: 'hopping', size: '3m', slide: '1m' },
      aggregates: { visits: 'count()', seconds: 'sum(latency / 1000)', fastest: 'min(latency)' },
    },
    {
      name: 'slow_all_time',
      source: TOPIC,
      derive: { slow: 'latency >= 500' },
      filter: 'slow AND user IS NOT NULL',
      key: 'user',
      aggregates: { slow_views: 'count()', pages: 'approx_distinct(url)' },
    },
  ],
};

/** One event: valid, or malformed in one of the ways the dead-letter path handles. */
const eventArbitrary = fc.oneof(
  { weight: 12, arbitrary: fc.record({
    url: fc.constantFrom(...URLS),
    user: fc.option(fc.constantFrom(...USERS), { freq: 10 }),
    referrer: fc.constantFrom(...REFERRERS),
    latency: fc.option(fc.integer({ min: 1, max: 2000 }), { freq: 8 }),
    // Minutes out of order and late: event time need not follow the log.
    ts: fc.integer({ min: 0, max: 10 * 60_000 }).map((ms) => BASE_TIME + ms),
  }).map((event) => JSON.stringify(event)) },
  { weight: 1, arbitrary: fc.constantFrom('not json', '{"url":"/a","user":"u1"}', '{"url":"/a","latency":"slow","ts":1767268800000}', '[1,2]') },
);

type Action =
  | { type: 'append'; events: string[] }
  | { type: 'micro-batch' }
  | { type: 'fold-ahead' }
  | { type: 'micro-batch-under-hints' }
  | { type: 'archive' }
  | { type: 'prepare'; view: string }
  | { type: 'publish'; view: string }
  | { type: 'clean-up'; view: string }
  | { type: 'batch-cycle'; view: string }
  | { type: 'restart-speed-layer' }
  | { type: 'fail-next-slice-write'; view: string }
  | { type: 'check' };

const viewNames = catalogDefinition.views.map((view) => view.name);
const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.array(eventArbitrary, { minLength: 1, maxLength: 25 }).map((events) => ({ type: 'append' as const, events })) },
  { weight: 5, arbitrary: fc.constant({ type: 'micro-batch' as const }) },
  { weight: 3, arbitrary: fc.constant({ type: 'fold-ahead' as const }) },
  { weight: 3, arbitrary: fc.constant({ type: 'micro-batch-under-hints' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'archive' as const }) },
  { weight: 2, arbitrary: fc.constantFrom(...viewNames).map((view) => ({ type: 'prepare' as const, view })) },
  { weight: 2, arbitrary: fc.constantFrom(...viewNames).map((view) => ({ type: 'publish' as const, view })) },
  { weight: 1, arbitrary: fc.constantFrom(...viewNames).map((view) => ({ type: 'clean-up' as const, view })) },
  { weight: 2, arbitrary: fc.constantFrom(...viewNames).map((view) => ({ type: 'batch-cycle' as const, view })) },
  { weight: 2, arbitrary: fc.constant({ type: 'restart-speed-layer' as const }) },
  { weight: 1, arbitrary: fc.constantFrom(...viewNames).map((view) => ({ type: 'fail-next-slice-write' as const, view })) },
  { weight: 2, arbitrary: fc.constant({ type: 'check' as const }) },
);

describe('the exactness contract', () => {
  let engine: DuckDbEngine;
  beforeAll(async () => {
    engine = await DuckDbEngine.create({ threads: 1 });
  });
  afterAll(() => engine.close());

  // 120 interleavings in four parts of 30, each with its own seed and time limit: one part takes about
  // 15 s alone and under 2 min beside every other package's tests on two cores, so a limit catches a hang
  // rather than a slow machine. EXACTNESS_RUNS=N runs N in all, for a longer search on a quiet machine.
  const BASE_SEED = Number(process.env.EXACTNESS_SEED ?? 20261124);
  const RUNS_PER_PART = Math.ceil(Number(process.env.EXACTNESS_RUNS ?? 120) / 4);
  const LIMIT_MS = Math.max(480_000, RUNS_PER_PART * 16_000);
  it.each([0, 1, 2, 3])('should answer every view exactly as a full recompute, under any interleaving (part %i of 4)', async (part) => {
    await fc.assert(
      // Half the runs fold partitions on two worker threads, half in this thread.
      fc.asyncProperty(fc.array(actionArbitrary, { minLength: 10, maxLength: 45 }), fc.constantFrom(0, 2), async (actions, workers) => {
        const dir = await makeTempDir('exactness');
        const catalog = Catalog.compile(catalogDefinition);
        const source = catalog.sources.get(TOPIC)!;
        const eventLog = await EmbeddedEventLog.open({ directory: `${dir.path}/log`, fsync: 'never' });
        const store = await EmbeddedViewStore.open({ directory: `${dir.path}/views`, fsync: 'never' });
        // The store as the speed layer sees it: a slice write of a view can be made to fail once, which
        // leaves the views of one topic at different positions, as a crash between two writes would.
        const failing = new Set<string>();
        const viewStore: ViewStore = Object.create(store, {
          putSlice: {
            value: (slice: Slice, rows: ViewRow[]) => {
              if (failing.delete(slice.view)) return Promise.reject(new Error(`injected failure writing a slice of ${slice.view}`));
              return store.putSlice(slice, rows);
            },
          },
        }) as ViewStore;
        const lake = await LocalLake.open({ directory: `${dir.path}/lake`, fsync: false });
        const truth = new TruthTable(engine, source);
        try {
          await eventLog.createTopic(TOPIC, { partitions: PARTITIONS });
          await truth.create();
          const logger = silentLogger();
          const archiver = new Archiver({ eventLog, lake, engine, workDirectory: `${dir.path}/work`, logger });
          const recomputer = new Recomputer({ viewStore, lake, engine, archiver, catalog, logger });
          const reader = new MergedViewReader(viewStore, catalog);
          const newSpeedLayer = () =>
            SpeedLayer.create({ eventLog, viewStore, catalog, workers, slicePolicy: { microBatches: 2, maxAgeMs: 3_600_000 }, maxRecordsPerPartition: 20 });
          let speedLayer = await newSpeedLayer();
          const prepared = new Map<string, PreparedVersion | undefined>();
          let clock = BASE_TIME;

          const check = async (label: string) => {
            for (const view of catalog.views.values()) {
              const keys = candidateKeys(view.name);
              const answer = await reader.read(view.name, { keys: [...keys] });
              const position = answer.provenance.position;
              // The answer reaches exactly as far as the speed layer has (a partition with no slice yet reads 0).
              expect(padded(position), `${label}: position of ${view.name}`).toEqual(padded(speedLayer.positions(view.name)));
              const problems = differences(answer.windows, await truth.windows(view, position), keys);
              expect(problems, `${label}: ${view.name} at position [${position.join(', ')}], batch ${JSON.stringify(answer.provenance.batch)}`).toEqual([]);
            }
          };

          for (const [step, action] of actions.entries()) {
            const label = `step ${step + 1} (${action.type})`;
            switch (action.type) {
              case 'append': {
                clock += 1000;
                const messages: LogMessage[] = action.events.map((value) => ({ key: keyOf(value), value, timestamp: clock }));
                const appended = await eventLog.append(TOPIC, messages);
                const records: LogRecord[] = appended.map(({ partition, offset }, i) => ({
                  topic: TOPIC,
                  partition,
                  offset,
                  timestamp: clock,
                  key: messages[i]!.key === null ? null : Buffer.from(messages[i]!.key as string),
                  value: Buffer.from(action.events[i]!),
                  headers: {},
                }));
                await truth.add(records);
                break;
              }
              case 'micro-batch':
                // An injected failure rejects the micro-batch; the next one recovers from the store.
                await speedLayer.runOnce().catch((error: Error) => expect(error.message).toMatch(/injected failure/));
                break;
              case 'micro-batch-under-hints': {
                // As in the running loop, hints keep arriving while a micro-batch reads, writes and settles.
                let running = true;
                const hints = (async () => {
                  while (running) {
                    await speedLayer.foldAhead();
                    await new Promise((resolve) => setImmediate(resolve));
                  }
                })();
                await speedLayer.runOnce().catch((error: Error) => expect(error.message).toMatch(/injected failure/)).finally(() => (running = false));
                await hints;
                break;
              }
              case 'fold-ahead':
                // Background folding starts now and races whatever comes next.
                await speedLayer.foldAhead();
                break;
              case 'fail-next-slice-write':
                failing.add(action.view);
                break;
              case 'archive':
                await archiver.archiveTopic(source);
                break;
              case 'prepare':
                prepared.set(action.view, await recomputer.prepare(action.view));
                break;
              case 'publish': {
                const version = prepared.get(action.view);
                prepared.delete(action.view);
                if (!version) break;
                // A version another run has overtaken must be refused, never published over newer data.
                const serving = (await store.readManifest(action.view))?.version ?? 0;
                if (version.version > serving) await recomputer.publish(version);
                else await expect(recomputer.publish(version)).rejects.toBeInstanceOf(ConflictError);
                break;
              }
              case 'clean-up':
                await recomputer.cleanUp(action.view);
                break;
              case 'batch-cycle':
                // A whole scheduled run with no grace before the clean-up: every covered slice goes at once.
                await recomputer.run(action.view);
                await recomputer.cleanUp(action.view);
                break;
              case 'restart-speed-layer':
                // A new instance recovers from the store alone; the old one only releases its threads.
                await speedLayer.stop();
                speedLayer = await newSpeedLayer();
                break;
              case 'check':
                await check(label);
                break;
            }
          }
          // Drain: everything appended reaches the views, and the answer is still exact.
          failing.clear();
          while ((await speedLayer.runOnce().catch(() => ({ backlog: true }))).backlog);
          await check('after draining');
          const ends = await eventLog.endOffsets(TOPIC);
          for (const view of viewNames) expect(padded(speedLayer.positions(view))).toEqual(ends);
          for (const view of viewNames) await recomputer.run(view);
          await check('after a final batch run');
          await speedLayer.stop();
        } finally {
          await eventLog.close();
          await store.close();
          await lake.close();
          await dir.remove();
        }
      }),
      // EXACTNESS_SEED explores other interleavings; CI runs the fixed seeds.
      { numRuns: RUNS_PER_PART, seed: BASE_SEED + part, endOnFailure: true },
    );
  }, LIMIT_MS);
});

function keyOf(value: string): string | null {
  try {
    const user = (JSON.parse(value) as { user?: unknown }).user;
    return typeof user === 'string' ? user : null;
  } catch {
    return null;
  }
}

function padded(position: readonly number[]): number[] {
  return Array.from({ length: PARTITIONS }, (_, partition) => position[partition] ?? 0);
}

/** Every key a view could have, so an answer's extra key is caught as surely as a missing one. */
function candidateKeys(view: string): Set<string> {
  if (view === 'by_url_minute') return new Set(URLS);
  if (view === 'by_referrer_hopping') return new Set(REFERRERS.flatMap((referrer) => URLS.map((url) => formatKey([referrer, url]))));
  return new Set(USERS);
}
