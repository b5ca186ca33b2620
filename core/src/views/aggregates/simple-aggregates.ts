/** count, sum, min, max and avg: states that are numbers (or a sum with a count). */
import type { JsonValue } from '../../records/json.js';
import type { Value } from '../expression/ast.js';
import type { CompiledExpression } from '../expression/compile.js';
import { toNumber, type Aggregate, type AggregateSql } from './aggregate.js';

abstract class NamedAggregate {
  constructor(
    readonly name: string,
    readonly definition: string,
    readonly argument: CompiledExpression | undefined,
  ) {}
}

/** count() counts records; count(x) counts records where x is not null. */
export class CountAggregate extends NamedAggregate implements Aggregate<number> {
  readonly resultSchema = { type: 'integer', minimum: 0 };
  readonly numeric = true;
  create = () => 0;
  add = (state: number) => state + 1;
  merge = (into: number, from: number) => into + from;
  result = (state: number) => state;
  toJson = (state: number) => state;
  fromJson = (json: JsonValue) => json as number;
  readonly sql = { kind: 'columns' as const, columns: (argument: string) => [this.argument ? `count(${argument})` : 'count(*)'], combine: ['sum'] as const };
  fromSql = ([count]: unknown[]) => toNumber(count);
}

/** The sum of the non-null values; 0 when there are none. */
export class SumAggregate extends NamedAggregate implements Aggregate<number> {
  readonly resultSchema = { type: 'number' };
  readonly numeric = true;
  create = () => 0;
  add = (state: number, value: Value) => state + (value as number);
  merge = (into: number, from: number) => into + from;
  result = (state: number) => state;
  toJson = (state: number) => state;
  fromJson = (json: JsonValue) => json as number;
  readonly sql = { kind: 'columns' as const, columns: (argument: string) => [`coalesce(sum(${argument}), 0)`], combine: ['sum'] as const };
  fromSql = ([sum]: unknown[]) => toNumber(sum);
}

/** The least (or greatest) non-null value; null when there are none. */
export class ExtremumAggregate extends NamedAggregate implements Aggregate<number | null> {
  readonly resultSchema = { type: ['number', 'null'] };
  readonly numeric = true;
  constructor(
    name: string,
    definition: string,
    argument: CompiledExpression,
    private readonly which: 'min' | 'max',
  ) {
    super(name, definition, argument);
    // Here, not as a field: it needs `which`, set only once the constructor runs.
    this.sql = { kind: 'columns', columns: (argument: string) => [`${which}(${argument})`], combine: [which] };
  }
  create = () => null;
  add = (state: number | null, value: Value) => this.pick(state, value as number);
  merge = (into: number | null, from: number | null) => (from === null ? into : this.pick(into, from));
  result = (state: number | null) => state;
  toJson = (state: number | null) => state;
  fromJson = (json: JsonValue) => json as number | null;
  readonly sql: AggregateSql;
  fromSql = ([value]: unknown[]) => (value === null ? null : toNumber(value));

  private pick(state: number | null, value: number): number {
    if (state === null) return value;
    return this.which === 'min' ? Math.min(state, value) : Math.max(state, value);
  }
}

export interface MeanState {
  sum: number;
  count: number;
}

/** The mean of the non-null values, kept as sum and count so it merges; null when there are none. */
export class AverageAggregate extends NamedAggregate implements Aggregate<MeanState> {
  readonly resultSchema = { type: ['number', 'null'] };
  readonly numeric = true;
  create = (): MeanState => ({ sum: 0, count: 0 });
  add = (state: MeanState, value: Value) => {
    state.sum += value as number;
    state.count += 1;
    return state;
  };
  merge = (into: MeanState, from: MeanState) => {
    into.sum += from.sum;
    into.count += from.count;
    return into;
  };
  result = (state: MeanState) => (state.count === 0 ? null : state.sum / state.count);
  toJson = (state: MeanState) => ({ sum: state.sum, count: state.count });
  fromJson = (json: JsonValue) => ({ ...(json as unknown as MeanState) });
  readonly sql = { kind: 'columns' as const, columns: (argument: string) => [`coalesce(sum(${argument}), 0)`, `count(${argument})`], combine: ['sum', 'sum'] as const };
  fromSql = ([sum, count]: unknown[]): MeanState => ({ sum: toNumber(sum), count: toNumber(count) });
}
