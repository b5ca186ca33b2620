/**
 * The structured API's DataFrame: an immutable builder over an unbounded table. Each call returns a new
 * frame with one more step, checked against the schema at once (an unknown column or a type error fails
 * at the call, not when data flows). Nothing runs until `writeStream...start()`.
 */
import { InvalidArgumentError, type SourceDefinition, type ViewDefinition, parseDuration, type Duration, EVENT_TIME } from '@lambda/core';
import { type Column, type SortColumn, AggregateColumn, ExplodeColumn, WindowColumn, col } from './column.js';
import { compileQuery, namedViewDefinition } from './compiled-query.js';
import { DataStreamWriter } from './data-stream-writer.js';
import {
  applyStep,
  schemaOf,
  type LogicalPlan,
  type PlanStep,
  type SchemaColumn,
  type SelectedColumn,
  type StreamInput,
} from './logical-plan.js';

export class StreamingDataFrame {
  readonly isStreaming = true;

  private constructor(readonly plan: LogicalPlan) {}

  static fromInput(input: StreamInput): StreamingDataFrame {
    return new StreamingDataFrame({ input, steps: [] });
  }

  /** The columns of the result, with their types. */
  get schema(): SchemaColumn[] {
    return schemaOf(this.plan).columns;
  }

  /** Columns by name, `col(...)`, `expr(...).as(...)`, or one `explode(split(...)).as(...)`. */
  select(...columns: (string | Column | ExplodeColumn)[]): StreamingDataFrame {
    if (columns.length === 0) throw new InvalidArgumentError('select() needs at least one column', {});
    const selected = columns.map((column): SelectedColumn => {
      if (column instanceof ExplodeColumn) {
        if (column.alias === undefined) throw new InvalidArgumentError(`Name the exploded column with .as('name')`, { expression: column.expression });
        return { name: column.alias, expression: column.expression, explodeSeparator: column.separator };
      }
      const c = typeof column === 'string' ? col(column) : column;
      const name = c.name;
      if (name === undefined) throw new InvalidArgumentError(`Name the selected expression ${c.expression} with .as('name')`, { expression: c.expression });
      return { name, expression: c.expression };
    });
    if (selected.filter((column) => column.explodeSeparator !== undefined).length > 1) {
      throw new InvalidArgumentError('select() takes at most one explode()', {});
    }
    return this.with({ kind: 'select', columns: selected });
  }

  /** Keeps the rows where the condition is TRUE (NULL counts as false, as in SQL). */
  where(condition: string | Column): StreamingDataFrame {
    return this.with({ kind: 'where', condition: typeof condition === 'string' ? condition : condition.expression });
  }

  filter(condition: string | Column): StreamingDataFrame {
    return this.where(condition);
  }

  withColumn(name: string, expression: string | Column): StreamingDataFrame {
    return this.with({ kind: 'withColumn', name, expression: typeof expression === 'string' ? expression : expression.expression });
  }

  /**
   * Declares how late events may arrive: a window's state is kept until (max event time seen minus
   * `delay`) passes its end; records for a window already past it are dropped and counted.
   */
  withWatermark(column: string, delay: Duration): StreamingDataFrame {
    this.checkEventTimeColumn(column, 'withWatermark');
    return new StreamingDataFrame({ ...this.plan, watermark: { column, delayMs: parseDuration(delay, 'watermark delay') } });
  }

  /** Groups by columns and at most one event-time `window(...)`; aggregate with `.agg(...)` or `.count()`. */
  groupBy(...columns: (string | Column | WindowColumn)[]): GroupedData {
    const windows = columns.filter((column): column is WindowColumn => column instanceof WindowColumn);
    if (windows.length > 1) throw new InvalidArgumentError('groupBy() takes at most one window()', {});
    const window = windows[0];
    if (window) this.checkEventTimeColumn(window.timeColumn, 'window');
    const keys = columns
      .filter((column): column is string | Column => !(column instanceof WindowColumn))
      .map((column) => {
        const c = typeof column === 'string' ? col(column) : column;
        if (c.name === undefined) throw new InvalidArgumentError(`Name the grouping expression ${c.expression} with .as('name')`, { expression: c.expression });
        return { name: c.name, expression: c.expression };
      });
    const windowSpec = window && {
      timeColumn: window.timeColumn,
      position: columns.indexOf(window),
      sizeMs: parseDuration(window.size, 'window duration'),
      slideMs: parseDuration(window.slide ?? window.size, 'window slide'),
    };
    return new GroupedData(this, keys, windowSpec);
  }

  /** Not supported on a streaming table: rejected at start with the output mode. */
  limit(count: number): StreamingDataFrame {
    return this.with({ kind: 'limit', count });
  }

  /** Not supported on a streaming table: rejected at start with the output mode. */
  distinct(): StreamingDataFrame {
    return this.with({ kind: 'distinct' });
  }

  /** Sorting is supported only after an aggregation in complete mode; anything else is rejected at start. */
  orderBy(...columns: (string | SortColumn)[]): StreamingDataFrame {
    return this.with({
      kind: 'orderBy',
      sort: columns.map((column) => (typeof column === 'string' ? { column, descending: false } : { column: column.column, descending: column.descending })),
    });
  }

  sort(...columns: (string | SortColumn)[]): StreamingDataFrame {
    return this.orderBy(...columns);
  }

  /** Starts describing the output: mode, sink, trigger, checkpoint. */
  get writeStream(): DataStreamWriter {
    return new DataStreamWriter(this.plan);
  }

  /**
   * The query's aggregation as a view definition the catalog accepts (write once): the speed and batch
   * layers then compute exactly what this query computes. `topic` names the source topic the view reads
   * (by default the input's); `sourceDefinition` gives that source's declaration for the catalog.
   */
  toViewDefinition(name: string, options: { topic?: string } = {}): ViewDefinition {
    return namedViewDefinition(compileQuery(this.plan), name, options.topic).view;
  }

  /** The source the view definition reads, for the catalog's `sources`. */
  sourceDefinition(options: { topic?: string } = {}): SourceDefinition {
    return namedViewDefinition(compileQuery(this.plan), 'structured_query', options.topic).source;
  }

  /** Adds a step after checking it against the current schema. */
  with(step: PlanStep): StreamingDataFrame {
    applyStep(schemaOf(this.plan), step);
    return new StreamingDataFrame({ ...this.plan, steps: [...this.plan.steps, step] });
  }

  private checkEventTimeColumn(column: string, operation: string): void {
    const eventTimeField = this.plan.input.sourceDefinition.eventTimeField;
    if (column !== eventTimeField && column !== EVENT_TIME) {
      throw new InvalidArgumentError(`${operation}() must use the event-time column "${eventTimeField}" (or ${EVENT_TIME}), not "${column}"`, {
        column,
        eventTimeField,
      });
    }
  }
}

export class GroupedData {
  constructor(
    private readonly frame: StreamingDataFrame,
    private readonly keys: { name: string; expression: string }[],
    private readonly window: Extract<PlanStep, { kind: 'aggregate' }>['window'],
  ) {}

  agg(...aggregates: AggregateColumn[]): StreamingDataFrame {
    if (aggregates.length === 0) throw new InvalidArgumentError('agg() needs at least one aggregate', {});
    const frame = this.frame.with({
      kind: 'aggregate',
      keys: this.keys,
      ...(this.window ? { window: this.window } : {}),
      aggregates: aggregates.map((aggregate) => ({ name: aggregate.name, fn: aggregate.fn, viewText: aggregate.viewText })),
    });
    // The aggregates compile in the view machinery: a type error (sum of a string) fails here, at the call.
    if (frame.plan.steps.filter((step) => step.kind === 'aggregate').length === 1) compileQuery(frame.plan);
    return frame;
  }

  /** Rows per group, in a column named `count`. */
  count(): StreamingDataFrame {
    return this.agg(new AggregateColumn('count'));
  }
}
