/**
 * Aggregates are commutative monoids: `create` is the identity, `merge` combines two states in any order
 * and grouping, `add` folds one input. So a window's state can be built from any split of its records
 * (slices, batch versions) and merged to the same result. Each aggregate also says how DuckDB computes its
 * state over a group, so the batch layer gets the state the speed layer would have.
 */
import type { JsonObject, JsonValue } from '../../records/json.js';
import type { Value } from '../expression/ast.js';
import type { CompiledExpression } from '../expression/compile.js';

/** How DuckDB computes an aggregate's state over a group of rows. */
/** How partial results of a group combine into the whole group's: by sum, or by the least or greatest. */
export type SqlCombine = 'sum' | 'min' | 'max';

export type AggregateSql =
  /**
   * Columns of the main GROUP BY, e.g. `count(*)`, and how each column of two parts of a group combines
   * (a count's parts add up): hopping windows are computed per pane and the panes combined.
   */
  | { kind: 'columns'; columns: (argument: string) => string[]; combine: readonly SqlCombine[] }
  /**
   * A state that is a map, as entries of a query of its own: `entries` gives the columns of `groupBy`, an
   * entry `"__e"` and its number `"__n"` per group and entry, over `from`; the entries of two parts of a
   * group combine by `combine`. The state is the list of `{fields[0]: entry, fields[1]: number}`.
   */
  | { kind: 'entries'; entries: (from: string, groupBy: string, argument: string) => string; combine: SqlCombine; fields: readonly [string, string] };

export interface Aggregate<S = unknown> {
  /** The output name in the view, e.g. `visitors`. */
  readonly name: string;
  /** The definition text, e.g. `approx_distinct(user)`. */
  readonly definition: string;
  /** The input expression; undefined for count(). */
  readonly argument: CompiledExpression | undefined;
  create(): S;
  /** Folds one input value (already known not to be null, or `true` for count()). Returns the state. */
  add(state: S, value: Value): S;
  /** Combines `from` into `into` and returns it; `from` is left as it was. */
  merge(into: S, from: S): S;
  result(state: S): JsonValue;
  /** The JSON schema of `result`'s value, for API documentation. */
  readonly resultSchema: JsonObject;
  /** Whether `result` is a number (or null), so keys can be ranked by it. */
  readonly numeric: boolean;
  toJson(state: S): JsonValue;
  fromJson(json: JsonValue): S;
  readonly sql: AggregateSql;
  /** The state from the values DuckDB returned for this aggregate (its columns, or `st`). */
  fromSql(values: unknown[]): S;
}

/** DuckDB returns BIGINT as bigint; states hold numbers. */
export function toNumber(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : (value as number);
}
