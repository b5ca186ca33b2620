/**
 * `df.writeStream`: an immutable builder of the output (mode, sink, trigger, checkpoint location) whose
 * `start()` checks the output-mode rules synchronously (throwing before anything runs) and then starts
 * the query.
 */
import { InvalidArgumentError, type Logger, silentLogger, type Metrics } from '@lambda/core';
import { compileQuery, namedViewDefinition } from './compiled-query.js';
import type { LogicalPlan } from './logical-plan.js';
import { checkSupported } from './output-mode-rules.js';
import { ConsoleSink, type ConsoleSinkOptions } from './sinks/console-sink.js';
import { FileSink } from './sinks/file-sink.js';
import { ForeachBatchSink, type ForeachBatchFunction } from './sinks/foreach-batch-sink.js';
import { LogTopicSink, type LogTopicSinkOptions } from './sinks/log-topic-sink.js';
import { MemorySink, type MemoryTables } from './sinks/memory-sink.js';
import type { OutputMode, StructuredSink } from './sinks/structured-sink.js';
import { ViewSink, type ViewSinkOptions } from './sinks/view-sink.js';
import { StreamingQuery } from './streaming-query.js';
import { DEFAULT_TRIGGER, type Trigger } from './trigger.js';

/** The sinks by format name, with their options. */
export interface SinkFormats {
  console: ConsoleSinkOptions | undefined;
  /** The table is named by `queryName`; `tables` defaults to the process-wide `memoryTables`. */
  memory: { tables?: MemoryTables } | undefined;
  json: { path: string; fsync?: boolean };
  parquet: { path: string; fsync?: boolean };
  topic: LogTopicSinkOptions;
  view: ViewSinkOptions;
}

/** Runtime dependencies of a query. */
export interface QueryRuntimeOptions {
  logger?: Logger;
  /** Where the late-row, input-row and state-size metrics go. */
  metrics?: Metrics;
  /** The arrival time stamped on input without event time; `Date.now` by default (tests pin it). */
  now?: () => number;
  /** Flush checkpoint files to disk before renaming them into place. Default true. */
  fsync?: boolean;
}

interface WriterState {
  outputMode: OutputMode;
  format?: { name: keyof SinkFormats; options: unknown };
  sink?: StructuredSink;
  trigger: Trigger;
  queryName?: string;
  checkpointLocation?: string;
  runtime: QueryRuntimeOptions;
}

export class DataStreamWriter {
  private readonly state: WriterState;

  constructor(
    private readonly plan: LogicalPlan,
    state?: WriterState,
  ) {
    this.state = state ?? { outputMode: 'append', trigger: DEFAULT_TRIGGER, runtime: {} };
  }

  /** append (the default): new final rows; update: rows changed by the batch; complete: the whole result table. */
  outputMode(mode: OutputMode): DataStreamWriter {
    if (mode !== 'append' && mode !== 'update' && mode !== 'complete') {
      throw new InvalidArgumentError(`Unknown output mode ${JSON.stringify(mode)}: use append, update or complete`, { mode });
    }
    return this.with({ outputMode: mode });
  }

  format<F extends keyof SinkFormats>(name: F, ...options: undefined extends SinkFormats[F] ? [SinkFormats[F]?] : [SinkFormats[F]]): DataStreamWriter {
    const { sink: _, ...rest } = this.state;
    return new DataStreamWriter(this.plan, { ...rest, format: { name, options: options[0] } });
  }

  /** Spark's foreachBatch: a function of each batch's rows and id. */
  foreachBatch(fn: ForeachBatchFunction, options: { idempotent?: boolean } = {}): DataStreamWriter {
    return this.sink(new ForeachBatchSink(fn, options.idempotent ?? false));
  }

  /** Any sink object. */
  sink(sink: StructuredSink): DataStreamWriter {
    const { format: _, ...rest } = this.state;
    return new DataStreamWriter(this.plan, { ...rest, sink });
  }

  trigger(trigger: Trigger): DataStreamWriter {
    return this.with({ trigger });
  }

  /** Names the query (in progress, metrics and logs) and its memory table. */
  queryName(name: string): DataStreamWriter {
    return this.with({ queryName: name });
  }

  /** Where the query keeps source positions, aggregation state, watermark and committed batch ids. */
  checkpointLocation(directory: string): DataStreamWriter {
    return this.with({ checkpointLocation: directory });
  }

  /** Spark's `.option('checkpointLocation', dir)`, for the one option a query itself takes. */
  option(key: 'checkpointLocation', value: string): DataStreamWriter {
    if (key !== 'checkpointLocation') throw new InvalidArgumentError(`Unknown option ${JSON.stringify(key)}`, { key });
    return this.checkpointLocation(value);
  }

  runtime(options: QueryRuntimeOptions): DataStreamWriter {
    return this.with({ runtime: { ...this.state.runtime, ...options } });
  }

  /**
   * Checks the query against the rules of its output mode and sink, throwing an
   * `UnsupportedOperationError` before anything runs; then starts it.
   */
  start(): Promise<StreamingQuery> {
    const { state, plan } = this;
    const sink = this.buildSink();
    checkSupported(plan, state.outputMode, sink);
    const query = compileQuery(plan);
    if (sink instanceof ViewSink) {
      const input = plan.input;
      const topic = sink.options.topic ?? (input.format === 'log' ? input.sourceDefinition.topic : undefined);
      if (topic === undefined) throw new InvalidArgumentError('The view sink needs a topic to feed when the query does not read a log topic', {});
      const { view, source } = namedViewDefinition(query, sink.options.viewName, topic);
      const readsItDirectly = input.format === 'log' && query.rows.empty && topic === input.sourceDefinition.topic;
      sink.bind(view, source, !readsItDirectly);
    }
    const runtime = state.runtime;
    return StreamingQuery.launch({
      query,
      outputMode: state.outputMode,
      sink,
      trigger: state.trigger,
      name: state.queryName,
      checkpointLocation: state.checkpointLocation,
      logger: runtime.logger ?? silentLogger(),
      metrics: runtime.metrics,
      now: runtime.now ?? Date.now,
      fsync: runtime.fsync ?? true,
      signature: JSON.stringify({ input: plan.input.sourceDefinition, format: plan.input.format, steps: plan.steps, watermark: plan.watermark, mode: state.outputMode }),
    });
  }

  private buildSink(): StructuredSink {
    const { sink, format, queryName } = this.state;
    if (sink) return sink;
    if (!format) throw new InvalidArgumentError('Choose a sink: format(console | memory | json | parquet | topic | view), foreachBatch() or sink()', {});
    switch (format.name) {
      case 'console':
        return new ConsoleSink((format.options as ConsoleSinkOptions | undefined) ?? {});
      case 'memory': {
        if (queryName === undefined) throw new InvalidArgumentError("The memory sink names its table after the query: call queryName('...')", {});
        return new MemorySink(queryName, (format.options as SinkFormats['memory'])?.tables);
      }
      case 'json':
      case 'parquet': {
        const options = format.options as SinkFormats['json'];
        if (typeof options?.path !== 'string') throw new InvalidArgumentError(`The ${format.name} sink needs a path`, {});
        return new FileSink({ path: options.path, format: format.name, ...(options.fsync === undefined ? {} : { fsync: options.fsync }) });
      }
      case 'topic':
        return new LogTopicSink(format.options as LogTopicSinkOptions);
      case 'view':
        return new ViewSink(format.options as ViewSinkOptions);
    }
  }

  private with(change: Partial<WriterState>): DataStreamWriter {
    return new DataStreamWriter(this.plan, { ...this.state, ...change });
  }
}
