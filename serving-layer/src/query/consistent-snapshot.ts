/**
 * The exactness contract rests here: an answer must count every record below its position exactly once,
 * so the batch version vN and the slices starting at or after vN's horizon are read as one consistent
 * snapshot of a single view generation, chained on log offsets.
 */
import {
  ConnectionError,
  UnknownViewError,
  compileGeneration,
  generationPointerName,
  isRetired,
  type Catalog,
  type CompiledView,
  type JsonObject,
  type RowFilter,
  type Slice,
  type ViewDefinition,
  type ViewStore,
} from '@lambda/core';
import type { Provenance } from '../api/schemas.js';

/** A stored row with its state still encoded: decoding is left to the caches, which do it once per stored object. */
export interface StoredRow {
  key: string;
  windowStart: number;
  state: JsonObject;
}

export interface Snapshot {
  batchRows: StoredRow[];
  slices: { slice: Slice; rows: StoredRow[] }[];
  /** Where the snapshot comes from; freshness and attempts are the caller's, as of when it answers. */
  provenance: Omit<Provenance, 'freshnessMs' | 'attempts'>;
}

/** The generation an answer reads: its logic under its storage name, the view's public name, its number. */
interface Generation {
  view: CompiledView;
  name: string;
  generation: number;
}

/** What a snapshot of a retired generation gives: follow the generation pointer, and read again. */
const RETIRED = Symbol('retired');

/**
 * Slices read at once. A view may have thousands live (its batch layer stopped for a while), more than a
 * Cassandra connection takes in flight (2048): all at once, every read of such a view failed.
 */
const SLICE_READS_AT_ONCE = 64;

/**
 * The reads are not one transaction, so the reader checks what it read and reads again if a publish or
 * a clean-up moved underneath it: the slices of each partition must chain from the horizon without a
 * gap, none may have vanished, and the manifest must still name the same version at the end (a version
 * is only ever deleted after a newer one is published, and a slice only after a horizon covers it).
 *
 * After a reprocess, a view is served by a newer *generation* (its new logic, under its own storage name;
 * see core's view-generation.ts). The reader remembers the generation it serves per view and reads the
 * generation pointer only when that generation's manifest says it was retired: the reprocess publishes
 * that tombstone right after switching the pointer, so a view never reprocessed costs no extra read, a
 * cached answer none either, and no answer mixes two generations (each reads one storage name only).
 */
export class ConsistentSnapshotReader {
  /** Per view, the generation last found serving; absent until a read found generation 1 retired. */
  private readonly servingGenerations = new Map<string, Generation>();

  constructor(
    private readonly store: ViewStore,
    private readonly catalog: Catalog,
    private readonly maxAttempts: number,
  ) {}

  /** The catalog's view; an UnknownViewError naming the known ones otherwise. */
  view(name: string): CompiledView {
    const view = this.catalog.views.get(name);
    if (!view) throw new UnknownViewError(`Unknown view "${name}"; known: ${[...this.catalog.views.keys()].join(', ')}`, { view: name });
    return view;
  }

  /** The logic of the generation this reader serves for a view: the catalog's until a read found it retired. */
  serving(name: string): CompiledView {
    return this.generation(name).view;
  }

  /**
   * Reads until a snapshot is consistent, from the generation serving `viewName`; with the generation's
   * logic (`view`) to merge and present it, and the reads it took.
   */
  async read(viewName: string, filter: RowFilter): Promise<{ snapshot: Snapshot; view: CompiledView; attempts: number }> {
    let generation = this.generation(viewName);
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const snapshot = await this.attempt(generation.view, filter);
      if (snapshot === RETIRED) generation = await this.follow(generation);
      if (!snapshot || snapshot === RETIRED) continue;
      return { snapshot, view: generation.view, attempts: attempt };
    }
    throw new ConnectionError(`View "${viewName}" kept changing during ${this.maxAttempts} reads; try again`, { context: { view: viewName } });
  }

  private generation(name: string): Generation {
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

  /**
   * One consistent read, or undefined when something moved underneath it, or RETIRED when a reprocess
   * retired the generation (its manifest is the tombstone: what it held is gone or going).
   */
  private async attempt(view: CompiledView, filter: RowFilter): Promise<Snapshot | typeof RETIRED | undefined> {
    const manifest = await this.store.readManifest(view.name);
    if (isRetired(manifest)) return RETIRED;
    const horizon = manifest?.horizon ?? [];
    const [batchRows, listed] = await Promise.all([
      manifest ? this.store.readBatchRows(view.name, manifest.version, filter) : Promise.resolve([]),
      this.store.listSlices(view.name),
    ]);
    const reads = await mapBounded(liveSlices(listed, horizon), SLICE_READS_AT_ONCE, (slice) => this.store.readSlice(slice, filter));
    if (reads.some((read) => read === undefined)) return undefined; // deleted since listed
    const slices = reads as Snapshot['slices'];

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
      batchRows: batchRows as StoredRow[],
      slices,
      provenance: {
        batch: manifest ? { version: manifest.version, horizon: manifest.horizon, publishedAt: manifest.publishedAt } : null,
        slices: slices.map(({ slice }) => ({ partition: slice.partition, start: slice.start, end: slice.end, closed: slice.closed })),
        position,
        newestRecordAt,
      },
    };
  }
}

/**
 * The slices an answer merges on top of a batch version with this horizon: those starting at or after it
 * in their partition. The ones below are covered by the version and only await their clean-up: merging
 * them would count records twice.
 */
export function liveSlices<T extends { partition: number; start: number }>(slices: readonly T[], horizon: readonly number[]): T[] {
  return slices.filter((slice) => slice.start >= (horizon[slice.partition] ?? 0));
}

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
