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
    this.needsRecovery = false;
  }

  async runMicroBatch(now = Date.now()): Promise<PipelineBatchStats> {
    if (this.needsRecovery) await this.recover();
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

    const writes: Promise<void>[] = [];
    for (const view of this.views) {
      const open = this.slices.get(view.name)!;
      for (let partition = 0; partition < this.partitions; partition++) {
        const slice = open[partition]!;
        const to = advancedTo[partition];
        const advanced = to !== undefined && to > slice.end;
        if (advanced) {
          slice.end = to;
          slice.microBatches++;
        }
        const cut = shouldCut(this.options.slicePolicy, slice, now);
        if (!advanced && !cut) continue;
        writes.push(this.store.putSlice(slice.toSlice(cut), slice.takeDirtyRows()));
        stats.slicesWritten++;
        if (cut) {
          stats.slicesCut++;
          open[partition] = new OpenSlice(view, partition, slice.end, slice.end, null, now);
        }
      }
    }
    await Promise.all(writes);

    // Only now that every slice fed by these records is durable does the group's position move.
    const committed = new Map<number, number>();
    for (let partition = 0; partition < this.partitions; partition++) {
      if (advancedTo[partition] === undefined) continue;
      committed.set(partition, Math.min(...this.views.map((view) => this.slices.get(view.name)![partition]!.end)));
    }
    if (committed.size > 0) await this.log.commitOffsets(this.options.consumerGroup, topic, committed);
    return stats;
  }
}
