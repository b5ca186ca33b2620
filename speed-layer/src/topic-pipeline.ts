/**
 * The speed layer's work on one source topic. Each micro-batch, every partition's folder (in this
 * thread or a worker) reads what the log acknowledged, folds valid records into the open slice of every
 * view and proposes slice writes; this thread then dead-letters invalid records, writes the slices, tells
 * the folders their writes landed, and only then commits the consumer offsets.
 *
 * Each view keeps its own position per partition: the end of its last slice. A crash between two views'
 * writes leaves them at different positions; the folder skips, per view, what the view already has, so
 * nothing is counted twice.
 *
 * No record can stall a view: when a partition fails twice in a row with an error no retry cures, the
 * pipeline narrows the failing range down by halves to the one record that fails it, and quarantines that
 * record for the views that failed on it (see `Quarantine`); the batch layer leaves it out of them too.
 */
import {
  ensureTopic,
  isRetriable,
  Quarantine,
  type Catalog,
  type CompiledSource,
  type CompiledView,
  type EventLog,
  type Logger,
  type QuarantineEntry,
  type TopicPipelineHealth,
  type ViewStore,
} from '@lambda/core';
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
  /** Records quarantined by this micro-batch. */
  quarantined: number;
  /**
   * The micro-batch failed, but the failure narrowed down where: the next one goes on at once, with
   * fewer records of the failing partition.
   */
  narrowed?: Error;
}

/** Narrowing down a partition's failing range to the record that fails it. */
interface Isolation {
  /** The end of the range that failed: past it, micro-batches read as usual again. */
  target: number;
  /** Records the next micro-batch reads from the partition. */
  step: number;
  /** Failures in a row of the single record at the position. */
  failuresOfRecord: number;
}

/** Failures in a row of one partition before the pipeline looks for the record that fails it. */
const FAILURES_BEFORE_ISOLATION = 2;
/** Failures in a row of one single record before it is quarantined. */
const FAILURES_BEFORE_QUARANTINE = 3;

export class TopicPipeline {
  /** The partitions this instance folds, ascending: all of them unless the group is split (see `PipelineOptions.member`). */
  private readonly owned: number[];
  /** Per owned partition: per view, the settled end of its open slice. */
  private ends: Record<string, number>[] = [];
  private needsRecovery = false;
  /** Per partition: the group's committed offset as the log holds it (undefined if never committed). */
  private committed: (number | undefined)[] = [];
  private quarantine = new Quarantine();
  /** Per partition: micro-batches that failed in it in a row, with an error no retry cures. */
  private readonly failuresInARow = new Map<number, number>();
  private readonly isolations = new Map<number, Isolation>();
  /** Per partition, what the failing micro-batch failed in: every view, or the views whose writes failed. */
  private failedIn = new Map<number, Set<string> | 'all'>();
  private readonly state: TopicPipelineHealth;

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
    this.state = { topic: source.topic, state: 'ok', consecutiveFailures: 0, lastError: null, lastErrorAt: null, lastSuccessAt: null, quarantined: 0 };
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
    this.quarantine = await Quarantine.load(this.log, this.source.topic);
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
            restored[partition]!.push({ view: view.name, start, end, newestRecordAt, rows: read.rows, quarantined: this.quarantinedFrom(view, partition, end) });
            continue;
          }
        }
        const start = Math.max(last?.end ?? 0, horizon[partition] ?? 0);
        restored[partition]!.push({ view: view.name, start, end: start, newestRecordAt: null, rows: [], quarantined: this.quarantinedFrom(view, partition, start) });
      }
    }
    await Promise.all(this.owned.map((partition) => this.executor.restore(this.source.topic, partition, restored[partition]!, now)));
    this.ends = [];
    for (const partition of this.owned) this.ends[partition] = Object.fromEntries(restored[partition]!.map((slice) => [slice.view, slice.end]));
    const committed = await this.log.committedOffsets(this.options.consumerGroup, this.source.topic);
    this.committed = Array.from({ length: this.partitions }, (_, partition) => committed.get(partition));
    this.needsRecovery = false;
  }

  private quarantinedFrom(view: CompiledView, partition: number, from: number): number[] {
    return this.quarantine.offsets(view.name, partition).filter((offset) => offset >= from);
  }

  /**
   * Tells the folders how far the log is acknowledged, so they fold ahead of the next micro-batch; not
   * those of a partition being narrowed down, which must read no more than its step.
   */
  async hint(): Promise<void> {
    if (this.needsRecovery) return;
    const ends = await this.log.endOffsets(this.source.topic);
    for (const partition of this.owned) if (!this.isolations.has(partition)) this.executor.hint(this.source.topic, partition, ends[partition]!);
  }

  /** How its micro-batches fare, for `/health`. */
  health(): TopicPipelineHealth {
    return { ...this.state };
  }

  /** Per partition, the least position among the views: where the folder reads from after a restore. */
  private position(partition: number): number {
    return Math.min(...this.views.map((view) => this.ends[partition]?.[view.name] ?? 0));
  }

  /** Makes the next micro-batch restore every folder from the store first. */
  invalidate(): void {
    this.needsRecovery = true;
  }

  async runMicroBatch(now = Date.now()): Promise<PipelineBatchStats> {
    let upTo: number[] = [];
    const from: number[] = [];
    try {
      if (this.needsRecovery) {
        // Dead letters queued by the failed batch will be queued again when it is re-read.
        await this.deadLetters.reload();
        await this.recover();
      }
      upTo = await this.log.endOffsets(this.source.topic);
      for (const partition of this.owned) {
        from[partition] = this.position(partition);
        const isolation = this.isolations.get(partition);
        if (isolation) upTo[partition] = Math.min(upTo[partition]!, from[partition] + isolation.step);
      }
      this.failedIn = new Map();
      const stats = await this.process(now, upTo);
      this.succeeded(now);
      if (this.isolations.size > 0) stats.backlog = true;
      return stats;
    } catch (error) {
      // The folders may be ahead of the store now: restore them from it before the next batch.
      this.needsRecovery = true;
      const quarantined = await this.failed(error as Error, from, upTo, now);
      if (quarantined === undefined) throw error;
      return { records: 0, deadLettered: 0, slicesWritten: 0, slicesCut: 0, backlog: true, quarantined, narrowed: error as Error };
    }
  }

  private succeeded(now: number): void {
    this.failuresInARow.clear();
    for (const [partition, isolation] of this.isolations) {
      isolation.failuresOfRecord = 0;
      if (this.position(partition) >= isolation.target) {
        this.isolations.delete(partition);
        this.options.logger.info({ topic: this.source.topic, partition, position: this.position(partition) }, 'passed the range that failed: reading as usual again');
      } else {
        isolation.step *= 2; // past the failing record, the rest of the range goes quickly again
      }
    }
    Object.assign(this.state, { state: this.isolations.size > 0 ? 'isolating' : 'ok', consecutiveFailures: 0, lastSuccessAt: now });
  }

  /**
   * Records a failure, and narrows it down where no retry can cure it. Returns how many records it
   * quarantined when the failure narrowed down where it lies (the next micro-batch goes on at once);
   * undefined when the micro-batch is to be retried after a backoff.
   */
  private async failed(error: Error, from: number[], upTo: number[], now: number): Promise<number | undefined> {
    const narrowed = isRetriable(error) ? false : await this.narrowDown(error, from, upTo);
    Object.assign(this.state, {
      consecutiveFailures: this.state.consecutiveFailures + 1,
      lastError: error.message,
      lastErrorAt: now,
      state: this.isolations.size > 0 ? 'isolating' : 'retrying',
    });
    return narrowed === false ? undefined : narrowed.quarantined;
  }

  /**
   * Per partition the micro-batch failed in: counts the failure, starts or narrows the search for the
   * failing record, or quarantines it. False when nothing narrowed (the batch is retried after a backoff).
   */
  private async narrowDown(error: Error, from: number[], upTo: number[]): Promise<{ quarantined: number } | false> {
    let narrowed = false;
    let quarantined = 0;
    for (const [partition, views] of this.failedIn) {
      const start = from[partition];
      const end = upTo[partition];
      if (start === undefined || end === undefined || end <= start) continue; // no record read: not a record's fault
      const isolation = this.isolations.get(partition);
      if (!isolation) {
        const failures = (this.failuresInARow.get(partition) ?? 0) + 1;
        this.failuresInARow.set(partition, failures);
        if (failures < FAILURES_BEFORE_ISOLATION) continue;
        this.isolations.set(partition, { target: end, step: Math.max(1, Math.floor((end - start) / 2)), failuresOfRecord: 0 });
        this.options.logger.warn({ topic: this.source.topic, partition, from: start, to: end }, 'a micro-batch keeps failing: looking for the record that fails it');
        narrowed = true;
      } else if (isolation.step > 1) {
        isolation.step = Math.ceil(isolation.step / 2);
        narrowed = true;
      } else if (++isolation.failuresOfRecord >= FAILURES_BEFORE_QUARANTINE) {
        if (await this.quarantineRecord(partition, start, views, error)) quarantined++;
        isolation.failuresOfRecord = 0;
        narrowed = true;
      }
    }
    return narrowed && { quarantined };
  }

  /**
   * Takes the record at `offset` out of the views that failed on it: dead-letters it with the error,
   * then records the quarantine, which the folders and the batch layer read.
   */
  private async quarantineRecord(partition: number, offset: number, failedViews: Set<string> | 'all', error: Error): Promise<boolean> {
    const topic = this.source.topic;
    const behind = this.views.filter((view) => (this.ends[partition]?.[view.name] ?? 0) <= offset).map((view) => view.name);
    const views = failedViews === 'all' ? behind : behind.filter((view) => failedViews.has(view));
    const [record] = (await this.log.read(topic, partition, offset, { maxRecords: 1 })).records;
    if (!record || record.offset !== offset || views.length === 0) return false;
    // Dead letter first: a crash before the quarantine entry finds the record failing again and quarantines it then.
    await this.deadLetters.quarantine(record, `quarantined from ${views.map((view) => `view "${view}"`).join(', ')}: ${error.message}`);
    const at = Date.now();
    const entries: QuarantineEntry[] = views.map((view) => ({ view, partition, offset, reason: error.message, at }));
    await Quarantine.append(this.log, topic, this.partitions, entries);
    this.quarantine = new Quarantine([...this.quarantine.entries, ...entries]);
    this.state.quarantined++;
    this.options.logger.warn({ topic, partition, offset, views, reason: error.message }, 'quarantined a record its views cannot take');
    return true;
  }

  private async process(now: number, upTo: number[]): Promise<PipelineBatchStats> {
    const topic = this.source.topic;
    // Every fold settles before a failure is raised, so none is still running when recovery restores.
    const results = await settleAll(
      this.owned.map((partition) =>
        this.executor.fold(topic, partition, upTo[partition]!, now).catch((error: unknown) => {
          this.failedIn.set(partition, 'all');
          throw error;
        }),
      ),
    );

    const stats: PipelineBatchStats = { records: 0, deadLettered: 0, slicesWritten: 0, slicesCut: 0, backlog: false, quarantined: 0 };
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
        await this.store.putSlice(slice, rows).catch((error: unknown) => {
          const failed = this.failedIn.get(slice.partition);
          if (failed !== 'all') this.failedIn.set(slice.partition, (failed ?? new Set()).add(slice.view));
          throw error;
        });
        this.ends[slice.partition]![slice.view] = slice.end;
        stats.slicesWritten++;
        if (slice.closed) stats.slicesCut++;
      }),
    );
    await settleAll(results.map((result) => this.executor.settle(topic, result.partition)));

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
