import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ExpressionError,
  InvalidArgumentError,
  SqlParameters,
  WindowAssigner,
  compareCodePoints,
  compileExpression,
  parseDuration,
  parseExpression,
  type Expression,
  type Row,
  type Scope,
  type Value,
  type ValueType,
} from '../src/index.js';
import {
  REGISTER_COUNT,
  addValue,
  decodeRegisters,
  encodeRegisters,
  estimate,
  mergeRegisters,
  registerOf,
  Registers,
} from '../src/views/aggregates/hyperloglog.js';

/** The tree as an S-expression, positions left out: `(+ 1 (* 2 3))`. */
function shape(node: Expression): string {
  switch (node.kind) {
    case 'literal':
      return typeof node.value === 'string' ? JSON.stringify(node.value) : String(node.value);
    case 'field':
      return node.name;
    case 'negate':
      return `(neg ${shape(node.operand)})`;
    case 'not':
      return `(not ${shape(node.operand)})`;
    case 'binary':
      return `(${node.op} ${shape(node.left)} ${shape(node.right)})`;
    case 'is-null':
      return `(${node.negated ? 'is-not-null' : 'is-null'} ${shape(node.operand)})`;
    case 'in':
      return `(${node.negated ? 'not-in' : 'in'} ${[node.operand, ...node.list].map(shape).join(' ')})`;
    case 'call':
      return `(${[node.name, ...node.args.map(shape)].join(' ')})`;
    case 'case': {
      const branches = node.branches.map((branch) => `(${shape(branch.when)} ${shape(branch.then)})`);
      return `(case ${branches.join(' ')}${node.otherwise ? ` else ${shape(node.otherwise)}` : ''})`;
    }
  }
}

function expressionErrorOf(run: () => unknown): ExpressionError {
  try {
    run();
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
  throw new Error('expected an ExpressionError');
}

const scopeOf = (fields: Record<string, ValueType>): Scope => new Map(Object.entries(fields));

/** The fields of the evaluation tests: numbers n and m, strings s and t, booleans p and q. */
const SCOPE = scopeOf({ n: 'number', m: 'number', s: 'string', t: 'string', p: 'boolean', q: 'boolean' });
const evaluate = (text: string, row: Row = {}): Value => compileExpression(text, SCOPE).evaluate(row);

describe('parseExpression', () => {
  describe('when operators of different precedence meet', () => {
    it.each([
      ['1 + 2 * 3', '(+ 1 (* 2 3))'],
      ['(1 + 2) * 3', '(* (+ 1 2) 3)'],
      ['8 / 4 / 2', '(/ (/ 8 4) 2)'],
      ['a - b - c', '(- (- a b) c)'],
      ['a OR b AND c', '(or a (and b c))'],
      ['a AND b OR c', '(or (and a b) c)'],
      ['NOT a = b', '(not (= a b))'],
      ['NOT a AND b', '(and (not a) b)'],
      ['NOT NOT a', '(not (not a))'],
      ['a || b = c', '(= (|| a b) c)'],
      ['a + b || c', '(|| (+ a b) c)'],
      ['a < b + 1', '(< a (+ b 1))'],
      ['a <> b', '(!= a b)'],
      ['a >= b AND c <= d', '(and (>= a b) (<= c d))'],
      ['x IS NOT NULL', '(is-not-null x)'],
      ['x IS NULL OR y', '(or (is-null x) y)'],
      ['NOT x IS NULL', '(not (is-null x))'],
      ['x + 1 IS NULL', '(is-null (+ x 1))'],
      ['x NOT IN (1, 2)', '(not-in x 1 2)'],
      ['x IN (1 + 1, y)', '(in x (+ 1 1) y)'],
      ['a AND x IN (1)', '(and a (in x 1))'],
    ])('should parse %s as %s', (text, expected) => {
      expect(shape(parseExpression(text))).toBe(expected);
    });
  });

  describe('when a minus precedes a number', () => {
    it('should make a negative literal, which can be a parameter like any other', () => {
      expect(parseExpression('-5')).toEqual({ kind: 'literal', value: -5, at: 0 });
      expect(shape(parseExpression('-2 * 3'))).toBe('(* -2 3)');
      expect(shape(parseExpression('3 - -2'))).toBe('(- 3 -2)');
      expect(shape(parseExpression('- - 2'))).toBe('2');
    });

    it('should negate anything else', () => {
      expect(shape(parseExpression('- x'))).toBe('(neg x)');
      expect(shape(parseExpression('-x * 2'))).toBe('(* (neg x) 2)');
      expect(shape(parseExpression('-(x + 1)'))).toBe('(neg (+ x 1))');
    });
  });

  describe('when literals are written', () => {
    it.each([
      ["'it''s'", "it's"],
      ["''''", "'"],
      ["''", ''],
      ["'a '' b '' c'", "a ' b ' c"],
      ["'😀 é'", '😀 é'],
    ])('should read the string %s as %j', (text, value) => {
      expect(parseExpression(text)).toEqual({ kind: 'literal', value, at: 0 });
    });

    it.each([
      ['42', 42],
      ['1.5', 1.5],
      ['.5', 0.5],
      ['1.5e3', 1500],
      ['2E-2', 0.02],
      ['TRUE', true],
      ['false', false],
      ['Null', null],
    ])('should read %s as %j', (text, value) => {
      expect(parseExpression(text)).toEqual({ kind: 'literal', value, at: 0 });
    });
  });

  describe('when functions are called', () => {
    it('should take any number of arguments and lower-case the name', () => {
      expect(shape(parseExpression("LOWER(url) || '/'"))).toBe('(|| (lower url) "/")');
      expect(shape(parseExpression("coalesce(a, b + 1, 'x')"))).toBe('(coalesce a (+ b 1) "x")');
      expect(shape(parseExpression('now()'))).toBe('(now)');
    });

    it('should keep the case of field names', () => {
      expect(parseExpression('UserId')).toEqual({ kind: 'field', name: 'UserId', at: 0 });
    });
  });

  describe('when CASE is written', () => {
    it('should read every branch and the ELSE', () => {
      expect(shape(parseExpression("CASE WHEN a > 1 THEN 'big' WHEN a = 1 THEN 'one' ELSE 'small' END"))).toBe(
        '(case ((> a 1) "big") ((= a 1) "one") else "small")',
      );
    });

    it('should read a CASE without ELSE, and nest in operators', () => {
      expect(shape(parseExpression('1 + CASE WHEN a THEN 2 END * 3'))).toBe('(+ 1 (* (case (a 2)) 3))');
    });
  });

  describe('when nodes are made', () => {
    it('should record where each starts in the text', () => {
      const tree = parseExpression('a + lower(b)');
      expect(tree).toMatchObject({ kind: 'binary', at: 2, left: { at: 0 }, right: { kind: 'call', at: 4, args: [{ at: 10 }] } });
    });
  });
});

describe('ExpressionError', () => {
  const scope = scopeOf({ url: 'string', status: 'number', flag: 'boolean' });
  const compile = (text: string) => compileExpression(text, scope);

  describe('when the text does not parse', () => {
    it.each([
      ["url = 'abc", 'a string is not closed with a quote', 6],
      ['a < b < c', 'comparisons cannot be chained; use AND', 6],
      ['a = b != c', 'comparisons cannot be chained; use AND', 6],
      ['a b', 'unexpected "b" after a complete expression', 2],
      ['status = 1)', 'unexpected ")" after a complete expression', 10],
      ['', 'an expression is required', 0],
      ['   ', 'an expression is required', 0],
      ['url # 1', 'unexpected character "#"', 4],
      ['1 +', 'the expression ends too early', 3],
      ['(status', 'expected ")" but found the end', 7],
      ['CASE END', 'CASE needs at least one WHEN', 5],
      ['CASE WHEN flag 1 END', 'expected THEN but found "1"', 15],
      ['2abc', 'a number cannot run into a name', 0],
      ['url IS NUL', 'expected NULL but found "NUL"', 7],
      ['status NOT 1', 'expected IN but found "1"', 11],
      ['AND flag', 'unexpected AND', 0],
    ])('should reject %j: %s', (text, problem, at) => {
      const error = expressionErrorOf(() => parseExpression(text));
      expect(error.message).toBe(`In ${JSON.stringify(text)} at position ${at + 1}: ${problem}`);
      expect(error.code).toBe('INVALID_EXPRESSION');
      expect(error).toBeInstanceOf(InvalidArgumentError);
    });
  });

  describe('when the text does not type-check', () => {
    it.each([
      ['latency > 10', 'unknown field "latency"; known: flag, status, url', 0],
      ['status + frob(url)', 'unknown function frob(); known: abs, ceil, coalesce, contains, floor, length, lower, starts_with, upper', 9],
      ['url + 1', 'each side of + must be a number, not a string', 0],
      ['1 * url', 'each side of * must be a number, not a string', 4],
      ["url || 1", 'each side of || must be a string, not a number', 7],
      ['- url', 'the operand of - must be a number, not a string', 2],
      ['NOT status', 'the operand of NOT must be a boolean, not a number', 4],
      ['flag AND status', 'each side of AND must be a boolean, not a number', 9],
      ['lower(status)', 'argument 1 of lower() must be a string, not a number', 6],
      ["starts_with(url, 1)", 'argument 2 of starts_with() must be a string, not a number', 17],
      ['lower(url, url)', 'lower() takes 1 argument(s), not 2', 0],
      ['coalesce(url)', 'coalesce() takes two or more arguments', 0],
      ["coalesce(url, 1)", 'coalesce() mixes a string and a number', 14],
      ['url = 1', 'the comparison = mixes a string and a number', 4],
      ['flag < TRUE', 'booleans cannot be ordered with <', 5],
      ["status IN (1, 'a')", 'IN mixes a number and a string', 14],
      ["CASE WHEN flag THEN 1 ELSE 'x' END", 'CASE mixes a number and a string', 27],
      ['CASE WHEN status THEN 1 END', 'a WHEN condition must be a boolean, not a number', 10],
      ['sum(status) > 1', "sum() is an aggregate: it can only be a view's aggregate, not part of an expression", 0],
      ['1 + count(url)', "count() is an aggregate: it can only be a view's aggregate, not part of an expression", 4],
    ])('should reject %j: %s', (text, problem, at) => {
      const error = expressionErrorOf(() => compile(text));
      expect(error.message).toBe(`In ${JSON.stringify(text)} at position ${at + 1}: ${problem}`);
      expect(error.context).toMatchObject({ expression: text, at, problem });
    });

    it('should say when no field is known at all', () => {
      expect(expressionErrorOf(() => compileExpression('x', new Map())).message).toContain('unknown field "x"; known: none');
    });
  });
});

describe('compileExpression', () => {
  describe('when an expression compiles', () => {
    it('should give its type and the fields it reads', () => {
      const compiled = compileExpression("CASE WHEN p THEN s ELSE lower(t) || 'x' END", SCOPE);
      expect(compiled.type).toBe('string');
      expect([...compiled.fields].sort()).toEqual(['p', 's', 't']);
      expect(compileExpression('n IS NULL', SCOPE).type).toBe('boolean');
      expect(compileExpression('length(s) + 1', SCOPE).type).toBe('number');
      expect(compileExpression('NULL', SCOPE).type).toBe('null');
      expect(compileExpression('coalesce(NULL, n)', SCOPE).type).toBe('number');
    });
  });

  describe('when AND, OR and NOT meet NULL', () => {
    // SQL's three-valued logic: FALSE wins an AND, TRUE wins an OR, anything else with NULL is NULL.
    it.each([
      [true, true, true, true],
      [true, false, false, true],
      [true, null, null, true],
      [false, true, false, true],
      [false, false, false, false],
      [false, null, false, null],
      [null, true, null, true],
      [null, false, false, null],
      [null, null, null, null],
    ])('should give %j AND %j = %j and %j OR %j = %j', (p, q, and, or) => {
      expect(evaluate('p AND q', { p, q })).toBe(and);
      expect(evaluate('p OR q', { p, q })).toBe(or);
    });

    it.each([
      [true, false],
      [false, true],
      [null, null],
    ])('should give NOT %j = %j', (p, not) => {
      expect(evaluate('NOT p', { p })).toBe(not);
    });
  });

  describe('when an operand is NULL', () => {
    it.each([
      'n + 1',
      '1 - n',
      'n * 2',
      'n / 2',
      '2 / n',
      '- n',
      "s || 'x'",
      "'x' || s",
      'n = 1',
      'n != 1',
      'n < 1',
      'n >= m',
      "s < 'a'",
      's = t',
      'p = TRUE',
      'lower(s)',
      'upper(s)',
      'length(s)',
      'abs(n)',
      'floor(n)',
      'ceil(n)',
      "starts_with(s, 'a')",
      "contains('abc', s)",
      'n IN (1, 2)',
      'n NOT IN (1, 2)',
      'NULL + 1',
      'NULL = NULL',
    ])('should give NULL for %s', (text) => {
      expect(evaluate(text, { n: null, m: 1, s: null, t: 'a', p: null })).toBeNull();
    });

    it('should give NULL for a missing field too', () => {
      expect(evaluate('n + 1', {})).toBeNull();
    });

    it('should let IS NULL and IS NOT NULL see it', () => {
      expect(evaluate('n IS NULL', { n: null })).toBe(true);
      expect(evaluate('n IS NOT NULL', { n: null })).toBe(false);
      expect(evaluate('n IS NULL', { n: 0 })).toBe(false);
      expect(evaluate("s IS NOT NULL", { s: '' })).toBe(true);
      expect(evaluate('(n + 1) IS NULL', { n: null })).toBe(true);
    });
  });

  describe('when a number is divided by zero', () => {
    it('should give NULL, as DuckDB does, for any zero', () => {
      expect(evaluate('n / 0', { n: 1 })).toBeNull();
      expect(evaluate('n / m', { n: 1, m: 0 })).toBeNull();
      expect(evaluate('n / m', { n: 1, m: -0 })).toBeNull();
      expect(evaluate('0 / 0')).toBeNull();
      expect(evaluate('n / 4', { n: 1 })).toBe(0.25);
      expect(evaluate('n / (1 - 1) IS NULL', { n: 5 })).toBe(true);
    });
  });

  describe('when numbers are computed', () => {
    it('should follow arithmetic precedence and the IEEE doubles', () => {
      expect(evaluate('1 + 2 * 3')).toBe(7);
      expect(evaluate('(1 + 2) * 3')).toBe(9);
      expect(evaluate('10 - 4 - 3')).toBe(3);
      expect(evaluate('-2 * -3')).toBe(6);
      expect(evaluate('0.1 + 0.2')).toBe(0.30000000000000004);
      expect(evaluate('abs(-2.5) + floor(-2.5) + ceil(-2.5)')).toBe(2.5 - 3 - 2);
    });
  });

  describe('when IN meets NULL', () => {
    it.each([
      ['1 IN (1, NULL)', true],
      ['2 IN (1, NULL)', null],
      ['2 IN (1, 3)', false],
      ['1 NOT IN (1, NULL)', false],
      ['2 NOT IN (1, NULL)', null],
      ['2 NOT IN (1, 3)', true],
      ['NULL IN (1, 2)', null],
      ['NULL NOT IN (NULL)', null],
      ["'a' IN ('b', 'a')", true],
      ['TRUE IN (FALSE, NULL)', null],
    ])('should give %s = %j', (text, expected) => {
      expect(evaluate(text)).toBe(expected);
    });
  });

  describe('when CASE chooses', () => {
    it('should take the first branch whose condition is TRUE, a NULL condition not counting', () => {
      const text = "CASE WHEN n > 10 THEN 'big' WHEN n > 0 THEN 'some' ELSE 'none' END";
      expect(evaluate(text, { n: 20 })).toBe('big');
      expect(evaluate(text, { n: 5 })).toBe('some');
      expect(evaluate(text, { n: -1 })).toBe('none');
      expect(evaluate(text, { n: null })).toBe('none');
    });

    it('should give NULL when no branch is taken and there is no ELSE', () => {
      expect(evaluate("CASE WHEN n > 10 THEN 'big' END", { n: 1 })).toBeNull();
      expect(evaluate("CASE WHEN p THEN 'yes' END", { p: null })).toBeNull();
    });
  });

  describe('when coalesce() is called', () => {
    it('should give the first argument that is not NULL', () => {
      expect(evaluate('coalesce(n, m, 3)', { n: null, m: 2 })).toBe(2);
      expect(evaluate('coalesce(n, m, 3)', { n: null, m: null })).toBe(3);
      expect(evaluate('coalesce(n, m)', { n: 0, m: 2 })).toBe(0);
      expect(evaluate("coalesce(s, '')", { s: null })).toBe('');
      expect(evaluate('coalesce(NULL, NULL)')).toBeNull();
      expect(evaluate('coalesce(p, FALSE)', { p: false })).toBe(false);
    });
  });

  describe('when string functions are called', () => {
    it('should count characters as code points, not UTF-16 units', () => {
      expect('a😀'.length).toBe(3);
      expect(evaluate("length('a😀')")).toBe(2);
      expect(evaluate("length('')")).toBe(0);
      expect(evaluate('length(s)', { s: 'e\u0301' })).toBe(2); // e and a combining accent
      expect(evaluate('length(s)', { s: '😀😀😀' })).toBe(3);
    });

    it('should test prefixes and parts, the empty string being part of every string', () => {
      expect(evaluate("starts_with(s, 'ab')", { s: 'abc' })).toBe(true);
      expect(evaluate("starts_with(s, 'bc')", { s: 'abc' })).toBe(false);
      expect(evaluate("contains(s, 'bc')", { s: 'abc' })).toBe(true);
      expect(evaluate("contains(s, '')", { s: '' })).toBe(true);
      expect(evaluate("starts_with(s, '')", { s: 'x' })).toBe(true);
    });

    it('should concatenate with ||', () => {
      expect(evaluate("s || '/' || t", { s: 'a', t: 'b' })).toBe('a/b');
      expect(evaluate("s || ''", { s: '' })).toBe('');
    });

    it('should change case as DuckDB does, ß upper-casing to the one character ẞ', () => {
      // DuckDB's upper('ß') is 'ẞ' (U+1E9E); JS's toUpperCase() would give 'SS', a string of another length.
      expect(evaluate("upper('straße')")).toBe('STRA\u1E9EE');
      expect(evaluate("length(upper('ß'))")).toBe(1);
      expect(evaluate("lower(upper('ß'))")).toBe('ß');
      expect(evaluate("upper('àéîõüÿ')")).toBe('ÀÉÎÕÜ\u0178');
      expect(evaluate("lower('ÀÉÎÕÜ') || lower('AbC')")).toBe('àéîõüabc');
    });
  });

  describe('when strings are ordered', () => {
    const strings = ['', 'a', 'A', 'ab', 'b', 'é', 'z', '\uFF61', '\uFFFF', '😀', 'a😀', '\uD83D\uDE01', '中', '~'];

    it('should order by code point, where JS orders by UTF-16 unit', () => {
      // U+FF61 is below U+1F600, but its one UTF-16 unit is above the surrogates that spell 😀.
      expect('\uFF61' < '😀').toBe(false);
      expect(compareCodePoints('\uFF61', '😀')).toBeLessThan(0);
      expect(compareCodePoints('😀', '\uFF61')).toBeGreaterThan(0);
      expect(compareCodePoints('\uFFFF', '😀')).toBeLessThan(0);
      expect(evaluate("'\uFF61' < '😀'")).toBe(true);
      expect(evaluate('s > t', { s: '😀', t: '\uFF61' })).toBe(true);
    });

    it('should agree with the order of the UTF-8 bytes, which is what DuckDB compares', () => {
      for (const a of strings) {
        for (const b of strings) {
          const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
          expect(Math.sign(compareCodePoints(a, b)), `${a} vs ${b}`).toBe(bytes);
          expect(evaluate('s < t', { s: a, t: b }), `${a} < ${b}`).toBe(bytes < 0);
          expect(evaluate('s >= t', { s: a, t: b })).toBe(bytes >= 0);
          expect(evaluate('s = t', { s: a, t: b })).toBe(bytes === 0);
        }
      }
    });

    it('should agree with the UTF-8 bytes for any strings', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
          const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
          expect(Math.sign(compareCodePoints(a, b))).toBe(bytes);
        }),
        { seed: 7, numRuns: 2000 },
      );
    });
  });

  describe('when a number is NaN', () => {
    // No literal spells NaN, but arithmetic makes it (1e999 - 1e999). DuckDB orders it above every other
    // number and equal to itself, where IEEE makes every comparison with it false.
    const nan = Number.NaN;

    it('should equal itself, as in DuckDB', () => {
      expect(evaluate('n = m', { n: nan, m: nan })).toBe(true);
      expect(evaluate('n != m', { n: nan, m: nan })).toBe(false);
      expect(evaluate('n = 1', { n: nan })).toBe(false);
      expect(evaluate('n IN (1, m)', { n: nan, m: nan })).toBe(true);
      expect(evaluate('n NOT IN (m)', { n: nan, m: nan })).toBe(false);
      expect(evaluate('n IN (1, 2)', { n: nan })).toBe(false);
      expect(evaluate('(1e999 - 1e999) = (1e999 - 1e999)')).toBe(true);
    });

    it('should sort above every other number, infinity included', () => {
      expect(evaluate('n > m', { n: nan, m: Infinity })).toBe(true);
      expect(evaluate('n <= 1', { n: nan })).toBe(false);
      expect(evaluate('n < m', { n: -Infinity, m: nan })).toBe(true);
      expect(evaluate('n >= m', { n: nan, m: nan })).toBe(true);
      expect(evaluate('n < m', { n: nan, m: nan })).toBe(false);
    });

    it('should still let -0 equal 0', () => {
      expect(evaluate('n = 0', { n: -0 })).toBe(true);
      expect(evaluate('n IN (0)', { n: -0 })).toBe(true);
      expect(evaluate('n < 0', { n: -0 })).toBe(false);
    });
  });

  describe('when the SQL is rendered', () => {
    it('should bind every literal as a parameter, never splice it', () => {
      const parameters = new SqlParameters();
      const sql = compileExpression("s = 'x''; DROP TABLE t; --' AND n > 2.5", SCOPE).toSql(parameters, (name) => `"${name}"`);
      expect(sql).not.toContain('DROP');
      expect(sql).toContain('"s"');
      expect(Object.values(parameters.values)).toEqual(["x'; DROP TABLE t; --", 2.5]);
    });

    it('should bind the numbers the DuckDB client would mistype as their exact decimal text', () => {
      // The client binds an integral JS number as INTEGER or BIGINT: -0 would become 0, 1e20 would not bind.
      const parameters = new SqlParameters();
      const mistyped = [-0, 1e20, -(2 ** 63), 1e308, -Number.MAX_VALUE];
      const safe = [0.5, 3, -7, 2 ** 40, 1e-300];
      const placeholders = [...mistyped, ...safe].map((value) => parameters.add(value));
      expect(placeholders).toEqual(placeholders.map((_, i) => `CAST($p${i + 1} AS DOUBLE)`));
      const bound = Object.values(parameters.values);
      mistyped.forEach((value, i) => {
        expect(typeof bound[i]).toBe('string');
        expect(Object.is(Number(bound[i]), value), `${value} bound as ${String(bound[i])}`).toBe(true);
      });
      expect(bound[0]).toBe('-0');
      expect(bound.slice(mistyped.length)).toEqual(safe);
    });

    it("should cast contains()'s arguments, so that DuckDB finds the string function for untyped NULLs", () => {
      const sql = compileExpression('contains(NULL, NULL)', SCOPE).toSql(new SqlParameters(), (name) => name);
      expect(sql).toBe('contains(CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR))');
    });
  });
});

describe('WindowAssigner', () => {
  /** Every window start k * slide whose window [start, start + size) holds the time, found by trying each k. */
  function bruteForceStarts(time: number, size: number, slide: number): number[] {
    const starts: number[] = [];
    const near = Math.round(time / slide);
    for (let k = near - Math.ceil(size / slide) - 2; k <= near + 2; k++) {
      const start = k * slide;
      if (start <= time && time < start + size) starts.push(start);
    }
    return starts;
  }

  describe('when windows tumble', () => {
    const assigner = new WindowAssigner({ type: 'tumbling', size: '10s' });

    it('should put each event in the one window holding it', () => {
      expect(assigner.sizeMs).toBe(10_000);
      expect(assigner.slideMs).toBe(10_000);
      expect(assigner.starts(0)).toEqual([0]);
      expect(assigner.starts(9_999)).toEqual([0]);
      expect(assigner.starts(10_000)).toEqual([10_000]);
      expect(assigner.starts(1_700_000_012_345)).toEqual([1_700_000_010_000]);
    });

    it('should agree with trying every window', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 41 }), fc.integer({ min: 1, max: 100_000 }), (time, size) => {
          expect(new WindowAssigner({ type: 'tumbling', size }).starts(time)).toEqual(bruteForceStarts(time, size, size));
        }),
        { seed: 1, numRuns: 500 },
      );
    });
  });

  describe('when windows hop', () => {
    it('should put each event in every window holding it, ascending', () => {
      const assigner = new WindowAssigner({ type: 'hopping', size: '1m', slide: '15s' });
      expect(assigner.starts(100_000)).toEqual([45_000, 60_000, 75_000, 90_000]);
      expect(assigner.starts(60_000)).toEqual([15_000, 30_000, 45_000, 60_000]);
    });

    it('should agree with trying every window, a size not a multiple of the slide included', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 10_000_000 }),
          fc.integer({ min: 1, max: 50 }),
          fc.integer({ min: 1, max: 50 }),
          (time, slide, extra) => {
            const size = slide + extra;
            const starts = new WindowAssigner({ type: 'hopping', size, slide }).starts(time);
            expect(starts).toEqual(bruteForceStarts(time, size, slide));
            expect(starts.length).toBeGreaterThanOrEqual(Math.floor(size / slide));
          },
        ),
        { seed: 2, numRuns: 500 },
      );
    });

    it('should reject a slide larger than the size', () => {
      expect(() => new WindowAssigner({ type: 'hopping', size: '10s', slide: '20s' })).toThrow(
        /slide \(20000 ms\) cannot exceed its size \(10000 ms\)/,
      );
    });
  });

  describe('when there are no windows', () => {
    it('should put every event in the window starting at 0', () => {
      const assigner = new WindowAssigner(undefined);
      expect(assigner.windowed).toBe(false);
      expect(assigner.starts(123_456)).toEqual([0]);
    });
  });

  describe('when the window type is unknown', () => {
    it('should say which types exist', () => {
      expect(() => new WindowAssigner({ type: 'sliding', size: 1 } as never)).toThrow(/Invalid window type "sliding": use tumbling or hopping/);
    });
  });
});

describe('parseDuration', () => {
  describe('when the duration is valid', () => {
    it.each([
      [250, 250],
      ['30s', 30_000],
      ['1m', 60_000],
      ['2h', 7_200_000],
      ['1 minute', 60_000],
      ['100', 100],
    ])('should read %j as %d ms', (value, expected) => {
      expect(parseDuration(value, 'window size')).toBe(expected);
    });
  });

  describe('when the duration is invalid', () => {
    it.each([0, -5, 1.5, Number.NaN, Infinity, 'abc', '0s', '-1s', '1.5ms', ' ', '2 fortnights'])('should reject %j', (value) => {
      let caught: unknown;
      try {
        parseDuration(value, 'window size');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      const suggestion = "use milliseconds or a duration such as '30s', '1m', '1h'";
      expect((caught as Error).message).toBe(`Invalid window size ${JSON.stringify(value)}: ${suggestion}`);
    });

    it('should reject the empty string', () => {
      expect(() => parseDuration('', 'window size')).toThrow(InvalidArgumentError);
      expect(() => parseDuration('', 'window size')).toThrow(/Invalid window size ""/);
    });
  });
});

describe('HyperLogLog', () => {
  const sketchOf = (values: Iterable<string>): Registers => {
    const registers = new Registers();
    for (const value of values) addValue(registers, value);
    return registers;
  };
  /** Registers compared by what they hold, whatever their form (sparse or dense). */
  const contents = (registers: Registers) => registers.toArray();
  const range = (from: number, to: number, prefix = 'user-'): string[] => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

  describe('when distinct values are counted', () => {
    it.each([1_000, 10_000, 50_000])('should estimate %d distinct strings within 5%%', (count) => {
      const registers = sketchOf(range(0, count));
      expect(Math.abs(estimate(registers) - count) / count).toBeLessThan(0.05);
    });

    it('should not count a value twice', () => {
      const once = sketchOf(range(0, 2_000));
      const thrice = sketchOf([...range(0, 2_000), ...range(0, 2_000), ...range(0, 2_000).reverse()]);
      expect(contents(thrice)).toEqual(contents(once));
      expect(estimate(sketchOf(['a', 'a', 'a']))).toBe(1);
    });

    it('should estimate nothing as 0', () => {
      expect(estimate(new Registers())).toBe(0);
    });

    it('should estimate equal registers alike, whatever order or path built them', () => {
      const entries = Array.from({ length: 100 }, (_, i) => [i * 37, 1 + (i % 9)] as const);
      // Few registers (kept sparse), inserted forward and backward.
      const few = entries.slice(0, 30);
      expect(estimate(Registers.fromEntries(few))).toBe(estimate(Registers.fromEntries([...few].reverse())));
      // Many (kept dense), built in one go, backward, or by merging two sparse halves.
      const whole = Registers.fromEntries(entries);
      const backward = Registers.fromEntries([...entries].reverse());
      const merged = Registers.fromEntries(entries.slice(0, 50));
      merged.merge(Registers.fromEntries(entries.slice(50)));
      for (const other of [backward, merged]) {
        expect(contents(other)).toEqual(contents(whole));
        expect(estimate(other)).toBe(estimate(whole));
      }
    });
  });

  describe('when a value is hashed', () => {
    it('should take the register from the top 12 bits of the MD5 and the rank from the first 1 bit after them', () => {
      for (const value of ['', 'a', 'user-1', 'é😀', ...range(0, 200, 'v')]) {
        const hash = BigInt(`0x${createHash('md5').update(value, 'utf8').digest('hex').slice(0, 16)}`);
        const index = Number(hash >> 52n);
        const rest = hash & ((1n << 52n) - 1n);
        const rank = rest === 0n ? 53 : 52 - rest.toString(2).length + 1;
        const packed = registerOf(value);
        expect([Math.floor(packed / 256), packed % 256], value).toEqual([index, rank]);
        expect(index).toBeLessThan(REGISTER_COUNT);
      }
    });

    it('should give a value asked for twice in a row, or once more after others, the same register', () => {
      const first = range(0, 50, 'v').map((value) => registerOf(value));
      const again = range(0, 50, 'v').flatMap((value) => [registerOf(value), registerOf(`${value}`)]);
      expect(again).toEqual(first.flatMap((packed) => [packed, packed]));
    });
  });

  describe('when two sketches are merged', () => {
    it('should equal the sketch of the union, register by register', () => {
      const left = sketchOf(range(0, 30_000));
      const right = sketchOf(range(20_000, 50_000));
      const rightBefore = contents(right);
      const merged = left.clone();
      mergeRegisters(merged, right);
      expect(contents(merged)).toEqual(contents(sketchOf(range(0, 50_000))));
      expect(contents(right)).toEqual(rightBefore);
      const otherWay = right.clone();
      mergeRegisters(otherWay, left);
      expect(contents(otherWay)).toEqual(contents(merged));
    });

    it('should merge a few registers into many, and many into a few, alike', () => {
      const few = sketchOf(range(0, 10));
      const many = sketchOf(range(5, 3_000));
      const a = few.clone();
      a.merge(many);
      const b = many.clone();
      b.merge(few);
      expect(contents(a)).toEqual(contents(b));
      expect(contents(a)).toEqual(contents(sketchOf(range(0, 3_000))));
    });

    it('should change nothing when merged with an empty sketch', () => {
      const sketch = sketchOf(range(0, 500));
      const merged = sketch.clone();
      mergeRegisters(merged, new Registers());
      expect(contents(merged)).toEqual(contents(sketch));
    });
  });

  describe('when registers are encoded', () => {
    it('should decode to the same registers', () => {
      for (const registers of [new Registers(), sketchOf(['one']), sketchOf(range(0, 50_000))]) {
        expect(contents(decodeRegisters(encodeRegisters(registers)))).toEqual(contents(registers));
      }
    });

    it('should give equal text for equal registers, whatever their insertion order', () => {
      const forward = sketchOf(range(0, 3_000));
      const backward = sketchOf(range(0, 3_000).reverse());
      expect(encodeRegisters(backward)).toBe(encodeRegisters(forward));
      expect(encodeRegisters(new Registers())).toBe('');
    });

    it('should use three bytes per register that is set', () => {
      const registers = Registers.fromEntries([
        [4095, 53],
        [0, 1],
        [258, 7],
      ]);
      expect([...Buffer.from(encodeRegisters(registers), 'base64')]).toEqual([0, 0, 1, 1, 2, 7, 15, 255, 53]);
    });

    it('should encode what the registers hold now, after they rose since the last encoding', () => {
      // The text is kept until a register changes: every way of changing one must be seen.
      const fresh = (registers: Registers) => encodeRegisters(decodeRegisters(encodeRegisters(registers)));
      for (const start of [range(0, 10), range(0, 3_000)]) {
        const registers = sketchOf(start);
        const before = encodeRegisters(registers);
        for (const value of start) addValue(registers, value);
        expect(encodeRegisters(registers)).toBe(before);
        for (const value of range(0, 200, 'more-')) addValue(registers, value);
        expect(encodeRegisters(registers)).toBe(encodeRegisters(sketchOf([...start, ...range(0, 200, 'more-')])));
        const clone = registers.clone();
        encodeRegisters(registers);
        registers.merge(sketchOf(range(0, 5_000, 'merged-')));
        expect(encodeRegisters(registers)).toBe(fresh(sketchOf([...start, ...range(0, 200, 'more-'), ...range(0, 5_000, 'merged-')])));
        expect(encodeRegisters(clone)).toBe(fresh(clone));
        const sparse = sketchOf(start);
        encodeRegisters(sparse);
        sparse.merge(sketchOf(['one more']));
        expect(encodeRegisters(sparse)).toBe(encodeRegisters(sketchOf([...start, 'one more'])));
      }
    });
  });
});
