/** approx_distinct (HyperLogLog) and top_k (exact counts per value): states that are maps. */
import type { JsonObject, JsonValue } from '../../records/json.js';
import type { Value } from '../expression/ast.js';
import { compareCodePoints, type CompiledExpression } from '../expression/compile.js';
import { toNumber, type Aggregate } from './aggregate.js';
import { Registers, addValue, decodeRegisters, encodeRegisters, estimate, hashSql, mergeRegisters, registerSql } from './hyperloglog.js';

/** The approximate number of distinct non-null values (HyperLogLog, about 1.6% standard error). */
export class ApproxDistinctAggregate implements Aggregate<Registers> {
  readonly resultSchema = { type: 'integer', minimum: 0, description: 'HyperLogLog estimate, about 1.6% standard error' };
  readonly numeric = true;
  constructor(
    readonly name: string,
    readonly definition: string,
    readonly argument: CompiledExpression,
  ) {}

  create = (): Registers => new Registers();
  add = (state: Registers, value: Value) => {
    addValue(state, value as string);
    return state;
  };
  merge = (into: Registers, from: Registers) => {
    mergeRegisters(into, from);
    return into;
  };
  result = (state: Registers) => estimate(state);
  toJson = (state: Registers) => encodeRegisters(state);
  fromJson = (json: JsonValue) => decodeRegisters(json as string);

  readonly sql = {
    kind: 'entries' as const,
    // A register keeps the largest rank of the values it saw, and a value's rank is the same however often
    // it comes: so each group's distinct values are hashed once (MD5 per record was most of the query's time).
    entries: (from: string, groupBy: string, argument: string) => {
      const { index, rank } = registerSql('h');
      return `SELECT ${groupBy}, "__e", max("__r") AS "__n" FROM (
          SELECT ${groupBy}, ${index} AS "__e", ${rank} AS "__r"
          FROM (SELECT ${groupBy}, ${hashSql('"__v"')} AS h FROM (SELECT DISTINCT ${groupBy}, ${argument} AS "__v" FROM ${from} WHERE ${argument} IS NOT NULL))
        ) GROUP BY ${groupBy}, "__e"`;
    },
    combine: 'max' as const,
    fields: ['i', 'r'] as const,
  };

  fromSql = ([list]: unknown[]): Registers =>
    Registers.fromEntries(((list as { i: unknown; r: unknown }[] | null) ?? []).map(({ i, r }) => [toNumber(i), toNumber(r)] as const));
}

/**
 * The k most frequent non-null values with their counts. The state keeps the exact count of every value
 * (top-k lists alone do not merge exactly), and `result` picks the top k: by count, then by value.
 */
export class TopKAggregate implements Aggregate<Map<string, number>> {
  readonly resultSchema = {
    type: 'array',
    items: { type: 'object', properties: { value: { type: 'string' }, count: { type: 'integer' } }, required: ['value', 'count'] },
    description: 'The most frequent values, by count then value',
  };
  readonly numeric = false;
  constructor(
    readonly name: string,
    readonly definition: string,
    readonly argument: CompiledExpression,
    readonly k: number,
  ) {}

  create = () => new Map<string, number>();
  add = (state: Map<string, number>, value: Value) => {
    state.set(value as string, (state.get(value as string) ?? 0) + 1);
    return state;
  };
  merge = (into: Map<string, number>, from: Map<string, number>) => {
    for (const [value, count] of from) into.set(value, (into.get(value) ?? 0) + count);
    return into;
  };
  result = (state: Map<string, number>) =>
    [...state]
      .sort(([a, countA], [b, countB]) => countB - countA || compareCodePoints(a, b))
      .slice(0, this.k)
      .map(([value, count]) => ({ value, count }));
  toJson = (state: Map<string, number>): JsonObject =>
    Object.fromEntries([...state].sort(([a], [b]) => compareCodePoints(a, b)));
  fromJson = (json: JsonValue) => new Map(Object.entries(json as Record<string, number>));

  readonly sql = {
    kind: 'entries' as const,
    // "__e", not a plain name: GROUP BY takes a column of `from` over an alias of the same name, and names
    // in `from` (fields, derived fields) cannot start with '_'.
    entries: (from: string, groupBy: string, argument: string) =>
      `SELECT ${groupBy}, ${argument} AS "__e", count(*) AS "__n" FROM ${from} WHERE ${argument} IS NOT NULL GROUP BY ${groupBy}, "__e"`,
    combine: 'sum' as const,
    fields: ['v', 'c'] as const,
  };

  fromSql = ([list]: unknown[]) => {
    const counts = new Map<string, number>();
    for (const { v, c } of (list as { v: string; c: unknown }[] | null) ?? []) counts.set(v, toNumber(c));
    return counts;
  };
}
