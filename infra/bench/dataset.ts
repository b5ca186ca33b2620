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
  /** The events as JSON text, in append order. */
  events: string[];
  remove(): Promise<void>;
}

/** Builds `count` events, ten per millisecond of event time, with a twentieth of them minutes late. */
export function generateEvents(count: number, seed: number): { key: string | null; value: string }[] {
  const generator = new PageViewGenerator({ eventsPerSecond: 1, lateShare: 0.05, invalidShare: 0, seed });
  return Array.from({ length: count }, (_, i) => generator.event(EPOCH + Math.floor(i / 10)));
}

export async function createDataset(count: number): Promise<Dataset> {
  const directory = await mkdtemp(join(tmpdir(), 'lambda-bench-'));
  const logDirectory = join(directory, 'log');
  const log = await EmbeddedEventLog.open({ directory: logDirectory, fsync: 'never' });
  await log.createTopic(PAGEVIEWS, { partitions: PARTITIONS });
  const messages = generateEvents(count, 1);
  const bar = progress(`writing ${count.toLocaleString('en')} events to the log`, count);
  for (let i = 0; i < count; i += 10_000) {
    await log.append(PAGEVIEWS, messages.slice(i, i + 10_000));
    bar.update(i + 10_000);
  }
  bar.stop();
  await log.close();
  return { directory, logDirectory, events: messages.map((message) => message.value), remove: () => rm(directory, { recursive: true, force: true }) };
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
