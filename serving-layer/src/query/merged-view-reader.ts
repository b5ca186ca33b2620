/**
 * Answers a query over all data: the serving batch version vN, plus every slice starting at or after
 * vN's horizon, merged with the view's monoids.
 *
 * The reads are not one transaction, so the reader checks what it read and reads again if a publish or
 * a clean-up moved underneath it: the slices of each partition must chain from the horizon without a
 * gap, none may have vanished, and the manifest must still name the same version at the end (a version
 * is only ever deleted after a newer one is published, and a slice only after a horizon covers it).
 */
import {
  ConnectionError,
  InvalidArgumentError,
  UnknownViewError,
  compareCodePoints,
  type Catalog,
  type CompiledView,
  type JsonObject,
  type RowFilter,
  type RowState,
  type Slice,
  type ViewStore,
} from '@lambda/common';

export interface MergedWindow {
  key: string;
  windowStart: number;
  /** Null for a view without windows. */
  windowEnd: number | null;
  values: JsonObject;
  /** With `contributions`: what the batch version holds for the window (null: nothing). */
  batch?: JsonObject | null;
  /** With `contributions`: what the slices add (null: nothing). */
  realtime?: JsonObject | null;
}

export interface Provenance {
  batch: { version: number; horizon: number[]; publishedAt: number } | null;
  /** The slices merged on top of the batch version. */
  slices: { partition: number; start: number; end: number; closed: boolean }[];
  /** Per partition: the answer counts exactly the records with an offset below this. */
  position: number[];
  /** Log timestamp of the newest record counted. */
  newestRecordAt: number | null;
  /** How old that record is, now: the answer is this fresh. */
  freshnessMs: number | null;
  /** Reads it took to get a consistent answer. */
  attempts: number;
}

export interface MergedAnswer {
  view: string;
  windows: MergedWindow[];
  provenance: Provenance;
  /** The cursor of the next page; null on the last. */
  next: string | null;
}

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

export interface KeysPage {
  view: string;
  keys: string[];
  provenance: Provenance;
  next: string | null;
}

export interface TopAnswer {
  view: string;
  by: string;
  from: number | null;
  to: number | null;
  /** Keys ranked by `by`, each with its aggregates merged over the window range. */
  top: { key: string; values: JsonObject }[];
  provenance: Provenance;
}

interface Snapshot {
  batchRows: { key: string; windowStart: number; state: JsonObject }[];
  slices: { slice: Slice; rows: { key: string; windowStart: number; state: JsonObject }[] }[];
  provenance: Omit<Provenance, 'freshnessMs' | 'attempts'>;
}

export class MergedViewReader {
  constructor(
    private readonly store: ViewStore,
    private readonly catalog: Catalog,
    private readonly options: { maxAttempts?: number; now?: () => number } = {},
  ) {}

  view(name: string): CompiledView {
    const view = this.catalog.views.get(name);
    if (!view) throw new UnknownViewError(`Unknown view "${name}"; known: ${[...this.catalog.views.keys()].join(', ')}`, { view: name });
    return view;
  }

  async read(viewName: string, query: ReadQuery = {}): Promise<MergedAnswer> {
    const view = this.view(viewName);
    const { snapshot, provenance } = await this.consistent(view, { keys: query.keys, windowFrom: query.from, windowTo: query.to });
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 2);
    const size = view.window.windowed ? view.window.sizeMs : null;
    let rows = this.merge(view, snapshot, query.contributions ?? false);
    if (after) rows = rows.filter((row) => compareRows(row, { key: after[0] as string, windowStart: after[1] as number }) > 0);
    const page = query.limit === undefined ? rows : rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      view: view.name,
      windows: page.map((row) => ({
        key: row.key,
        windowStart: row.windowStart,
        windowEnd: size === null ? null : row.windowStart + size,
        values: view.result(row.state),
        ...(query.contributions
          ? { batch: row.batch ? view.result(row.batch) : null, realtime: row.realtime ? view.result(row.realtime) : null }
          : {}),
      })),
      provenance,
      next: last && page.length < rows.length ? encodeCursor([last.key, last.windowStart]) : null,
    };
  }

  /** Every key the view holds, in order, paged. */
  async keys(viewName: string, query: { prefix?: string; limit: number; cursor?: string }): Promise<KeysPage> {
    const view = this.view(viewName);
    const { snapshot, provenance } = await this.consistent(view, {});
    const after = query.cursor === undefined ? undefined : (decodeCursor(query.cursor, 1)[0] as string);
    const keys = new Set<string>();
    for (const row of snapshot.batchRows) keys.add(row.key);
    for (const { rows } of snapshot.slices) for (const row of rows) keys.add(row.key);
    const sorted = [...keys]
      .filter((key) => (query.prefix === undefined || key.startsWith(query.prefix)) && (after === undefined || compareCodePoints(key, after) > 0))
      .sort(compareCodePoints);
    const page = sorted.slice(0, query.limit);
    return { view: view.name, keys: page, provenance, next: page.length < sorted.length ? encodeCursor([page.at(-1)!]) : null };
  }

  /**
   * The `n` keys with the most of aggregate `by` over windows in [from, to): each key's states are
   * merged over its windows (and both layers), then ranked, ties by key.
   */
  async top(viewName: string, query: { from?: number; to?: number; n: number; by?: string }): Promise<TopAnswer> {
    const view = this.view(viewName);
    const by = query.by ?? view.aggregates.find((aggregate) => aggregate.numeric)?.name;
    const aggregate = view.aggregates.find((candidate) => candidate.name === by);
    if (!aggregate?.numeric) {
      const numeric = view.aggregates.filter((a) => a.numeric).map((a) => a.name);
      throw new InvalidArgumentError(`query parameter "by" must name a numeric aggregate of view "${view.name}": ${numeric.join(', ') || 'it has none'}`, {
        by: query.by,
      });
    }
    const { snapshot, provenance } = await this.consistent(view, { windowFrom: query.from, windowTo: query.to });
    const perKey = new Map<string, RowState>();
    for (const row of this.merge(view, snapshot, false)) {
      const state = perKey.get(row.key);
      if (state) view.merge(state, row.state);
      else perKey.set(row.key, row.state);
    }
    const ranked = [...perKey].map(([key, state]) => ({ key, values: view.result(state) }));
    const score = (values: JsonObject) => (values[aggregate.name] as number | null) ?? Number.NEGATIVE_INFINITY;
    ranked.sort((a, b) => score(b.values) - score(a.values) || compareCodePoints(a.key, b.key));
    return { view: view.name, by: aggregate.name, from: query.from ?? null, to: query.to ?? null, top: ranked.slice(0, query.n), provenance };
  }

  /** Reads until a snapshot is consistent, and its provenance. */
  private async consistent(view: CompiledView, filter: RowFilter): Promise<{ snapshot: Snapshot; provenance: Provenance }> {
    const maxAttempts = this.options.maxAttempts ?? 10;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const snapshot = await this.snapshot(view, filter);
      if (!snapshot) continue;
      const now = (this.options.now ?? Date.now)();
      const { newestRecordAt } = snapshot.provenance;
      return {
        snapshot,
        provenance: { ...snapshot.provenance, freshnessMs: newestRecordAt === null ? null : Math.max(0, now - newestRecordAt), attempts: attempt },
      };
    }
    throw new ConnectionError(`View "${view.name}" kept changing during ${maxAttempts} reads; try again`, { context: { view: view.name } });
  }

  /** One consistent read, or undefined when something moved underneath it. */
  private async snapshot(view: CompiledView, filter: RowFilter): Promise<Snapshot | undefined> {
    const manifest = await this.store.readManifest(view.name);
    const horizon = manifest?.horizon ?? [];
    const [batchRows, listed] = await Promise.all([
      manifest ? this.store.readBatchRows(view.name, manifest.version, filter) : Promise.resolve([]),
      this.store.listSlices(view.name),
    ]);
    const wanted = listed.filter((slice) => slice.start >= (horizon[slice.partition] ?? 0));
    const reads = await Promise.all(wanted.map((slice) => this.store.readSlice(slice, filter)));
    if (reads.some((read) => read === undefined)) return undefined; // deleted since listed
    const slices = reads as { slice: Slice; rows: Snapshot['slices'][number]['rows'] }[];

    const partitions = Math.max(horizon.length, ...slices.map(({ slice }) => slice.partition + 1));
    const position: number[] = [];
    for (let partition = 0; partition < partitions; partition++) {
      let end = horizon[partition] ?? 0;
      const chain = slices.filter(({ slice }) => slice.partition === partition).sort((a, b) => a.slice.start - b.slice.start);
      for (const { slice } of chain) {
        if (slice.start !== end) return undefined; // a gap: a clean-up or a new horizon raced this read
        end = slice.end;
      }
      position.push(end);
    }
    const after = await this.store.readManifest(view.name);
    if (after?.version !== manifest?.version) return undefined;

    let newestRecordAt = manifest?.newestRecordAt ?? null;
    for (const { slice } of slices) {
      if (slice.newestRecordAt !== null && (newestRecordAt === null || slice.newestRecordAt > newestRecordAt)) newestRecordAt = slice.newestRecordAt;
    }
    return {
      batchRows: batchRows as Snapshot['batchRows'],
      slices,
      provenance: {
        batch: manifest ? { version: manifest.version, horizon: manifest.horizon, publishedAt: manifest.publishedAt } : null,
        slices: slices.map(({ slice }) => ({ partition: slice.partition, start: slice.start, end: slice.end, closed: slice.closed })),
        position,
        newestRecordAt,
      },
    };
  }

  /** Rows merged per (key, window), in order; with `contributions`, the two layers' parts kept apart. */
  private merge(view: CompiledView, snapshot: Snapshot, contributions: boolean): MergedRow[] {
    const merged = new Map<string, MergedRow>();
    const add = (row: { key: string; windowStart: number; state: JsonObject }, layer: 'batch' | 'realtime') => {
      const id = `${row.windowStart}\u0000${row.key}`;
      const state = view.fromJson(row.state);
      let entry = merged.get(id);
      if (!entry) merged.set(id, (entry = { key: row.key, windowStart: row.windowStart, state: view.createState(), batch: null, realtime: null }));
      if (contributions) entry[layer] = entry[layer] ? view.merge(entry[layer], view.clone(state)) : view.clone(state);
      view.merge(entry.state, state);
    };
    for (const row of snapshot.batchRows) add(row, 'batch');
    for (const { rows } of snapshot.slices) for (const row of rows) add(row, 'realtime');
    return [...merged.values()].sort(compareRows);
  }
}

interface MergedRow {
  key: string;
  windowStart: number;
  state: RowState;
  batch: RowState | null;
  realtime: RowState | null;
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
