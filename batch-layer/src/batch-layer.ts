/**
 * The batch layer service: one scheduler job per view, `recompute:<view>`, repeated every
 * `recomputeEveryMs` (or on a cron) and runnable on demand, each reporting its progress to the scheduler.
 * A topic read only by Kappa views has no recompute to archive it, so it gets an `archive:<topic>` job
 * on the same repeat: a Kappa reprocess reads the lake for offsets the log's retention has dropped.
 * Covered slices and superseded versions are cleaned up a grace period after each publish.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Catalog as CatalogClass,
  ConflictError,
  UnknownTopicError,
  archiveJobName,
  isKappaView,
  isRetired,
  readViewGeneration,
  recomputeJobName,
  silentLogger,
  type BatchManifest,
  type Catalog,
  type EventLog,
  type JobRun,
  type JsonObject,
  type Lake,
  type Logger,
  type Metrics,
  type Repeat,
  type Scheduler,
  type ViewDefinition,
  type ViewGeneration,
  type ViewStore,
} from '@lambda/core';
import { ArchiveQuery } from './archive-query.js';
import { Archiver, type ArchiveProgress, type ArchiveResult } from './archiver.js';
import type { PartitionFanOut, PartitionWorkerFactory } from './partition-fan-out.js';
import { PartitionQuery } from './partition-query.js';
import { DuckDbEngine, type DuckDbOptions } from './duckdb-engine.js';
import { Recomputer, type RecomputeProgress } from './recompute.js';

export interface BatchLayerOptions {
  eventLog: EventLog;
  viewStore: ViewStore;
  lake: Lake;
  scheduler: Scheduler;
  catalog: Catalog;
  /** Scratch space: Parquet files before they reach the lake, DuckDB's spill files. */
  workDirectory: string;
  logger?: Logger;
  metrics?: Metrics;
  /** When each view is recomputed; `null` for on demand only. Default every 60 s. */
  repeat?: Repeat | null;
  /** How long covered slices and superseded versions stay after a publish. Default 30 s. */
  cleanupGraceMs?: number;
  duckdb?: DuckDbOptions;
  /**
   * Where objects of a lake without local files (S3) are downloaded for DuckDB, kept by key and ETag.
   * Keep it outside `workDirectory`, which is emptied at start. Default `<os temp dir>/lambda-lake-cache`.
   */
  lakeCacheDir?: string;
  /**
   * Views run in Kappa mode (`*` for all): no recompute job is registered for them; a topic read only by
   * them gets an archive job instead. Default none.
   */
  kappaViews?: readonly string[];
  /**
   * Fan the recompute out over lake partitions (infra passes a BullMQ task queue) instead of one query
   * here. With `openWorker`, this process also takes partition tasks, on its own DuckDB; without it,
   * batch workers elsewhere run them all.
   */
  fanOut?: { tasks: PartitionFanOut; openWorker?: PartitionWorkerFactory };
}


export class BatchLayer {
  private readonly cleanups = new Set<NodeJS.Timeout>();
  private readonly metrics;

  private constructor(
    readonly recomputer: Recomputer,
    readonly archiver: Archiver,
    private readonly engine: DuckDbEngine,
    private readonly options: BatchLayerOptions,
    private readonly logger: Logger,
    /** The fan-out and this process's partition worker, when the recompute fans out. */
    private readonly partitions: { fanOut: PartitionFanOut; worker?: { close(): Promise<void> } } | undefined,
  ) {
    this.metrics = options.metrics && {
      duration: options.metrics.histogram({
        name: 'lambda_batch_recompute_seconds',
        help: 'Duration of a batch recompute, archive to publish',
        labelNames: ['view'],
        buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      }),
      version: options.metrics.gauge({ name: 'lambda_batch_version', help: 'Serving batch version per view', labelNames: ['view'] }),
      rows: options.metrics.gauge({ name: 'lambda_batch_rows', help: 'Rows (key and window) of the serving batch version', labelNames: ['view'] }),
    };
  }

  static async create(options: BatchLayerOptions): Promise<BatchLayer> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'batch-layer' });
    // Scratch files are only ever what a killed process left mid-write: none is needed.
    await rm(options.workDirectory, { recursive: true, force: true });
    await mkdir(options.workDirectory, { recursive: true });
    const engine = await DuckDbEngine.create({ tempDirectory: join(options.workDirectory, 'duckdb'), ...options.duckdb });
    const archiver = new Archiver({ eventLog: options.eventLog, lake: options.lake, engine, workDirectory: options.workDirectory, logger });
    const partitions =
      options.fanOut &&
      (await openPartitions(options, engine, logger).catch((error: unknown) => {
        engine.close();
        throw error;
      }));
    const recomputer = new Recomputer({
      viewStore: options.viewStore,
      lake: options.lake,
      engine,
      archiver,
      catalog: options.catalog,
      logger,
      lakeCacheDir: options.lakeCacheDir,
      fanOut: partitions?.fanOut,
    });
    const layer = new BatchLayer(recomputer, archiver, engine, options, logger, partitions);
    const repeat = options.repeat === undefined ? { everyMs: 60_000 } : options.repeat;
    for (const view of layer.views()) {
      const name = recomputeJobName(view);
      await options.scheduler.register(name, async (context): Promise<JsonObject> => {
        const manifest = await layer.recompute(view, (progress) => void context.reportProgress(progress));
        if (!manifest) return { upToDate: true };
        return { version: manifest.version, horizon: manifest.horizon, ...manifest.stats };
      });
      if (repeat) await options.scheduler.setRepeat(name, repeat);
    }
    for (const topic of layer.archivedTopics()) {
      const name = archiveJobName(topic);
      await options.scheduler.register(name, async (context): Promise<JsonObject> => {
        const result = await layer.archive(topic, ({ recordsDone, recordsTotal }) => {
          const percent = recordsTotal === 0 ? 100 : Math.floor((100 * recordsDone) / recordsTotal);
          void context.reportProgress({ percent, message: `archived ${recordsDone} of ${recordsTotal} records` });
        });
        return { archivedTo: result.archivedTo, filesWritten: result.filesWritten, records: result.records };
      });
      if (repeat) await options.scheduler.setRepeat(name, repeat);
    }
    return layer;
  }

  /** The views it recomputes: every view of the catalog but the Kappa views. */
  views(): string[] {
    return [...this.options.catalog.views.keys()].filter((view) => !isKappaView(this.options.kappaViews ?? [], view));
  }

  /**
   * The topics with an archive job of their own: those every view of which is a Kappa view. A topic with
   * a Lambda view is archived by its recompute, and one without views has nothing to reprocess.
   */
  archivedTopics(): string[] {
    const kappaViews = this.options.kappaViews ?? [];
    const views = [...this.options.catalog.views.values()];
    return [...this.options.catalog.sources.keys()].filter((topic) => {
      const readers = views.filter((view) => view.source.topic === topic);
      return readers.length > 0 && readers.every((view) => isKappaView(kappaViews, view.name));
    });
  }

  /** Archives a topic to the log's end now, in this call (its archive job does the same on its schedule). */
  async archive(topic: string, onProgress: (progress: ArchiveProgress) => void = () => undefined): Promise<ArchiveResult> {
    const source = this.options.catalog.sources.get(topic);
    if (!source) throw new UnknownTopicError(`Unknown source topic "${topic}"`, { topic });
    return this.archiver.archiveTopic(source, { onProgress });
  }

  /**
   * Recomputes a view now, in this call (the scheduler's job does the same on its schedule): its serving
   * generation, so after a reprocess the new logic, under the new generation's storage name.
   */
  async recompute(view: string, onProgress: (progress: RecomputeProgress) => void = () => undefined): Promise<BatchManifest | undefined> {
    // A Kappa view's versions are the compactor's: a recompute publishing among them would race it.
    if (isKappaView(this.options.kappaViews ?? [], view)) {
      throw new ConflictError(`View "${view}" runs in Kappa mode (kappa.views): the batch layer does not recompute it`, { view });
    }
    const started = performance.now();
    let generation = await readViewGeneration(this.options.viewStore, this.options.catalog, view);
    let recomputer = this.recomputerOf(generation);
    let manifest: BatchManifest | undefined;
    try {
      manifest = await recomputer.run(generation.storage, onProgress);
    } catch (error) {
      // A reprocess switched the view to a new generation during the run: recompute that one instead.
      if (!isRetired(await this.options.viewStore.readManifest(generation.storage))) throw error;
      generation = await readViewGeneration(this.options.viewStore, this.options.catalog, view);
      recomputer = this.recomputerOf(generation);
      manifest = await recomputer.run(generation.storage, onProgress);
    }
    if (manifest) {
      this.metrics?.duration.observe({ view }, (performance.now() - started) / 1000);
      this.metrics?.version.set({ view }, manifest.version);
      this.metrics?.rows.set({ view }, Number(manifest.stats?.rows ?? 0));
      this.scheduleCleanUp(generation.storage, recomputer);
    }
    return manifest;
  }

  /**
   * The batch half of reprocessing a Lambda view: its new generation's first version, the new logic's SQL
   * run by DuckDB over the lake archive, brought up to the log's end first. Its horizon is where the
   * archive ends; the reprocess replays only the log above it. Unlike a recompute, the horizon needs no
   * slice edge: the generation has no slice yet, and the replay cuts its first ones from that horizon.
   */
  async recomputeGeneration(generation: ViewGeneration, onProgress: (covered: number) => void = () => undefined): Promise<{ horizon: number[]; rows: number }> {
    if (isKappaView(this.options.kappaViews ?? [], generation.view)) {
      throw new ConflictError(`View "${generation.view}" runs in Kappa mode (kappa.views): the batch layer does not recompute it`, { view: generation.view });
    }
    const { viewStore, lake, lakeCacheDir } = this.options;
    const view = generation.compiled;
    const archive = await this.archiver.archiveTopic(view.source);
    const horizon = archive.archivedTo;
    // Archived; the query is the other half. A count of records: whole (the API documents it as an integer).
    onProgress(Math.floor(horizon.reduce((sum, offset) => sum + offset, 0) / 2));
    const query = new ArchiveQuery({ engine: this.engine, lake, logger: this.logger, lakeCacheDir });
    const { rows, newestRecordAt } = await query.run(view, horizon, archive.files.flat());
    for (let i = 0; i < rows.length; i += 5000) await viewStore.putBatchRows(generation.storage, 1, rows.slice(i, i + 5000));
    await viewStore.publishBatchVersion({ view: generation.storage, version: 1, horizon, publishedAt: Date.now(), newestRecordAt, stats: { rows: rows.length, reprocess: true } });
    this.logger.info({ view: generation.view, storage: generation.storage, horizon, rows: rows.length }, 'recomputed the new generation over the lake');
    onProgress(horizon.reduce((sum, offset) => sum + offset, 0));
    return { horizon, rows: rows.length };
  }

  private recomputerOf(generation: ViewGeneration): Recomputer {
    return generation.generation === 1 ? this.recomputer : this.generationRecomputer(generation.compiled.definition);
  }

  /** A recomputer of a reprocessed view's generation (in this process: partition workers know only the catalog). */
  private generationRecomputer(definition: ViewDefinition): Recomputer {
    const { viewStore, lake, catalog, lakeCacheDir } = this.options;
    const source = catalog.sources.get(definition.source)!;
    const generationCatalog = CatalogClass.compile({ sources: [source.definition], views: [definition] });
    return new Recomputer({ viewStore, lake, engine: this.engine, archiver: this.archiver, catalog: generationCatalog, logger: this.logger, lakeCacheDir });
  }

  /** Asks the scheduler for a recompute of `view` now (deduplicated with one already waiting). */
  trigger(view: string): Promise<JobRun> {
    return this.options.scheduler.trigger(recomputeJobName(view));
  }

  private scheduleCleanUp(view: string, recomputer = this.recomputer): void {
    const timer = setTimeout(() => {
      this.cleanups.delete(timer);
      recomputer
        .cleanUp(view)
        .then((removed) => this.logger.debug({ view, ...removed }, 'cleaned up after publish'))
        .catch((error: unknown) => this.logger.warn({ err: error, view }, 'clean-up failed; the next run retries'));
    }, this.options.cleanupGraceMs ?? 30_000);
    timer.unref();
    this.cleanups.add(timer);
  }

  /** Stops scheduling, waits for recomputes in flight, and closes DuckDB. */
  async close(): Promise<void> {
    for (const timer of this.cleanups) clearTimeout(timer);
    const { scheduler } = this.options;
    for (const name of [...this.views().map(recomputeJobName), ...this.archivedTopics().map(archiveJobName)]) {
      await scheduler.removeRepeat(name).catch(() => undefined);
      const status = await scheduler.status(name).catch(() => undefined);
      for (const run of [status?.running, status?.waiting]) if (run) await scheduler.waitForRun(run.id).catch(() => undefined);
    }
    await this.partitions?.worker?.close();
    await this.partitions?.fanOut.close();
    this.engine.close();
  }
}

/** The fan-out, and a partition worker on this process's DuckDB when the options open one. */
async function openPartitions(
  options: BatchLayerOptions,
  engine: DuckDbEngine,
  logger: Logger,
): Promise<{ fanOut: PartitionFanOut; worker?: { close(): Promise<void> } }> {
  const { tasks: fanOut, openWorker } = options.fanOut!;
  if (!openWorker) return { fanOut };
  try {
    const query = new PartitionQuery({ engine, lake: options.lake, catalog: options.catalog, lakeCacheDir: options.lakeCacheDir, logger });
    return { fanOut, worker: await openWorker((task) => query.run(task), query.worker) };
  } catch (error) {
    await fanOut.close();
    throw error;
  }
}
