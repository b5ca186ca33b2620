import type { Catalog, CompiledView, LogRecord } from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, SpeedLayer, deadLetterTopicOf } from '../src/index.js';
import {
  DEAD_LETTER_TOPIC,
  FaultyEventLog,
  FaultyViewStore,
  T0,
  TOPIC,
  URL_VIEW,
  USER_VIEW,
  appendRaw,
  appendViews,
  committedArray,
  expectedUrlRows,
  expectedUserRows,
  makeCatalog,
  mergedSliceRows,
  openPlatform,
  readAll,
  type PageView,
  type Platform,
} from './helpers.js';

let platform: Platform;
let catalog: Catalog;
let urlView: CompiledView;
let userView: CompiledView;

beforeEach(async () => {
  platform = await openPlatform('dead-letters');
  catalog = makeCatalog();
  urlView = catalog.views.get(URL_VIEW)!;
  userView = catalog.views.get(USER_VIEW)!;
});

afterEach(async () => {
  await platform.cleanUp();
});

const json = (value: unknown) => ({ value: JSON.stringify(value) });
const valid = (partition: number, url: string, latency: number, minute: number): PageView => ({ partition, url, user: 'ada', latency, ts: T0 + minute * 60_000 });
const asMessage = (event: PageView) => json({ url: event.url, user: event.user, latency: event.latency, ts: event.ts });

interface Invalid {
  partition: number;
  offset: number;
  value: string;
  reason: RegExp;
}

/** Appends to partitions 0 and 1 valid records interleaved with every kind of invalid one; returns both kinds. */
async function appendMix(): Promise<{ validEvents: PageView[]; invalid: Invalid[] }> {
  const validEvents: PageView[] = [];
  const invalid: Invalid[] = [];
  const plan: Record<number, ({ event: PageView } | { raw: string; reason: RegExp })[]> = {
    0: [
      { event: valid(0, '/a', 10, 0) },
      { raw: '{"url": "/a", "ts": ', reason: /^value is not JSON/ },
      { event: valid(0, '/a', 20, 0) },
      { raw: JSON.stringify({ url: '/a', latency: 5 }), reason: /^event-time field "ts" is missing$/ },
      { raw: JSON.stringify({ url: '/a', latency: 5, ts: 'yesterday' }), reason: /^event-time field "ts" must be epoch milliseconds or an ISO-8601 string/ },
      { event: valid(0, '/b', 30, 1) },
    ],
    1: [
      { raw: JSON.stringify({ url: '/a', latency: 'fast', ts: T0 }), reason: /^field "latency" must be a number, got "fast"$/ },
      { event: valid(1, '/a', 40, 0) },
      { raw: JSON.stringify({ url: 42, latency: 1, ts: T0 }), reason: /^field "url" must be a string, got 42$/ },
      { raw: JSON.stringify(['not', 'an', 'object']), reason: /^value is not a JSON object, so it has no event-time field "ts"$/ },
      { raw: JSON.stringify({ url: '/a', latency: 1, ts: -1 }), reason: /^event-time field "ts" must be epoch milliseconds/ },
      { event: valid(1, '/b', 50, 2) },
    ],
  };
  for (const [partitionText, items] of Object.entries(plan)) {
    const partition = Number(partitionText);
    const offsets = await appendRaw(
      platform.log,
      partition,
      items.map((item) => ('event' in item ? asMessage(item.event) : { value: item.raw })),
    );
    items.forEach((item, i) => {
      if ('event' in item) validEvents.push(item.event);
      else invalid.push({ partition, offset: offsets[i]!, value: item.raw, reason: item.reason });
    });
  }
  return { validEvents, invalid };
}

function header(record: LogRecord, name: string): string | undefined {
  return record.headers[name]?.toString('utf8');
}

describe('when a micro-batch holds invalid records among valid ones', () => {
  it('should send each invalid record to <topic>.dead-letter in its own partition with the reason and where it came from', async () => {
    const { invalid } = await appendMix();
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });

    const stats = await speed.runOnce();

    expect(deadLetterTopicOf(TOPIC)).toBe(DEAD_LETTER_TOPIC);
    expect(stats.deadLettered).toBe(invalid.length);
    expect(stats.records).toBe(12);
    const deadLetters = await readAll(platform.log, DEAD_LETTER_TOPIC);
    expect(deadLetters).toHaveLength(invalid.length);
    const bySource = new Map(deadLetters.map((record) => [`${header(record, DEAD_LETTER_HEADERS.partition)}:${header(record, DEAD_LETTER_HEADERS.offset)}`, record]));
    for (const expected of invalid) {
      const record = bySource.get(`${expected.partition}:${expected.offset}`);
      expect(record, `dead letter of ${expected.partition}:${expected.offset}`).toBeDefined();
      expect(record!.partition).toBe(expected.partition);
      expect(record!.value.toString('utf8')).toBe(expected.value);
      expect(header(record!, DEAD_LETTER_HEADERS.topic)).toBe(TOPIC);
      expect(header(record!, DEAD_LETTER_HEADERS.reason)).toMatch(expected.reason);
    }
    expect(DEAD_LETTER_HEADERS).toEqual({
      reason: 'dead-letter.reason',
      topic: 'dead-letter.topic',
      partition: 'dead-letter.partition',
      offset: 'dead-letter.offset',
    });
  });

  it('should keep the dead letters of a partition in source order', async () => {
    const { invalid } = await appendMix();
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    await speed.runOnce();
    for (const partition of [0, 1]) {
      const page = await platform.log.read(DEAD_LETTER_TOPIC, partition, 0);
      expect(page.records.map((record) => Number(header(record, DEAD_LETTER_HEADERS.offset)))).toEqual(
        invalid.filter((i) => i.partition === partition).map((i) => i.offset),
      );
    }
    expect((await platform.log.read(DEAD_LETTER_TOPIC, 2, 0)).records).toEqual([]);
  });

  it('should keep the original key, timestamp and headers', async () => {
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    await platform.log.append(TOPIC, [{ partition: 2, key: 'k-1', value: 'nope', timestamp: 1234, headers: { 'trace-id': 'abc' } }]);
    await speed.runOnce();
    const [record] = await readAll(platform.log, DEAD_LETTER_TOPIC);
    expect(record).toMatchObject({ partition: 2, timestamp: 1234 });
    expect(record!.key?.toString()).toBe('k-1');
    expect(header(record!, 'trace-id')).toBe('abc');
    expect(header(record!, DEAD_LETTER_HEADERS.offset)).toBe('0');
    expect(header(record!, DEAD_LETTER_HEADERS.partition)).toBe('2');
  });

  it('should count the valid records around them exactly and move past the invalid ones', async () => {
    const { validEvents } = await appendMix();
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    await speed.runOnce();

    expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(validEvents));
    expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows(validEvents));
    expect(await mergedSliceRows(platform.store, urlView)).toEqual({
      [`/a@${T0}`]: { views: 3, total: 70, slowest: 40 },
      [`/b@${T0 + 60_000}`]: { views: 1, total: 30, slowest: 30 },
      [`/b@${T0 + 120_000}`]: { views: 1, total: 50, slowest: 50 },
    });
    const ends = await platform.log.endOffsets(TOPIC);
    expect(ends).toEqual([6, 6, 0]);
    expect(speed.positions(URL_VIEW)).toEqual(ends);
    expect(await committedArray(platform.log)).toEqual([6, 6, undefined]);
  });

  it('should accept a declared field that is null or absent', async () => {
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    await appendRaw(platform.log, 0, [json({ url: '/n', latency: null, ts: T0 }), json({ url: '/n', ts: T0 }), json({ url: '/n', latency: 3, user: null, ts: T0 })]);
    const stats = await speed.runOnce();
    expect(stats.deadLettered).toBe(0);
    expect(await mergedSliceRows(platform.store, urlView)).toEqual({ [`/n@${T0}`]: { views: 3, total: 3, slowest: 3 } });
    // No user: a NULL key leaves the record out of the user view.
    expect(await mergedSliceRows(platform.store, userView)).toEqual({});
  });
});

describe('when records are read again after a failure', () => {
  it('should not dead-letter them again when the same instance re-runs the micro-batch after a failed slice write', async () => {
    const store = new FaultyViewStore(platform.store);
    const { validEvents, invalid } = await appendMix();
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog });
    store.failNext((slice) => slice.view === USER_VIEW);

    await expect(speed.runOnce()).rejects.toThrow(/injected/);
    // The dead letters were flushed before the slice writes.
    expect(await readAll(platform.log, DEAD_LETTER_TOPIC)).toHaveLength(invalid.length);

    const stats = await speed.runOnce();
    expect(stats.deadLettered).toBe(0);
    expect(await readAll(platform.log, DEAD_LETTER_TOPIC)).toHaveLength(invalid.length);
    expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(validEvents));
    expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows(validEvents));
  });

  it('should not dead-letter them again after a restart', async () => {
    const store = new FaultyViewStore(platform.store);
    const { validEvents, invalid } = await appendMix();
    const crashed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog });
    store.failPutSlice = () => true;
    await expect(crashed.runOnce()).rejects.toThrow(/injected/);
    expect(await readAll(platform.log, DEAD_LETTER_TOPIC)).toHaveLength(invalid.length);
    store.failPutSlice = undefined;

    // A new process over the same log and store: it re-reads every record, as none was committed.
    const restarted = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog });
    const stats = await restarted.runOnce();
    expect(stats.records).toBe(12);
    expect(stats.deadLettered).toBe(0);
    expect(await readAll(platform.log, DEAD_LETTER_TOPIC)).toHaveLength(invalid.length);

    // New invalid records after the restart are dead-lettered, once.
    const [late] = await appendRaw(platform.log, 0, [{ value: 'late garbage' }]);
    await appendViews(platform.log, [valid(0, '/a', 1, 0)]);
    expect((await restarted.runOnce()).deadLettered).toBe(1);
    const deadLetters = await readAll(platform.log, DEAD_LETTER_TOPIC);
    expect(deadLetters).toHaveLength(invalid.length + 1);
    expect(deadLetters.filter((r) => header(r, DEAD_LETTER_HEADERS.offset) === String(late) && r.partition === 0)).toHaveLength(1);
    expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows([...validEvents, valid(0, '/a', 1, 0)]));
  });

  it('should not dead-letter records queued before a read failed again when the micro-batch is re-run', async () => {
    const log = new FaultyEventLog(platform.log);
    const { validEvents, invalid } = await appendMix();
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: platform.store, catalog });
    // Partition 0's invalid records are queued, then reading partition 1 fails, before any flush.
    let failures = 1;
    log.beforeRead = (topic, partition) => {
      if (topic === TOPIC && partition === 1 && failures-- > 0) throw new Error('injected read failure');
    };

    await expect(speed.runOnce()).rejects.toThrow(/injected read failure/);
    expect(await readAll(platform.log, DEAD_LETTER_TOPIC)).toHaveLength(0);
    await speed.runOnce();

    const deadLetters = await readAll(platform.log, DEAD_LETTER_TOPIC);
    expect(deadLetters.map((r) => `${r.partition}:${header(r, DEAD_LETTER_HEADERS.offset)}`).sort()).toEqual(
      invalid.map((i) => `${i.partition}:${i.offset}`).sort(),
    );
    expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(validEvents));
  });

  it('should not dead-letter records again when a dead-letter append landed in one partition and failed in another', async () => {
    const log = new FaultyEventLog(platform.log);
    const { validEvents, invalid } = await appendMix();
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: platform.store, catalog });
    // The port promises all-or-none per partition only: partition 0's dead letters land, partition 1's do not.
    let failures = 1;
    log.interceptAppend = (topic, messages, inner) => {
      if (topic !== DEAD_LETTER_TOPIC || failures-- <= 0) return undefined;
      return inner.append(topic, messages.filter((m) => m.partition === 0)).then(() => {
        throw new Error('injected append failure');
      });
    };

    await expect(speed.runOnce()).rejects.toThrow(/injected append failure/);
    expect((await readAll(platform.log, DEAD_LETTER_TOPIC)).map((r) => r.partition)).toEqual([0, 0, 0]);
    await speed.runOnce();

    const deadLetters = await readAll(platform.log, DEAD_LETTER_TOPIC);
    expect(deadLetters.map((r) => `${r.partition}:${header(r, DEAD_LETTER_HEADERS.offset)}`).sort()).toEqual(
      invalid.map((i) => `${i.partition}:${i.offset}`).sort(),
    );
    expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(validEvents));
    expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows(validEvents));
  });
});
