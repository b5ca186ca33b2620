/**
 * Shared fixtures of the structured-streaming tests: seeded random ticks, a queue of JSON lines (one
 * array per batch), and a runner that drives a query batch by batch (the available-now trigger takes
 * one queued array per batch) into a memory table of its own.
 */
import {
  MemoryTables,
  QueueSource,
  Trigger,
  type MemoryTable,
  type OutputMode,
  type OutputRow,
  type StreamSchema,
  type StreamingDataFrame,
  type StreamingQuery,
} from '../src/index.js';
import { seededRandom } from '@lambda/core';

/** 2024-06-11 12:00:00 UTC: a minute boundary. */
export const BASE = Date.UTC(2024, 5, 11, 12, 0, 0);
export const MINUTE = 60_000;

export interface Tick {
  symbol: string;
  price: number;
  trader: string;
  ts: number;
}

export const TICK_SCHEMA: StreamSchema = { eventTimeField: 'ts', fields: { symbol: 'string', price: 'number', trader: 'string' } };

/**
 * Batches of ticks over `minutes` minutes. Prices are multiples of 0.25, so every sum is exact in
 * floating point whatever the order of addition.
 */
export function randomTicks(seed: number, batches: number, perBatch: number, minutes = 6): Tick[][] {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  return Array.from({ length: batches }, () =>
    Array.from({ length: perBatch }, () => ({
      symbol: pick(['AAPL', 'MSFT', 'GOOG']),
      price: 100 + Math.floor(next() * 400) * 0.25,
      trader: `t${Math.floor(next() * 12)}`,
      ts: BASE + Math.floor(next() * minutes * MINUTE),
    })),
  );
}

export function jsonQueue(batches: readonly (readonly object[])[]): QueueSource<string> {
  return new QueueSource(batches.map((batch) => batch.map((record) => JSON.stringify(record))));
}

export interface Run {
  query: StreamingQuery;
  table: MemoryTable;
  /** Each batch's output, by batch id. */
  batches: OutputRow[][];
}

/** Runs the frame to the end of its queue, one batch per queued array, into a fresh memory table. */
export async function runAvailable(
  frame: StreamingDataFrame,
  mode: OutputMode,
  options: { checkpointLocation?: string; tables?: MemoryTables; name?: string } = {},
): Promise<Run> {
  const tables = options.tables ?? new MemoryTables();
  const name = options.name ?? 'result';
  let writer = frame.writeStream.outputMode(mode).format('memory', { tables }).queryName(name).trigger(Trigger.availableNow()).runtime({ fsync: false });
  if (options.checkpointLocation) writer = writer.checkpointLocation(options.checkpointLocation);
  const query = await writer.start();
  await query.awaitTermination();
  const table = tables.table(name);
  return { query, table, batches: table.batchIds.map((id) => table.batch(id)!) };
}

/** Rows in a canonical order, for comparing sets of rows. */
export function canonical(rows: readonly OutputRow[]): OutputRow[] {
  return [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
}
