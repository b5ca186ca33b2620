/**
 * A running structured query: micro-batches on the platform's one loop (`MicroBatchLoop`), each one
 * poll of the source, decoded as the views decode records, folded by the view machinery, written to
 * the sink, and committed to the checkpoint (see query-checkpoint.ts for why nothing is lost or
 * repeated). Batches never overlap; `stop()` lets the batch in flight finish and commit.
 *
 * Over 400 lines because a query's lifecycle (start, batch, progress, stop, failure) is one state machine,
 * clearer in one place than spread over files.
 */
import type { Counter, Gauge } from 'prom-client';
import {
  type JsonValue,
  type Logger,
  type Metrics,
  EVENT_TIME,
  type SourceRow,
  type Value,
  MicroBatchLoop,
  type MicroBatchResult,
} from '@lambda/core';
import type { SourceBatch, StreamSource } from '../sources/stream-source.js';
import { AggregationState, type StateRow } from './aggregation-state.js';
import { compareValuesForSort } from './sort-rows.js';
import type { CompiledAggregation, CompiledQuery } from './compiled-query.js';
import { InputDecoder } from './input-decoder.js';
import { WINDOW_END, WINDOW_START } from './logical-plan.js';
import { QueryCheckpoint, type PendingBatch, type QueryTotals } from './query-checkpoint.js';
import type { OutputRow } from './row-pipeline.js';
import type { OutputMode, StructuredSink } from './sinks/structured-sink.js';
import { ViewSink } from './sinks/view-sink.js';
import type { Trigger } from './trigger.js';

/** What one batch did, like Spark's `StreamingQueryProgress`. */
export interface QueryProgress {
  id: string;
  name: string | null;
  batchId: number;
  /** When the batch started, ISO-8601. */
  timestamp: string;
  numInputRows: number;
  /** Records the decoder refused (not JSON, a field of the wrong type...). */
  invalidInputRows: number;
  numOutputRows: number;
  durationMs: number;
  /** The watermark after the batch (ISO-8601), when the query has one. */
  watermark: string | null;
  stateOperator: { numRowsTotal: number; numRowsUpdated: number; numRowsRemoved: number; numRowsDroppedByWatermark: number } | null;
  source: { description: string; endPosition: JsonValue };
  sink: { description: string };
}

export interface QueryStatus {
  isActive: boolean;
  isTriggerActive: boolean;
  message: string;
  /** Since the query's checkpoint began. */
  totals: QueryTotals;
}

export interface StreamingQueryConfig {
  query: CompiledQuery;
  outputMode: OutputMode;
  sink: StructuredSink;
  trigger: Trigger;
  name: string | undefined;
  checkpointLocation: string | undefined;
  logger: Logger;
  metrics: Metrics | undefined;
  /** Arrival time of input without event time. */
  now: () => number;
  fsync: boolean;
  signature: string;
}

const RECENT_PROGRESS = 100;

export class StreamingQuery {
  private readonly source: StreamSource<unknown>;
  private readonly decoder: InputDecoder;
  private readonly state: AggregationState | undefined;
  private readonly logger: Logger;
  private checkpoint!: QueryCheckpoint;
  private nextBatchId = 0;
  /** The source position of the last committed batch: a batch without data commits it again. */
  private position: JsonValue = null;
  private totals: QueryTotals = { inputRows: 0, outputRows: 0, rowsDroppedByWatermark: 0, invalidRows: 0 };
  private loop: MicroBatchLoop | undefined;
  private finite: Promise<void> | undefined;
  private stopping = false;
  private active = true;
  private triggerActive = false;
  private message = 'Initializing';
  private failure: unknown;
  private readonly progress: QueryProgress[] = [];
  private readonly terminated: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: unknown) => void };
  private readonly counters:
    | { input: Counter<'query'>; dropped: Counter<'query'>; batches: Counter<'query'>; stateRows: Gauge<'query'> }
    | undefined;

  private constructor(private readonly config: StreamingQueryConfig) {
    this.source = config.query.plan.input.source;
    this.decoder = new InputDecoder(config.query.plan.input);
    this.logger = config.logger.child({ ns: 'structured-query', query: config.name });
    const aggregation = config.query.aggregation;
    if (aggregation && !(config.sink instanceof ViewSink)) {
      this.state = new AggregationState(aggregation.view, {
        windowSizeMs: aggregation.window?.sizeMs ?? 0,
        watermarkDelayMs: config.query.plan.watermark?.delayMs,
        evictClosed: config.outputMode !== 'complete',
      });
    }
    this.terminated = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.terminated.catch(() => undefined); // reported through awaitTermination and `exception`
    if (config.metrics) {
      const labelNames = ['query'] as const;
      this.counters = {
        input: config.metrics.counter({ name: 'lambda_structured_input_rows_total', help: 'Rows read by structured queries', labelNames }),
        dropped: config.metrics.counter({
          name: 'lambda_structured_rows_dropped_by_watermark_total',
          help: 'Late rows a structured query dropped because their windows were past the watermark',
          labelNames,
        }),
        batches: config.metrics.counter({ name: 'lambda_structured_batches_total', help: 'Micro-batches committed by structured queries', labelNames }),
        stateRows: config.metrics.gauge({ name: 'lambda_structured_state_rows', help: 'Aggregation rows a structured query keeps', labelNames }),
      };
    }
  }

  /** Opens the checkpoint, hands any batch left uncommitted to the sink again, opens the source, runs. */
  static async launch(config: StreamingQueryConfig): Promise<StreamingQuery> {
    const query = new StreamingQuery(config);
    await query.recover();
    query.run();
    return query;
  }

  get id(): string {
    return this.checkpoint.metadata.id;
  }

  get name(): string | undefined {
    return this.config.name;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** The last batch's progress, or undefined before the first. */
  get lastProgress(): QueryProgress | undefined {
    return this.progress.at(-1);
  }

  get recentProgress(): readonly QueryProgress[] {
    return [...this.progress];
  }

  get status(): QueryStatus {
    return { isActive: this.active, isTriggerActive: this.triggerActive, message: this.message, totals: { ...this.totals } };
  }

  /** The error the query stopped with, if it failed. */
  get exception(): unknown {
    return this.failure;
  }

  /** Resolves when the query stops (by `stop()`, or at the end of a once / available-now trigger); rejects if it failed. */
  awaitTermination(): Promise<void> {
    return this.terminated.then(() => undefined);
  }

  /** Runs batches until the source has nothing more (for tests and notebooks, as in Spark). */
  async processAllAvailable(): Promise<void> {
    if (this.finite) return this.awaitTermination();
    for (;;) {
      if (!this.active) return this.awaitTermination();
      const result = await this.loop!.runOnce();
      // As in Spark, the error a batch stopped the query with is thrown here too.
      if (this.failure !== undefined) throw this.failure;
      if (!result.backlog) return;
    }
  }

  /** Stops after the batch in flight has finished and committed, then closes the source and sink. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop?.stop();
    await this.finite;
    await this.close();
  }

  private async recover(): Promise<void> {
    const { config } = this;
    this.checkpoint = await QueryCheckpoint.open(config.checkpointLocation, { name: config.name, signature: config.signature }, { fsync: config.fsync });
    const { committed, pending } = this.checkpoint;
    let position: JsonValue | undefined;
    if (committed) {
      this.adopt(committed.batchId, committed.aggregation, committed.totals);
      position = committed.sourcePosition;
    }
    if (pending) {
      // The last run wrote this batch's output (or began to) but did not commit it: the same rows again.
      this.logger.info({ batchId: pending.batchId }, 'handing the uncommitted batch to the sink again');
      await config.sink.addBatch({ batchId: pending.batchId, rows: pending.output, columns: config.query.columns, outputMode: config.outputMode });
      await this.checkpoint.commit(pending);
      this.adopt(pending.batchId, pending.aggregation, pending.totals);
      position = pending.sourcePosition;
    }
    this.position = position ?? null;
    await this.source.start(position ?? undefined);
    if (pending) await this.source.commit(pending.sourcePosition);
    this.message = 'Waiting for data to arrive';
  }

  private adopt(batchId: number, aggregation: PendingBatch['aggregation'], totals: QueryTotals): void {
    this.nextBatchId = batchId + 1;
    this.totals = { ...totals };
    if (aggregation && this.state) this.state.restore(aggregation);
  }

  private run(): void {
    const trigger = this.config.trigger;
    if (trigger.kind === 'processingTime') {
      this.loop = new MicroBatchLoop(() => this.runBatch(false), { intervalMs: trigger.intervalMs, logger: this.logger });
      this.loop.start();
      return;
    }
    this.finite = (async () => {
      if (trigger.kind === 'once') await this.runBatch(true);
      else while (!this.stopping && (await this.runBatch(false)).backlog);
      await this.close();
    })();
  }

  /** One batch; `backlog` says it found input, so the next may start without waiting. */
  private async runBatch(drain: boolean): Promise<MicroBatchResult> {
    if (this.failure !== undefined || !this.active) return { backlog: false };
    this.triggerActive = true;
    try {
      const started = Date.now();
      const polled = drain ? await this.drain() : await this.source.poll();
      if (polled.records.length === 0) {
        // As Spark: the watermark moved in the last batch, so a batch without data closes what it passed.
        if (!drain && this.state?.watermarkMoved) {
          this.message = 'Processing a batch without data: the watermark moved';
          await this.processBatch({ records: [], position: this.position }, started);
          return { backlog: true };
        }
        this.message = 'Waiting for data to arrive';
        return { backlog: false };
      }
      this.message = 'Processing new data';
      await this.processBatch(polled, started);
      return { backlog: true };
    } catch (error) {
      this.fail(error);
      return { backlog: false };
    } finally {
      this.triggerActive = false;
    }
  }

  /** Every poll until one comes back empty, as one batch (the once trigger). */
  private async drain(): Promise<SourceBatch<unknown>> {
    const records: unknown[] = [];
    let position: JsonValue = null;
    for (;;) {
      const batch = await this.source.poll();
      if (batch.records.length === 0) break;
      records.push(...batch.records);
      position = batch.position;
    }
    return { records, position };
  }

  private async processBatch(polled: SourceBatch<unknown>, started: number): Promise<void> {
    const { config } = this;
    const { query } = config;
    const batchId = this.nextBatchId;
    const decoded = this.decoder.decode(polled.records, config.now());
    if (decoded.invalid > 0) this.logger.warn({ batchId, invalid: decoded.invalid, reason: decoded.firstProblem }, 'skipped records that do not decode');
    let rows: SourceRow[] = decoded.rows;
    if (!query.rows.empty || !query.aggregation) {
      rows = rows.flatMap((row) => query.rows.apply({ ...row.fields }).map((fields) => ({ ...row, fields: fields as SourceRow['fields'] })));
    }

    let output: OutputRow[];
    let stateOperator: QueryProgress['stateOperator'] = null;
    if (config.sink instanceof ViewSink) {
      output = rows.map((row) => this.viewFeedRow(row));
    } else if (!query.aggregation || !this.state) {
      output = rows.map((row) => query.rows.project(row.fields as OutputRow));
    } else {
      const { touched, droppedLate } = this.state.fold(rows);
      let emitted: StateRow[];
      let removed: StateRow[] = [];
      if (config.outputMode === 'complete') emitted = this.state.all();
      else if (config.outputMode === 'update') {
        emitted = this.state.byIds(touched);
        removed = this.state.closedRows();
      } else emitted = removed = this.state.closedRows();
      output = this.aggregateOutput(query.aggregation, emitted);
      this.state.evict(removed);
      this.state.endBatch();
      this.totals.rowsDroppedByWatermark += droppedLate;
      stateOperator = { numRowsTotal: this.state.size, numRowsUpdated: touched.size, numRowsRemoved: removed.length, numRowsDroppedByWatermark: droppedLate };
      this.counters?.dropped.inc({ query: this.metricLabel }, droppedLate);
      this.counters?.stateRows.set({ query: this.metricLabel }, this.state.size);
    }

    this.totals.inputRows += decoded.rows.length;
    this.totals.invalidRows += decoded.invalid;
    this.totals.outputRows += output.length;
    const pending: PendingBatch = {
      batchId,
      sourcePosition: polled.position,
      aggregation: this.state?.toJson() ?? null,
      totals: { ...this.totals },
      output,
    };
    await this.checkpoint.writePending(pending);
    await config.sink.addBatch({ batchId, rows: output, columns: query.columns, outputMode: config.outputMode });
    await this.checkpoint.commit(pending);
    await this.source.commit(polled.position);
    this.position = polled.position;
    this.nextBatchId = batchId + 1;
    this.counters?.input.inc({ query: this.metricLabel }, decoded.rows.length);
    this.counters?.batches.inc({ query: this.metricLabel });
    const watermark = this.state?.watermark;
    this.progress.push({
      id: this.id,
      name: config.name ?? null,
      batchId,
      timestamp: new Date(started).toISOString(),
      numInputRows: decoded.rows.length,
      invalidInputRows: decoded.invalid,
      numOutputRows: output.length,
      durationMs: Date.now() - started,
      watermark: watermark === undefined ? null : new Date(watermark).toISOString(),
      stateOperator,
      source: { description: this.source.description, endPosition: polled.position },
      sink: { description: config.sink.description },
    });
    if (this.progress.length > RECENT_PROGRESS) this.progress.shift();
  }

  private get metricLabel(): string {
    return this.config.name ?? this.id;
  }

  /** Aggregation rows as result rows: window, keys, aggregates, then any steps after the aggregation and the sort. */
  private aggregateOutput(aggregation: CompiledAggregation, rows: readonly StateRow[]): OutputRow[] {
    const after = this.config.query.after!;
    const output: OutputRow[] = [];
    for (const row of rows) {
      const values = decodeKey(row.key, aggregation.keys.length, aggregation.keys.map((key) => key.type));
      const result: OutputRow = {};
      if (aggregation.window) {
        const end = row.windowStart + aggregation.window.sizeMs;
        result.window = { start: row.windowStart, end };
        result[WINDOW_START] = row.windowStart;
        result[WINDOW_END] = end;
      }
      aggregation.keys.forEach((key, i) => (result[key.name] = values[i]!));
      Object.assign(result, aggregation.view.result(row.state));
      for (const transformed of after.apply(result)) output.push(after.project(transformed));
    }
    const sort = this.config.query.sort;
    if (sort.length > 0) {
      output.sort((a, b) => {
        for (const { column, descending } of sort) {
          const order = compareValuesForSort(a[column] ?? null, b[column] ?? null);
          if (order !== 0) return descending ? -order : order;
        }
        return 0;
      });
    }
    return output;
  }

  /** An input row as the view's source declares it: its fields, and its event time under the event-time field. */
  private viewFeedRow(row: SourceRow): OutputRow {
    const sink = this.config.sink as ViewSink;
    const fields = { ...(row.fields as OutputRow) };
    delete fields[EVENT_TIME];
    const eventTimeField = sink.source!.eventTimeField;
    if (fields[eventTimeField] === undefined || fields[eventTimeField] === null) fields[eventTimeField] = row.eventTime;
    return fields;
  }

  private fail(error: unknown): void {
    this.failure = error;
    this.message = `Terminated with error: ${(error as Error)?.message ?? String(error)}`;
    this.logger.error({ err: error }, 'structured query failed; it stops (restart it to resume from its checkpoint)');
    this.stopping = true;
    // Not awaited: this runs inside the batch, which the loop's stop waits for.
    void (this.loop ? this.loop.stop() : Promise.resolve()).then(() => this.close());
  }

  private async close(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    try {
      await this.source.stop();
      await this.config.sink.close?.();
    } finally {
      if (this.failure === undefined) {
        this.message = 'Stopped';
        this.settle.resolve();
      } else this.settle.reject(this.failure);
    }
  }
}

/** A view row key back to typed values: the key itself when there is one key, JSON of the values when several. */
function decodeKey(key: string, count: number, types: readonly string[]): Value[] {
  if (count === 0) return [];
  if (count > 1) return JSON.parse(key) as Value[];
  switch (types[0]) {
    case 'number':
      return [Number(key)];
    case 'boolean':
      return [key === 'true'];
    default:
      return [key];
  }
}
