/**
 * The speed layer's work on one source topic: each micro-batch reads every partition once, decodes each
 * record once (invalid ones go to the dead-letter topic), folds valid ones into the open slice of every
 * view of the topic, writes the changed rows of each slice with its new end, and only then commits the
 * consumer offsets.
 *
 * Each view keeps its own position per partition: the end of its last slice. A crash between two views'
 * writes leaves them at different positions; on restart the records below a view's position are skipped
 * for that view, so nothing is counted twice.
 */
import type { Catalog, CompiledSource, CompiledView, EventLog, Logger, ViewStore } from '@lambda/common';
import { DeadLetterWriter } from './dead-letter-writer.js';
import { OpenSlice } from './open-slice.js';
import { shouldCut, type SlicePolicy } from './slice-policy.js';

export interface PipelineOptions {
  consumerGroup: string;
  maxRecordsPerPartition: number;
  slicePolicy: SlicePolicy;
  logger: Logger;
}

export interface PipelineBatchStats {
  records: number;
  deadLettered: number;
  slicesWritten: number;
  slicesCut: number;
  backlog: boolean;
}

export class TopicPipeline {
  /** Per view name: per partition, the open slice. */
  private slices = new Map<string, OpenSlice[]>();
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
    private readonly options: PipelineOptions,
  ) {}

  static async open(
    source: CompiledSource,
    catalog: Catalog,
    log: EventLog,
    store: ViewStore,
    options: PipelineOptions & { defaultPartitions: number },
  ): Promise<TopicPipeline> {
    const topic = source.topic;
    if (!(await log.listTopics()).some((t) => t.name === topic)) {
      await log.createTopic(topic, { partitions: options.defaultPartitions });
      options.logger.info({ topic, partitions: options.defaultPartitions }, 'created source topic');
    }
    const { partitions } = await log.describeTopic(topic);
    const deadLetters = await DeadLetterWriter.open(log, topic, partitions);
    const pipeline = new TopicPipeline(source, catalog.viewsOf(topic), partitions, log, store, deadLetters, options);
    await pipeline.recover();
    return pipeline;
  }

  /** Per partition, the end of the view's open slice: every record below it is in the view's slices. */
  positions(view: string): number[] {
    return (this.slices.get(view) ?? []).map((slice) => slice.end);
  }

  /** Rebuilds every open slice from the store: the last slice if still open, else a new one at its end. */
  private async recover(): Promise<void> {
    const now = Date.now();
    const slices = new Map<string, OpenSlice[]>();
    for (const view of this.views) {
      const stored = await this.store.listSlices(view.name);
      const horizon = (await this.store.readManifest(view.name))?.horizon ?? [];
      const open: OpenSlice[] = [];
      for (let partition = 0; partition < this.partitions; partition++) {
        const last = stored.filter((slice) => slice.partition === partition).at(-1);
        if (last && !last.closed) {
          const read = await this.store.readSlice(last);
          if (read) {
            open.push(OpenSlice.restore(view, read.slice, read.rows, now));
            continue;
          }
        }
        // A batch view may have covered (and its cleanup deleted) every slice: start at its horizon.
        const start = Math.max(last?.end ?? 0, horizon[partition] ?? 0);
        open.push(new OpenSlice(view, partition, start, start, null, now));
      }
      slices.set(view.name, open);
    }
    this.slices = slices;
    const committed = await this.log.committedOffsets(this.options.consumerGroup, this.source.topic);
    this.committed = Array.from({ length: this.partitions }, (_, partition) => committed.get(partition));
    this.needsRecovery = false;
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
      // In-memory slices may be ahead of the store now: rebuild them from it before the next batch.
      this.needsRecovery = true;
      throw error;
    }
  }

  private async process(now: number): Promise<PipelineBatchStats> {
    const topic = this.source.topic;
    const stats: PipelineBatchStats = { records: 0, deadLettered: 0, slicesWritten: 0, slicesCut: 0, backlog: false };
    const advancedTo: (number | undefined)[] = [];

    for (let partition = 0; partition < this.partitions; partition++) {
      const open = this.views.map((view) => this.slices.get(view.name)![partition]!);
      const from = Math.min(...open.map((slice) => slice.end));
      const page = await this.log.read(topic, partition, from, { maxRecords: this.options.maxRecordsPerPartition, maxBytes: 16 * 1024 * 1024 });
      if (page.records.length === 0) continue;
      if (page.nextOffset < page.endOffset) stats.backlog = true;
      for (const record of page.records) {
        const decoded = this.source.decode(record);
        if (!decoded.ok) {
          this.deadLetters.add(record, decoded.reason);
          continue;
        }
        for (const slice of open) {
          if (record.offset < slice.end) continue; // already in this view's slices (see recovery)
          slice.saw(record.timestamp);
          const evaluation = slice.view.evaluate(decoded.row);
          if (evaluation) slice.add(evaluation);
        }
      }
      stats.records += page.records.length;
      advancedTo[partition] = page.nextOffset;
    }

    stats.deadLettered = await this.deadLetters.flush();

    // A slice's new end (and its cut) takes effect in memory only once its write is durable, so
    // positions() never reports more than the store holds. Every write settles before a failure is
    // raised: a write landing after the recovery read could otherwise leave rows ahead of their slice's end.
    const writes: Promise<void>[] = [];
    for (const view of this.views) {
      const open = this.slices.get(view.name)!;
      for (let partition = 0; partition < this.partitions; partition++) {
        const slice = open[partition]!;
        const to = advancedTo[partition];
        const advanced = to !== undefined && to > slice.end;
        const end = advanced ? to : slice.end;
        const microBatches = slice.microBatches + (advanced ? 1 : 0);
        const cut = shouldCut(this.options.slicePolicy, { microBatches, openedAt: slice.openedAt, isEmpty: end === slice.start }, now);
        if (!advanced && !cut) continue;
        const write = this.store.putSlice({ ...slice.toSlice(cut), end }, slice.takeDirtyRows()).then(() => {
          slice.end = end;
          slice.microBatches = microBatches;
          if (cut) open[partition] = new OpenSlice(view, partition, end, end, null, now);
        });
        writes.push(write);
        stats.slicesWritten++;
        if (cut) stats.slicesCut++;
      }
    }
    const failed = (await Promise.allSettled(writes)).find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;

    // Only now that every slice fed by these records is durable does the group's position move.
    const committed = new Map<number, number>();
    for (let partition = 0; partition < this.partitions; partition++) {
      const position = Math.min(...this.views.map((view) => this.slices.get(view.name)![partition]!.end));
      // Also where no record was read: slices a failed batch (or a previous process) made durable
      // without committing, or a batch view's horizon, put the position ahead of the committed offset.
      if (advancedTo[partition] === undefined && position === (this.committed[partition] ?? 0)) continue;
      committed.set(partition, position);
    }
    if (committed.size > 0) {
      await this.log.commitOffsets(this.options.consumerGroup, topic, committed);
      for (const [partition, offset] of committed) this.committed[partition] = offset;
    }
    return stats;
  }
}
