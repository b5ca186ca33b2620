/**
 * The one way to query a view over all data: the batch version vN plus every slice starting at or after
 * vN's horizon, merged with the view's monoids. Routes, tests and other processes go through this facade,
 * so paging, cursors, top-N and key listing read the same consistent snapshots and share the caches.
 */
import {
  InvalidArgumentError,
  compareCodePoints,
  type Catalog,
  type CompiledView,
  type JsonObject,
  type RowFilter,
  type RowState,
  type ViewStore,
} from '@lambda/core';
import type { KeysPage, MergedAnswer, Provenance, TopAnswer } from '../api/schemas.js';
import { freshnessMs } from '../health/freshness.js';
import { AnswerCache, StateCache, shapeOf } from './answer-caches.js';
import { ConsistentSnapshotReader, type Snapshot } from './consistent-snapshot.js';

// The answers' types are declared once, by their schemas; callers have always found them here.
export type { KeysPage, MergedAnswer, MergedWindow, Provenance, TopAnswer } from '../api/schemas.js';

export interface ReadQuery {
  keys?: string[];
  /** Windows starting at or after this (ms). */
  from?: number;
  /** Windows starting before this (ms). */
  to?: number;
  /** Windows per page; all of them when absent. */
  limit?: number;
  /** The `next` of the previous page. */
  cursor?: string;
  /** Also give each window's batch and real-time parts. */
  contributions?: boolean;
}

/** A view's merged windows at one snapshot (see `MergedViewReader.snapshot`). */
export interface ViewSnapshot {
  /** The logic of the generation read: its aggregates' states are the windows'. */
  view: CompiledView;
  provenance: Provenance;
  /** What `MergedViewReader.shape` answers while these rows stand. */
  shape: string;
  /**
   * Calls `visit` with every merged window once (or those `only` accepts), in no particular order; each
   * state is the caller's.
   */
  forEachWindow(visit: (key: string, windowStart: number, state: RowState) => void, only?: (key: string, windowStart: number) => boolean): void;
  /** The windows the live slices add to, by key: the only ones that differ from the batch version's. */
  sliceWindows(): Map<string, Set<number>>;
}

export class MergedViewReader {
  private readonly snapshots: ConsistentSnapshotReader;
  private readonly states = new StateCache();
  private readonly answers: AnswerCache;

  constructor(
    store: ViewStore,
    catalog: Catalog,
    private readonly options: {
      maxAttempts?: number;
      now?: () => number;
      /** Serve an answer computed for the same shape and query again. Default true. */
      cacheAnswers?: boolean;
      /**
       * While a view is stalled, the instant its freshness counts from (ViewProgressMonitor's cached
       * verdict: no store read); undefined while it is not.
       */
      stalledFreshnessFrom?: (view: string) => number | undefined;
    } = {},
  ) {
    this.snapshots = new ConsistentSnapshotReader(store, catalog, options.maxAttempts ?? 10);
    this.answers = new AnswerCache(store);
  }

  /** The catalog's view; an UnknownViewError (a 404) naming the known ones otherwise. */
  view(name: string): CompiledView {
    return this.snapshots.view(name);
  }

  /** The logic the view is served with now: its generation's after a reprocess, the catalog's before. */
  serving(name: string): CompiledView {
    return this.snapshots.serving(name);
  }

  async read(viewName: string, query: ReadQuery = {}): Promise<MergedAnswer> {
    const request = JSON.stringify([query.keys, query.from, query.to, query.limit, query.cursor, query.contributions ?? false]);
    // An answer already computed for the view's current shape needs no row read at all.
    const caching = this.options.cacheAnswers ?? true;
    const cached = caching ? await this.answers.lookup(this.snapshots.serving(viewName), request) : undefined;
    if (cached) return this.withFreshness(cached);

    const { snapshot, provenance, view } = await this.consistent(viewName, { keys: query.keys, windowFrom: query.from, windowTo: query.to });
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 2);
    const size = view.window.windowed ? view.window.sizeMs : null;
    let windows = inputs(snapshot);
    if (after) windows = windows.filter((window) => compareRows(window, { key: after[0] as string, windowStart: after[1] as number }) > 0);
    // Only the page is computed: the rest were grouped, not merged.
    const page = query.limit === undefined ? windows : windows.slice(0, query.limit);
    const last = page.at(-1);
    const answer: MergedAnswer = {
      view: viewName,
      windows: page.map(({ key, windowStart, batch, realtime }) => ({
        key,
        windowStart,
        windowEnd: size === null ? null : windowStart + size,
        values: this.states.result(view, batch ? [batch, ...realtime] : realtime),
        ...(query.contributions
          ? { batch: batch ? this.states.result(view, [batch]) : null, realtime: realtime.length > 0 ? this.states.result(view, realtime) : null }
          : {}),
      })),
      provenance,
      next: last && page.length < windows.length ? encodeCursor([last.key, last.windowStart]) : null,
    };
    if (caching) this.answers.remember(view.name, provenance, request, answer);
    return answer;
  }

  /** Every key the view holds, in order, paged. */
  async keys(viewName: string, query: { prefix?: string; limit: number; cursor?: string }): Promise<KeysPage> {
    const { snapshot, provenance } = await this.consistent(viewName, {});
    const after = query.cursor === undefined ? undefined : (decodeCursor(query.cursor, 1)[0] as string);
    const keys = new Set<string>();
    for (const row of snapshot.batchRows) keys.add(row.key);
    for (const { rows } of snapshot.slices) for (const row of rows) keys.add(row.key);
    const sorted = [...keys]
      .filter((key) => (query.prefix === undefined || key.startsWith(query.prefix)) && (after === undefined || compareCodePoints(key, after) > 0))
      .sort(compareCodePoints);
    const page = sorted.slice(0, query.limit);
    return { view: viewName, keys: page, provenance, next: page.length < sorted.length ? encodeCursor([page.at(-1)!]) : null };
  }

  /**
   * The `n` keys with the most of aggregate `by` over windows in [from, to): each key's states are
   * merged over its windows (and both layers), then ranked, ties by key.
   */
  async top(viewName: string, query: { from?: number; to?: number; n: number; by?: string }): Promise<TopAnswer> {
    rankedBy(this.snapshots.serving(viewName), query.by, viewName); // a bad `by` is refused before any read
    const { snapshot, provenance, view } = await this.consistent(viewName, { windowFrom: query.from, windowTo: query.to });
    // Ranked by the aggregate of the generation read (the same unless a reprocess switched meanwhile).
    const aggregate = rankedBy(view, query.by, viewName);
    const perKey = new Map<string, RowState>();
    // Window by window, then per key: the order of additions, on which floating-point sums depend.
    for (const { key, batch, realtime } of inputs(snapshot)) {
      const window = this.states.merged(view, batch ? [batch, ...realtime] : realtime);
      const state = perKey.get(key);
      if (state) view.merge(state, window);
      else perKey.set(key, window);
    }
    const ranked = [...perKey].map(([key, state]) => ({ key, values: view.result(state) }));
    const score = (values: JsonObject) => (values[aggregate.name] as number | null) ?? Number.NEGATIVE_INFINITY;
    ranked.sort((a, b) => score(b.values) - score(a.values) || compareCodePoints(a.key, b.key));
    return { view: viewName, by: aggregate.name, from: query.from ?? null, to: query.to ?? null, top: ranked.slice(0, query.n), provenance };
  }

  /**
   * The view's shape now (its generation, batch version and live slices' edges), read without reading a
   * row: equal to a snapshot's `shape` exactly when that snapshot's rows still stand.
   */
  shape(viewName: string): Promise<string> {
    return this.answers.shapeNow(this.snapshots.serving(viewName));
  }

  /**
   * Every merged window of the view at one consistent snapshot, with the logic of the generation it was
   * read from: what the SQL endpoint loads into its tables. States are merged in the order the REST reads
   * merge them (the batch version's, then the slices'), so a window's values are the same on both paths.
   * With a filter, only the windows of its keys and window range.
   */
  async snapshot(viewName: string, filter: RowFilter = {}): Promise<ViewSnapshot> {
    const { snapshot, provenance, view } = await this.consistent(viewName, filter);
    return {
      view,
      provenance,
      shape: shapeOf(view.name, provenance.batch?.version ?? 0, provenance.slices),
      forEachWindow: (visit, only) => forEachWindow(view, snapshot, visit, only),
      sliceWindows: () => {
        const windows = new Map<string, Set<number>>();
        for (const { rows } of snapshot.slices) {
          for (const row of rows) {
            let starts = windows.get(row.key);
            if (!starts) windows.set(row.key, (starts = new Set()));
            starts.add(row.windowStart);
          }
        }
        return windows;
      },
    };
  }

  /** A provenance read earlier, with its freshness as of now. */
  refreshed(viewName: string, provenance: Provenance): Provenance {
    return { ...provenance, freshnessMs: this.freshness(viewName, provenance.newestRecordAt), attempts: 0 };
  }

  /** A consistent snapshot and its provenance, fresh as of now; with the logic of the generation it was read from. */
  private async consistent(viewName: string, filter: RowFilter): Promise<{ snapshot: Snapshot; provenance: Provenance; view: CompiledView }> {
    const { snapshot, view, attempts } = await this.snapshots.read(viewName, filter);
    const provenance = { ...snapshot.provenance, freshnessMs: this.freshness(viewName, snapshot.provenance.newestRecordAt), attempts };
    return { snapshot, provenance, view };
  }

  /** A cached answer with its freshness as of now: the only part that changes while the shape does not. */
  private withFreshness(answer: MergedAnswer): MergedAnswer {
    return { ...answer, provenance: { ...answer.provenance, freshnessMs: this.freshness(answer.view, answer.provenance.newestRecordAt), attempts: 0 } };
  }

  private freshness(viewName: string, newestRecordAt: number | null): number | null {
    return freshnessMs(newestRecordAt, this.options.stalledFreshnessFrom?.(viewName), (this.options.now ?? Date.now)());
  }
}

/** A (key, window)'s stored states, still encoded: the batch version's, and the slices' in order. */
interface WindowInputs {
  key: string;
  windowStart: number;
  batch: JsonObject | undefined;
  realtime: JsonObject[];
}

/**
 * Every merged window of a snapshot, for loading a whole view: no window objects, no sort, no caches
 * (they would hold a second copy of every state). The slices' rows are grouped by key and window; the
 * batch version's, usually nearly all of them, are visited as they come, each merged with its slices'.
 */
function forEachWindow(
  view: CompiledView,
  snapshot: Snapshot,
  visit: (key: string, windowStart: number, state: RowState) => void,
  only: (key: string, windowStart: number) => boolean = () => true,
): void {
  const realtime = new Map<string, Map<number, RowState[]>>();
  for (const { rows } of snapshot.slices) {
    for (const row of rows) {
      if (!only(row.key, row.windowStart)) continue;
      let windows = realtime.get(row.key);
      if (!windows) realtime.set(row.key, (windows = new Map()));
      const parts = windows.get(row.windowStart);
      if (parts) parts.push(view.fromJson(row.state));
      else windows.set(row.windowStart, [view.fromJson(row.state)]);
    }
  }
  for (const row of snapshot.batchRows) {
    if (!only(row.key, row.windowStart)) continue;
    const state = view.fromJson(row.state);
    const windows = realtime.get(row.key);
    const parts = windows?.get(row.windowStart);
    if (parts) {
      for (const part of parts) view.merge(state, part);
      windows!.delete(row.windowStart);
    }
    visit(row.key, row.windowStart, state);
  }
  for (const [key, windows] of realtime) {
    for (const [windowStart, [first, ...rest]] of windows) {
      for (const part of rest) view.merge(first!, part);
      visit(key, windowStart, first!);
    }
  }
}

/** A snapshot's stored states per (key, window), in order: the batch version's, then the slices'. */
function inputs(snapshot: Snapshot): WindowInputs[] {
  const windows = new Map<string, WindowInputs>();
  const entry = (key: string, windowStart: number): WindowInputs => {
    const id = `${windowStart}\u0000${key}`;
    let window = windows.get(id);
    if (!window) windows.set(id, (window = { key, windowStart, batch: undefined, realtime: [] }));
    return window;
  };
  for (const row of snapshot.batchRows) entry(row.key, row.windowStart).batch = row.state;
  for (const { rows } of snapshot.slices) for (const row of rows) entry(row.key, row.windowStart).realtime.push(row.state);
  return [...windows.values()].sort(compareRows);
}

/** The aggregate `top` ranks by: `by`, or the view's first numeric one; an InvalidArgumentError when it is not numeric. */
function rankedBy(view: CompiledView, by: string | undefined, viewName: string): CompiledView['aggregates'][number] {
  const name = by ?? view.aggregates.find((aggregate) => aggregate.numeric)?.name;
  const aggregate = view.aggregates.find((candidate) => candidate.name === name);
  if (!aggregate?.numeric) {
    const numeric = view.aggregates.filter((a) => a.numeric).map((a) => a.name);
    throw new InvalidArgumentError(`query parameter "by" must name a numeric aggregate of view "${viewName}": ${numeric.join(', ') || 'it has none'}`, { by });
  }
  return aggregate;
}

function compareRows(a: { key: string; windowStart: number }, b: { key: string; windowStart: number }): number {
  return compareCodePoints(a.key, b.key) || a.windowStart - b.windowStart;
}

/** Cursors are opaque to clients: base64url JSON of where the previous page ended. */
function encodeCursor(position: (string | number)[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function decodeCursor(cursor: string, length: number): (string | number)[] {
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(position) && position.length === length && typeof position[0] === 'string' && (length === 1 || typeof position[1] === 'number')) {
      return position as (string | number)[];
    }
  } catch {
    // falls through to the error
  }
  throw new InvalidArgumentError('query parameter "cursor" is not one this API gave: pass the "next" of the previous page', { cursor });
}
