/**
 * The batch layer service: one scheduler job per view, `recompute:<view>`, repeated every
 * `recomputeEveryMs` (or on a cron) and runnable on demand, each reporting its progress to the scheduler.
 * Covered slices and superseded versions are cleaned up a grace period after each publish.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
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
  type ViewStore,
} from '@lambda/common';
import { Archiver } from './archiver.js';
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
    const recomputer = new Recomputer({ viewStore: options.viewStore, lake: options.lake, engine, archiver, catalog: options.catalog, logger });
    const layer = new BatchLayer(recomputer, archiver, engine, options, logger);
    for (const view of options.catalog.views.keys()) {
      const name = recomputeJobName(view);
      await options.scheduler.register(name, async (context): Promise<JsonObject> => {
        const manifest = await layer.recompute(view, (progress) => void context.reportProgress(progress));
        if (!manifest) return { upToDate: true };
        return { version: manifest.version, horizon: manifest.horizon, ...manifest.stats };
      });
      const repeat = options.repeat === undefined ? { everyMs: 60_000 } : options.repeat;
      if (repeat) await options.scheduler.setRepeat(name, repeat);
    }
    return layer;
  }

  /** Recomputes a view now, in this call (the scheduler's job does the same on its schedule). */
  async recompute(view: string, onProgress: (progress: RecomputeProgress) => void = () => undefined): Promise<BatchManifest | undefined> {
    const started = performance.now();
    const manifest = await this.recomputer.run(view, onProgress);
    if (manifest) {
      this.metrics?.duration.observe({ view }, (performance.now() - started) / 1000);
      this.metrics?.version.set({ view }, manifest.version);
      this.metrics?.rows.set({ view }, Number(manifest.stats?.rows ?? 0));
      this.scheduleCleanUp(view);
    }
    return manifest;
  }

  /** Asks the scheduler for a recompute of `view` now (deduplicated with one already waiting). */
  trigger(view: string): Promise<JobRun> {
    return this.options.scheduler.trigger(recomputeJobName(view));
  }

  private scheduleCleanUp(view: string): void {
    const timer = setTimeout(() => {
      this.cleanups.delete(timer);
      this.recomputer
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
    const { scheduler, catalog } = this.options;
    for (const view of catalog.views.keys()) {
      const name = recomputeJobName(view);
      await scheduler.removeRepeat(name).catch(() => undefined);
      const status = await scheduler.status(name).catch(() => undefined);
      for (const run of [status?.running, status?.waiting]) if (run) await scheduler.waitForRun(run.id).catch(() => undefined);
    }
    this.engine.close();
  }
}
