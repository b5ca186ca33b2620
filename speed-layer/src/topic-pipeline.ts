/**
 * The speed layer's work on one source topic. Each micro-batch, every partition's folder (in this
 * thread or a worker) reads what the log acknowledged, folds valid records into the open slice of every
 * view and proposes slice writes; this thread then dead-letters invalid records, writes the slices, tells
 * the folders their writes landed, and only then commits the consumer offsets.
 *
 * Each view keeps its own position per partition: the end of its last slice. A crash between two views'
 * writes leaves them at different positions; the folder skips, per view, what the view already has, so
 * nothing is counted twice.
 */
import { ensureTopic, type Catalog, type CompiledSource, type CompiledView, type EventLog, type Logger, type ViewStore } from '@lambda/common';
import { DeadLetterWriter } from './dead-letter-writer.js';
import type { FoldExecutor } from './folder-host.js';
import type { RestoredSlice } from './partition-folder.js';

export interface PipelineOptions {
  consumerGroup: string;
  logger: Logger;
  /**
   * This instance's place in a speed layer split over several processes: member `index` of `of` folds
   * the partitions p with p mod `of` = `index`. Slices are per partition, so members never write the
   * same rows. Default: one member folding every partition.
   */
  member?: { index: number; of: number };
}

export interface PipelineBatchStats {
  records: number;
  deadLettered: number;
  slicesWritten: number;
  slicesCut: number;
  backlog: boolean;
}

export class TopicPipeline {
  /** The partitions this instance folds, ascending: all of them unless the group is split (see `PipelineOptions.member`). */
  private readonly owned: number[];
  /** Per owned partition: per view, the settled end of its open slice. */
  private ends: Record<string, number>[] = [];
  private needsRecovery = false;
  /** Per partition: the group's committed offset as the log holds it (undefined if never committed). */
  private committed: (number | undefined)[] = [];

  private constructor(
    readonly source: CompiledSource,
    readonly views: CompiledView[],
    readonly partitions: number,
    private readonly log: EventLog,
    private readonly store: ViewStore,
    private readonly deadLetters: DeadLetterWriter,
    private readonly executor: FoldExecutor,
    private readonly options: PipelineOptions,
  ) {
    const { index, of } = options.member ?? { index: 0, of: 1 };
    this.owned = Array.from({ length: partitions }, (_, partition) => partition).filter((partition) => partition % of === index);
  }

  static async open(
    source: CompiledSource,
    catalog: Catalog,
    log: EventLog,
    store: ViewStore,
    executor: FoldExecutor,
    options: PipelineOptions & { defaultPartitions: number },
  ): Promise<TopicPipeline> {
    const topic = source.topic;
    const { partitions, created } = await ensureTopic(log, topic, { partitions: options.defaultPartitions });
    if (created) options.logger.info({ topic, partitions }, 'created source topic');
    const deadLetters = await DeadLetterWriter.open(log, topic, partitions);
    const pipeline = new TopicPipeline(source, catalog.viewsOf(topic), partitions, log, store, deadLetters, executor, options);
    await pipeline.recover();
    return pipeline;
  }

  /**
   * Per partition, the end of the view's open slice: every record below it is in the view's slices.
   * Partitions another member of the group folds read 0.
   */
  positions(view: string): number[] {
    return Array.from({ length: this.partitions }, (_, partition) => this.ends[partition]?.[view] ?? 0);
  }

  /**
   * Restores every folder from the store: a view's last slice if still open (with its rows), else a new
   * slice at its end, or at the batch view's horizon when a clean-up removed every slice below it.
   */
  private async recover(): Promise<void> {
    const now = Date.now();
    const restored: RestoredSlice[][] = Array.from({ length: this.partitions }, () => []);
    for (const view of this.views) {
      const stored = await this.store.listSlices(view.name);
      const horizon = (await this.store.readManifest(view.name))?.horizon ?? [];
      for (const partition of this.owned) {
        const last = stored.filter((slice) => slice.partition === partition).at(-1);
        if (last && !last.closed) {
          const read = await this.store.readSlice(last);
          if (read) {
            const { start, end, newestRecordAt } = read.slice;
            restored[partition]!.push({ view: view.name, start, end, newestRecordAt, rows: read.rows });
            continue;
          }
        }
        const start = Math.max(last?.end ?? 0, horizon[partition] ?? 0);
        restored[partition]!.push({ view: view.name, start, end: start, newestRecordAt: null, rows: [] });
      }
    }
    await Promise.all(this.owned.map((partition) => this.executor.restore(this.source.topic, partition, restored[partition]!, now)));
    this.ends = [];
    for (const partition of this.owned) this.ends[partition] = Object.fromEntries(restored[partition]!.map((slice) => [slice.view, slice.end]));
    const committed = await this.log.committedOffsets(this.options.consumerGroup, this.source.topic);
    this.committed = Array.from({ length: this.partitions }, (_, partition) => committed.get(partition));
    this.needsRecovery = false;
  }

  /** Tells the folders how far the log is acknowledged, so they fold ahead of the next micro-batch. */
  async hint(): Promise<void> {
    if (this.needsRecovery) return;
    const ends = await this.log.endOffsets(this.source.topic);
    for (const partition of this.owned) this.executor.hint(this.source.topic, partition, ends[partition]!);
  }

  /** Makes the next micro-batch restore every folder from the store first. */
  invalidate(): void {
    this.needsRecovery = true;
  }

  async runMicroBatch(now = Date.now()): Promise<PipelineBatchStats> {
    if (this.needsRecovery) {
      // Dead letters queued by the failed batch will be queued again when it is re-read.
      await this.deadLetters.reload();
      await this.recover();
    }
    try {
      return await this.process(now);
    } catch (error) {
      // The folders may be ahead of the store now: restore them from it before the next batch.
      this.needsRecovery = true;
      throw error;
    }
  }

  private async process(now: number): Promise<PipelineBatchStats> {
    const topic = this.source.topic;
    const upTo = await this.log.endOffsets(topic);
    // Every fold settles before a failure is raised, so none is still running when recovery restores.
    const results = await settleAll(this.owned.map((partition) => this.executor.fold(topic, partition, upTo[partition]!, now)));

    const stats: PipelineBatchStats = { records: 0, deadLettered: 0, slicesWritten: 0, slicesCut: 0, backlog: false };
    for (const result of results) {
      stats.records += result.records;
      if (result.nextOffset !== null && result.nextOffset < upTo[result.partition]!) stats.backlog = true;
      for (const invalid of result.invalid) this.deadLetters.add({ ...invalid, topic, partition: result.partition }, invalid.reason);
    }
    stats.deadLettered = await this.deadLetters.flush();

    // Likewise every write: one landing after the recovery read could leave rows ahead of their slice's
    // end. Each write that landed moves its view's position at once, even if another failed.
    const writes = results.flatMap((result) => result.writes);
    await settleAll(
      writes.map(async ({ slice, rows }) => {
        await this.store.putSlice(slice, rows);
        this.ends[slice.partition]![slice.view] = slice.end;
        stats.slicesWritten++;
        if (slice.closed) stats.slicesCut++;
      }),
    );
    await settleAll(results.map((result) => this.executor.settle(topic, result.partition, now)));

    // Only now that every slice fed by these records is durable does the group's position move.
    const committed = new Map<number, number>();
    for (const partition of this.owned) {
      const position = Math.min(...this.views.map((view) => this.ends[partition]![view.name]!));
      // Also where no record was read: slices a failed batch (or a previous process) made durable
      // without committing, or a batch view's horizon, put the position ahead of the committed offset.
      if (position === (this.committed[partition] ?? 0)) continue;
      committed.set(partition, position);
    }
    if (committed.size > 0) {
      await this.log.commitOffsets(this.options.consumerGroup, topic, committed);
      for (const [partition, offset] of committed) this.committed[partition] = offset;
    }
    return stats;
  }
}

/** Like Promise.all, but rejects only once every promise has settled. */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const outcomes = await Promise.allSettled(promises);
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<T>).value);
}
