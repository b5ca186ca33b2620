/**
 * A structured query as data: its input and the steps applied to it, in order. The builder records
 * every step, including the ones a streaming table cannot run (limit, distinct, sort, a second
 * aggregation), so that `start()` can reject them with the output mode in the message, as Spark does.
 */
import { InvalidArgumentError, type ValueType, compileExpression, EVENT_TIME, type SourceDefinition } from '@lambda/core';
import type { StreamSource } from '../sources/stream-source.js';
import type { AggregateFunction } from './column.js';

/** A column's type: a value type of the expression language, or the `window` struct `{ start, end }` (ms). */
export type ColumnType = ValueType | 'window';

export interface SchemaColumn {
  name: string;
  type: ColumnType;
}

/** How the records a source hands over become rows. */
export type InputFormat =
  /** Event-log records (`LogRecord`) whose values are JSON objects, decoded as the views decode them. */
  | 'log'
  /** Lines of JSON objects (strings), decoded against the declared schema. */
  | 'json'
  /** Lines of text (strings): one column, `value`. */
  | 'text';

export interface StreamInput {
  source: StreamSource<unknown>;
  format: InputFormat;
  /**
   * The declared schema as a view source: its topic names the input in view definitions, its
   * `eventTimeField` holds event time. Text input, and JSON without event time, get the arrival time
   * under `timestamp`.
   */
  sourceDefinition: SourceDefinition;
  /** Whether event time is the arrival time, stamped at each poll. */
  arrivalTime: boolean;
}

export interface SelectedColumn {
  name: string;
  /** The expression; for an exploded column, the string expression that is split. */
  expression: string;
  /** When set, the row is repeated for each non-empty piece of `expression` split on this separator. */
  explodeSeparator?: string;
}

export interface AggregateSpec {
  name: string;
  fn: AggregateFunction;
  /** In the view language, e.g. `approx_distinct(user)`. */
  viewText: string;
}

export interface WindowSpec {
  /** The column named in `window(...)`: the event-time field or `event_time`. */
  timeColumn: string;
  /** Where the window sits among the grouping columns, for the output column order. */
  position: number;
  sizeMs: number;
  slideMs: number;
}

export type PlanStep =
  | { kind: 'select'; columns: SelectedColumn[] }
  | { kind: 'where'; condition: string }
  | { kind: 'withColumn'; name: string; expression: string }
  | { kind: 'aggregate'; keys: { name: string; expression: string }[]; window?: WindowSpec; aggregates: AggregateSpec[] }
  | { kind: 'limit'; count: number }
  | { kind: 'distinct' }
  | { kind: 'orderBy'; sort: { column: string; descending: boolean }[] };

export interface Watermark {
  column: string;
  delayMs: number;
}

export interface LogicalPlan {
  input: StreamInput;
  steps: readonly PlanStep[];
  watermark?: Watermark;
}

/** The names of a windowed aggregation's window bounds in expressions after it. */
export const WINDOW_START = 'window_start';
export const WINDOW_END = 'window_end';

/** The columns of the rows after the steps, and what expressions can see (columns plus hidden time fields). */
export interface Schema {
  columns: SchemaColumn[];
  scope: Map<string, ValueType>;
}

export function inputSchema(input: StreamInput): Schema {
  const columns: SchemaColumn[] = Object.entries(input.sourceDefinition.fields).map(([name, type]) => ({ name, type }));
  return withScope(columns, new Map([[EVENT_TIME, 'number']]));
}

function withScope(columns: SchemaColumn[], hidden: ReadonlyMap<string, ValueType>): Schema {
  const scope = new Map(hidden);
  for (const column of columns) if (column.type !== 'window') scope.set(column.name, column.type);
  return { columns, scope };
}

/** The time fields every row carries whatever is selected: event time before an aggregation, window bounds after. */
const HIDDEN = new Set<string>([EVENT_TIME, WINDOW_START, WINDOW_END]);

function hiddenOf(schema: Schema): Map<string, ValueType> {
  return new Map([...schema.scope].filter(([name]) => HIDDEN.has(name)));
}

/** The type of an expression in a schema's scope; throws an ExpressionError when it does not compile. */
export function typeIn(schema: Schema, expression: string): ValueType {
  return compileExpression(expression, schema.scope).type;
}

/**
 * The schema after one step, checking the step's expressions against the schema before it. Steps a
 * streaming table cannot run still get a schema here: they are rejected at start, with the mode.
 */
export function applyStep(schema: Schema, step: PlanStep): Schema {
  switch (step.kind) {
    case 'select': {
      const columns = step.columns.map((column): SchemaColumn => {
        const existing = schema.columns.find((c) => c.name === column.expression.trim());
        if (existing?.type === 'window' && column.explodeSeparator === undefined) return { name: column.name, type: 'window' };
        const type = typeIn(schema, column.expression);
        if (column.explodeSeparator !== undefined && type !== 'string' && type !== 'null') {
          throw new InvalidArgumentError(`explode(split(${column.expression})) needs a string, not a ${type}`, { column: column.name });
        }
        return { name: column.name, type: column.explodeSeparator !== undefined ? 'string' : type };
      });
      uniqueNames(columns.map((column) => column.name), 'select');
      return withScope(columns, hiddenOf(schema));
    }
    case 'where': {
      const type = typeIn(schema, step.condition);
      if (type !== 'boolean' && type !== 'null') throw new InvalidArgumentError(`where(${step.condition}) needs a boolean condition, not a ${type}`, {});
      return schema;
    }
    case 'withColumn': {
      const type = typeIn(schema, step.expression);
      const columns = schema.columns.filter((column) => column.name !== step.name);
      const at = schema.columns.findIndex((column) => column.name === step.name);
      const added = { name: step.name, type };
      if (at >= 0) columns.splice(at, 0, added);
      else columns.push(added);
      return withScope(columns, hiddenOf(schema));
    }
    case 'aggregate': {
      const keys: SchemaColumn[] = step.keys.map((key) => ({ name: key.name, type: typeIn(schema, key.expression) }));
      if (step.window) keys.splice(step.window.position, 0, { name: 'window', type: 'window' });
      const columns = [...keys, ...step.aggregates.map((aggregate): SchemaColumn => ({ name: aggregate.name, type: 'number' }))];
      uniqueNames(columns.map((column) => column.name), 'groupBy/agg');
      const hidden = new Map<string, ValueType>(step.window ? [[WINDOW_START, 'number'], [WINDOW_END, 'number']] : []);
      return withScope(columns, hidden);
    }
    case 'orderBy':
      for (const { column } of step.sort) {
        if (!schema.columns.some((c) => c.name === column)) {
          throw new InvalidArgumentError(`orderBy: unknown column "${column}"; known: ${schema.columns.map((c) => c.name).join(', ')}`, { column });
        }
      }
      return schema;
    case 'limit':
    case 'distinct':
      return schema;
  }
}

export function schemaOf(plan: LogicalPlan): Schema {
  return plan.steps.reduce(applyStep, inputSchema(plan.input));
}

function uniqueNames(names: string[], operation: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new InvalidArgumentError(`${operation}: the column name "${name}" appears twice`, { column: name });
    seen.add(name);
  }
}
