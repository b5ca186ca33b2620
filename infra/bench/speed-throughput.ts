/**
 * Figure 1: speed-layer throughput, log to durable views (view store fsync `always`), in events per
 * second, against a baseline loop that only parses the same JSON events and counts them into a Map.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PlatformError, EmbeddedEventLog, EmbeddedViewStore, type Catalog } from '@lambda/core';
import { SpeedLayer } from '@lambda/speed-layer';
import { countCatalog, demoCatalog, type Dataset } from './dataset.js';
import { median, progress } from './progress.js';

export interface ThroughputResult {
  baseline: number;
  countView: number;
  countViewOneThread: number;
  demoCatalog: number;
  workers: number;
}

/** Parses each event and counts it per page into a Map: the least any consumer of these events does. */
export function baselineRate(events: readonly string[]): number {
  const started = performance.now();
  const counts = new Map<string, number>();
  for (const event of events) {
    const { url } = JSON.parse(event) as { url: string };
    counts.set(url, (counts.get(url) ?? 0) + 1);
  }
  if (counts.size === 0) throw new PlatformError('nothing counted');
  return events.length / ((performance.now() - started) / 1000);
}

async function speedLayerRate(dataset: Dataset, catalog: Catalog, workers: number, run: string): Promise<number> {
  const log = await EmbeddedEventLog.open({ directory: dataset.logDirectory, fsync: 'never' });
  const storeDirectory = join(dataset.directory, `views-${run}`);
  const store = await EmbeddedViewStore.open({ directory: storeDirectory, fsync: 'always' });
  try {
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, workers, consumerGroup: `bench-${run}` });
    const ends = await log.endOffsets('pageviews');
    const caughtUp = () => [...catalog.views.keys()].every((view) => speed.positions(view).join() === ends.join());
    // The running loop, as in production: folding ahead between micro-batches, which run back to back
    // while there is a backlog.
    const started = performance.now();
    speed.start();
    while (!caughtUp()) await new Promise((resolve) => setTimeout(resolve, 2));
    const seconds = (performance.now() - started) / 1000;
    for (const view of catalog.views.keys()) {
      if (speed.positions(view).join() !== ends.join()) throw new PlatformError(`${view} did not reach the end of the log`);
    }
    await speed.stop();
    return dataset.count / seconds;
  } finally {
    await store.close();
    await log.close();
    await rm(storeDirectory, { recursive: true, force: true });
  }
}

export async function measureThroughput(dataset: Dataset, options: { rounds: number; workers: number }): Promise<ThroughputResult> {
  const steps = options.rounds * 4;
  const bar = progress('speed-layer throughput against the baseline', steps);
  const baseline: number[] = [];
  const countView: number[] = [];
  const oneThread: number[] = [];
  const demo: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    // Interleaved, so a slow moment of the machine weighs on every figure alike.
    baseline.push(baselineRate(dataset.sample));
    bar.update(round * 4 + 1);
    countView.push(await speedLayerRate(dataset, countCatalog(), options.workers, `count-${round}`));
    bar.update(round * 4 + 2);
    oneThread.push(await speedLayerRate(dataset, countCatalog(), 0, `single-${round}`));
    bar.update(round * 4 + 3);
    demo.push(await speedLayerRate(dataset, demoCatalog(), options.workers, `demo-${round}`));
    bar.update(round * 4 + 4);
  }
  bar.stop();
  return { baseline: median(baseline), countView: median(countView), countViewOneThread: median(oneThread), demoCatalog: median(demo), workers: options.workers };
}
