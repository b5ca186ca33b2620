/**
 * The write-once principle: a view is defined once and compiled twice, to JS for the speed layer
 * (evaluate, createState, accumulate, merge) and to DuckDB SQL for the batch layer (batchSql,
 * stateFromSqlRow). For the same records both must give the same rows with the same states, or a batch
 * version and the slices merged on top of it would disagree about the very same events.
 *
 * This property test generates random page views (random partitions and offsets, event times out of order
 * and minutes late, in every form the decoder accepts, absent and null fields, fractional latencies),
 * decodes them with the source's decoder as both layers do, then for each of several fixed views:
 *
 *  - folds them in JS, split into random chunks folded separately and merged with `view.merge` in a
 *    random order (the monoid the speed layer's slices and the serving merge rely on), and checks the
 *    result against a single fold too;
 *  - loads the same decoded rows into a DuckDB table laid out like the archive's Parquet files
 *    (parquet-writer.ts) and runs `view.batchSql` over it;
 *
 * and requires the same (key, window start) rows with equal states, compared as `view.toJson` gives them.
 * Counts, extrema, sketches and top-k counts must be identical. Sums, and the sum inside an average, are
 * compared within a relative 1e-9: floating-point addition is not associative, and DuckDB adds a group's
 * values in an order of its own (in parallel, too), which differs from the JS fold's order — and from one
 * chunking to another. Every summed value is non-negative, so no cancellation can make the relative
 * error of the sum larger than that of its terms.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  Catalog,
  SqlParameters,
  type CompiledView,
  type JsonObject,
  type JsonValue,
  type LogRecord,
  type RowState,
  type SourceRow,
  type ViewDefinition,
} from '@lambda/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_TIME, PAGEVIEWS, TOPIC } from './helpers.js';

const RUNS = Number(process.env.RUNS ?? 100);
const SEED = Number(process.env.SEED ?? 20240611);

const VIEWS: ViewDefinition[] = [
  {
    name: 'every_aggregate_by_url_per_minute',
    source: TOPIC,
    key: 'url',
    window: { type: 'tumbling', size: '1m' },
    aggregates: {
      views: 'count()',
      timed: 'count(latency)',
      total: 'sum(latency)',
      fastest: 'min(latency)',
      slowest: 'max(latency)',
      mean: 'avg(latency)',
      visitors: 'approx_distinct(user)',
      referrers: 'top_k(referrer, 3)',
    },
  },
  {
    name: 'humans_by_url_and_user_hopping',
    source: TOPIC,
    derive: { slow: 'latency > 1000', seconds: 'latency / 1000', page: "lower(url) || '?' || coalesce(referrer, 'direct')" },
    filter: 'NOT coalesce(bot, false) AND (slow OR user IS NOT NULL)',
    key: ['url', 'user'],
    window: { type: 'hopping', size: '5m', slide: '1m' },
    aggregates: {
      views: 'count()',
      slow_views: 'count(CASE WHEN slow THEN 1 END)',
      seconds: 'sum(seconds)',
      mean_seconds: 'avg(seconds)',
      pages: 'top_k(page, 2)',
      slowest: 'max(seconds)',
    },
  },
  {
    name: 'global_totals',
    source: TOPIC,
    key: [],
    aggregates: {
      views: 'count()',
      flagged: 'count(bot)',
      total: 'sum(latency)',
      fastest: 'min(latency)',
      slowest: 'max(latency)',
      mean: 'avg(latency)',
      users: 'approx_distinct(user)',
      pages: 'top_k(url, 5)',
    },
  },
  {
    name: 'by_bot_and_referrer_30s',
    source: TOPIC,
    key: ['bot', 'referrer'],
    window: { type: 'tumbling', size: '30s' },
    aggregates: {
      users: 'top_k(user, 2)',
      pages: 'approx_distinct(url)',
      referred: 'count(referrer)',
      newest: 'max(event_time)',
      oldest: 'min(event_time)',
    },
  },
  {
    name: 'by_latency_bucket_hopping',
    source: TOPIC,
    derive: { bucket: 'floor(latency / 250) * 250', minute: 'floor(event_time / 60000)' },
    filter: "url IN ('/', '/home', '/ü') OR starts_with(coalesce(referrer, ''), 'http')",
    key: 'bucket',
    // A slide that does not divide the size: windows start at multiples of 45 s, each 2 min long.
    window: { type: 'hopping', size: '2m', slide: '45s' },
    aggregates: { views: 'count()', total: 'sum(latency)', minutes: 'approx_distinct(url)', first_minute: 'min(minute)', mean: 'avg(latency)' },
  },
  {
    name: 'by_user_and_event_time',
    source: TOPIC,
    // event_time is a BIGINT in DuckDB (a bigint in JS), a number in the speed layer.
    key: ['user', 'event_time'],
    aggregates: { views: 'count()', total: 'sum(latency)', first_seen: 'min(event_time)', bots: 'count(CASE WHEN bot THEN TRUE END)' },
  },
  {
    name: 'derived_v_and_c',
    source: TOPIC,
    // Derived fields named like the columns the generated SQL once used for its own purposes.
    derive: { v: "coalesce(referrer, 'direct')", c: "length(coalesce(url, ''))" },
    key: 'v',
    window: { type: 'tumbling', size: '2m' },
    aggregates: { pages: 'top_k(url, 3)', sources: 'top_k(v, 2)', chars: 'sum(c)', users: 'approx_distinct(user)' },
  },
];

const catalog = Catalog.compile({ sources: [PAGEVIEWS], views: VIEWS });
const source = catalog.sources.get(TOPIC)!;

// ---------------------------------------------------------------------------------------------------------
// Records

/** A field present with a value (mostly), null, or absent from the JSON altogether. */
const field = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null | undefined> =>
  fc.oneof({ weight: 6, arbitrary }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(undefined) });

const latency = fc
  .oneof(
    fc.integer({ min: 0, max: 3000 }),
    fc.double({ min: 0, max: 5000, noNaN: true }),
    fc.constantFrom(0.1, 0.2, 0.3, 1e-3, 999.999, 1000, 1000.0001, 2 ** -20),
  )
  .map((value) => value + 0); // never -0: JSON would keep it, but no latency is negative

const generatedRecord = fc.record({
  partition: fc.integer({ min: 0, max: 2 }),
  /** Offsets skipped before this record: records the decoder rejected, which no layer sees. */
  gap: fc.nat({ max: 3 }),
  /** When the log got it, after BASE_TIME. */
  arrival: fc.integer({ min: 0, max: 10 * 60_000 }),
  /** How far its event time is behind its arrival: on time, jittered either way, or minutes late. */
  lateness: fc.oneof(fc.constant(0), fc.integer({ min: -30_000, max: 30_000 }), fc.integer({ min: 60_000, max: 8 * 60_000 })),
  /** The decoder takes epoch ms (truncating fractions) or ISO-8601 text. */
  timeForm: fc.constantFrom('ms', 'fractional ms', 'iso'),
  url: field(fc.constantFrom('/', '/home', '/HOME', '/a b', "/it's", '/ü', '/中文', '')),
  user: field(fc.oneof(fc.integer({ min: 0, max: 60 }).map((n) => `u${n}`), fc.constantFrom('', 'ß', '😀', "o'brien"))),
  referrer: field(fc.constantFrom('', 'direct', 'https://google.com', 'http://example.org/é', 'android-app://x')),
  latency: field(latency),
  bot: field(fc.boolean()),
});
type GeneratedRecord = typeof generatedRecord extends fc.Arbitrary<infer R> ? R : never;

/** Log records at increasing offsets per partition, decoded by the source as the speed layer decodes them. */
function decodeAll(generated: GeneratedRecord[]): SourceRow[] {
  const nextOffset = [0, 0, 0];
  return generated.map((record) => {
    const offset = nextOffset[record.partition]! + record.gap;
    nextOffset[record.partition] = offset + 1;
    const eventTime = BASE_TIME + record.arrival - record.lateness;
    const ts = record.timeForm === 'iso' ? new Date(eventTime).toISOString() : record.timeForm === 'ms' ? eventTime : eventTime + 0.75;
    const value: Record<string, JsonValue> = { ts };
    for (const name of ['url', 'user', 'referrer', 'latency', 'bot'] as const) {
      if (record[name] !== undefined) value[name] = record[name];
    }
    const logRecord: LogRecord = {
      topic: TOPIC,
      partition: record.partition,
      offset,
      timestamp: BASE_TIME + record.arrival,
      key: record.user ? Buffer.from(record.user) : null,
      value: Buffer.from(JSON.stringify(value)),
      headers: {},
    };
    const decoded = source.decode(logRecord);
    if (!decoded.ok) throw new Error(`a generated record should be valid: ${decoded.reason}`);
    // Independently of the decoder: the event time is the integral millisecond.
    expect(decoded.row.eventTime).toBe(eventTime);
    return decoded.row;
  });
}

// ---------------------------------------------------------------------------------------------------------
// The JS side (the speed layer's fold) and the SQL side (the batch layer's query)

interface OutputRow {
  key: string;
  windowStart: number;
  state: JsonObject;
}

type StateMap = Map<string, { key: string; windowStart: number; state: RowState }>;

const rowId = (key: string, windowStart: number) => `${windowStart}\u0000${key}`;

function fold(view: CompiledView, rows: readonly SourceRow[]): StateMap {
  const states: StateMap = new Map();
  for (const row of rows) {
    const evaluation = view.evaluate(row);
    if (!evaluation) continue;
    for (const windowStart of evaluation.windowStarts) {
      const id = rowId(evaluation.key, windowStart);
      let entry = states.get(id);
      if (!entry) states.set(id, (entry = { key: evaluation.key, windowStart, state: view.createState() }));
      view.accumulate(entry.state, evaluation.inputs);
    }
  }
  return states;
}

/** Folds each chunk on its own, then merges the chunks' states in the given order. */
function foldInChunks(view: CompiledView, chunks: SourceRow[][]): StateMap {
  const merged: StateMap = new Map();
  for (const chunk of chunks) {
    for (const [id, entry] of fold(view, chunk)) {
      const into = merged.get(id);
      if (into) view.merge(into.state, entry.state);
      else merged.set(id, { key: entry.key, windowStart: entry.windowStart, state: view.clone(entry.state) });
    }
  }
  return merged;
}

function toOutput(view: CompiledView, states: StateMap): OutputRow[] {
  return [...states.values()]
    .map(({ key, windowStart, state }) => ({ key, windowStart, state: view.toJson(state) }))
    .sort((a, b) => a.windowStart - b.windowStart || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  connection = await instance.connect();
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
});

/** The archive's layout (parquet-writer.ts): envelope columns, then each declared field with its SQL type. */
async function loadTable(rows: readonly SourceRow[]): Promise<void> {
  await connection.run(
    `CREATE OR REPLACE TABLE records (_partition INTEGER, _offset BIGINT, _timestamp BIGINT, _key VARCHAR, _event_time BIGINT, _value VARCHAR,
       url VARCHAR, "user" VARCHAR, referrer VARCHAR, latency DOUBLE, bot BOOLEAN)`,
  );
  const appender = await connection.createAppender('records');
  const orNull = <T>(value: T | null | undefined, append: (value: T) => void) => (value === null || value === undefined ? appender.appendNull() : append(value));
  for (const row of rows) {
    appender.appendInteger(row.partition);
    appender.appendBigInt(BigInt(row.offset));
    appender.appendBigInt(BigInt(row.timestamp));
    appender.appendNull();
    appender.appendBigInt(BigInt(row.eventTime));
    appender.appendVarchar('{}');
    for (const name of ['url', 'user', 'referrer'] as const) orNull(row.fields[name] as string | null, (value) => appender.appendVarchar(value));
    orNull(row.fields.latency as number | null, (value) => appender.appendDouble(value));
    orNull(row.fields.bot as boolean | null, (value) => appender.appendBoolean(value));
    appender.endRow();
  }
  appender.closeSync();
}

async function runSql(view: CompiledView): Promise<OutputRow[]> {
  const parameters = new SqlParameters();
  const sql = view.batchSql('SELECT * FROM records', parameters);
  const reader = await connection.runAndReadAll(sql, parameters.values);
  const states: StateMap = new Map();
  for (const row of reader.getRowObjectsJS() as Record<string, unknown>[]) {
    const { key, windowStart, state } = view.stateFromSqlRow(row);
    const id = rowId(key, windowStart);
    if (states.has(id)) throw new Error(`DuckDB gave two rows for key ${key}, window ${windowStart}`);
    states.set(id, { key, windowStart, state });
  }
  return toOutput(view, states);
}

// ---------------------------------------------------------------------------------------------------------
// Comparison

const closeEnough = (a: JsonValue | undefined, b: JsonValue | undefined): boolean =>
  typeof a === 'number' && typeof b === 'number' && (a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)));

/**
 * `actual` with every sum that is within tolerance of `expected`'s replaced by `expected`'s, so one deep
 * equality then checks everything else exactly (and shows any difference, sums out of tolerance included).
 */
function withToleratedSums(view: CompiledView, expected: OutputRow[], actual: OutputRow[]): OutputRow[] {
  const byId = new Map(expected.map((row) => [rowId(row.key, row.windowStart), row]));
  return actual.map((row) => {
    const reference = byId.get(rowId(row.key, row.windowStart));
    if (!reference) return row;
    const state: JsonObject = structuredClone(row.state);
    for (const aggregate of view.aggregates) {
      const kind = /^\s*([a-z_]+)/.exec(aggregate.definition)![1];
      const mine = state[aggregate.name];
      const theirs = reference.state[aggregate.name];
      if (kind === 'sum' && closeEnough(theirs, mine)) state[aggregate.name] = theirs!;
      if (kind === 'avg') {
        const [a, b] = [mine as { sum: number; count: number }, theirs as { sum: number; count: number }];
        if (a.count === b.count && closeEnough(b.sum, a.sum)) state[aggregate.name] = { ...a, sum: b.sum };
      }
    }
    return { ...row, state };
  });
}

// ---------------------------------------------------------------------------------------------------------

describe('the write-once principle: a view compiled to JS and to DuckDB SQL', () => {
  describe('when the views are compiled', () => {
    it('should cover every aggregate, windowing and keying the language has', () => {
      const kinds = new Set(VIEWS.flatMap((view) => Object.values(view.aggregates).map((text) => /^[a-z_]+/.exec(text)![0] + (text.includes('()') ? '()' : '(x)'))));
      expect([...kinds].sort()).toEqual(['approx_distinct(x)', 'avg(x)', 'count()', 'count(x)', 'max(x)', 'min(x)', 'sum(x)', 'top_k(x)'].sort());
      expect(VIEWS.map((view) => view.window?.type ?? 'none').sort()).toEqual(expect.arrayContaining(['hopping', 'none', 'tumbling']));
      const keyCounts = VIEWS.map((view) => (Array.isArray(view.key) ? view.key.length : 1));
      expect(keyCounts).toEqual(expect.arrayContaining([0, 1, 2]));
      expect(VIEWS.some((view) => view.filter !== undefined && view.derive !== undefined)).toBe(true);
    });
  });

  describe.each(VIEWS.map((definition) => [definition.name, catalog.views.get(definition.name)!] as const))('when %s runs over random records', (_name, view) => {
    it('should give the same rows and states in JS, folded in chunks and merged, as in DuckDB', async () => {
      let nonEmptyRuns = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(generatedRecord, { maxLength: 60 }),
          fc.uniqueArray(fc.nat({ max: 60 }), { maxLength: 5 }),
          fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
          async (generated, cutPoints, mergeOrder) => {
            const rows = decodeAll(generated);
            const cuts = [0, ...cutPoints.filter((cut) => cut < rows.length).sort((a, b) => a - b), rows.length];
            const chunks = cuts.slice(1).map((end, i) => rows.slice(cuts[i], end));
            const ordered = chunks.map((chunk, i) => ({ chunk, rank: mergeOrder[i]! })).sort((a, b) => a.rank - b.rank);

            const single = toOutput(view, fold(view, rows));
            const merged = toOutput(view, foldInChunks(view, ordered.map(({ chunk }) => chunk)));
            // The monoid: any split of the records, merged in any order, gives the single fold's states.
            expect(withToleratedSums(view, single, merged)).toEqual(single);

            await loadTable(rows);
            const sql = await runSql(view);
            expect(withToleratedSums(view, merged, sql)).toEqual(merged);
            if (single.length > 0) nonEmptyRuns++;
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
      // Most runs must have produced rows: a filter or key that leaves everything out would prove nothing.
      expect(nonEmptyRuns).toBeGreaterThan(RUNS * 0.6);
    });
  });
});
