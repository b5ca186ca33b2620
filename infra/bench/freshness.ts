/**
 * Figure 3: freshness, from appending an event to seeing it in a merged answer, at half the speed
 * layer's maximum throughput, with the default one-second micro-batches. Marker events with keys of
 * their own are appended among the load; a reader polls the merged view until each one shows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PlatformError, EmbeddedEventLog, EmbeddedViewStore } from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { SpeedLayer } from '@lambda/speed-layer';
import { PAGEVIEWS } from '../src/index.js';
import { EPOCH, PARTITIONS, countCatalog, generateEvents } from './dataset.js';
import { percentile, progress } from './progress.js';

export interface FreshnessResult {
  targetRate: number;
  achievedRate: number;
  batchIntervalMs: number;
  markers: number;
  p50: number;
  p99: number;
}

const TICK_MS = 10;

export async function measureFreshness(options: { rate: number; seconds: number; workers: number; batchIntervalMs: number }): Promise<FreshnessResult> {
  const directory = await mkdtemp(join(tmpdir(), 'lambda-bench-freshness-'));
  const log = await EmbeddedEventLog.open({ directory: join(directory, 'log') });
  const store = await EmbeddedViewStore.open({ directory: join(directory, 'views') });
  await log.createTopic(PAGEVIEWS, { partitions: PARTITIONS });
  const catalog = countCatalog();
  const reader = new MergedViewReader(store, catalog);
  const perTick = Math.max(1, Math.round((options.rate * TICK_MS) / 1000));
  // Built and encoded before the clock starts, so producing costs only the appends.
  const load = generateEvents(Math.min(perTick * 200, 2_000_000), 2).map(({ key, value }) => ({ key: key === null ? null : Buffer.from(key), value: Buffer.from(value) }));
  const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, workers: options.workers, batchIntervalMs: options.batchIntervalMs });
  speed.start();

  const pending = new Map<string, number>();
  const latencies: number[] = [];
  const warmUpMs = 3000;
  const started = performance.now();
  const bar = progress(`freshness at ${Math.round(options.rate).toLocaleString('en')} events/s`, options.seconds);
  let appended = 0;
  let markers = 0;
  let producing = true;

  const producer = (async () => {
    let cursor = 0;
    for (let tick = 0; producing; tick++) {
      const due = started + tick * TICK_MS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const batch = load.slice(cursor, cursor + perTick);
      cursor = (cursor + perTick) % (load.length - perTick);
      // Every tenth tick, a marker: an event with a page of its own, timed from just before its append.
      if (tick % 10 === 0) {
        const url = `/marker/${markers++}`;
        const at = performance.now();
        await log.append(PAGEVIEWS, [...batch, { key: url, value: JSON.stringify({ url, user: url, referrer: 'bench', latency: 1, device: 'bench', ts: EPOCH }) }]);
        if (at - started > warmUpMs) pending.set(url, at);
      } else {
        await log.append(PAGEVIEWS, batch);
      }
      appended += batch.length;
    }
  })();

  const poller = (async () => {
    while (producing || pending.size > 0) {
      if (pending.size > 0) {
        const answer = await reader.read('views_by_url', { keys: [...pending.keys()] });
        const now = performance.now();
        for (const window of answer.windows) {
          const at = pending.get(window.key);
          if (at !== undefined) {
            latencies.push(now - at);
            pending.delete(window.key);
          }
        }
      }
      await sleep(2);
      if (!producing && performance.now() - started > (options.seconds + 10) * 1000) break;
    }
  })();

  while (performance.now() - started < options.seconds * 1000) {
    await sleep(250);
    bar.update(Math.floor((performance.now() - started) / 1000));
  }
  producing = false;
  const producedFor = (performance.now() - started) / 1000;
  await producer;
  await poller;
  bar.stop();
  await speed.stop();
  await store.close();
  await log.close();
  await rm(directory, { recursive: true, force: true });
  if (pending.size > 0) throw new PlatformError(`${pending.size} marker events never became visible`);
  return {
    targetRate: options.rate,
    achievedRate: appended / producedFor,
    batchIntervalMs: options.batchIntervalMs,
    markers: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}
