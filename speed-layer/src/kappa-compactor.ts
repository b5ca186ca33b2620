/**
 * Kappa mode's compactor. A Kappa view has no batch layer: the speed layer maintains it from offset 0,
 * so without compaction its slices would grow without bound. Periodically the compactor merges, per
 * partition, the closed slices that chain from the serving version's horizon into that version (with
 * the view's own monoids, in JS) and publishes the result as the next version, whose horizon is those
 * slices' end edges, through the same `putBatchRows` + `publishBatchVersion` atomic switch the batch
 * layer uses. The serving layer's merge (`vN ⊕ slices at or after H_N`) is unchanged, and every horizon
 * is a slice edge, so the exactness invariant holds exactly as in Lambda mode.
 */
import {
  nextBatchVersion,
  publishBuiltVersion,
  readViewGeneration,
  silentLogger,
  type BatchManifest,
  type Catalog,
  type Logger,
  type RowState,
  type Slice,
  type ViewRow,
  type ViewStore,
  type JsonObject,
} from '@lambda/core';

export interface KappaCompactorOptions {
  viewStore: ViewStore;
  catalog: Catalog;
  /** The views it compacts (public names): the Kappa views. Their serving generation is resolved each run. */
  views: readonly string[];
  logger?: Logger;
  /** Time between two compactions of every view; null compacts only on demand. Default 30 s. */
  everyMs?: number | null;
}

export interface CompactionResult {
  view: string;
  /** The generation's storage name that was compacted. */
  storage: string;
  version: number;
  horizon: number[];
  /** Closed slices folded into the version (and deleted). */
  slices: number;
  rows: number;
}

const ROWS_PER_WRITE = 5000;

export class KappaCompactor {
  private timer: NodeJS.Timeout | undefined;
  /** Per view, the compaction (or exclusive work) under way: one at a time per view. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly logger: Logger;

  private constructor(private readonly options: KappaCompactorOptions) {
    this.logger = (options.logger ?? silentLogger()).child({ ns: 'kappa-compactor' });
  }

  static create(options: KappaCompactorOptions): KappaCompactor {
    return new KappaCompactor(options);
  }

  get views(): readonly string[] {
    return this.options.views;
  }

  /** Compacts every view on the configured schedule. */
  start(): void {
    const every = this.options.everyMs === undefined ? 30_000 : this.options.everyMs;
    if (every === null || this.timer) return;
    this.timer = setInterval(() => void this.compactAll().catch((error: unknown) => this.logger.warn({ err: error }, 'compaction failed; the next run retries')), every);
    this.timer.unref();
  }

  /** Stops the schedule and waits for compactions in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.queues.values()]);
  }

  async compactAll(): Promise<CompactionResult[]> {
    const results: CompactionResult[] = [];
    for (const view of this.options.views) {
      const result = await this.compact(view);
      if (result) results.push(result);
    }
    return results;
  }

  /** Compacts one view now (after any compaction of it in flight); undefined when no closed slice chains from its horizon. */
  compact(view: string): Promise<CompactionResult | undefined> {
    return this.exclusive(view, () => this.compactNow(view));
  }

  /**
   * Runs `work` while no compaction of `view` runs: reprocessing retires a generation this way, so no
   * compaction publishes into it after it is deleted.
   */
  exclusive<T>(view: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(view) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const settled = next.catch(() => undefined);
    this.queues.set(view, settled);
    void settled.then(() => {
      if (this.queues.get(view) === settled) this.queues.delete(view);
    });
    return next;
  }

  private async compactNow(viewName: string): Promise<CompactionResult | undefined> {
    const { viewStore: store, catalog } = this.options;
    const { compiled: view, storage } = await readViewGeneration(store, catalog, viewName);
    const manifest = await store.readManifest(storage);
    const horizon = manifest?.horizon ?? [];
    const slices = await store.listSlices(storage);
    const chain = closedChain(slices, horizon);
    if (chain.length === 0) return undefined;

    const states = new Map<string, { key: string; windowStart: number; state: RowState }>();
    const add = (row: ViewRow) => {
      const id = `${row.windowStart}\u0000${row.key}`;
      const state = view.fromJson(row.state as JsonObject);
      const entry = states.get(id);
      if (entry) view.merge(entry.state, state);
      else states.set(id, { key: row.key, windowStart: row.windowStart, state: view.clone(state) });
    };
    if (manifest) for (const row of await store.readBatchRows(storage, manifest.version)) add(row);
    let newestRecordAt = manifest?.newestRecordAt ?? null;
    const newHorizon = [...horizon];
    for (const slice of chain) {
      const read = await store.readSlice(slice);
      // Only this compactor deletes closed slices of a Kappa view: a vanished one means another process compacts too.
      if (!read) return undefined;
      for (const row of read.rows) add(row);
      if (read.slice.newestRecordAt !== null && (newestRecordAt === null || read.slice.newestRecordAt > newestRecordAt)) newestRecordAt = read.slice.newestRecordAt;
      newHorizon[slice.partition] = Math.max(newHorizon[slice.partition] ?? 0, slice.end);
    }
    const horizonOut = Array.from(newHorizon, (offset) => offset ?? 0);

    const versions = await store.listBatchVersions(storage);
    const version = nextBatchVersion(manifest, versions);
    const rows = [...states.values()].map(({ key, windowStart, state }) => ({ key, windowStart, state: view.toJson(state) }));
    for (let i = 0; i < rows.length; i += ROWS_PER_WRITE) await store.putBatchRows(storage, version, rows.slice(i, i + ROWS_PER_WRITE));
    const published: BatchManifest = {
      view: storage,
      version,
      horizon: horizonOut,
      publishedAt: Date.now(),
      newestRecordAt,
      stats: { rows: rows.length, compactedSlices: chain.length, kappa: true },
    };
    await publishBuiltVersion(store, published);

    // Readers that read the old version or these slices notice they moved and read again.
    await store.deleteSlices(chain);
    for (const old of versions) if (old < version) await store.deleteBatchVersion(storage, old);
    this.logger.debug({ view: viewName, storage, version, horizon: horizonOut, slices: chain.length, rows: rows.length }, 'compacted');
    return { view: viewName, storage, version, horizon: horizonOut, slices: chain.length, rows: rows.length };
  }
}

/** Per partition, the closed slices that chain without a gap from the horizon, in order. */
function closedChain(slices: readonly Slice[], horizon: readonly number[]): Slice[] {
  const chain: Slice[] = [];
  const partitions = new Set(slices.map((slice) => slice.partition));
  for (const partition of partitions) {
    let edge = horizon[partition] ?? 0;
    const own = slices.filter((slice) => slice.partition === partition).sort((a, b) => a.start - b.start);
    for (const slice of own) {
      if (slice.start < edge) continue; // already covered (left by a clean-up that has not run)
      if (slice.start !== edge || !slice.closed || slice.end === slice.start) break;
      chain.push(slice);
      edge = slice.end;
    }
  }
  return chain;
}
