/**
 * Static bounds of an expression's values: how long a string it can make, and how large a number. The
 * record limits bound every field, so these bound every key and input a view derives from a record;
 * where the bounds stay within what the stores keep, no record needs checking against the view at all.
 */
import type { Expression } from './ast.js';

export interface ValueBounds {
  /** The longest text the value can have, as a string or formatted as one (in UTF-16 code units). */
  length: number;
  /** The largest magnitude a number can have; Infinity when it may overflow. */
  magnitude: number;
}

/** The bounds of a field by name (declared or derived). */
export type FieldBounds = (name: string) => ValueBounds;

/** The longest text of a number: `-1.7976931348623157e+308`. */
export const NUMBER_TEXT_LENGTH = 24;
const BOOLEAN = { length: 5, magnitude: 0 };
const NUMBER_TEXT = NUMBER_TEXT_LENGTH;
/** Case mapping can make a string longer: 'ΐ'.toUpperCase() is three code units. */
const CASE_MAPPING_GROWTH = 3;

export function boundsOf(node: Expression, field: FieldBounds): ValueBounds {
  switch (node.kind) {
    case 'literal': {
      const value = node.value;
      if (typeof value === 'string') return { length: value.length, magnitude: 0 };
      if (typeof value === 'number') return { length: String(value).length, magnitude: Math.abs(value) };
      return BOOLEAN;
    }
    case 'field':
      return field(node.name);
    case 'negate':
      return boundsOf(node.operand, field);
    case 'not':
    case 'is-null':
    case 'in':
      return BOOLEAN;
    case 'binary': {
      const { op } = node;
      if (op === '||') {
        const left = boundsOf(node.left, field);
        const right = boundsOf(node.right, field);
        return { length: left.length + right.length, magnitude: 0 };
      }
      if (op === '+' || op === '-' || op === '*' || op === '/') return { length: NUMBER_TEXT, magnitude: arithmeticMagnitude(node, field) };
      return BOOLEAN;
    }
    case 'case': {
      const branches = [...node.branches.map((branch) => branch.then), ...(node.otherwise ? [node.otherwise] : [])];
      return widest(branches.map((branch) => boundsOf(branch, field)));
    }
    case 'call': {
      const args = node.args.map((arg) => boundsOf(arg, field));
      switch (node.name) {
        case 'coalesce':
          return widest(args);
        case 'lower':
        case 'upper':
          return { length: args[0]!.length * CASE_MAPPING_GROWTH, magnitude: 0 };
        case 'length':
          return { length: NUMBER_TEXT, magnitude: args[0]!.length };
        case 'abs':
        case 'floor':
          return args[0]!;
        case 'ceil':
          return { length: NUMBER_TEXT, magnitude: args[0]!.magnitude + 1 };
        default:
          return BOOLEAN;
      }
    }
  }
}

function arithmeticMagnitude(node: Extract<Expression, { kind: 'binary' }>, field: FieldBounds): number {
  const left = boundsOf(node.left, field).magnitude;
  const right = boundsOf(node.right, field).magnitude;
  switch (node.op) {
    case '+':
    case '-':
      return left + right;
    case '*':
      return left * right;
    default: {
      // Dividing by a variable can blow up (x / 1e-300); only a literal divisor bounds the quotient.
      const divisor = node.right.kind === 'literal' && typeof node.right.value === 'number' ? Math.abs(node.right.value) : 0;
      return divisor === 0 ? Infinity : left / divisor;
    }
  }
}

function widest(all: ValueBounds[]): ValueBounds {
  return all.reduce((a, b) => ({ length: Math.max(a.length, b.length), magnitude: Math.max(a.magnitude, b.magnitude) }), { length: 0, magnitude: 0 });
}
