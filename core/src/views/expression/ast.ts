/** The syntax tree of a view expression. `at` is the character position in the source text, for errors. */
export type Expression =
  | { kind: 'literal'; value: string | number | boolean | null; at: number }
  | { kind: 'field'; name: string; at: number }
  | { kind: 'negate'; operand: Expression; at: number }
  | { kind: 'not'; operand: Expression; at: number }
  | { kind: 'binary'; op: BinaryOperator; left: Expression; right: Expression; at: number }
  | { kind: 'is-null'; negated: boolean; operand: Expression; at: number }
  | { kind: 'in'; negated: boolean; operand: Expression; list: Expression[]; at: number }
  | { kind: 'call'; name: string; args: Expression[]; at: number }
  | { kind: 'case'; branches: { when: Expression; then: Expression }[]; otherwise: Expression | undefined; at: number };

export type ArithmeticOperator = '+' | '-' | '*' | '/';
export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type BinaryOperator = ArithmeticOperator | ComparisonOperator | '||' | 'and' | 'or';

/** The types of the language: every expression has exactly one, checked before anything runs. */
export type ValueType = 'string' | 'number' | 'boolean' | 'null';
export type Value = string | number | boolean | null;
