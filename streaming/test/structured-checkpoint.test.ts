/**
 * Restarts from a checkpoint location neither lose nor repeat output: after a clean stop, after a crash
 * once the sink has written a batch but before it was committed, and after a crash before the sink
 * wrote it. With the memory sink and with the files sink (JSON lines and Parquet).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  F,
  FileSink,
  MemorySink,
  MemoryTables,
  Trigger,
  readStream,
  type OutputRow,
  type SinkBatch,
  type StreamingDataFrame,
  type StructuredSink,
} from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';
import { MINUTE, TICK_SCHEMA, canonical, jsonQueue, randomTicks, runAvailable, type Tick } from './structured-helpers.js';

const { count, max, sum, window } = F;

/** Ticks whose event time rises batch by batch, so windows close as batches go by. */
const BATCHES: Tick[][] = randomTicks(99, 6, 12, 1).map((batch, i) => batch.map((tick) => ({ ...tick, ts: tick.ts + i * MINUTE })));

const perMinute = (batches: Tick[][]): StreamingDataFrame =>
  readStream
    .source(jsonQueue(batches), { format: 'json', schema: TICK_SCHEMA })
    .withWatermark('ts', '10 seconds')
    .groupBy(window('ts', '1 minute'), 'symbol')
    .agg(count().as('n'), sum('price').as('total'), max('price').as('high'));

/** Writes through to a sink, then fails on one batch: before or after the write, as a crash would. */
class CrashingSink implements StructuredSink {
  readonly description = 'crashing';
  constructor(
    private readonly inner: StructuredSink,
    private readonly crashAt: number,
    private readonly when: 'before-write' | 'after-write',
  ) {}
  get idempotent() {
    return this.inner.idempotent;
  }
  get outputModes() {
    return this.inner.outputModes;
  }
  async addBatch(batch: SinkBatch): Promise<void> {
    if (batch.batchId === this.crashAt && this.when === 'before-write') throw new Error('crash before the write');
    await this.inner.addBatch(batch);
    if (batch.batchId === this.crashAt) throw new Error('crash after the write');
  }
}

async function readJsonParts(directory: string): Promise<{ files: string[]; rows: OutputRow[] }> {
  const files = (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
  const rows: OutputRow[] = [];
  for (const file of files) {
    for (const line of (await readFile(join(directory, file), 'utf8')).split('\n')) if (line !== '') rows.push(JSON.parse(line) as OutputRow);
  }
  return { files, rows };
}

let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await makeTempDir('structured-checkpoint');
});
afterEach(async () => {
  await dir.remove();
});

describe('structured checkpoints', () => {
  // What one uninterrupted run outputs: the reference every interrupted run must match exactly.
  const reference = async (mode: 'append' | 'update') => (await runAvailable(perMinute(BATCHES), mode)).table.rows();

  describe('when a query stops cleanly and restarts with more input', () => {
    it('should continue from the committed position and state, with no batch lost or repeated (memory sink)', async () => {
      const checkpointLocation = join(dir.path, 'checkpoint');
      const tables = new MemoryTables();
      const first = await runAvailable(perMinute(BATCHES.slice(0, 3)), 'update', { checkpointLocation, tables });
      // Three batches of data, then one without: the watermark moved in the third.
      expect(first.table.batchIds).toEqual([0, 1, 2, 3]);
      expect(first.query.recentProgress.map((p) => p.numInputRows)).toEqual([...BATCHES.slice(0, 3).map((batch) => batch.length), 0]);
      const second = await runAvailable(perMinute(BATCHES), 'update', { checkpointLocation, tables });
      expect(second.query.recentProgress.map((p) => p.numInputRows).slice(0, 3)).toEqual(BATCHES.slice(3).map((batch) => batch.length));
      expect(second.table.batchIds).toEqual(Array.from({ length: 4 + second.query.recentProgress.length }, (_, i) => i));
      expect(canonical(second.table.rows())).toEqual(canonical(await reference('update')));
      // Counts equal the input's: nothing read twice.
      const total = second.table.rows().filter((row, _, all) => all.findLast((r) => JSON.stringify(r.window) === JSON.stringify(row.window) && r.symbol === row.symbol) === row);
      expect(total.reduce((n, row) => n + (row.n as number), 0)).toBe(BATCHES.flat().length);
    });
  });

  describe.each(['after-write', 'before-write'] as const)('when the process dies %s of a batch to the memory sink', (when) => {
    it('should hand that batch to the sink again on restart and carry on, every row once', async () => {
      const checkpointLocation = join(dir.path, 'checkpoint');
      const tables = new MemoryTables();
      const crashing = await perMinute(BATCHES)
        .writeStream.outputMode('append')
        .sink(new CrashingSink(new MemorySink('ohlc', tables), 2, when))
        .queryName('ohlc')
        .trigger(Trigger.availableNow())
        .checkpointLocation(checkpointLocation)
        .runtime({ fsync: false })
        .start();
      await expect(crashing.awaitTermination()).rejects.toThrow(/crash/);
      expect((await stat(join(checkpointLocation, 'pending.json'))).isFile()).toBe(true);
      expect(tables.table('ohlc').batchIds).toEqual(when === 'after-write' ? [0, 1, 2] : [0, 1]);

      const restarted = await runAvailable(perMinute(BATCHES), 'append', { checkpointLocation, tables, name: 'ohlc' });
      // One batch per queued batch, and a last one without data that closes what the watermark passed.
      expect(restarted.table.batchIds).toEqual([...BATCHES.keys(), BATCHES.length]);
      const rows = restarted.table.rows();
      expect(canonical(rows)).toEqual(canonical(await reference('append')));
      const windows = rows.map((row) => `${(row.window as { start: number }).start}/${row.symbol as string}`);
      expect(new Set(windows).size).toBe(windows.length);
    });
  });

  describe.each(['after-write', 'before-write'] as const)('when the process dies %s of a batch to the JSON files sink', (when) => {
    it('should leave one file per batch and every row exactly once', async () => {
      const checkpointLocation = join(dir.path, 'checkpoint');
      const out = join(dir.path, 'out');
      const frame = readStream
        .source(jsonQueue(BATCHES), { format: 'json', schema: TICK_SCHEMA })
        .where("symbol = 'AAPL'")
        .select('symbol', 'price', 'trader');
      const crashing = await frame.writeStream
        .sink(new CrashingSink(new FileSink({ path: out, format: 'json', fsync: false }), 3, when))
        .trigger(Trigger.availableNow())
        .checkpointLocation(checkpointLocation)
        .runtime({ fsync: false })
        .start();
      await expect(crashing.awaitTermination()).rejects.toThrow(/crash/);

      const restarted = await frame.writeStream
        .format('json', { path: out, fsync: false })
        .trigger(Trigger.availableNow())
        .checkpointLocation(checkpointLocation)
        .runtime({ fsync: false })
        .start();
      await restarted.awaitTermination();
      const { files, rows } = await readJsonParts(out);
      const expected = BATCHES.map((batch) => batch.filter((t) => t.symbol === 'AAPL').map((t) => ({ symbol: t.symbol, price: t.price, trader: t.trader })));
      expect(files).toEqual(expected.flatMap((batch, i) => (batch.length > 0 ? [`part-${String(i).padStart(10, '0')}.json`] : [])));
      expect(rows).toEqual(expected.flat());
    });
  });

  describe('when the files sink writes Parquet and the query restarts', () => {
    it('should hold exactly the rows of an uninterrupted run', async () => {
      const checkpointLocation = join(dir.path, 'checkpoint');
      const out = join(dir.path, 'parquet');
      const start = (batches: Tick[][]) =>
        perMinute(batches).writeStream.outputMode('append').format('parquet', { path: out, fsync: false }).trigger(Trigger.availableNow()).checkpointLocation(checkpointLocation).runtime({ fsync: false }).start();
      await (await start(BATCHES.slice(0, 2))).awaitTermination();
      await (await start(BATCHES)).awaitTermination();
      const instance = await DuckDBInstance.create(':memory:');
      try {
        const connection = await instance.connect();
        const reader = await connection.runAndReadAll('SELECT "window", symbol, n, total, high FROM read_parquet($files)', {
          files: join(out, '*.parquet'),
        });
        const rows = (reader.getRowObjectsJS() as Record<string, unknown>[]).map((row) => {
          const window = row.window as { start: bigint; end: bigint };
          return { window: { start: Number(window.start), end: Number(window.end) }, symbol: row.symbol, n: row.n, total: row.total, high: row.high };
        });
        connection.closeSync();
        expect(canonical(rows as OutputRow[])).toEqual(canonical(await reference('append')));
        expect(rows.length).toBeGreaterThan(5);
      } finally {
        instance.closeSync();
      }
    });
  });

  describe('when a different query starts on an existing checkpoint', () => {
    it('should refuse it', async () => {
      const checkpointLocation = join(dir.path, 'checkpoint');
      await runAvailable(perMinute(BATCHES.slice(0, 1)), 'update', { checkpointLocation });
      const other = readStream.source(jsonQueue(BATCHES), { format: 'json', schema: TICK_SCHEMA }).groupBy('symbol').agg(count().as('n'));
      await expect(runAvailable(other, 'update', { checkpointLocation })).rejects.toThrow(/belongs to a different query/);
    });
  });
});
