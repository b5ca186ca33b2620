/**
 * No single record can stall a view. A record the decoder accepts but one view's store keeps refusing
 * (a bug, or a limit the decoder does not know) is narrowed down and quarantined for that view: the speed
 * layer skips it there, the batch layer leaves it out of that view's recompute, the other views count it,
 * and every merged answer stays equal to DuckDB's recompute of what each view counts, across a restart.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchLayer, DuckDbEngine } from '@lambda/batch-layer';
import {
  Catalog,
  EmbeddedEventLog,
  EmbeddedViewStore,
  InProcessScheduler,
  ConnectionError,
  InvalidArgumentError,
  LocalLake,
  Quarantine,
  quarantineTopicOf,
  silentLogger,
  type LogRecord,
  type ViewRow,
  type ViewStore,
} from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { DEAD_LETTER_HEADERS, deadLetterTopicOf, SpeedLayer } from '@lambda/speed-layer';
import { makeTempDir } from '@lambda/test-kit';
import { TruthTable, differences, readAllRecords } from './helpers/truth.js';

const TOPIC = 'clicks';
const BY_URL = 'clicks_by_url';
const BY_USER = 'clicks_by_user';
const POISON_USER = 'mallory';
const BASE_TIME = Date.UTC(2026, 0, 1, 12, 0, 0);
const URLS = ['/', '/a', '/b'];
const USERS = ['ada', 'bob', 'cy', 'dee'];

const catalog = Catalog.compile({
  sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', user: 'string', latency: 'number' } }],
  views: [
    { name: BY_URL, source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { n: 'count()', total: 'sum(latency)' } },
    { name: BY_USER, source: TOPIC, key: 'user', aggregates: { n: 'count()', users: 'approx_distinct(url)' } },
  ],
});

/** A store that refuses, as a store refuses a row it cannot keep (not retriable), every row of `view` keyed `key`. */
function refusing(store: ViewStore, view: string, key: string): { store: ViewStore; refusals: () => number } {
  let refusals = 0;
  const check = (name: string, rows: readonly ViewRow[]) => {
    const index = rows.findIndex((row) => row.key === key);
    if (name !== view || index < 0) return;
    refusals++;
    throw new InvalidArgumentError(`Row ${index}: key ${JSON.stringify(key)} is refused by this store`, { view });
  };
  return { store: intercepted(store, { putSlice: (slice, rows) => check(slice.view, rows), putBatchRows: (name, _version, rows) => check(name, rows) }), refusals: () => refusals };
}

/** The store, with `before` hooks run ahead of the writes they name (a hook throws to fail the write). */
function intercepted(
  store: ViewStore,
  before: { putSlice?: (...args: Parameters<ViewStore['putSlice']>) => void; putBatchRows?: (...args: Parameters<ViewStore['putBatchRows']>) => void },
): ViewStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'putSlice' && before.putSlice) {
        return async (...args: Parameters<ViewStore['putSlice']>) => {
          before.putSlice!(...args);
          return target.putSlice(...args);
        };
      }
      if (property === 'putBatchRows' && before.putBatchRows) {
        return async (...args: Parameters<ViewStore['putBatchRows']>) => {
          before.putBatchRows!(...args);
          return target.putBatchRows(...args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function clicks(count: number, seed: number, poisonAt?: number): { partition: number; value: string }[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, (_, i) => ({
    partition: i % 2,
    value: JSON.stringify({
      url: URLS[Math.floor(next() * URLS.length)],
      user: i === poisonAt ? POISON_USER : USERS[Math.floor(next() * USERS.length)],
      latency: Math.floor(next() * 300),
      ts: BASE_TIME + Math.floor(next() * 4) * 60_000,
    }),
  }));
}

describe('when a view store keeps refusing one record', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let log: EmbeddedEventLog;
  let inner: EmbeddedViewStore;
  let store: ViewStore;
  let refusals: () => number;
  let lake: LocalLake;
  let scheduler: InProcessScheduler;
  let batch: BatchLayer;
  let engine: DuckDbEngine;
  const speedLayers: SpeedLayer[] = [];

  beforeEach(async () => {
    dir = await makeTempDir('lambda-poison');
    log = await EmbeddedEventLog.open({ directory: join(dir.path, 'log'), fsync: 'never' });
    inner = await EmbeddedViewStore.open({ directory: join(dir.path, 'views'), fsync: 'never' });
    ({ store, refusals } = refusing(inner, BY_USER, POISON_USER));
    lake = await LocalLake.open({ directory: join(dir.path, 'lake'), fsync: false });
    scheduler = new InProcessScheduler();
    engine = await DuckDbEngine.create({ threads: 1 });
    await log.createTopic(TOPIC, { partitions: 2 });
    batch = await BatchLayer.create({ eventLog: log, viewStore: store, lake, scheduler, catalog, workDirectory: join(dir.path, 'batch'), logger: silentLogger(), duckdb: { threads: 1 }, repeat: null });
  });

  afterEach(async () => {
    for (const speed of speedLayers.splice(0)) await speed.stop();
    await batch.close();
    await scheduler.close();
    engine.close();
    await log.close();
    await inner.close();
    await dir.remove();
  });

  const newSpeedLayer = async () => {
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, slicePolicy: { microBatches: 1 } });
    speedLayers.push(speed);
    return speed;
  };

  /** Runs micro-batches until every view of the topic has reached the log's end; returns how many failed. */
  const catchUp = async (speed: SpeedLayer): Promise<number> => {
    let failures = 0;
    for (let batches = 0; batches < 200; batches++) {
      try {
        await speed.runOnce();
      } catch {
        failures++;
      }
      const ends = await log.endOffsets(TOPIC);
      if ([BY_URL, BY_USER].every((view) => speed.positions(view).every((position, partition) => position === ends[partition]))) return failures;
    }
    throw new Error(`the views did not catch up: ${JSON.stringify({ url: speed.positions(BY_URL), user: speed.positions(BY_USER) })}`);
  };

  /** Every merged answer equals DuckDB's recompute of the records the view counts: all valid ones, less its quarantine. */
  const expectTruth = async () => {
    const quarantine = await Quarantine.load(log, TOPIC);
    const records = await readAllRecords(log, TOPIC);
    const reader = new MergedViewReader(store, catalog, { cacheAnswers: false });
    for (const name of [BY_URL, BY_USER]) {
      const view = catalog.views.get(name)!;
      const answer = await reader.read(name);
      const excluded = new Set(quarantine.entries.filter((entry) => entry.view === name).map((entry) => `${entry.partition}:${entry.offset}`));
      const truth = new TruthTable(engine, view.source);
      await truth.create();
      await truth.add(records.filter((record) => !excluded.has(`${record.partition}:${record.offset}`)));
      const expected = await truth.windows(view, answer.provenance.position);
      expect(expected.size).toBeGreaterThan(0);
      expect(differences(answer.windows, expected, new Set([...URLS, ...USERS, POISON_USER]))).toEqual([]);
      expect(answer.windows).toHaveLength(expected.size);
      expect(answer.provenance.position).toEqual(await log.endOffsets(TOPIC));
    }
  };

  it('should quarantine the record for that view only, and answer exactly in both layers', async () => {
    const appended = await log.append(TOPIC, clicks(500, 7, 301));
    const poison = appended[301]!;
    const speed = await newSpeedLayer();

    const failures = await catchUp(speed);
    // The first failure is retried as a whole; the second starts the search, which never stalls.
    expect(failures).toBeGreaterThanOrEqual(1);
    expect(refusals()).toBeGreaterThanOrEqual(2);
    expect(speed.health().topics).toEqual([expect.objectContaining({ topic: TOPIC, state: 'ok', quarantined: 1, consecutiveFailures: 0 })]);

    const quarantine = await Quarantine.load(log, TOPIC);
    expect(quarantine.entries).toEqual([
      { view: BY_USER, partition: poison.partition, offset: poison.offset, reason: expect.stringMatching(/"mallory" is refused/), at: expect.any(Number) },
    ]);
    const letters: LogRecord[] = await readAllRecords(log, deadLetterTopicOf(TOPIC));
    expect(letters).toHaveLength(1);
    expect(letters[0]!.headers[DEAD_LETTER_HEADERS.offset]!.toString()).toBe(String(poison.offset));
    expect(letters[0]!.headers[DEAD_LETTER_HEADERS.reason]!.toString()).toMatch(/^quarantined from view "clicks_by_user": Row \d+: key "mallory"/);
    expect((await log.committedOffsets('speed-layer', TOPIC)).get(poison.partition)).toBe((await log.endOffsets(TOPIC))[poison.partition]);
    await expectTruth();

    // The batch layer leaves the record out of that view, so its store takes the version.
    // Every micro-batch with records cut its slices (microBatches: 1): edges a recompute can reach.
    expect(await batch.recompute(BY_USER)).toMatchObject({ version: 1 });
    expect(await batch.recompute(BY_URL)).toMatchObject({ version: 1 });
    await expectTruth();
  });

  it('should keep skipping a quarantined record after a restart, counting nothing twice', async () => {
    await log.append(TOPIC, clicks(300, 11, 120));
    const first = await newSpeedLayer();
    await catchUp(first);
    await first.stop();
    expect((await Quarantine.load(log, TOPIC)).size).toBe(1);

    // A new process restores from the store and the quarantine, and more records arrive.
    const refusalsBefore = refusals();
    await log.append(TOPIC, clicks(200, 12));
    const second = await newSpeedLayer();
    expect(await catchUp(second)).toBe(0);
    expect(refusals()).toBe(refusalsBefore);
    await second.runOnce();
    expect(await batch.recompute(BY_USER)).toMatchObject({ version: 1 });
    await expectTruth();
    // One entry still: the restart found the record in the quarantine, not failing again.
    expect(await log.endOffsets(quarantineTopicOf(TOPIC))).toEqual([1, 0]);
  });

  it('should never quarantine on a failure a retry cures', async () => {
    await log.append(TOPIC, clicks(200, 13));
    // Each micro-batch writes four slices (two views, two partitions) and fails on every one.
    let outages = 12;
    const flaky = intercepted(inner, {
      putSlice: () => {
        if (outages-- > 0) throw new ConnectionError('the store is unreachable');
      },
    });
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: flaky, catalog });
    speedLayers.push(speed);
    expect(await catchUp(speed)).toBe(3);
    expect(outages).toBeLessThan(0);
    expect((await Quarantine.load(log, TOPIC)).size).toBe(0);
    expect(speed.health().topics[0]).toMatchObject({ state: 'ok', quarantined: 0, lastError: 'the store is unreachable' });
    await expectTruth();
  });
});
