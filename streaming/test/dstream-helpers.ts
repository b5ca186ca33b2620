import { StreamingContext, type DStream, type StreamingContextOptions } from '../src/index.js';

/** A context whose batches run only on `runBatch()`, with pprint captured, for deterministic tests. */
export async function manualContext(options: Partial<StreamingContextOptions> = {}): Promise<{ context: StreamingContext; printed: string[] }> {
  const printed: string[] = [];
  const context = await StreamingContext.create({
    batchIntervalMs: 1000,
    zeroTime: 0,
    manualBatches: true,
    write: (text) => printed.push(text),
    ...options,
  });
  return { context, printed };
}

/** Records each batch a stream produces, by batch index (time / interval with zeroTime 0). */
export function collect<T>(stream: DStream<T>, intervalMs = 1000): Map<number, T[]> {
  const batches = new Map<number, T[]>();
  stream.foreachBatch((records, time) => void batches.set(time / intervalMs, records));
  return batches;
}

/** Runs `count` batches. */
export async function runBatches(context: StreamingContext, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await context.runBatch();
}

/** Pairs sorted by their JSON text, so results compare regardless of key order. */
export function sortedPairs<T>(pairs: readonly T[]): T[] {
  return [...pairs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
}
