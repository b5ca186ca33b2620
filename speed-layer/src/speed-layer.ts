/**
 * The speed layer: consumes every source topic that feeds a view, one micro-batch every
 * `batchIntervalMs`, and keeps each view's real-time state as slices in the view store.
 */
import {
  Catalog,
  InvalidArgumentError,
  MicroBatchLoop,
  readViewGeneration,
  silentLogger,
  type MicroBatchResult,
  type EventLog,
  type Logger,
  type Metrics,
  type SpeedLayerHealth,
  type ViewStore,
} from '@lambda/core';
import { FolderHost, STEP_BYTES, type FoldExecutor, type RecordReader } from './folder-host.js';
import { DEFAULT_SLICE_POLICY, type SlicePolicy } from './slice-policy.js';
import { TopicPipeline } from './topic-pipeline.js';
import { WorkerExecutor } from './worker-executor.js';

export interface SpeedLayerOptions {
  eventLog: EventLog;
  viewStore: ViewStore;
  catalog: Catalog;
  logger?: Logger;
  metrics?: Metrics;
  /** Time between micro-batches. Default 1000 ms. */
  batchIntervalMs?: number;
  /** Records read per partition in one micro-batch at most. Default 10 000. */
  maxRecordsPerPartition?: number;
  /** When open slices are cut. Default: after 10 micro-batches with records, or 60 s. */
  slicePolicy?: Partial<SlicePolicy>;
  /** The consumer group whose offsets the speed layer commits. Default `speed-layer`. */
  consumerGroup?: string;
  /**
   * This process's place when the speed layer runs as several processes: member `index` (from 0) of
   * `of` folds the partitions p with p mod `of` = `index`, and commits only their offsets. Default: the
   * only member.
   */
  member?: { index: number; of: number };
  /** Partitions of a source topic the speed layer creates because it is missing. Default 4. */
  defaultPartitions?: number;
  /**
   * Worker threads that read and fold partitions in parallel (partition p on worker p mod N); 0 folds
   * in this thread. Needs an event log that can be followed from another thread. Default 0.
   */
  workers?: number;
}

export interface MicroBatchStats extends MicroBatchResult {
  records: number;
  deadLettered: number;
  /** Records taken out of the views that kept failing on them (see `Quarantine`). */
  quarantined: number;
  slicesWritten: number;
  slicesCut: number;
  durationMs: number;
}

/** How often, while the loop runs, folders learn the log's acknowledged end. */
const HINT_INTERVAL_MS = 25;

export class SpeedLayer {
  private readonly loop: MicroBatchLoop;
  private hints: NodeJS.Timeout | undefined;
  private readonly metrics;
  /** The last generation refresh asked for (see `refreshGenerations`). */
  private refreshing: Promise<unknown> = Promise.resolve();

  private constructor(
    private pipelines: TopicPipeline[],
    private executor: FoldExecutor,
    /** Per view (public name): where its serving generation is stored, which the pipelines fold. */
    private storage: ReadonlyMap<string, string>,
    private readonly options: SpeedLayerOptions,
    private readonly logger: Logger,
    metrics: Metrics | undefined,
    batchIntervalMs: number,
  ) {
    this.loop = new MicroBatchLoop(() => this.runMicroBatch(), { intervalMs: batchIntervalMs, logger });
    this.metrics = metrics && {
      records: metrics.counter({ name: 'lambda_speed_records_total', help: 'Records the speed layer read', labelNames: ['topic'] }),
      deadLetters: metrics.counter({ name: 'lambda_speed_dead_letters_total', help: 'Records sent to a dead-letter topic', labelNames: ['topic'] }),
      duration: metrics.histogram({
        name: 'lambda_speed_micro_batch_seconds',
        help: 'Duration of a micro-batch, from reading the log to committing offsets',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      }),
      slicesCut: metrics.counter({ name: 'lambda_speed_slices_cut_total', help: 'Slices the speed layer closed', labelNames: ['topic'] }),
      quarantined: metrics.counter({
        name: 'lambda_speed_quarantined_records_total',
        help: 'Records quarantined: dead-lettered because a view kept failing on them',
        labelNames: ['topic'],
      }),
    };
  }

  /**
   * Opens a pipeline per source topic with views, restoring each view's open slices from the store. Each
   * view runs the logic of its serving generation (see `readViewGeneration`): after a reprocess, the new one.
   */
  static async create(options: SpeedLayerOptions): Promise<SpeedLayer> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'speed-layer' });
    const { catalog, storage } = await resolveGenerations(options.viewStore, options.catalog);
    const { pipelines, executor } = await SpeedLayer.build(options, catalog, logger);
    return new SpeedLayer(pipelines, executor, storage, options, logger, options.metrics, options.batchIntervalMs ?? 1000);
  }

  private static async build(options: SpeedLayerOptions, catalog: Catalog, logger: Logger): Promise<{ pipelines: TopicPipeline[]; executor: FoldExecutor }> {
    const { eventLog } = options;
    const folderOptions = { maxRecordsPerPartition: options.maxRecordsPerPartition ?? 10_000, slicePolicy: { ...DEFAULT_SLICE_POLICY, ...options.slicePolicy } };
    const member = options.member ?? { index: 0, of: 1 };
    if (!Number.isInteger(member.of) || member.of < 1 || !Number.isInteger(member.index) || member.index < 0 || member.index >= member.of) {
      throw new InvalidArgumentError(`speed-layer member ${member.index} of ${member.of} is not a place in the group: it must be a whole number from 0 to ${member.of - 1}`, member);
    }
    const workers = options.workers ?? 0;
    const follower = eventLog.followerDescriptor?.();
    if (workers > 0 && !follower) logger.warn('this event log cannot be followed from worker threads: folding in the main thread');
    const executor: FoldExecutor =
      workers > 0 && follower
        ? await WorkerExecutor.start(workers, catalog, follower, folderOptions, logger)
        : new FolderHost(catalog, readThroughPort(eventLog), folderOptions);
    const pipelineOptions = { consumerGroup: options.consumerGroup ?? 'speed-layer', defaultPartitions: options.defaultPartitions ?? 4, logger, member };
    const pipelines: TopicPipeline[] = [];
    try {
      for (const source of catalog.sources.values()) {
        if (catalog.viewsOf(source.topic).length === 0) continue;
        pipelines.push(await TopicPipeline.open(source, catalog, eventLog, options.viewStore, executor, pipelineOptions));
      }
    } catch (error) {
      await executor.close();
      throw error;
    }
    return { pipelines, executor };
  }

  /**
   * Follows a switch of generations (a reprocess): when a view's serving generation changed, stops the
   * loop after its micro-batch in flight, rebuilds every pipeline with the new logic (restored from the
   * store, where the reprocess left the new generation's slices) and starts again if it ran. Resolves
   * with whether anything changed. Refreshes run one at a time, each reading the generations when its
   * turn comes: two reprocesses switching at once must not let the refresh that read first, and so saw the
   * older generations, install them last (the speed layer would fold a retired generation for good).
   */
  refreshGenerations(): Promise<boolean> {
    const refresh = this.refreshing.then(() => this.refreshNow());
    this.refreshing = refresh.catch(() => undefined);
    return refresh;
  }

  private async refreshNow(): Promise<boolean> {
    const { catalog, storage } = await resolveGenerations(this.options.viewStore, this.options.catalog);
    if ([...storage].every(([view, name]) => this.storage.get(view) === name)) return false;
    const running = this.loop.started;
    await this.stop();
    const built = await SpeedLayer.build(this.options, catalog, this.logger);
    this.pipelines = built.pipelines;
    this.executor = built.executor;
    this.storage = storage;
    this.logger.info({ generations: Object.fromEntries(storage) }, 'now folding the serving generation of every view');
    if (running) this.start();
    return true;
  }

  /**
   * Starts the micro-batch loop, and folding ahead of it: every few milliseconds the folders learn how
   * far the log is acknowledged and fold what arrived, so a micro-batch finds its records already folded
   * and only has to write them. Answers become visible, durable, at micro-batch edges all the same.
   */
  start(): void {
    this.loop.start();
    this.hints ??= setInterval(() => void this.foldAhead().catch(() => undefined), HINT_INTERVAL_MS);
    this.logger.info({ topics: this.pipelines.map((p) => p.source.topic), workers: this.executor instanceof WorkerExecutor ? this.executor.size : 0 }, 'consuming');
  }

  /**
   * Stops the loop once the micro-batch in flight has written its slices and committed, then stops the
   * workers. It can start again, or run on demand: the next micro-batch restores from the store.
   */
  async stop(): Promise<void> {
    clearInterval(this.hints);
    this.hints = undefined;
    await this.loop.stop();
    await this.executor.close();
    for (const pipeline of this.pipelines) pipeline.invalidate();
  }

  /** Tells every folder how far the log is acknowledged now; they fold it in the background. */
  async foldAhead(): Promise<void> {
    await Promise.all(this.pipelines.map((pipeline) => pipeline.hint()));
  }

  /** Runs one micro-batch over every topic now (after any in flight). */
  runOnce(): Promise<MicroBatchStats> {
    return this.loop.runOnce() as Promise<MicroBatchStats>;
  }

  /** Per partition, how far the view's slices reach: every record below is counted. */
  positions(view: string): number[] {
    const stored = this.storage.get(view) ?? view;
    const pipeline = this.pipelines.find((p) => p.views.some((v) => v.name === stored));
    return pipeline ? pipeline.positions(stored) : [];
  }

  /** How each topic's micro-batches fare: failing, narrowing down a failing record, quarantines. */
  health(): SpeedLayerHealth {
    return { topics: this.pipelines.map((pipeline) => pipeline.health()) };
  }

  /**
   * One micro-batch of every topic; a topic that fails does not keep the others from theirs. It rejects
   * (and the loop backs off) when a topic failed in a way that the next attempt does not narrow down.
   */
  private async runMicroBatch(): Promise<MicroBatchStats> {
    const started = performance.now();
    const total: MicroBatchStats = { records: 0, deadLettered: 0, quarantined: 0, slicesWritten: 0, slicesCut: 0, backlog: false, durationMs: 0 };
    let failure: unknown;
    for (const pipeline of this.pipelines) {
      const topic = pipeline.source.topic;
      let stats;
      try {
        stats = await pipeline.runMicroBatch();
      } catch (error) {
        failure ??= error;
        continue;
      }
      if (stats.narrowed) this.logger.warn({ topic, error: stats.narrowed.message }, 'micro-batch failed; narrowing down the record that fails it');
      total.records += stats.records;
      total.deadLettered += stats.deadLettered;
      total.quarantined += stats.quarantined;
      total.slicesWritten += stats.slicesWritten;
      total.slicesCut += stats.slicesCut;
      total.backlog ||= stats.backlog;
      this.metrics?.records.inc({ topic }, stats.records);
      this.metrics?.deadLetters.inc({ topic }, stats.deadLettered + stats.quarantined);
      this.metrics?.quarantined.inc({ topic }, stats.quarantined);
      this.metrics?.slicesCut.inc({ topic }, stats.slicesCut);
    }
    if (failure !== undefined) throw failure;
    total.durationMs = performance.now() - started;
    this.metrics?.duration.observe(total.durationMs / 1000);
    if (total.deadLettered > 0) this.logger.warn({ deadLettered: total.deadLettered }, 'sent invalid records to dead-letter topics');
    return total;
  }
}

/** The catalog with every view compiled as its serving generation, under its storage name. */
async function resolveGenerations(store: ViewStore, catalog: Catalog): Promise<{ catalog: Catalog; storage: Map<string, string> }> {
  const generations = await Promise.all([...catalog.views.keys()].map((view) => readViewGeneration(store, catalog, view)));
  if (generations.every((generation) => generation.generation === 1)) {
    return { catalog, storage: new Map(generations.map((generation) => [generation.view, generation.storage])) };
  }
  return {
    catalog: Catalog.compile({
      sources: [...catalog.sources.values()].map((source) => source.definition),
      views: generations.map((generation) => generation.compiled.definition),
      limits: catalog.limits,
    }),
    storage: new Map(generations.map((generation) => [generation.view, generation.storage])),
  };
}

/** Reads through the event-log port (in this thread) in pages of one read each, small enough that their records die young. */
export function readThroughPort(log: EventLog): RecordReader {
  return async (topic, partition, from, upTo, limits, visit) => {
    let count = 0;
    for (let offset = from; offset < upTo && count < limits.maxRecords; ) {
      const page = await log.read(topic, partition, offset, { maxRecords: limits.maxRecords - count, maxBytes: Math.min(STEP_BYTES, limits.maxBytes) });
      for (const record of page.records) {
        if (record.offset >= upTo) return count;
        visit(record);
        count++;
      }
      if (page.records.length === 0) break;
      offset = page.nextOffset;
    }
    return count;
  };
}
