/**
 * Write once: a structured query with an aggregation is a view definition. `toViewDefinition` gives a
 * definition the catalog accepts, and what that view computes over the same records, on the speed
 * layer's JS path (evaluate / accumulate) and on the batch layer's DuckDB path (batchSql), equals the
 * structured query's result. The view sink feeds the view's topic through the log, exploded rows too.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Catalog,
  EmbeddedEventLog,
  SqlParameters,
  type CompiledView,
  type LogRecord,
  type RowState,
  type SourceRow,
  seededRandom,
} from '@lambda/core';
import { F, MemoryTables, QueueSource, Trigger, readStream, type OutputRow, type StreamingDataFrame } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';
import { BASE, MINUTE, canonical, runAvailable } from './structured-helpers.js';

const { approx_count_distinct, avg, count, explode, max, min, split, sum, window } = F;
const TOPIC = 'pageviews';

let dir: { path: string; remove: () => Promise<void> };
let log: EmbeddedEventLog;
let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  connection = await instance.connect();
});
afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
});
beforeEach(async () => {
  dir = await makeTempDir('structured-view');
  log = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never' });
});
afterEach(async () => {
  await log.close();
  await dir.remove();
});

/** Random page views over 5 minutes, some with a null latency, one that does not decode. */
async function writePageViews(count: number): Promise<void> {
  await log.createTopic(TOPIC, { partitions: 2 });
  const next = seededRandom(42);
  const messages = Array.from({ length: count }, (_, i) => ({
    partition: i % 2,
    value: JSON.stringify({
      url: ['/', '/home', '/cart', '/ü'][Math.floor(next() * 4)],
      user: `u${Math.floor(next() * 15)}`,
      // Multiples of 125 ms: every sum of seconds is exact, in whatever order it is added.
      latency: next() < 0.1 ? null : Math.floor(next() * 40) * 125,
      ts: BASE + Math.floor(next() * 5 * MINUTE),
    }),
  }));
  messages.push({ partition: 0, value: JSON.stringify({ url: 7, ts: BASE }) });
  await log.append(TOPIC, messages);
}

async function readTopic(topic: string): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  const { partitions } = await log.describeTopic(topic);
  for (let partition = 0; partition < partitions; partition++) {
    for (let offset = 0; ; ) {
      const read = await log.read(topic, partition, offset, { maxRecords: 1000 });
      records.push(...read.records);
      offset = read.nextOffset;
      if (offset >= read.endOffset) break;
    }
  }
  return records;
}

/** The speed layer's path: each record evaluated and folded, one state per (key, window). */
function foldInJs(view: CompiledView, rows: readonly SourceRow[]): Map<string, { key: string; windowStart: number; state: RowState }> {
  const states = new Map<string, { key: string; windowStart: number; state: RowState }>();
  for (const row of rows) {
    const evaluation = view.evaluate(row);
    if (!evaluation) continue;
    for (const windowStart of evaluation.windowStarts) {
      const id = `${windowStart}/${evaluation.key}`;
      if (!states.has(id)) states.set(id, { key: evaluation.key, windowStart, state: view.createState() });
      view.accumulate(states.get(id)!.state, evaluation.inputs);
    }
  }
  return states;
}

/** The batch layer's path: the view's SQL in DuckDB over the rows laid out as the archive lays them out. */
async function foldInSql(view: CompiledView, rows: readonly SourceRow[]): Promise<{ key: string; windowStart: number; state: RowState }[]> {
  await connection.run('CREATE OR REPLACE TABLE records (_partition INTEGER, _offset BIGINT, _timestamp BIGINT, _event_time BIGINT, url VARCHAR, "user" VARCHAR, latency DOUBLE)');
  const appender = await connection.createAppender('records');
  for (const row of rows) {
    appender.appendInteger(row.partition);
    appender.appendBigInt(BigInt(row.offset));
    appender.appendBigInt(BigInt(row.timestamp));
    appender.appendBigInt(BigInt(row.eventTime));
    for (const name of ['url', 'user'] as const) {
      const value = row.fields[name];
      if (typeof value === 'string') appender.appendVarchar(value);
      else appender.appendNull();
    }
    const latency = row.fields.latency;
    if (typeof latency === 'number') appender.appendDouble(latency);
    else appender.appendNull();
    appender.endRow();
  }
  appender.closeSync();
  const parameters = new SqlParameters();
  const reader = await connection.runAndReadAll(view.batchSql('SELECT * FROM records', parameters), parameters.values);
  return (reader.getRowObjectsJS() as Record<string, unknown>[]).map((row) => view.stateFromSqlRow(row));
}

const pageViewsFrame = (): StreamingDataFrame =>
  readStream
    .topic({ eventLog: log, topic: TOPIC, schema: { eventTimeField: 'ts', fields: { url: 'string', user: 'string', latency: 'number' } } })
    .where('latency IS NOT NULL')
    .withColumn('seconds', 'latency / 1000')
    .groupBy(window('ts', '2 minutes', '1 minute'), 'url')
    .agg(
      count().as('views'),
      sum('seconds').as('seconds'),
      avg('latency').as('mean'),
      min('latency').as('fastest'),
      max('latency').as('slowest'),
      approx_count_distinct('user').as('visitors'),
    );

describe('structured queries as view definitions', () => {
  describe('when an aggregating query over a topic is turned into a view definition', () => {
    it('should be accepted by the catalog and compute, in JS and in DuckDB, what the query computes', async () => {
      await writePageViews(300);
      const frame = pageViewsFrame();
      const definition = frame.toViewDefinition('pageviews_by_url');
      expect(definition).toMatchObject({ name: 'pageviews_by_url', source: TOPIC, window: { type: 'hopping', size: 2 * MINUTE, slide: MINUTE } });
      const catalog = Catalog.compile({ sources: [frame.sourceDefinition()], views: [definition] });
      const view = catalog.views.get('pageviews_by_url')!;

      const { table, query } = await runAvailable(frame, 'complete');
      const structured = table.rows();
      expect(query.status.totals.invalidRows).toBe(1);

      const rows = (await readTopic(TOPIC)).flatMap((record) => {
        const decoded = catalog.sources.get(TOPIC)!.decode(record);
        return decoded.ok ? [decoded.row] : [];
      });
      const asRow = ({ key, windowStart, state }: { key: string; windowStart: number; state: RowState }): OutputRow => ({
        window: { start: windowStart, end: windowStart + 2 * MINUTE },
        url: key,
        ...(view.result(state) as Record<string, number>),
      });
      const js = [...foldInJs(view, rows).values()].map(asRow);
      const sql = (await foldInSql(view, rows)).map(asRow);
      expect(structured.length).toBeGreaterThan(10);
      expect(canonical(structured)).toEqual(canonical(js));
      expect(canonical(structured)).toEqual(canonical(sql));
    });
  });

  describe('when a query explodes lines into words and writes to the view sink', () => {
    it('should feed the exploded rows to the view topic, where the view counts what the query counts', async () => {
      await log.createTopic('words', { partitions: 1 });
      const lines = [['to be or not', 'to be'], ['that is the question', 'be']];
      const frame = readStream
        .source(new QueueSource(lines), { format: 'text' })
        .select(explode(split('lower(value)', ' ')).as('word'))
        .groupBy('word')
        .agg(count().as('n'));
      const query = await frame.writeStream.outputMode('update').format('view', { eventLog: log, viewName: 'word_counts', topic: 'words' }).trigger(Trigger.availableNow()).start();
      await query.awaitTermination();

      const definition = frame.toViewDefinition('word_counts', { topic: 'words' });
      const catalog = Catalog.compile({ sources: [frame.sourceDefinition({ topic: 'words' })], views: [definition] });
      const view = catalog.views.get('word_counts')!;
      const fed = await readTopic('words');
      const rows = fed.map((record) => {
        const decoded = catalog.sources.get('words')!.decode(record);
        if (!decoded.ok) throw new Error(decoded.reason);
        return decoded.row;
      });
      const viewCounts = Object.fromEntries([...foldInJs(view, rows).values()].map(({ key, state }) => [key, view.result(state).n]));

      const expected: Record<string, number> = {};
      for (const word of lines.flat().flatMap((line) => line.split(' '))) expected[word] = (expected[word] ?? 0) + 1;
      expect(viewCounts).toEqual(expected);
      expect(fed).toHaveLength(lines.flat().join(' ').split(' ').length);

      const structured = await runAvailable(
        readStream.source(new QueueSource(lines), { format: 'text' }).select(explode(split('lower(value)', ' ')).as('word')).groupBy('word').agg(count().as('n')),
        'complete',
        { tables: new MemoryTables() },
      );
      expect(Object.fromEntries(structured.table.rows().map((row) => [row.word, row.n]))).toEqual(expected);
    });
  });

  describe('when the view sink is given the very topic the query reads', () => {
    it('should forward nothing: the layers read that topic themselves', async () => {
      await writePageViews(20);
      const before = await log.endOffsets(TOPIC);
      const query = await pageViewsFrame().writeStream.outputMode('update').format('view', { eventLog: log, viewName: 'pv' }).trigger(Trigger.availableNow()).start();
      await query.awaitTermination();
      expect(await log.endOffsets(TOPIC)).toEqual(before);
      expect(query.lastProgress!.numInputRows).toBe(20);
    });
  });

  describe('when a query without aggregation is asked for a view definition', () => {
    it('should explain that a view needs one', () => {
      const frame = readStream.source(new QueueSource<string>([]), { format: 'text' }).where("value != ''");
      expect(() => frame.toViewDefinition('v')).toThrow(/Only a query with an aggregation/);
      const limited = readStream.source(new QueueSource<string>([]), { format: 'text' }).groupBy('value').count().limit(3);
      expect(() => limited.toViewDefinition('v')).toThrow(/A query with limit cannot be a view definition/);
    });
  });
});
