/**
 * The per-row steps that run in JS on compiled view-language expressions: the whole of a query without
 * an aggregation, the steps up to an `explode` (which a view definition cannot express), and the
 * projections after an aggregation. Everything else runs inside the view machinery.
 */
import { InvalidArgumentError, type Value, compileExpression, type Row } from '@lambda/core';
import { applyStep, type PlanStep, type Schema } from './logical-plan.js';

/** A window column's value: its bounds in ms since the epoch. */
export interface WindowValue {
  start: number;
  end: number;
}

export type OutputValue = Value | WindowValue;
/** A row of a query's result, by column name in the schema's order. */
export type OutputRow = Record<string, OutputValue>;

type Stage = (row: OutputRow) => OutputRow[];

export class RowPipeline {
  readonly schema: Schema;
  private readonly stages: Stage[] = [];
  private readonly hidden: string[];

  constructor(steps: readonly PlanStep[], input: Schema) {
    let schema = input;
    for (const step of steps) {
      this.stages.push(compileStage(step, schema));
      schema = applyStep(schema, step);
    }
    this.schema = schema;
    const visible = new Set(schema.columns.map((column) => column.name));
    this.hidden = [...schema.scope.keys()].filter((name) => !visible.has(name));
  }

  get empty(): boolean {
    return this.stages.length === 0;
  }

  /** The rows one input row becomes (none when a `where` drops it, several after an `explode`). */
  apply(row: OutputRow): OutputRow[] {
    let rows = [row];
    for (const stage of this.stages) rows = rows.flatMap(stage);
    return rows;
  }

  /** The row with only the schema's columns, in order: what a sink receives. */
  project(row: OutputRow): OutputRow {
    const projected: OutputRow = {};
    for (const { name } of this.schema.columns) projected[name] = row[name] ?? null;
    return projected;
  }

  /** The hidden time fields the rows carry besides their columns. */
  get hiddenFields(): readonly string[] {
    return this.hidden;
  }
}

function compileStage(step: PlanStep, schema: Schema): Stage {
  switch (step.kind) {
    case 'where': {
      const condition = compileExpression(step.condition, schema.scope);
      return (row) => (condition.evaluate(row as Row) === true ? [row] : []);
    }
    case 'withColumn': {
      const expression = compileExpression(step.expression, schema.scope);
      return (row) => {
        row[step.name] = expression.evaluate(row as Row);
        return [row];
      };
    }
    case 'select': {
      const hidden = [...schema.scope.keys()].filter((name) => !schema.columns.some((column) => column.name === name));
      const columns = step.columns.map((column) => {
        const passThrough = schema.columns.find((c) => c.name === column.expression.trim())?.type === 'window';
        return {
          name: column.name,
          separator: column.explodeSeparator,
          evaluate: passThrough ? (row: OutputRow) => row[column.expression.trim()] ?? null : compiledEvaluator(column.expression, schema),
        };
      });
      const exploded = columns.find((column) => column.separator !== undefined);
      return (row) => {
        const selected: OutputRow = {};
        for (const name of hidden) selected[name] = row[name] ?? null;
        for (const column of columns) selected[column.name] = column.evaluate(row);
        if (!exploded) return [selected];
        const text = selected[exploded.name];
        if (typeof text !== 'string') return [];
        return text
          .split(exploded.separator!)
          .filter((piece) => piece !== '')
          .map((piece) => ({ ...selected, [exploded.name]: piece }));
      };
    }
    default:
      throw new InvalidArgumentError(`${step.kind} is not a per-row step`, { step: step.kind });
  }
}

function compiledEvaluator(text: string, schema: Schema): (row: OutputRow) => OutputValue {
  const expression = compileExpression(text, schema.scope);
  return (row) => expression.evaluate(row as Row);
}
