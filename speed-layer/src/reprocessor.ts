/**
 * Reprocessing a view after its logic changed: builds generation N+1 of the view (stored apart, under
 * `<view>@g<N+1>`) while generation N keeps serving, then switches readers to it in one atomic write.
 *
 * 1. A Lambda view's history comes from the batch layer (see `seed`). Otherwise offsets the log no
 *    longer holds (below its start offsets) come from the lake archive: their records are folded with the
 *    new logic into version 1 of the new generation, whose horizon is where the archive ends.
 * 2. The rest is replayed from the log by the speed layer's own machinery (a topic pipeline over a
 *    one-view catalog, its own consumer group), micro-batch after micro-batch, into slices from there.
 * 3. Once a micro-batch leaves no backlog (the new generation is within one micro-batch of the log's
 *    end), the generation pointer is switched, and right after generation N gets an empty tombstone
 *    version: readers that remember generation N notice it on their next manifest read and follow the
 *    pointer, readers never mix generations (each answer reads one storage name).
 * 4. The live speed layer rebuilds its pipelines with the new logic (and the batch layer, for a Lambda
 *    view, recomputes the new generation from then on: it resolves the generation each run).
 * 5. Generation N's versions and slices are deleted (the tombstone stays, for readers still on it).
 *
 * A Lambda view (given `seed`) starts as Lambda reflects a logic change: the batch layer runs the new
 * logic's SQL over the lake archive into version 1 of the new generation, and only the log above its
 * horizon is replayed; a Kappa view replays the log from offset 0, as Kappa does.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  Catalog,
  InvalidArgumentError,
  OffsetOutOfRangeError,
  compileGeneration,
  generationStorageName,
  publishViewGeneration,
  readViewGeneration,
  retireGeneration,
  silentLogger,
  type EventLog,
  type JsonObject,
  type Lake,
  type Logger,
  type RowState,
  type ViewDefinition,
  type ViewGeneration,
  type ViewStore,
} from '@lambda/core';
import { FolderHost } from './folder-host.js';
import type { KappaCompactor } from './kappa-compactor.js';
import { LakeArchiveReader } from './lake-archive-reader.js';
import { DEFAULT_SLICE_POLICY, type SlicePolicy } from './slice-policy.js';
import { readThroughPort, type SpeedLayer } from './speed-layer.js';
import { TopicPipeline } from './topic-pipeline.js';

export interface ReprocessorOptions {
  eventLog: EventLog;
  viewStore: ViewStore;
  /** The platform's catalog: the sources, and each view's first definition. */
  catalog: Catalog;
  /** The lake holding the archive; needed only when the log no longer holds its early offsets. */
  lake?: Lake;
  /** The live speed layer, which continues with the new logic after the switch. */
  speedLayer?: SpeedLayer;
  /** The Kappa compactor, kept off a generation while it is retired. */
  compactor?: KappaCompactor;
  logger?: Logger;
  /** Records read per partition in one replay micro-batch. Default 10 000. */
  maxRecordsPerPartition?: number;
  /** When the replay cuts its slices. Default: the speed layer's default. */
  slicePolicy?: Partial<SlicePolicy>;
  /** Scratch space for archive files downloaded from a remote lake. Default the OS temp dir. */
  scratchDirectory?: string;
  /**
   * How a Lambda view's new generation gets its first version: the batch layer's recompute of the new
   * logic over the lake archive (`BatchLayer.recomputeGeneration`), publishing version 1 of the generation
   * at a horizon; the replay then folds only the log above it. Undefined for a view it does not seed (a
   * Kappa view), which is replayed from the log (and the archive below the log's start, if any).
   */
  seed?: (generation: ViewGeneration, onProgress: (covered: number) => void) => Promise<{ horizon: number[] } | undefined>;
}

export interface ReprocessProgress {
  phase: 'archive' | 'replay' | 'switch' | 'cleanup' | 'done';
  /**
   * Share of the records (offsets) up to the log's end *when the run started* that the new generation
   * covers, 0 to 100; 100 once the replay caught up with the live log. Measured against a fixed target so
   * that it never goes back while the log keeps growing.
   */
  percent: number;
  recordsReplayed: number;
  /** Records (offsets) up to the log's end now. */
  recordsTotal: number;
}

export interface ReprocessResult {
  view: string;
  generation: number;
  storage: string;
  startedAt: number;
  /** When readers switched to the new generation (ms since the epoch). */
  switchedAt: number;
  durationMs: number;
  /** Offsets covered by the replay, from the archive and the log. */
  recordsReplayed: number;
  /** Of which read back from the lake archive. */
  recordsFromArchive: number;
  /** Per partition, what the new generation counted at the switch. */
  position: number[];
}

export interface ReprocessRequest {
  /** The new definition (same name); the catalog's when absent. */
  definition?: ViewDefinition;
  onProgress?: (progress: ReprocessProgress) => void;
}

export class Reprocessor {
  private readonly logger: Logger;
  private readonly running = new Set<string>();

  constructor(private readonly options: ReprocessorOptions) {
    this.logger = (options.logger ?? silentLogger()).child({ ns: 'reprocessor' });
  }

  /** Rebuilds `view` with `definition` as its next generation and switches readers to it. */
  async reprocess(view: string, request: ReprocessRequest = {}): Promise<ReprocessResult> {
    const { viewStore: store, catalog } = this.options;
    const current = await readViewGeneration(store, catalog, view);
    const definition = request.definition ?? catalog.views.get(view)!.definition;
    if (definition.name !== view) throw new InvalidArgumentError(`The new definition is named "${definition.name}", not "${view}"`, { view });
    if (this.running.has(view)) throw new InvalidArgumentError(`View "${view}" is already being reprocessed`, { view });
    this.running.add(view);
    try {
      return await this.run(current, await this.nextGeneration(current, definition), request.onProgress ?? (() => undefined));
    } finally {
      this.running.delete(view);
    }
  }

  private async run(current: ViewGeneration, next: ViewGeneration, onProgress: (progress: ReprocessProgress) => void): Promise<ReprocessResult> {
    const { eventLog: log, viewStore: store } = this.options;
    const startedAt = Date.now();
    const started = performance.now();
    const topic = next.compiled.source.topic;
    const logStart = await log.startOffsets(topic);
    const target = sum(await log.endOffsets(topic));
    // Reports go out one after another, in the order they were made (the seed's come from a callback).
    let reporting = Promise.resolve();
    const report = (phase: ReprocessProgress['phase'], covered: number, caughtUp = false): Promise<void> =>
      (reporting = reporting.then(async () => {
        const total = sum(await log.endOffsets(topic));
        const percent = caughtUp || target === 0 ? 100 : Math.min(100, Math.floor((100 * covered) / target));
        onProgress({ phase, percent, recordsReplayed: covered, recordsTotal: total });
      }));
    this.logger.info({ view: next.view, generation: next.generation, storage: next.storage }, 'reprocessing');

    const seeded = await this.options.seed?.(next, (covered) => void report('archive', covered).catch(() => undefined));
    const recordsFromArchive = seeded
      ? sum(seeded.horizon)
      : logStart.some((offset) => offset > 0)
        ? await this.seedFromArchive(next, logStart, (covered) => report('archive', covered))
        : 0;

    // The replay: the speed layer's pipeline over a catalog of just the new generation.
    const replayCatalog = Catalog.compile({ sources: [next.compiled.source.definition], views: [next.compiled.definition], limits: next.compiled.source.limits });
    const folderOptions = { maxRecordsPerPartition: this.options.maxRecordsPerPartition ?? 10_000, slicePolicy: { ...DEFAULT_SLICE_POLICY, ...this.options.slicePolicy } };
    const executor = new FolderHost(replayCatalog, readThroughPort(log), folderOptions);
    let position: number[];
    try {
      const pipeline = await TopicPipeline.open(next.compiled.source, replayCatalog, log, store, executor, {
        consumerGroup: `reprocess.${next.storage}`,
        defaultPartitions: 1,
        logger: this.logger,
      });
      let backlog = true;
      do {
        backlog = (await pipeline.runMicroBatch()).backlog;
        position = pipeline.positions(next.storage);
        await report('replay', sum(position), !backlog);
      } while (backlog);
    } finally {
      await executor.close();
    }

    // One write switches readers that resolve the pointer; the tombstone right after moves readers that
    // remember generation N (they notice it on their next manifest read). Its version is the highest
    // there is, so a recompute or compaction of N still in flight can never publish over it.
    await report('switch', sum(position), true);
    let switchedAt = 0;
    const exclusive = <T>(work: () => Promise<T>) => (this.options.compactor ? this.options.compactor.exclusive(current.view, work) : work());
    await exclusive(async () => {
      switchedAt = Date.now();
      await publishViewGeneration(store, next, switchedAt);
      await retireGeneration(store, current.storage, next.storage);
    });
    this.logger.info({ view: next.view, generation: next.generation, position }, 'switched readers to the new generation');
    // The live speed layer folds generation N until it rebuilt its pipelines: only then is N deleted.
    await this.options.speedLayer?.refreshGenerations();

    await report('cleanup', sum(position), true);
    await exclusive(() => this.deleteRetired(current.storage, next.storage));
    await report('done', sum(position), true);
    return {
      view: next.view,
      generation: next.generation,
      storage: next.storage,
      startedAt,
      switchedAt,
      durationMs: performance.now() - started,
      recordsReplayed: sum(position),
      recordsFromArchive,
      position,
    };
  }

  /** The next generation, at a storage name nothing was left under (a failed reprocess leaves its rows). */
  private async nextGeneration(current: ViewGeneration, definition: ViewDefinition): Promise<ViewGeneration> {
    const used = new Set(await this.options.viewStore.listViews());
    let generation = current.generation + 1;
    while (used.has(generationStorageName(current.view, generation))) generation++;
    return compileGeneration(this.options.catalog, definition, generation);
  }

  /**
   * Folds the archived records below where the archive ends into version 1 of the new generation, for a
   * log that no longer holds its early offsets. Resolves with the offsets it covers.
   */
  private async seedFromArchive(next: ViewGeneration, logStart: number[], report: (covered: number) => Promise<void>): Promise<number> {
    const { lake, viewStore: store } = this.options;
    const topic = next.compiled.source.topic;
    if (!lake) {
      throw new OffsetOutOfRangeError(
        `Cannot reprocess "${next.view}": the log of "${topic}" starts at [${logStart.join(', ')}] and there is no lake archive to read earlier offsets from. ` +
          "Reprocessing needs the log's full retention (Kappa's classic requirement) or the lake archive, which the batch layer writes (run it with a lake)",
        { topic },
      );
    }
    // Downloads are kept by key and ETag, so a later reprocess of the same archive reads them again for free.
    const reader = await LakeArchiveReader.open({ lake, cacheDirectory: join(this.options.scratchDirectory ?? tmpdir(), 'lake-cache') });
    try {
      const view = next.compiled;
      const states = new Map<string, { key: string; windowStart: number; state: RowState }>();
      const stateFor = (key: string, windowStart: number): RowState => {
        const id = `${windowStart}\u0000${key}`;
        let entry = states.get(id);
        if (!entry) states.set(id, (entry = { key, windowStart, state: view.createState() }));
        return entry.state;
      };
      const horizon: number[] = [];
      let newestRecordAt: number | null = null;
      for (let partition = 0; partition < logStart.length; partition++) {
        const archived = await reader.archivedTo(topic, partition);
        if (archived < logStart[partition]!) {
          throw new OffsetOutOfRangeError(
            `Cannot reprocess "${next.view}": the log of ${topic}/${partition} starts at ${logStart[partition]} but the archive reaches only ${archived}; ` +
              "offsets in between are lost (keep the log's retention longer than the time between two archive runs)",
            { topic, partition },
          );
        }
        // Partitions the log holds whole are replayed from it; the others from the archive up to its end.
        horizon[partition] = logStart[partition]! > 0 ? archived : 0;
        await reader.scan(topic, partition, horizon[partition]!, (record) => {
          const decoded = view.source.decode(record);
          if (!decoded.ok) return; // the archive holds valid records only; nothing to dead-letter again
          if (view.fold(decoded.row, stateFor) && (newestRecordAt === null || record.timestamp > newestRecordAt)) newestRecordAt = record.timestamp;
        });
        await report(sum(horizon));
      }
      const rows = [...states.values()].map(({ key, windowStart, state }) => ({ key, windowStart, state: view.toJson(state) as JsonObject }));
      for (let i = 0; i < rows.length; i += 5000) await store.putBatchRows(next.storage, 1, rows.slice(i, i + 5000));
      // The replay's pipeline restores each partition at this horizon and folds the log from there.
      await store.publishBatchVersion({ view: next.storage, version: 1, horizon, publishedAt: Date.now(), newestRecordAt, stats: { rows: rows.length, fromArchive: true } });
      return sum(horizon);
    } finally {
      reader.close();
    }
  }

  /** Deletes what a retired generation held: every version below its tombstone, and its slices. */
  private async deleteRetired(storage: string, successor: string): Promise<void> {
    const store = this.options.viewStore;
    const tombstone = (await store.readManifest(storage))?.version ?? 0;
    for (const version of await store.listBatchVersions(storage)) if (version < tombstone) await store.deleteBatchVersion(storage, version);
    await store.deleteSlices(await store.listSlices(storage));
    this.logger.info({ storage, successor }, 'deleted the retired generation');
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
