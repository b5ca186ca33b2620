/**
 * Fixtures for the API tests over a real socket: a server on real embedded ports, a small HTTP client,
 * a check that a body is exactly what a response schema describes, records over many keys, naive
 * answers for the newer endpoints (contributions, keys, top), and a Prometheus text parser.
 *
 * As in helpers.ts, everything expected is computed here from the records, never by the code under test.
 */
import { expect } from 'vitest';
import type { z } from 'zod';
import { silentLogger, type Catalog, type Metrics, type Ports } from '@lambda/core';
import { createServer, listen, type RunningServer, type ServingOptions } from '../src/index.js';
import { BASE, MINUTE, naiveAnswer, type ExpectedWindow, type PageView } from './helpers.js';

/** Serves `createServer` on 127.0.0.1, on a free port. */
export async function serve(options: {
  ports: Ports;
  catalog: Catalog;
  metrics: Metrics;
  apiToken?: string;
  maxIngestBytes?: number;
  reprocess?: ServingOptions['reprocess'];
  reportsDirectory?: string;
  speedLayerHealth?: ServingOptions['speedLayerHealth'];
  stallAfterMs?: number;
  now?: () => number;
  query?: ServingOptions['query'];
}): Promise<RunningServer> {
  return listen(createServer({ logger: silentLogger(), ...options }), { host: '127.0.0.1', port: 0 });
}

export interface Answer {
  status: number;
  type: string | null;
  headers: Headers;
  body: unknown;
}

/** A small client: JSON in, JSON (or text) out, with an optional bearer token. */
export function client(base: string, token?: string) {
  const call = async (method: string, path: string, options: { query?: [string, string][]; body?: string; headers?: Record<string, string> } = {}) => {
    const search = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    const headers: Record<string, string> = { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...options.headers };
    const response = await fetch(`${base}${path}${search}`, { method, body: options.body, headers });
    const type = response.headers.get('content-type');
    const text = await response.text();
    return { status: response.status, type, headers: response.headers, body: type?.startsWith('application/json') ? (JSON.parse(text) as unknown) : text };
  };
  return {
    get: (path: string, query?: [string, string][], headers?: Record<string, string>): Promise<Answer> => call('GET', path, { query, headers }),
    post: (path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> =>
      call('POST', path, {
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers },
      }),
  };
}

/**
 * Checks that `body` is exactly what `schema` describes: it parses, and parsing drops nothing (a field
 * the schema does not name would be stripped, and the comparison would fail). Returns it typed.
 */
export function conforms<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  expect(parsed.error?.issues ?? [], 'the body conforms to its schema').toEqual([]);
  expect(parsed.data, 'the schema names every field of the body').toStrictEqual(body);
  return parsed.data as z.output<S>;
}

/** Records of each partition at offsets 0..count-1, as generateRecords makes them, with the url from `urlOf`. */
/** Every page from the first, following each page's `next` cursor, with `limit` entries a page. */
export async function walkPages<P extends { next: string | null }>(
  read: (query: [string, string][]) => Promise<P>,
  query: [string, string][],
  limit: number,
): Promise<P[]> {
  const pages: P[] = [];
  let cursor: string | null = null;
  do {
    const page = await read([...query, ['limit', String(limit)], ...(cursor === null ? [] : [['cursor', cursor] as [string, string]])]);
    pages.push(page);
    cursor = page.next;
    if (pages.length > 100) throw new Error('more than 100 pages: the cursor does not advance');
  } while (cursor !== null);
  return pages;
}

export function recordsWithUrls(
  random: () => number,
  counts: readonly number[],
  urlOf: (partition: number, offset: number, random: () => number) => string,
): PageView[] {
  const referrers = ['google', 'bing', 'ddg', null] as const;
  const records: PageView[] = [];
  counts.forEach((count, partition) => {
    for (let offset = 0; offset < count; offset++) {
      records.push({
        partition,
        offset,
        timestamp: BASE + 10 * MINUTE + offset * 1000 + partition * 7,
        eventTime: BASE + Math.floor(random() * 6) * MINUTE + Math.floor(random() * MINUTE),
        url: urlOf(partition, offset, random),
        latency: random() < 0.1 ? null : Math.floor(random() * 2000),
        referrer: referrers[Math.floor(random() * referrers.length)]!,
      });
    }
  });
  return records;
}

/** Records of each partition with an offset in [from[p], to[p]). */
export function between(records: readonly PageView[], from: readonly number[], to: readonly number[]): PageView[] {
  return records.filter((record) => record.offset >= (from[record.partition] ?? 0) && record.offset < (to[record.partition] ?? 0));
}

/** Code-point order, written out: compares the strings' code points one by one. */
export function byCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The distinct keys (urls) of `records`, in code-point order. */
export function naiveKeys(records: readonly PageView[], prefix?: string): string[] {
  return [...new Set(records.map((record) => record.url))].filter((key) => prefix === undefined || key.startsWith(prefix)).sort(byCodePoints);
}

/**
 * The contributions answer: each window of the merged answer with what the batch version holds (the
 * records below the horizon) and what the slices add (the records from the horizon to the position).
 */
export function naiveContributions(
  records: readonly PageView[],
  horizon: readonly number[],
  position: readonly number[],
  query: { keys?: string[]; from?: number; to?: number } = {},
): (ExpectedWindow & { batch: ExpectedWindow['values'] | null; realtime: ExpectedWindow['values'] | null })[] {
  const id = (window: ExpectedWindow) => `${window.key} ${window.windowStart}`;
  const batch = new Map(naiveAnswer(between(records, [], horizon), query).map((window) => [id(window), window.values]));
  const realtime = new Map(naiveAnswer(between(records, horizon, position), query).map((window) => [id(window), window.values]));
  return naiveAnswer(between(records, [], position), query).map((window) => ({
    ...window,
    batch: batch.get(id(window)) ?? null,
    realtime: realtime.get(id(window)) ?? null,
  }));
}

/**
 * The top-N answer: each key's aggregates over the windows in [from, to) (computed as one window per
 * key), ranked by `by` descending, ties by key.
 */
export function naiveTop(records: readonly PageView[], query: { from?: number; to?: number; n: number; by: 'views' | 'latency' }) {
  const inRange = records.filter((record) => {
    const windowStart = Math.floor(record.eventTime / MINUTE) * MINUTE;
    return (query.from === undefined || windowStart >= query.from) && (query.to === undefined || windowStart < query.to);
  });
  const perKey = naiveAnswer(inRange.map((record) => ({ ...record, eventTime: BASE })));
  return perKey
    .map(({ key, values }) => ({ key, values }))
    .sort((a, b) => b.values[query.by] - a.values[query.by] || byCodePoints(a.key, b.key))
    .slice(0, query.n);
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (the subset prom-client writes). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The samples called `name` whose labels include `labels`. */
export function samplesOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((sample) => sample.name === name && Object.entries(labels).every(([label, value]) => sample.labels[label] === value));
}

/** A promise and the function that resolves it, for handlers a test lets go on when it wants. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = () => resolve();
  });
  return { promise, open };
}
