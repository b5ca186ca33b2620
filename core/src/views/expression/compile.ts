/**
 * Type-checks an expression against the fields in scope and compiles it twice from the same tree: to a
 * JS function (for the speed layer) and to DuckDB SQL (for the batch layer). Both follow SQL semantics:
 * NULL propagates, AND/OR are three-valued, x / 0 is NULL, strings order by code point (as DuckDB's
 * byte order of UTF-8 does). Literals become bound parameters: no value is ever spliced into SQL text.
 */
import type { BinaryOperator, Expression, Value, ValueType } from './ast.js';
import { boundsOf, type FieldBounds, type ValueBounds } from './bounds.js';
import { ExpressionError } from './expression-error.js';
import { AGGREGATE_FUNCTION_NAMES, SCALAR_FUNCTIONS } from './functions.js';
import { parseExpression } from './parser.js';

/** A row as both layers see it: field name → typed value. */
export type Row = Readonly<Record<string, Value>>;

/** Collects the parameters of one SQL statement as expressions are rendered into it. */
export class SqlParameters {
  readonly values: Record<string, string | number | boolean> = {};
  private count = 0;

  add(value: string | number | boolean): string {
    const name = `p${++this.count}`;
    // The DuckDB client infers a parameter's type from its JS value: an integral number binds as INTEGER or
    // BIGINT, so -0 would lose its sign and 1e20 would not bind at all. Those travel as their exact decimal
    // text instead, which the CAST below reads back as the very same double.
    const inexact = typeof value === 'number' && (Object.is(value, -0) || (Number.isInteger(value) && !Number.isSafeInteger(value)));
    this.values[name] = inexact ? (Object.is(value, -0) ? '-0' : String(value)) : value;
    const type = typeof value === 'string' ? 'VARCHAR' : typeof value === 'number' ? 'DOUBLE' : 'BOOLEAN';
    return `CAST($${name} AS ${type})`;
  }
}

export interface CompiledExpression {
  text: string;
  type: ValueType;
  /** Field names the expression reads. */
  fields: ReadonlySet<string>;
  evaluate: (row: Row) => Value;
  /**
   * The same evaluation, except that the fields named in `fields` are read through their evaluator
   * rather than from the row: how a view hands derived fields to its expressions without copying the
   * record to add them.
   */
  evaluateWith: (fields: ReadonlyMap<string, Evaluator>) => Evaluator;
  /** DuckDB SQL for the expression; `column` maps a field name to its SQL column reference. */
  toSql: (parameters: SqlParameters, column: (field: string) => string) => string;
  /** How long a text and how large a number the expression can make, given the bounds of its fields. */
  bounds: (field: FieldBounds) => ValueBounds;
}

/** Fields in scope and their types. */
export type Scope = ReadonlyMap<string, ValueType>;

export function compileExpression(text: string, scope: Scope): CompiledExpression {
  return compileTree(parseExpression(text), text, scope);
}

export function compileTree(tree: Expression, text: string, scope: Scope): CompiledExpression {
  const fields = new Set<string>();
  const type = typeOf(tree, text, scope, fields);
  return {
    text,
    type,
    fields,
    evaluate: toFunction(tree, NO_OVERRIDES),
    evaluateWith: (overrides) => toFunction(tree, overrides),
    toSql: (parameters, column) => toSql(tree, parameters, column),
    bounds: (field) => boundsOf(tree, field),
  };
}

function typeOf(node: Expression, text: string, scope: Scope, fields: Set<string>): ValueType {
  const fail = (problem: string, at = node.at): never => {
    throw new ExpressionError(problem, text, at);
  };
  const check = (child: Expression, expected: ValueType, what: string): void => {
    const actual = typeOf(child, text, scope, fields);
    if (actual !== expected && actual !== 'null') fail(`${what} must be a ${expected}, not a ${actual}`, child.at);
  };
  const unify = (a: ValueType, b: ValueType, what: string, at: number): ValueType => {
    if (a === 'null') return b;
    if (b === 'null' || a === b) return a;
    return fail(`${what} mixes a ${a} and a ${b}`, at);
  };

  switch (node.kind) {
    case 'literal':
      return node.value === null ? 'null' : (typeof node.value as ValueType);
    case 'field': {
      const type = scope.get(node.name);
      if (type === undefined) {
        return fail(`unknown field "${node.name}"; known: ${[...scope.keys()].sort().join(', ') || 'none'}`);
      }
      fields.add(node.name);
      return type;
    }
    case 'negate':
      check(node.operand, 'number', 'the operand of -');
      return 'number';
    case 'not':
      check(node.operand, 'boolean', 'the operand of NOT');
      return 'boolean';
    case 'binary': {
      const { op } = node;
      if (op === 'and' || op === 'or') {
        check(node.left, 'boolean', `each side of ${op.toUpperCase()}`);
        check(node.right, 'boolean', `each side of ${op.toUpperCase()}`);
        return 'boolean';
      }
      if (op === '||') {
        check(node.left, 'string', 'each side of ||');
        check(node.right, 'string', 'each side of ||');
        return 'string';
      }
      if (op === '+' || op === '-' || op === '*' || op === '/') {
        check(node.left, 'number', `each side of ${op}`);
        check(node.right, 'number', `each side of ${op}`);
        return 'number';
      }
      const operands = unify(typeOf(node.left, text, scope, fields), typeOf(node.right, text, scope, fields), `the comparison ${op}`, node.at);
      if (op !== '=' && op !== '!=' && operands === 'boolean') fail(`booleans cannot be ordered with ${op}`);
      return 'boolean';
    }
    case 'is-null':
      typeOf(node.operand, text, scope, fields);
      return 'boolean';
    case 'in': {
      let type = typeOf(node.operand, text, scope, fields);
      for (const item of node.list) type = unify(type, typeOf(item, text, scope, fields), 'IN', item.at);
      return 'boolean';
    }
    case 'case': {
      let type: ValueType = 'null';
      for (const branch of node.branches) {
        check(branch.when, 'boolean', 'a WHEN condition');
        type = unify(type, typeOf(branch.then, text, scope, fields), 'CASE', branch.then.at);
      }
      if (node.otherwise) type = unify(type, typeOf(node.otherwise, text, scope, fields), 'CASE', node.otherwise.at);
      return type;
    }
    case 'call': {
      if ((AGGREGATE_FUNCTION_NAMES as readonly string[]).includes(node.name)) {
        return fail(`${node.name}() is an aggregate: it can only be a view's aggregate, not part of an expression`);
      }
      if (node.name === 'coalesce') {
        if (node.args.length < 2) fail('coalesce() takes two or more arguments');
        return node.args.reduce<ValueType>((type, arg) => unify(type, typeOf(arg, text, scope, fields), 'coalesce()', arg.at), 'null');
      }
      const spec = SCALAR_FUNCTIONS[node.name];
      if (!spec) {
        return fail(`unknown function ${node.name}(); known: ${[...Object.keys(SCALAR_FUNCTIONS), 'coalesce'].sort().join(', ')}`);
      }
      if (node.args.length !== spec.args.length) fail(`${node.name}() takes ${spec.args.length} argument(s), not ${node.args.length}`);
      node.args.forEach((arg, i) => check(arg, spec.args[i]!, `argument ${i + 1} of ${node.name}()`));
      return spec.returns;
    }
  }
}

export type Evaluator = (row: Row) => Value;

const NO_OVERRIDES: ReadonlyMap<string, Evaluator> = new Map();

function toFunction(node: Expression, overrides: ReadonlyMap<string, Evaluator>): Evaluator {
  const compile = (child: Expression) => toFunction(child, overrides);
  switch (node.kind) {
    case 'literal': {
      const value = node.value;
      return () => value;
    }
    case 'field': {
      const name = node.name;
      const override = overrides.get(name);
      if (override) return override;
      return (row) => row[name] ?? null;
    }
    case 'negate': {
      const operand = compile(node.operand);
      return (row) => {
        const value = operand(row);
        return value === null ? null : -(value as number);
      };
    }
    case 'not': {
      const operand = compile(node.operand);
      return (row) => {
        const value = operand(row);
        return value === null ? null : !value;
      };
    }
    case 'binary':
      return binary(node.op, compile(node.left), compile(node.right));
    case 'is-null': {
      const operand = compile(node.operand);
      return node.negated ? (row) => operand(row) !== null : (row) => operand(row) === null;
    }
    case 'in': {
      const operand = compile(node.operand);
      const list = node.list.map(compile);
      const negated = node.negated;
      return (row) => {
        const value = operand(row);
        if (value === null) return null;
        let sawNull = false;
        for (const item of list) {
          const candidate = item(row);
          if (candidate === null) sawNull = true;
          else if (equalValues(candidate, value)) return !negated;
        }
        return sawNull ? null : negated;
      };
    }
    case 'case': {
      const branches = node.branches.map((branch) => ({ when: compile(branch.when), then: compile(branch.then) }));
      const otherwise = node.otherwise ? compile(node.otherwise) : () => null;
      return (row) => {
        for (const branch of branches) if (branch.when(row) === true) return branch.then(row);
        return otherwise(row);
      };
    }
    case 'call': {
      const args = node.args.map(compile);
      if (node.name === 'coalesce') {
        return (row) => {
          for (const arg of args) {
            const value = arg(row);
            if (value !== null) return value;
          }
          return null;
        };
      }
      const js = SCALAR_FUNCTIONS[node.name]!.js as (...values: Value[]) => Value;
      return (row) => {
        const values = args.map((arg) => arg(row));
        return values.includes(null) ? null : js(...values);
      };
    }
  }
}

function binary(op: BinaryOperator, left: Evaluator, right: Evaluator): Evaluator {
  switch (op) {
    case 'and':
      return (row) => {
        const a = left(row);
        if (a === false) return false;
        const b = right(row);
        if (b === false) return false;
        return a === null || b === null ? null : true;
      };
    case 'or':
      return (row) => {
        const a = left(row);
        if (a === true) return true;
        const b = right(row);
        if (b === true) return true;
        return a === null || b === null ? null : false;
      };
    default: {
      const apply = APPLY[op];
      return (row) => {
        const a = left(row);
        const b = right(row);
        return a === null || b === null ? null : apply(a, b);
      };
    }
  }
}

const APPLY: Record<Exclude<BinaryOperator, 'and' | 'or'>, (a: Value, b: Value) => Value> = {
  '+': (a, b) => (a as number) + (b as number),
  '-': (a, b) => (a as number) - (b as number),
  '*': (a, b) => (a as number) * (b as number),
  '/': (a, b) => ((b as number) === 0 ? null : (a as number) / (b as number)),
  '||': (a, b) => (a as string) + (b as string),
  '=': (a, b) => equalValues(a, b),
  '!=': (a, b) => !equalValues(a, b),
  '<': (a, b) => compareValues(a, b) < 0,
  '<=': (a, b) => compareValues(a, b) <= 0,
  '>': (a, b) => compareValues(a, b) > 0,
  '>=': (a, b) => compareValues(a, b) >= 0,
};

/** Orders numbers numerically and strings by code point, which is DuckDB's UTF-8 byte order. */
export function compareValues(a: Value, b: Value): number {
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  const x = a as number;
  const y = b as number;
  // As in DuckDB, NaN equals itself and sorts above every other number (where IEEE makes every comparison with it false).
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** SQL equality of two non-NULL values of one type: numbers as compareValues orders them (NaN = NaN, -0 = 0). */
function equalValues(a: Value, b: Value): boolean {
  return typeof a === 'number' ? compareValues(a, b) === 0 : a === b;
}

export function compareCodePoints(a: string, b: string): number {
  // UTF-16 order equals code-point order except where a surrogate meets a unit from U+E000 to U+FFFF.
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff && y >= 0xe000) return 1;
    if (y >= 0xd800 && y <= 0xdfff && x >= 0xe000) return -1;
    return x - y;
  }
  return a.length - b.length;
}

function toSql(node: Expression, parameters: SqlParameters, column: (field: string) => string): string {
  const sql = (child: Expression) => toSql(child, parameters, column);
  switch (node.kind) {
    case 'literal':
      return node.value === null ? 'NULL' : parameters.add(node.value);
    case 'field':
      return column(node.name);
    case 'negate':
      return `(- ${sql(node.operand)})`;
    case 'not':
      return `(NOT ${sql(node.operand)})`;
    case 'binary': {
      const left = sql(node.left);
      const right = sql(node.right);
      switch (node.op) {
        case '/':
          return `(${left} / NULLIF(${right}, 0))`;
        case '!=':
          return `(${left} <> ${right})`;
        case 'and':
        case 'or':
          return `(${left} ${node.op.toUpperCase()} ${right})`;
        default:
          return `(${left} ${node.op} ${right})`;
      }
    }
    case 'is-null':
      return `(${sql(node.operand)} IS ${node.negated ? 'NOT ' : ''}NULL)`;
    case 'in':
      return `(${sql(node.operand)} ${node.negated ? 'NOT ' : ''}IN (${node.list.map(sql).join(', ')}))`;
    case 'case': {
      const branches = node.branches.map((branch) => `WHEN ${sql(branch.when)} THEN ${sql(branch.then)}`).join(' ');
      return `(CASE ${branches} ELSE ${node.otherwise ? sql(node.otherwise) : 'NULL'} END)`;
    }
    case 'call': {
      const args = node.args.map(sql);
      if (node.name === 'coalesce') return `coalesce(${args.join(', ')})`;
      return SCALAR_FUNCTIONS[node.name]!.sql(args);
    }
  }
}
