/**
 * Shared fixtures for the speed-layer tests: a real embedded log and view store in a temp dir, a small
 * catalog, a naive oracle computing the expected view rows straight from the events a test appended, and
 * wrappers around the ports that fail or pause on demand.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Catalog,
  EmbeddedEventLog,
  EmbeddedViewStore,
  type AppendedRecord,
  type BatchManifest,
  type CompiledView,
  type CreateTopicOptions,
  type EventLog,
  type JsonObject,
  type LogMessage,
  type LogRecord,
  type ReadOptions,
  type ReadResult,
  type RowFilter,
  type RowState,
  type Slice,
  type SliceRef,
  type TopicDescription,
  type ViewRow,
  type ViewStore,
  seededRandom,
} from '@lambda/core';

export const TOPIC = 'pageviews';
export const DEAD_LETTER_TOPIC = 'pageviews.dead-letter';
export const PARTITIONS = 3;
export const GROUP = 'speed-layer';
/** Per url, per 1-minute tumbling window: count(), sum(latency), max(latency). */
export const URL_VIEW = 'pageviews_by_url';
/** Per user, no window: count(), sum(latency). */
export const USER_VIEW = 'latency_by_user';
export const MINUTE = 60_000;
/** 2026-01-01T10:00:00Z */
export const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

export function makeCatalog(): Catalog {
  return Catalog.compile({
    sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', user: 'string', latency: 'number' } }],
    views: [
      {
        name: URL_VIEW,
        source: TOPIC,
        key: 'url',
        window: { type: 'tumbling', size: '1m' },
        aggregates: { views: 'count()', total: 'sum(latency)', slowest: 'max(latency)' },
      },
      { name: USER_VIEW, source: TOPIC, key: 'user', aggregates: { views: 'count()', total: 'sum(latency)' } },
    ],
  });
}

/** A catalog with only the url view, for tests that want one view per topic. */
export function makeUrlOnlyCatalog(): Catalog {
  return Catalog.compile({
    sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', user: 'string', latency: 'number' } }],
    views: [
      {
        name: URL_VIEW,
        source: TOPIC,
        key: 'url',
        window: { type: 'tumbling', size: '1m' },
        aggregates: { views: 'count()', total: 'sum(latency)', slowest: 'max(latency)' },
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------------
// The platform under test

export interface Platform {
  dir: string;
  log: EmbeddedEventLog;
  store: EmbeddedViewStore;
  cleanUp: () => Promise<void>;
}

/** A fresh embedded log (with the source topic, PARTITIONS partitions) and view store in a temp dir. */
export async function openPlatform(label: string): Promise<Platform> {
  const dir = await mkdtemp(join(tmpdir(), `lambda-speed-${label}-`));
  const log = await EmbeddedEventLog.open({ directory: join(dir, 'log'), fsync: 'never' });
  const store = await EmbeddedViewStore.open({ directory: join(dir, 'views'), fsync: 'never' });
  await log.createTopic(TOPIC, { partitions: PARTITIONS });
  return {
    dir,
    log,
    store,
    cleanUp: async () => {
      await log.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Events and the oracle

export interface PageView {
  partition: number;
  url: string;
  /** Absent: the user view leaves the record out (NULL key). */
  user?: string;
  /** null: counted by count(), ignored by sum() and max(). */
  latency: number | null;
  /** Event time, epoch ms. */
  ts: number;
}

/** Appends page views, each to its pinned partition, in order; returns where each landed. */
export async function appendViews(log: EventLog, events: readonly PageView[]): Promise<AppendedRecord[]> {
  if (events.length === 0) return [];
  return log.append(
    TOPIC,
    events.map((event) => ({
      partition: event.partition,
      key: event.url,
      value: JSON.stringify({ url: event.url, user: event.user, latency: event.latency, ts: event.ts }),
    })),
  );
}

/** Appends raw values (valid or not) to one partition; returns their offsets. */
export async function appendRaw(log: EventLog, partition: number, messages: readonly Omit<LogMessage, 'partition'>[]): Promise<number[]> {
  const appended = await log.append(
    TOPIC,
    messages.map((message) => ({ ...message, partition })),
  );
  return appended.map((record) => record.offset);
}

/** `count` page views over a few urls, users, partitions and minutes (event times in any order). */
export function generateViews(count: number, seed: number, options: { minutes?: number; from?: number } = {}): PageView[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const minutes = options.minutes ?? 5;
  const from = options.from ?? T0;
  return Array.from({ length: count }, () => {
    const event: PageView = {
      partition: Math.floor(random() * PARTITIONS),
      url: pick(['/', '/cart', '/checkout', '/search']),
      latency: random() < 0.1 ? null : Math.floor(random() * 2000),
      ts: from + Math.floor(random() * minutes * MINUTE),
    };
    if (random() < 0.9) event.user = pick(['ada', 'bob', 'cy']);
    return event;
  });
}

/** Rows by `${key}@${windowStart}`, each the view's results (what a reader would be served). */
export type Rows = Record<string, JsonObject>;

/** The url view computed naively from the events: group by url and minute, count, add and compare. */
export function expectedUrlRows(events: readonly PageView[]): Rows {
  const rows: Record<string, { views: number; total: number; slowest: number | null }> = {};
  for (const event of events) {
    const windowStart = event.ts - (event.ts % MINUTE);
    const row = (rows[`${event.url}@${windowStart}`] ??= { views: 0, total: 0, slowest: null });
    row.views += 1;
    if (event.latency !== null) {
      row.total += event.latency;
      row.slowest = row.slowest === null ? event.latency : Math.max(row.slowest, event.latency);
    }
  }
  return rows;
}

/** The user view computed naively: per user (records without one left out), count and sum. */
export function expectedUserRows(events: readonly PageView[]): Rows {
  const rows: Record<string, { views: number; total: number }> = {};
  for (const event of events) {
    if (event.user === undefined) continue;
    const row = (rows[`${event.user}@0`] ??= { views: 0, total: 0 });
    row.views += 1;
    row.total += event.latency ?? 0;
  }
  return rows;
}

/** Every slice of a view merged per (key, window) into the results a reader would be served. */
export async function mergedSliceRows(store: ViewStore, view: CompiledView): Promise<Rows> {
  const states = new Map<string, RowState>();
  for (const slice of await store.listSlices(view.name)) {
    const read = await store.readSlice(slice);
    if (!read) throw new Error(`slice ${JSON.stringify(slice)} vanished`);
    for (const row of read.rows) {
      const id = `${row.key}@${row.windowStart}`;
      const state = view.fromJson(row.state as JsonObject);
      const into = states.get(id);
      states.set(id, into ? view.merge(into, state) : state);
    }
  }
  const rows: Rows = {};
  for (const [id, state] of states) rows[id] = view.result(state);
  return rows;
}

/** Checks a view's slices form, per partition, one contiguous chain from `from` (0 unless a horizon) with at most the last one open. */
export function expectContiguous(slices: readonly Slice[], from: readonly number[] = []): void {
  const byPartition = new Map<number, Slice[]>();
  for (const slice of slices) byPartition.set(slice.partition, [...(byPartition.get(slice.partition) ?? []), slice]);
  for (const [partition, chain] of byPartition) {
    let expectedStart = from[partition] ?? 0;
    chain.forEach((slice, i) => {
      if (slice.start !== expectedStart) throw new Error(`partition ${partition}: slice ${i} starts at ${slice.start}, expected ${expectedStart}`);
      if (slice.end < slice.start) throw new Error(`partition ${partition}: slice ${i} ends before it starts`);
      if (!slice.closed && i !== chain.length - 1) throw new Error(`partition ${partition}: slice ${i} is open but not the last`);
      expectedStart = slice.end;
    });
  }
}

/** The dead-letter topic's records, every partition. */
export async function readAll(log: EventLog, topic: string): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  const { partitions } = await log.describeTopic(topic);
  for (let partition = 0; partition < partitions; partition++) {
    let offset = 0;
    for (;;) {
      const page = await log.read(topic, partition, offset);
      records.push(...page.records);
      if (page.nextOffset >= page.endOffset) break;
      offset = page.nextOffset;
    }
  }
  return records;
}

/** Committed offsets of the speed layer's group as an array by partition (undefined where never committed). */
export async function committedArray(log: EventLog, topic = TOPIC, group = GROUP): Promise<(number | undefined)[]> {
  const committed = await log.committedOffsets(group, topic);
  return Array.from({ length: PARTITIONS }, (_, partition) => committed.get(partition));
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

// ---------------------------------------------------------------------------------------------------
// Port wrappers with faults

/** A view store that delegates to a real one, with hooks to fail or hold `putSlice`. */
export class FaultyViewStore implements ViewStore {
  /** Throws instead of writing when it returns true (checked before the write reaches the store). */
  failPutSlice: ((slice: Slice) => boolean) | undefined;
  /** Awaited before each write reaches the store. */
  beforePutSlice: ((slice: Slice) => Promise<void>) | undefined;
  readonly putSlices: Slice[] = [];
  /** Per successful write, the rows it wrote (same order as putSlices). */
  readonly putRows: ViewRow[][] = [];

  constructor(readonly inner: ViewStore) {}

  /** Fails the next `times` writes matching `match`, then writes normally again. */
  failNext(match: (slice: Slice) => boolean, times = 1): void {
    let left = times;
    this.failPutSlice = (slice) => {
      if (left === 0 || !match(slice)) return false;
      left--;
      return true;
    };
  }

  async putSlice(slice: Slice, rows: readonly ViewRow[]): Promise<void> {
    await this.beforePutSlice?.(slice);
    if (this.failPutSlice?.(slice)) throw new Error(`injected putSlice failure (${slice.view} p${slice.partition})`);
    await this.inner.putSlice(slice, rows);
    this.putSlices.push({ ...slice });
    this.putRows.push(rows.map((row) => ({ ...row })));
  }
  listSlices(view: string): Promise<Slice[]> {
    return this.inner.listSlices(view);
  }
  readSlice(ref: SliceRef, filter?: RowFilter): Promise<{ slice: Slice; rows: ViewRow[] } | undefined> {
    return this.inner.readSlice(ref, filter);
  }
  deleteSlices(refs: readonly SliceRef[]): Promise<void> {
    return this.inner.deleteSlices(refs);
  }
  putBatchRows(view: string, version: number, rows: readonly ViewRow[]): Promise<void> {
    return this.inner.putBatchRows(view, version, rows);
  }
  publishBatchVersion(manifest: BatchManifest): Promise<void> {
    return this.inner.publishBatchVersion(manifest);
  }
  readManifest(view: string): Promise<BatchManifest | undefined> {
    return this.inner.readManifest(view);
  }
  readBatchRows(view: string, version: number, filter?: RowFilter): Promise<ViewRow[]> {
    return this.inner.readBatchRows(view, version, filter);
  }
  listBatchVersions(view: string): Promise<number[]> {
    return this.inner.listBatchVersions(view);
  }
  deleteBatchVersion(view: string, version: number): Promise<void> {
    return this.inner.deleteBatchVersion(view, version);
  }
  listViews(): Promise<string[]> {
    return this.inner.listViews();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** An event log that delegates to a real one, with hooks on reads, appends and commits. */
export class FaultyEventLog implements EventLog {
  /** Called before each read reaches the log; throw to fail it. */
  beforeRead: ((topic: string, partition: number, offset: number) => void) | undefined;
  /** Replaces an append (e.g. to append part of it and fail). */
  interceptAppend: ((topic: string, messages: readonly LogMessage[], inner: EventLog) => Promise<AppendedRecord[]> | undefined) | undefined;
  /** Awaited before each commit reaches the log. */
  beforeCommit: ((group: string, topic: string, offsets: ReadonlyMap<number, number>) => Promise<void>) | undefined;

  constructor(readonly inner: EventLog) {}

  createTopic(topic: string, options: CreateTopicOptions): Promise<void> {
    return this.inner.createTopic(topic, options);
  }
  listTopics(): Promise<TopicDescription[]> {
    return this.inner.listTopics();
  }
  describeTopic(topic: string): Promise<TopicDescription> {
    return this.inner.describeTopic(topic);
  }
  async append(topic: string, messages: readonly LogMessage[]): Promise<AppendedRecord[]> {
    const intercepted = this.interceptAppend?.(topic, messages, this.inner);
    if (intercepted) return intercepted;
    return this.inner.append(topic, messages);
  }
  async read(topic: string, partition: number, offset: number, options?: ReadOptions): Promise<ReadResult> {
    this.beforeRead?.(topic, partition, offset);
    return this.inner.read(topic, partition, offset, options);
  }
  startOffsets(topic: string): Promise<number[]> {
    return this.inner.startOffsets(topic);
  }
  endOffsets(topic: string): Promise<number[]> {
    return this.inner.endOffsets(topic);
  }
  async commitOffsets(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    await this.beforeCommit?.(group, topic, offsets);
    return this.inner.commitOffsets(group, topic, offsets);
  }
  committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    return this.inner.committedOffsets(group, topic);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
