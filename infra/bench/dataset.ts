/** The benchmarks' data: page-view events from the demo generator (seeded), appended to an embedded log. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, EmbeddedEventLog, type CatalogDefinition, type CompiledView, type RowState, type SourceRow, type ViewRow } from '@lambda/core';
import { PAGEVIEWS, PageViewGenerator, webAnalyticsCatalog } from '../src/index.js';
import { progress } from './progress.js';

export const PARTITIONS = 4;
/** Start of the events' clock: a fixed instant, so every run builds the same windows. */
export const EPOCH = Date.UTC(2026, 0, 1);

/** The benchmarked view: count per page per minute, the speed layer's analogue of the baseline's Map. */
export const countCatalogDefinition: CatalogDefinition = {
  sources: webAnalyticsCatalog.sources,
  views: [{ name: 'views_by_url', source: PAGEVIEWS, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { views: 'count()' } }],
};
export const countCatalog = () => Catalog.compile(countCatalogDefinition);
export const demoCatalog = () => Catalog.compile(webAnalyticsCatalog);

export interface Dataset {
  directory: string;
  logDirectory: string;
  /** How many events the log holds. */
  count: number;
  /**
   * The first events (at most a million) as JSON text: the baseline loop's input. Not all of them: twenty
   * million JSON strings do not fit Node's default heap, and the baseline's rate is per event.
   */
  sample: string[];
  remove(): Promise<void>;
}

/** At most this many events are kept in memory as the baseline's sample. */
const SAMPLE_LIMIT = 1_000_000;
/** The seed of the log's events: the Spark peer generates the same ones again from it. */
export const DATASET_SEED = 1;
const CHUNK = 10_000;

/**
 * `count` events, ten per millisecond of event time, with a twentieth of them minutes late, in chunks of
 * `chunk`: the same sequence as one call of `generateEvents`, never all in memory at once.
 */
export function* eventChunks(count: number, seed: number, chunk = CHUNK): Generator<{ key: string | null; value: string }[]> {
  const generator = new PageViewGenerator({ eventsPerSecond: 1, lateShare: 0.05, invalidShare: 0, seed });
  for (let start = 0; start < count; start += chunk) {
    const length = Math.min(chunk, count - start);
    yield Array.from({ length }, (_, i) => generator.event(EPOCH + Math.floor((start + i) / 10)));
  }
}

export function generateEvents(count: number, seed: number): { key: string | null; value: string }[] {
  return [...eventChunks(count, seed)].flat();
}

export async function createDataset(count: number): Promise<Dataset> {
  const directory = await mkdtemp(join(tmpdir(), 'lambda-bench-'));
  const logDirectory = join(directory, 'log');
  const log = await EmbeddedEventLog.open({ directory: logDirectory, fsync: 'never' });
  await log.createTopic(PAGEVIEWS, { partitions: PARTITIONS });
  const sample: string[] = [];
  const bar = progress(`writing ${count.toLocaleString('en')} events to the log`, count);
  let written = 0;
  for (const messages of eventChunks(count, DATASET_SEED)) {
    await log.append(PAGEVIEWS, messages);
    for (const message of messages) if (sample.length < SAMPLE_LIMIT) sample.push(message.value);
    bar.update((written += messages.length));
  }
  bar.stop();
  await log.close();
  return { directory, logDirectory, count, sample, remove: () => rm(directory, { recursive: true, force: true }) };
}

/** Rows of `records` folded by the view, with their states as the store keeps them. */
export function foldRows(view: CompiledView, records: readonly SourceRow[]): ViewRow[] {
  const states = new Map<string, { key: string; windowStart: number; state: RowState }>();
  const stateFor = (key: string, windowStart: number) => {
    const id = `${windowStart}\u0000${key}`;
    let entry = states.get(id);
    if (!entry) states.set(id, (entry = { key, windowStart, state: view.createState() }));
    return entry.state;
  };
  for (const record of records) view.fold(record, stateFor);
  return [...states.values()].map(({ key, windowStart, state }) => ({ key, windowStart, state: view.toJson(state) }));
}
