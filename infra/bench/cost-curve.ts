/**
 * `--sizes 1m,5m,20m`: figures 1 and 2 again at each size of log, so the docs show how cost grows with
 * the data (a curve), not one point. Each size gets a log of its own, removed before the next.
 */
import { InvalidArgumentError } from 'commander';
import type { DuckDbOptions } from '@lambda/batch-layer';
import { measureRecompute, type RecomputeResult } from './batch-recompute.js';
import { createDataset } from './dataset.js';
import { measureThroughput, type ThroughputResult } from './speed-throughput.js';

export interface CostPoint {
  events: number;
  throughput: ThroughputResult;
  recompute: RecomputeResult;
}

const SUFFIXES: Record<string, number> = { '': 1, k: 1_000, m: 1_000_000 };

/** "100k,1m,5m,20m" → [100000, 1000000, 5000000, 20000000], in the order given. */
export function parseSizes(value: string): number[] {
  return value.split(',').map((text) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([km]?)\s*$/i.exec(text);
    const events = match ? Number(match[1]) * SUFFIXES[match[2]!.toLowerCase()]! : NaN;
    if (!Number.isInteger(events) || events < 1000) throw new InvalidArgumentError(`"${text}" is not a size of at least 1000 events (such as 100k, 1m, 20m)`);
    return events;
  });
}

export async function measureCostCurve(sizes: readonly number[], options: { rounds: number; workers: number; duckdb?: DuckDbOptions }): Promise<CostPoint[]> {
  const points: CostPoint[] = [];
  for (const events of sizes) {
    console.log(`\n${events.toLocaleString('en')} events`);
    const dataset = await createDataset(events);
    try {
      const throughput = await measureThroughput(dataset, options);
      const recompute = await measureRecompute(dataset, options);
      points.push({ events, throughput, recompute });
    } finally {
      await dataset.remove();
    }
  }
  return points;
}
