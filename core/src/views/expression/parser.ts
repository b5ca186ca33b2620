/**
 * A Pratt parser for view expressions: SQL-like syntax (`latency > 1000 AND NOT is_bot`,
 * `lower(url) || '/'`, `CASE WHEN ... THEN ... ELSE ... END`), with SQL's operator precedence.
 */
import type { BinaryOperator, Expression } from './ast.js';
import { ExpressionError } from './expression-error.js';
import { tokenize, type Token } from './lexer.js';

/** Binding power of infix operators: higher binds tighter. */
const INFIX: Record<string, { power: number; op: BinaryOperator }> = {
  or: { power: 1, op: 'or' },
  and: { power: 2, op: 'and' },
  '=': { power: 4, op: '=' },
  '!=': { power: 4, op: '!=' },
  '<': { power: 4, op: '<' },
  '<=': { power: 4, op: '<=' },
  '>': { power: 4, op: '>' },
  '>=': { power: 4, op: '>=' },
  '||': { power: 5, op: '||' },
  '+': { power: 6, op: '+' },
  '-': { power: 6, op: '-' },
  '*': { power: 7, op: '*' },
  '/': { power: 7, op: '/' },
};
const NOT_POWER = 3;
const COMPARISON_POWER = 4;
const NEGATE_POWER = 8;

export function parseExpression(text: string): Expression {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ExpressionError('an expression is required', String(text), 0);
  }
  const tokens = tokenize(text);
  let position = 0;
  const peek = (): Token => tokens[position]!;
  const next = (): Token => tokens[position++]!;
  const fail = (problem: string, token: Token = peek()): never => {
    throw new ExpressionError(problem, text, token.at);
  };
  const describe = (token: Token): string => (token.type === 'end' ? 'the end' : `"${text.slice(token.at).split(/\s/)[0]}"`);
  const isSymbol = (token: Token, symbol: string) => token.type === 'symbol' && token.value === symbol;
  const isKeyword = (token: Token, keyword: string) => token.type === 'keyword' && token.value === keyword;
  const expectSymbol = (symbol: string): void => {
    if (!isSymbol(peek(), symbol)) fail(`expected "${symbol}" but found ${describe(peek())}`);
    next();
  };
  const expectKeyword = (keyword: string): void => {
    if (!isKeyword(peek(), keyword)) fail(`expected ${keyword.toUpperCase()} but found ${describe(peek())}`);
    next();
  };

  const parse = (minimumPower: number): Expression => {
    let left = prefix();
    for (;;) {
      const token = peek();
      if (token.type === 'keyword' && (token.value === 'is' || token.value === 'in' || token.value === 'not')) {
        if (COMPARISON_POWER < minimumPower) break;
        left = postfixPredicate(left);
        continue;
      }
      const key = token.type === 'symbol' || token.type === 'keyword' ? token.value : undefined;
      const infix = key === undefined ? undefined : INFIX[key];
      if (!infix || infix.power < minimumPower) break;
      next();
      // Comparisons do not chain (a < b < c is an error, as in SQL); the rest are left-associative.
      const right = parse(infix.power + 1);
      if (infix.power === COMPARISON_POWER && isComparison(peek())) fail('comparisons cannot be chained; use AND');
      left = { kind: 'binary', op: infix.op, left, right, at: token.at };
    }
    return left;
  };

  const isComparison = (token: Token): boolean => token.type === 'symbol' && INFIX[token.value]?.power === COMPARISON_POWER;

  // IS [NOT] NULL, [NOT] IN (...)
  const postfixPredicate = (operand: Expression): Expression => {
    const token = next();
    if (token.type === 'keyword' && token.value === 'is') {
      const negated = isKeyword(peek(), 'not');
      if (negated) next();
      expectKeyword('null');
      return { kind: 'is-null', negated, operand, at: token.at };
    }
    const negated = isKeyword(token, 'not');
    if (negated) expectKeyword('in');
    expectSymbol('(');
    const list: Expression[] = [];
    do {
      list.push(parse(0));
    } while (isSymbol(peek(), ',') && next());
    expectSymbol(')');
    return { kind: 'in', negated, operand, list, at: token.at };
  };

  const prefix = (): Expression => {
    const token = next();
    switch (token.type) {
      case 'number':
        return { kind: 'literal', value: token.value, at: token.at };
      case 'string':
        return { kind: 'literal', value: token.value, at: token.at };
      case 'identifier':
        if (isSymbol(peek(), '(')) {
          next();
          const args: Expression[] = [];
          if (!isSymbol(peek(), ')')) {
            do {
              args.push(parse(0));
            } while (isSymbol(peek(), ',') && next());
          }
          expectSymbol(')');
          return { kind: 'call', name: token.value.toLowerCase(), args, at: token.at };
        }
        return { kind: 'field', name: token.value, at: token.at };
      case 'keyword':
        switch (token.value) {
          case 'true':
          case 'false':
            return { kind: 'literal', value: token.value === 'true', at: token.at };
          case 'null':
            return { kind: 'literal', value: null, at: token.at };
          case 'not':
            return { kind: 'not', operand: parse(NOT_POWER), at: token.at };
          case 'case':
            return caseExpression(token);
          default:
            return fail(`unexpected ${token.value.toUpperCase()}`, token);
        }
      case 'symbol':
        if (token.value === '(') {
          const inner = parse(0);
          expectSymbol(')');
          return inner;
        }
        if (token.value === '-') {
          const operand = parse(NEGATE_POWER);
          // A negative number is a literal, so it can be a parameter like any other.
          if (operand.kind === 'literal' && typeof operand.value === 'number') return { ...operand, value: -operand.value, at: token.at };
          return { kind: 'negate', operand, at: token.at };
        }
        return fail(`unexpected "${token.value}"`, token);
      case 'end':
        return fail('the expression ends too early', token);
    }
  };

  const caseExpression = (token: Token): Expression => {
    const branches: { when: Expression; then: Expression }[] = [];
    while (isKeyword(peek(), 'when')) {
      next();
      const when = parse(0);
      expectKeyword('then');
      branches.push({ when, then: parse(0) });
    }
    if (branches.length === 0) fail('CASE needs at least one WHEN');
    let otherwise: Expression | undefined;
    if (isKeyword(peek(), 'else')) {
      next();
      otherwise = parse(0);
    }
    expectKeyword('end');
    return { kind: 'case', branches, otherwise, at: token.at };
  };

  const expression = parse(0);
  if (peek().type !== 'end') fail(`unexpected ${describe(peek())} after a complete expression`);
  return expression;
}
