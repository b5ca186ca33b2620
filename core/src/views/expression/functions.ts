/**
 * The scalar functions of the view language, each defined once with its JS and its DuckDB form, so both
 * layers compute the same thing. All propagate NULL (any NULL argument gives NULL) except coalesce.
 */
import type { Value, ValueType } from './ast.js';

export interface ScalarFunction {
  args: ValueType[];
  returns: ValueType;
  js: (...args: never[]) => Value;
  sql: (args: string[]) => string;
}

export const SCALAR_FUNCTIONS: Record<string, ScalarFunction> = {
  lower: { args: ['string'], returns: 'string', js: (s: string) => s.toLowerCase(), sql: ([s]) => `lower(${s})` },
  // JS upper-cases ß to "SS"; DuckDB maps it to the one character ẞ (U+1E9E), which JS keeps as it is.
  upper: { args: ['string'], returns: 'string', js: (s: string) => s.replaceAll('ß', 'ẞ').toUpperCase(), sql: ([s]) => `upper(${s})` },
  // Characters are code points in both: JS's .length would count UTF-16 units.
  length: { args: ['string'], returns: 'number', js: (s: string) => [...s].length, sql: ([s]) => `CAST(length(${s}) AS DOUBLE)` },
  abs: { args: ['number'], returns: 'number', js: (x: number) => Math.abs(x), sql: ([x]) => `abs(${x})` },
  floor: { args: ['number'], returns: 'number', js: (x: number) => Math.floor(x), sql: ([x]) => `floor(${x})` },
  ceil: { args: ['number'], returns: 'number', js: (x: number) => Math.ceil(x), sql: ([x]) => `ceil(${x})` },
  starts_with: {
    args: ['string', 'string'],
    returns: 'boolean',
    js: (s: string, prefix: string) => s.startsWith(prefix),
    sql: ([s, prefix]) => `starts_with(${s}, ${prefix})`,
  },
  contains: {
    args: ['string', 'string'],
    returns: 'boolean',
    js: (s: string, part: string) => s.includes(part),
    // DuckDB also has contains() for lists, maps and structs: the casts pick the string one when an argument is an untyped NULL.
    sql: ([s, part]) => `contains(CAST(${s} AS VARCHAR), CAST(${part} AS VARCHAR))`,
  },
};

/** The aggregate functions: only at the top of an aggregate definition, never inside an expression. */
export const AGGREGATE_FUNCTION_NAMES = ['count', 'sum', 'min', 'max', 'avg', 'approx_distinct', 'top_k'] as const;
export type AggregateFunctionName = (typeof AGGREGATE_FUNCTION_NAMES)[number];
