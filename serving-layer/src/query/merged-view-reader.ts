/**
 * Answers a query over all data: the serving batch version vN, plus every slice starting at or after
 * vN's horizon, merged with the view's monoids.
 *
 * The reads are not one transaction, so the reader checks what it read and reads again if a publish or
 * a clean-up moved underneath it: the slices of each partition must chain from the horizon without a
 * gap, none may have vanished, and the manifest must still name the same version at the end (a version
 * is only ever deleted after a newer one is published, and a slice only after a horizon covers it).
 *
 * After a reprocess, a view is served by a newer *generation* (its new logic, under its own storage name;
 * see common's view-generation.ts). The reader remembers the generation it serves per view and reads the
 * generation pointer only when that generation's manifest says it was retired: the reprocess publishes
 * that tombstone right after switching the pointer, so a view never reprocessed costs no extra read, a
 * cached answer none either, and no answer mixes two generations (each reads one storage name only).
 */
import {
  ConnectionError,
  InvalidArgumentError,
  deepFreeze,
  UnknownViewError,
  compareCodePoints,
  compileGeneration,
  generationPointerName,
  isRetired,
  type Catalog,
  type CompiledView,
  type JsonObject,
  type RowFilter,
  type RowState,
  type Slice,
  type ViewDefinition,
  type ViewStore,
} from '@lambda/common';
import { freshnessMs } from '../health/freshness.js';

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
  /**
   * How old that record is, now: the answer is this fresh. While the view is stalled on a partition, the
   * age of the newest record counted there instead (see ViewProgressMonitor), so it grows while stuck.
   */
  freshnessMs: number | null;
  /** Reads it took to get a consistent answer; 0 when an answer computed earlier for the same data served. */
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
  /**
   * Decoded states by the stored state object they came from. Stores hand out an unchanged row as the
   * same read-only object, so the batch version's rows and closed slices' rows are decoded once, not on
   * every query; a rewritten row is a new object, and a new entry. Decoded states are never changed:
   * merges go into fresh ones.
   */
  private readonly decoded = new WeakMap<object, RowState>();
  /** Results by the identities of the stored states merged into them (oldest dropped first). */
  private readonly results = new Map<string, JsonObject>();
  /** Whole answers by the view's shape and the query (oldest dropped first). */
  private readonly answers = new Map<string, MergedAnswer>();
  private readonly identities = new WeakMap<object, number>();
  /** Per view, the generation last found serving; absent until a read found generation 1 retired. */
  private readonly servingGenerations = new Map<string, Generation>();
  private nextIdentity = 1;

  constructor(
    private readonly store: ViewStore,
    private readonly catalog: Catalog,
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
  ) {}

  view(name: string): CompiledView {
    const view = this.catalog.views.get(name);
    if (!view) throw new UnknownViewError(`Unknown view "${name}"; known: ${[...this.catalog.views.keys()].join(', ')}`, { view: name });
    return view;
  }

  /** The generation of a view this reader serves: the catalog's view until a read found it retired. */
  private serving(name: string): Generation {
    return this.servingGenerations.get(name) ?? { view: this.view(name), name, generation: 1 };
  }

  /**
   * After a read found `retired`'s manifest to be a tombstone: the generation the pointer names now, its
   * definition compiled under its storage name (a generation's logic never changes, so once).
   */
  private async follow(retired: Generation): Promise<Generation> {
    const pointer = await this.store.readManifest(generationPointerName(retired.name));
    if (!pointer?.stats || pointer.version <= retired.generation) return retired; // the tombstone raced ahead of the pointer: read again
    const view = compileGeneration(this.catalog, pointer.stats.definition as unknown as ViewDefinition, pointer.version).compiled;
    const next = { view, name: retired.name, generation: pointer.version };
    this.servingGenerations.set(retired.name, next);
    return next;
  }

  async read(viewName: string, query: ReadQuery = {}): Promise<MergedAnswer> {
    const view = this.serving(viewName).view;
    const request = JSON.stringify([query.keys, query.from, query.to, query.limit, query.cursor, query.contributions ?? false]);
    // An answer already computed for the view's current shape needs no row read at all.
    const caching = this.options.cacheAnswers ?? true;
    const cached = caching ? this.answers.get(`${await this.shapeNow(view)}\u0000${request}`) : undefined;
    if (cached) return this.withFreshness(cached);

    const { snapshot, provenance, view: read } = await this.consistent(viewName, { keys: query.keys, windowFrom: query.from, windowTo: query.to });
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 2);
    const size = read.window.windowed ? read.window.sizeMs : null;
    let windows = this.inputs(snapshot);
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
        values: this.result(read, batch ? [batch, ...realtime] : realtime),
        ...(query.contributions
          ? { batch: batch ? this.result(read, [batch]) : null, realtime: realtime.length > 0 ? this.result(read, realtime) : null }
          : {}),
      })),
      provenance,
      next: last && page.length < windows.length ? encodeCursor([last.key, last.windowStart]) : null,
    };
    if (!caching) return answer;
    if (this.answers.size >= ANSWER_CACHE_SIZE) this.answers.delete(this.answers.keys().next().value!);
    this.answers.set(`${shapeOf(read.name, provenance.batch?.version ?? 0, provenance.slices)}\u0000${request}`, answer);
    return answer;
  }

  /**
   * The view's shape now: its batch version and its live slices' edges. Rows change only when these do
   * (a slice's rows with its end; a published version never), so equal shapes mean equal answers. The
   * two reads are not atomic, but only consistent snapshots are ever cached, so a shape read across a
   * change matches nothing and the read goes the long way.
   */
  private async shapeNow(view: CompiledView): Promise<string> {
    const [manifest, slices] = await Promise.all([this.store.readManifest(view.name), this.store.listSlices(view.name)]);
    const horizon = manifest?.horizon ?? [];
    return shapeOf(view.name, manifest?.version ?? 0, slices.filter((slice) => slice.start >= (horizon[slice.partition] ?? 0)));
  }

  /** A cached answer with its freshness as of now: the only part that changes while the shape does not. */
  private withFreshness(answer: MergedAnswer): MergedAnswer {
    return { ...answer, provenance: { ...answer.provenance, freshnessMs: this.freshness(answer.view, answer.provenance.newestRecordAt), attempts: 0 } };
  }

  private freshness(viewName: string, newestRecordAt: number | null): number | null {
    return freshnessMs(newestRecordAt, this.options.stalledFreshnessFrom?.(viewName), (this.options.now ?? Date.now)());
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
    rankedBy(this.serving(viewName).view, query.by, viewName); // a bad `by` is refused before any read
    const { snapshot, provenance, view } = await this.consistent(viewName, { windowFrom: query.from, windowTo: query.to });
    // Ranked by the aggregate of the generation read (the same unless a reprocess switched meanwhile).
    const aggregate = rankedBy(view, query.by, viewName);
    const perKey = new Map<string, RowState>();
    for (const row of this.merge(view, snapshot, false)) {
      const state = perKey.get(row.key);
      if (state) view.merge(state, row.state);
      else perKey.set(row.key, row.state);
    }
    const ranked = [...perKey].map(([key, state]) => ({ key, values: view.result(state) }));
    const score = (values: JsonObject) => (values[aggregate.name] as number | null) ?? Number.NEGATIVE_INFINITY;
    ranked.sort((a, b) => score(b.values) - score(a.values) || compareCodePoints(a.key, b.key));
    return { view: viewName, by: aggregate.name, from: query.from ?? null, to: query.to ?? null, top: ranked.slice(0, query.n), provenance };
  }

  /**
   * Reads until a snapshot is consistent, and its provenance, from the generation serving `viewName`;
   * with the generation's logic (`view`) to merge and present it.
   */
  private async consistent(viewName: string, filter: RowFilter): Promise<{ snapshot: Snapshot; provenance: Provenance; view: CompiledView }> {
    const maxAttempts = this.options.maxAttempts ?? 10;
    let generation = this.serving(viewName);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const snapshot = await this.snapshot(generation.view, filter);
      if (snapshot === RETIRED) generation = await this.follow(generation);
      if (!snapshot || snapshot === RETIRED) continue;
      return {
        snapshot,
        view: generation.view,
        provenance: { ...snapshot.provenance, freshnessMs: this.freshness(viewName, snapshot.provenance.newestRecordAt), attempts: attempt },
      };
    }
    throw new ConnectionError(`View "${viewName}" kept changing during ${maxAttempts} reads; try again`, { context: { view: viewName } });
  }

  /**
   * One consistent read, or undefined when something moved underneath it, or RETIRED when a reprocess
   * retired the generation (its manifest is the tombstone: what it held is gone or going).
   */
  private async snapshot(view: CompiledView, filter: RowFilter): Promise<Snapshot | typeof RETIRED | undefined> {
    const manifest = await this.store.readManifest(view.name);
    if (isRetired(manifest)) return RETIRED;
    const horizon = manifest?.horizon ?? [];
    const [batchRows, listed] = await Promise.all([
      manifest ? this.store.readBatchRows(view.name, manifest.version, filter) : Promise.resolve([]),
      this.store.listSlices(view.name),
    ]);
    const wanted = listed.filter((slice) => slice.start >= (horizon[slice.partition] ?? 0));
    const reads = await mapBounded(wanted, SLICE_READS_AT_ONCE, (slice) => this.store.readSlice(slice, filter));
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
    // A retirement publishes its tombstone as a new version, so this also notices a reprocess's switch.
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

  /** A snapshot's stored states per (key, window), in order: the batch version's, then the slices'. */
  private inputs(snapshot: Snapshot): WindowInputs[] {
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

  /**
   * The merged result of stored states, cached by their identities: while none of them is rewritten,
   * every query of the window gets the result computed the first time, without merging or estimating
   * again. A rewritten row is a new object, so a cached result never outlives its inputs.
   */
  private result(view: CompiledView, parts: readonly JsonObject[]): JsonObject {
    const cacheKey = `${view.name}\u0000${parts.map((part) => this.identity(part)).join(',')}`;
    let result = this.results.get(cacheKey);
    if (!result) {
      const state = view.createState();
      for (const part of parts) view.merge(state, this.decode(view, part));
      result = deepFreeze(view.result(state));
      if (this.results.size >= RESULT_CACHE_SIZE) this.results.delete(this.results.keys().next().value!);
      this.results.set(cacheKey, result);
    }
    return result;
  }

  private identity(json: JsonObject): number {
    let id = this.identities.get(json);
    if (id === undefined) this.identities.set(json, (id = this.nextIdentity++));
    return id;
  }

  private decode(view: CompiledView, json: JsonObject): RowState {
    let state = this.decoded.get(json);
    if (!state) this.decoded.set(json, (state = view.fromJson(json)));
    return state;
  }

  /** Rows merged per (key, window), in order; with `contributions`, the two layers' parts kept apart. */
  private merge(view: CompiledView, snapshot: Snapshot, contributions: boolean): MergedRow[] {
    const merged = new Map<string, MergedRow>();
    const add = (row: { key: string; windowStart: number; state: JsonObject }, layer: 'batch' | 'realtime') => {
      const id = `${row.windowStart}\u0000${row.key}`;
      const state = this.decode(view, row.state);
      let entry = merged.get(id);
      if (!entry) merged.set(id, (entry = { key: row.key, windowStart: row.windowStart, state: view.createState(), batch: null, realtime: null }));
      if (contributions) entry[layer] = entry[layer] ? view.merge(entry[layer], state) : view.clone(state);
      view.merge(entry.state, state);
    };
    for (const row of snapshot.batchRows) add(row, 'batch');
    for (const { rows } of snapshot.slices) for (const row of rows) add(row, 'realtime');
    return [...merged.values()].sort(compareRows);
  }
}

/** What a snapshot of a retired generation gives: follow the generation pointer, and read again. */
const RETIRED = Symbol('retired');

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

/** The generation an answer reads: its logic under its storage name, the view's public name, its number. */
interface Generation {
  view: CompiledView;
  name: string;
  generation: number;
}

interface WindowInputs {
  key: string;
  windowStart: number;
  batch: JsonObject | undefined;
  realtime: JsonObject[];
}

/**
 * Slices read at once. A view may have thousands live (its batch layer stopped for a while), more than a
 * Cassandra connection takes in flight (2048): all at once, every read of such a view failed.
 */
const SLICE_READS_AT_ONCE = 64;

/** `fn` over `items`, at most `limit` calls in flight, results in order; the first failure is thrown and stops new calls. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Window results kept: enough for every key and window a dashboard polls, bounded all the same. */
const RESULT_CACHE_SIZE = 50_000;
const ANSWER_CACHE_SIZE = 10_000;

function shapeOf(view: string, version: number, slices: readonly { partition: number; start: number; end: number; closed: boolean }[]): string {
  const edges = slices.map((slice) => `${slice.partition}:${slice.start}:${slice.end}:${slice.closed ? 1 : 0}`).sort();
  return `${view}\u0000${version}\u0000${edges.join(',')}`;
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
