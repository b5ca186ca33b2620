/**
 * A logical plan split over the platform's machinery: per-row steps a view cannot express (an
 * `explode`, or every step of a query without aggregation) run as a row pipeline; the steps up to and
 * including the aggregation become one view definition, run by `CompiledView` exactly as the speed layer
 * runs a catalog view; projections after the aggregation run on its result rows.
 */
import {
  InvalidArgumentError,
  type ValueType,
  CompiledSource,
  EVENT_TIME,
  type FieldType,
  type SourceDefinition,
  CompiledView,
  type ViewDefinition,
} from '@lambda/core';
import { inputSchema, type LogicalPlan, type PlanStep, type Schema, type SchemaColumn, type WindowSpec } from './logical-plan.js';
import { RowPipeline } from './row-pipeline.js';

export interface CompiledAggregation {
  /** The view definition, under a placeholder name until `toViewDefinition` names it. */
  definition: ViewDefinition;
  /** The view's source: the input's, or the row pipeline's output when one runs first. */
  sourceDefinition: SourceDefinition;
  view: CompiledView;
  /** The grouping columns besides the window, in order, with their types (to read keys back). */
  keys: { name: string; type: ValueType }[];
  window: WindowSpec | undefined;
  /** The aggregation's output columns (window, keys, aggregates). */
  columns: SchemaColumn[];
}

export interface CompiledQuery {
  plan: LogicalPlan;
  /** Per-row steps before the aggregation (or all steps without one). */
  rows: RowPipeline;
  aggregation: CompiledAggregation | undefined;
  /** Per-row steps after the aggregation. */
  after: RowPipeline | undefined;
  /** A sort after the aggregation (complete mode only). */
  sort: { column: string; descending: boolean }[];
  /** The columns a sink receives. */
  columns: SchemaColumn[];
}

/** The placeholder name of a query's view until `toViewDefinition(name)` names it. */
const QUERY_VIEW_NAME = 'structured_query';

const PER_ROW = new Set<PlanStep['kind']>(['select', 'where', 'withColumn']);

export function compileQuery(plan: LogicalPlan): CompiledQuery {
  const steps = plan.steps.filter((step) => PER_ROW.has(step.kind) || step.kind === 'aggregate');
  const at = steps.findIndex((step) => step.kind === 'aggregate');
  const sort = plan.steps.flatMap((step) => (step.kind === 'orderBy' ? step.sort : []));
  const input = inputSchema(plan.input);
  if (at < 0) {
    const rows = new RowPipeline(steps, input);
    return { plan, rows, aggregation: undefined, after: undefined, sort, columns: rows.schema.columns };
  }
  const before = steps.slice(0, at);
  // The row pipeline takes everything up to the last explode; the view takes the rest.
  const lastExplode = before.findLastIndex((step) => step.kind === 'select' && step.columns.some((column) => column.explodeSeparator !== undefined));
  const rows = new RowPipeline(before.slice(0, lastExplode + 1), input);
  const aggregation = compileAggregation(plan, rows.schema, before.slice(lastExplode + 1), steps[at] as Extract<PlanStep, { kind: 'aggregate' }>, !rows.empty);
  const afterSteps = steps.slice(at + 1).filter((step) => step.kind !== 'aggregate');
  const after = new RowPipeline(afterSteps, withAggregationScope(aggregation));
  return { plan, rows, aggregation, after, sort, columns: after.schema.columns };
}

function withAggregationScope(aggregation: CompiledAggregation): Schema {
  const scope = new Map<string, ValueType>();
  if (aggregation.window) {
    scope.set('window_start', 'number');
    scope.set('window_end', 'number');
  }
  for (const column of aggregation.columns) if (column.type !== 'window') scope.set(column.name, column.type);
  return { columns: aggregation.columns, scope };
}

function compileAggregation(
  plan: LogicalPlan,
  schema: Schema,
  viewSteps: PlanStep[],
  aggregate: Extract<PlanStep, { kind: 'aggregate' }>,
  afterRowPipeline: boolean,
): CompiledAggregation {
  const input = plan.input.sourceDefinition;
  const sourceDefinition: SourceDefinition = afterRowPipeline
    ? { topic: input.topic, eventTimeField: input.eventTimeField, fields: fieldsOf(schema.columns) }
    : input;
  const derive: Record<string, string> = {};
  const filters: string[] = [];
  const derived = (name: string, expression: string) => {
    if (expression.trim() === name) return;
    if (name in derive) throw new InvalidArgumentError(`Column "${name}" is defined twice before the aggregation; a view cannot redefine a column`, { column: name });
    derive[name] = expression;
  };
  for (const step of viewSteps) {
    if (step.kind === 'where') filters.push(step.condition);
    else if (step.kind === 'withColumn') derived(step.name, step.expression);
    else if (step.kind === 'select') for (const column of step.columns) derived(column.name, column.expression);
  }
  const definition: ViewDefinition = {
    name: QUERY_VIEW_NAME,
    source: sourceDefinition.topic,
    ...(Object.keys(derive).length > 0 ? { derive } : {}),
    ...(filters.length > 0 ? { filter: filters.map((filter) => `(${filter})`).join(' AND ') } : {}),
    key: aggregate.keys.map((key) => key.expression),
    ...(aggregate.window
      ? {
          window:
            aggregate.window.slideMs === aggregate.window.sizeMs
              ? { type: 'tumbling' as const, size: aggregate.window.sizeMs }
              : { type: 'hopping' as const, size: aggregate.window.sizeMs, slide: aggregate.window.slideMs },
        }
      : {}),
    aggregates: Object.fromEntries(aggregate.aggregates.map((spec) => [spec.name, spec.viewText])),
  };
  const view = new CompiledView(definition, new CompiledSource(sourceDefinition));
  const keyTypes = view.keySchema.map((key) => key.type as ValueType);
  const keys = aggregate.keys.map((key, i) => ({ name: key.name, type: keyTypes[i]! }));
  const columns: SchemaColumn[] = keys.map((key) => ({ name: key.name, type: key.type }));
  if (aggregate.window) columns.splice(aggregate.window.position, 0, { name: 'window', type: 'window' });
  for (const spec of aggregate.aggregates) columns.push({ name: spec.name, type: 'number' });
  return { definition, sourceDefinition, view, keys, window: aggregate.window, columns };
}

/** The declared fields of rows a row pipeline produces, as a view source declares them. */
function fieldsOf(columns: readonly SchemaColumn[]): Record<string, FieldType> {
  const fields: Record<string, FieldType> = {};
  for (const { name, type } of columns) {
    if (name === EVENT_TIME) continue;
    if (type === 'window' || type === 'null') {
      throw new InvalidArgumentError(`Column "${name}" (${type}) cannot feed an aggregation: give it a string, number or boolean value`, { column: name });
    }
    fields[name] = type;
  }
  return fields;
}

/** The query's aggregation as a named view definition the catalog accepts, and the source it reads. */
export function namedViewDefinition(query: CompiledQuery, name: string, topic?: string): { view: ViewDefinition; source: SourceDefinition } {
  const aggregation = query.aggregation;
  if (!aggregation) throw new InvalidArgumentError('Only a query with an aggregation (groupBy(...).agg(...)) can be a view definition', {});
  const unsupported = query.plan.steps.find((step) => step.kind === 'limit' || step.kind === 'distinct');
  if (unsupported || query.plan.steps.filter((step) => step.kind === 'aggregate').length > 1) {
    const what = unsupported ? unsupported.kind : 'a chained aggregation';
    throw new InvalidArgumentError(`A query with ${what} cannot be a view definition: a view is one groupBy().agg() over the source`, {});
  }
  if (query.after && !query.after.empty) {
    throw new InvalidArgumentError('A query with steps after its aggregation cannot be a view definition: a view holds the aggregates themselves', {});
  }
  const source = { ...aggregation.sourceDefinition, topic: topic ?? aggregation.sourceDefinition.topic };
  const view = { ...structuredClone(aggregation.definition), name, source: source.topic };
  // Checked here as the catalog will check it, so a bad name fails at the call.
  new CompiledView(view, new CompiledSource(source));
  return { view, source };
}
