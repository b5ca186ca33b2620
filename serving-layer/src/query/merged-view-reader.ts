/**
 * Answers a query over all data: the serving batch version vN, plus every slice starting at or after
 * vN's horizon, merged with the view's monoids.
 *
 * The reads are not one transaction, so the reader checks what it read and reads again if a publish or
 * a clean-up moved underneath it: the slices of each partition must chain from the horizon without a
 * gap, none may have vanished, and the manifest must still name the same version at the end (a version
 * is only ever deleted after a newer one is published, and a slice only after a horizon covers it).
 */
import { ConnectionError, UnknownViewError, type Catalog, type CompiledView, type JsonObject, type RowFilter, type RowState, type Slice, type ViewStore } from '@lambda/common';

export interface MergedWindow {
  key: string;
  windowStart: number;
  /** Null for a view without windows. */
  windowEnd: number | null;
  values: JsonObject;
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
}

export interface ReadQuery {
  keys?: string[];
  /** Windows starting at or after this (ms). */
  from?: number;
  /** Windows starting before this (ms). */
  to?: number;
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
    const filter: RowFilter = { keys: query.keys, windowFrom: query.from, windowTo: query.to };
    const maxAttempts = this.options.maxAttempts ?? 10;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const snapshot = await this.snapshot(view, filter);
      if (!snapshot) continue;
      const now = (this.options.now ?? Date.now)();
      const { newestRecordAt } = snapshot.provenance;
      return {
        view: view.name,
        windows: this.merge(view, snapshot),
        provenance: { ...snapshot.provenance, freshnessMs: newestRecordAt === null ? null : Math.max(0, now - newestRecordAt), attempts: attempt },
      };
    }
    throw new ConnectionError(`View "${viewName}" kept changing during ${maxAttempts} reads; try again`, { context: { view: viewName } });
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

  private merge(view: CompiledView, snapshot: Snapshot): MergedWindow[] {
    const merged = new Map<string, { key: string; windowStart: number; state: RowState }>();
    const add = (row: { key: string; windowStart: number; state: JsonObject }) => {
      const id = `${row.windowStart}\u0000${row.key}`;
      const state = view.fromJson(row.state);
      const existing = merged.get(id);
      if (existing) view.merge(existing.state, state);
      else merged.set(id, { key: row.key, windowStart: row.windowStart, state });
    };
    snapshot.batchRows.forEach(add);
    for (const { rows } of snapshot.slices) rows.forEach(add);
    const size = view.window.windowed ? view.window.sizeMs : null;
    return [...merged.values()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.windowStart - b.windowStart))
      .map(({ key, windowStart, state }) => ({
        key,
        windowStart,
        windowEnd: size === null ? null : windowStart + size,
        values: view.result(state),
      }));
  }
}
