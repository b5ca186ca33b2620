/**
 * The view language is compiled twice from one syntax tree: to a JS function (the speed layer) and to
 * DuckDB SQL (the batch layer). This property test generates well-typed expression trees, renders them to
 * fully parenthesized text (so the parser is exercised too), and requires the JS evaluation and DuckDB to
 * give the very same value on every generated row.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { SqlParameters, compileExpression, type CompiledExpression, type Scope, type Value, type ValueType } from '@lambda/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCOPE: Scope = new Map<string, ValueType>([
  ['n1', 'number'],
  ['n2', 'number'],
  ['s1', 'string'],
  ['s2', 'string'],
  ['b1', 'boolean'],
]);

type TestRow = { n1: number | null; n2: number | null; s1: string | null; s2: string | null; b1: boolean | null };

// ---------------------------------------------------------------------------------------------------------
// Trees, and their rendering to text

type Tree =
  | { kind: 'literal'; value: Value }
  | { kind: 'field'; name: string }
  | { kind: 'negate'; operand: Tree }
  | { kind: 'not'; operand: Tree }
  | { kind: 'binary'; op: string; left: Tree; right: Tree }
  | { kind: 'is-null'; negated: boolean; operand: Tree }
  | { kind: 'in'; negated: boolean; operand: Tree; list: Tree[] }
  | { kind: 'case'; branches: { when: Tree; then: Tree }[]; otherwise: Tree | undefined }
  | { kind: 'call'; name: string; args: Tree[] };

function renderLiteral(value: Value): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  // The language has no signed number token: a negative number is a minus before a positive one.
  if (value < 0 || Object.is(value, -0)) return `(-${renderLiteral(-value)})`;
  // Nothing spells infinity, but a literal too large for a double reads as one.
  return Number.isFinite(value) ? String(value) : '1e999';
}

function render(tree: Tree): string {
  switch (tree.kind) {
    case 'literal':
      return renderLiteral(tree.value);
    case 'field':
      return tree.name;
    case 'negate':
      return `(- ${render(tree.operand)})`;
    case 'not':
      return `(NOT ${render(tree.operand)})`;
    case 'binary':
      return `(${render(tree.left)} ${tree.op} ${render(tree.right)})`;
    case 'is-null':
      return `(${render(tree.operand)} IS ${tree.negated ? 'NOT ' : ''}NULL)`;
    case 'in':
      return `(${render(tree.operand)} ${tree.negated ? 'NOT ' : ''}IN (${tree.list.map(render).join(', ')}))`;
    case 'case': {
      const branches = tree.branches.map((branch) => `WHEN ${render(branch.when)} THEN ${render(branch.then)}`).join(' ');
      return `(CASE ${branches}${tree.otherwise ? ` ELSE ${render(tree.otherwise)}` : ''} END)`;
    }
    case 'call':
      return `${tree.name}(${tree.args.map(render).join(', ')})`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Values

const ASCII = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
/** The letters of Latin-1: ª µ º À–Ö Ø–ö ø–ÿ (ß, ÿ and µ have case mappings that leave Latin-1). */
const LATIN1_LETTERS = [0xaa, 0xb5, 0xba]
  .concat(Array.from({ length: 0xff - 0xc0 + 1 }, (_, i) => 0xc0 + i).filter((code) => code !== 0xd7 && code !== 0xf7))
  .map((code) => String.fromCharCode(code));
/** Non-ASCII characters outside Latin-1, including one outside the BMP and one that sorts after every surrogate. */
const OTHER = ['😀', '\uFF61', '€', '中', '\u00A0', 'e\u0301'];

const caseSafeChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'B', "'", ' ', 'é', 'ß', 'x', 'Z') },
  fc.constantFrom(...ASCII),
  fc.constantFrom(...LATIN1_LETTERS),
);
const anyChar = fc.oneof({ weight: 3, arbitrary: caseSafeChar }, fc.constantFrom(...OTHER));

/** Strings for lower() and upper(): ASCII and Latin-1 letters only; Unicode case mapping beyond is not promised. */
const caseSafeString = fc.string({ unit: caseSafeChar, maxLength: 5 });
const anyString = fc.oneof(fc.constantFrom('', 'a', 'A', "'", 'é', 'ß', '😀', '\uFF61', 'a😀', 'ab'), fc.string({ unit: anyChar, maxLength: 5 }));

const NUMBER_CONSTANTS = [0, -0, 1, -1, 0.5, -2.5, 3, 10, 0.1, 1e20, -1e21, 2 ** 53 + 2, 2 ** 63, 5e-324];
/** Values whose sums and products overflow to infinities, whose differences then give NaN. */
const EXTREMES = [1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, 1e200, Infinity, -Infinity];
const anyNumber = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -10, max: 10 }) },
  { weight: 2, arbitrary: fc.constantFrom(...NUMBER_CONSTANTS) },
  { weight: 1, arbitrary: fc.constantFrom(...EXTREMES) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) },
);

const orNull = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(arbitrary, { freq: 4, nil: null });

/** A row can hold NaN, which no literal spells but arithmetic makes (1e999 - 1e999): DuckDB orders it above every number. */
const rowNumber = fc.oneof({ weight: 12, arbitrary: anyNumber }, { weight: 1, arbitrary: fc.constant(Number.NaN) });

/** s2 holds only ASCII and Latin-1 letters, so it can be the argument of lower() and upper(); s1 holds anything. */
const rowArbitrary: fc.Arbitrary<TestRow> = fc.record({
  n1: orNull(rowNumber),
  n2: orNull(rowNumber),
  s1: orNull(anyString),
  s2: orNull(caseSafeString),
  b1: orNull(fc.boolean()),
});

// ---------------------------------------------------------------------------------------------------------
// Well-typed trees

const literal = (value: fc.Arbitrary<Value>): fc.Arbitrary<Tree> => value.map((v) => ({ kind: 'literal', value: v }));
const field = (...names: string[]): fc.Arbitrary<Tree> => fc.constantFrom(...names).map((name) => ({ kind: 'field', name }));
const nullLiteral: fc.Arbitrary<Tree> = fc.constant({ kind: 'literal', value: null });
const call = (name: string, ...args: fc.Arbitrary<Tree>[]): fc.Arbitrary<Tree> =>
  fc.tuple(...args).map((values) => ({ kind: 'call', name, args: values }));
const binary = (ops: string[], left: fc.Arbitrary<Tree>, right: fc.Arbitrary<Tree>): fc.Arbitrary<Tree> =>
  fc.tuple(fc.constantFrom(...ops), left, right).map(([op, l, r]) => ({ kind: 'binary', op, left: l, right: r }));
const caseOf = (when: fc.Arbitrary<Tree>, then: fc.Arbitrary<Tree>): fc.Arbitrary<Tree> =>
  fc
    .tuple(fc.array(fc.record({ when, then }), { minLength: 1, maxLength: 3 }), fc.option(then, { nil: undefined }))
    .map(([branches, otherwise]) => ({ kind: 'case', branches, otherwise }));
const coalesceOf = (argument: fc.Arbitrary<Tree>): fc.Arbitrary<Tree> =>
  fc.array(argument, { minLength: 2, maxLength: 4 }).map((args) => ({ kind: 'call', name: 'coalesce', args }));

const depth = { maxDepth: 4, depthIdentifier: 'expression', withCrossShrink: true } as const;

const trees = fc.letrec<{ number: Tree; string: Tree; caseSafe: Tree; boolean: Tree }>((tie) => {
  const number = tie('number');
  const string = tie('string');
  const caseSafe = tie('caseSafe');
  const boolean = tie('boolean');
  // IN needs its operand and its list of one type.
  const typed = fc
    .constantFrom('number', 'string', 'boolean')
    .chain((type) => fc.tuple(tie(type), fc.array(tie(type), { minLength: 1, maxLength: 8 })));
  return {
    number: fc.oneof(
      depth,
      fc.oneof({ weight: 2, arbitrary: literal(anyNumber) }, { weight: 3, arbitrary: field('n1', 'n2') }, { weight: 1, arbitrary: nullLiteral }),
      number.map((operand): Tree => ({ kind: 'negate', operand })),
      binary(['+', '-', '*', '/'], number, number),
      fc.constantFrom('abs', 'floor', 'ceil').chain((name) => call(name, number)),
      call('length', string),
      caseOf(boolean, number),
      coalesceOf(number),
    ),
    string: fc.oneof(
      depth,
      fc.oneof({ weight: 2, arbitrary: literal(anyString) }, { weight: 3, arbitrary: field('s1', 's2') }, { weight: 1, arbitrary: nullLiteral }),
      binary(['||'], string, string),
      fc.constantFrom('lower', 'upper').chain((name) => call(name, caseSafe)),
      caseOf(boolean, string),
      coalesceOf(string),
    ),
    caseSafe: fc.oneof(
      depth,
      fc.oneof({ weight: 2, arbitrary: literal(caseSafeString) }, { weight: 3, arbitrary: field('s2') }, { weight: 1, arbitrary: nullLiteral }),
      binary(['||'], caseSafe, caseSafe),
      fc.constantFrom('lower', 'upper').chain((name) => call(name, caseSafe)),
      caseOf(boolean, caseSafe),
      coalesceOf(caseSafe),
    ),
    boolean: fc.oneof(
      depth,
      fc.oneof({ weight: 2, arbitrary: literal(fc.boolean()) }, { weight: 3, arbitrary: field('b1') }, { weight: 1, arbitrary: nullLiteral }),
      boolean.map((operand): Tree => ({ kind: 'not', operand })),
      binary(['AND', 'OR'], boolean, boolean),
      binary(['=', '!=', '<>', '<', '<=', '>', '>='], number, number),
      binary(['=', '!=', '<>', '<', '<=', '>', '>='], string, string),
      binary(['=', '!=', '<>'], boolean, boolean),
      fc
        .tuple(fc.boolean(), fc.oneof(number, string, boolean))
        .map(([negated, operand]): Tree => ({ kind: 'is-null', negated, operand })),
      fc.tuple(fc.boolean(), typed).map(([negated, [operand, list]]): Tree => ({ kind: 'in', negated, operand, list })),
      fc.constantFrom('starts_with', 'contains').chain((name) => call(name, string, string)),
      caseOf(boolean, boolean),
      coalesceOf(boolean),
    ),
  };
});

const anyTree = fc.oneof(trees.number, trees.string, trees.boolean);

// ---------------------------------------------------------------------------------------------------------
// DuckDB

let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
});

async function loadRows(rows: readonly TestRow[]): Promise<void> {
  await connection.run('CREATE OR REPLACE TABLE t (id INTEGER, n1 DOUBLE, n2 DOUBLE, s1 VARCHAR, s2 VARCHAR, b1 BOOLEAN)');
  // The appender takes each value as its column's type: no inference (which would turn -0 into INTEGER 0).
  const appender = await connection.createAppender('t');
  rows.forEach((row, id) => {
    appender.appendInteger(id);
    for (const number of [row.n1, row.n2]) {
      if (number === null) appender.appendNull();
      else appender.appendDouble(number);
    }
    for (const string of [row.s1, row.s2]) {
      if (string === null) appender.appendNull();
      else appender.appendVarchar(string);
    }
    if (row.b1 === null) appender.appendNull();
    else appender.appendBoolean(row.b1);
    appender.endRow();
  });
  appender.closeSync();
}

interface Comparison {
  compiled: CompiledExpression;
  sql: string;
  js: Value[];
  duck: unknown[];
}

/** Evaluates the expression over the rows (already loaded into t) in JS and in DuckDB. */
async function evaluateBoth(text: string, rows: readonly TestRow[]): Promise<Comparison> {
  const compiled = compileExpression(text, SCOPE);
  const parameters = new SqlParameters();
  const sql = `SELECT ${compiled.toSql(parameters, (name) => `"${name}"`)} AS v FROM t ORDER BY id`;
  // Bound as the batch layer binds them: the values alone, their types inferred by the client.
  const reader = await connection.runAndReadAll(sql, parameters.values);
  return { compiled, sql, js: rows.map((row) => compiled.evaluate(row)), duck: reader.getRowObjectsJS().map((row) => row.v) };
}

/** Same type and value; numbers are IEEE doubles on both sides, so they must be identical: NaN alike, and the sign of zero. */
function sameValue(js: unknown, duck: unknown): boolean {
  if (typeof js === 'number' && typeof duck === 'number') return Object.is(js, duck);
  return js === duck;
}

const show = (value: unknown): string => (typeof value === 'number' ? (Object.is(value, -0) ? '-0' : String(value)) : JSON.stringify(value));

/** Throws with the expression, the row and both values at the first row where JS and DuckDB differ. */
function expectAgreement(text: string, rows: readonly TestRow[], { compiled, sql, js, duck }: Comparison): void {
  expect(duck, sql).toHaveLength(rows.length);
  rows.forEach((row, i) => {
    if (js[i] !== null && compiled.type !== 'null') expect(typeof js[i], text).toBe(compiled.type);
    if (!sameValue(js[i], duck[i])) {
      const shownRow = JSON.stringify(row, (_, value: unknown) => (typeof value === 'number' ? show(value) : value));
      throw new Error(`${text}\n  on row ${shownRow}\n  JS gives ${show(js[i])}, DuckDB gives ${show(duck[i])}\n  SQL: ${sql}`);
    }
  });
}

async function checkAll(texts: readonly string[], rows: readonly TestRow[]): Promise<void> {
  await loadRows(rows);
  for (const text of texts) expectAgreement(text, rows, await evaluateBoth(text, rows));
}

/** What the trees contain, to check the generator reaches every construct of the language. */
function features(tree: Tree, into: Set<string>): Set<string> {
  into.add(tree.kind);
  switch (tree.kind) {
    case 'literal':
      into.add(`literal:${tree.value === null ? 'null' : typeof tree.value}`);
      break;
    case 'negate':
    case 'not':
    case 'is-null':
      features(tree.operand, into);
      break;
    case 'binary':
      into.add(`op:${tree.op}`);
      features(tree.left, into);
      features(tree.right, into);
      break;
    case 'in':
      into.add(tree.negated ? 'not-in' : 'in');
      features(tree.operand, into);
      tree.list.forEach((item) => features(item, into));
      break;
    case 'case':
      if (tree.otherwise === undefined) into.add('case-without-else');
      for (const branch of tree.branches) {
        features(branch.when, into);
        features(branch.then, into);
      }
      if (tree.otherwise) features(tree.otherwise, into);
      break;
    case 'call':
      into.add(`call:${tree.name}`);
      tree.args.forEach((arg) => features(arg, into));
      break;
  }
  return into;
}

function resultKind(value: Value): string {
  if (typeof value !== 'number') return value === null ? 'null' : typeof value;
  if (Number.isNaN(value)) return 'NaN';
  if (Object.is(value, -0)) return '-0';
  return Number.isFinite(value) ? 'number' : 'infinite';
}

const SPECIAL_NUMBERS = [null, 0, -0, 1, -1, 0.5, -2.5, 5e-324, 1e308, -1e308, Infinity, -Infinity, Number.NaN];
const SPECIAL_STRINGS = [null, '', 'a', 'A', 'ab', "'", 'é', 'e\u0301', 'ß', 'ẞ', '😀', 'a😀', '\uFF61', '\uFFFF', '中', '€'];
const EMPTY_ROW: TestRow = { n1: null, n2: null, s1: null, s2: null, b1: null };

describe('expression compilation, JS against DuckDB', () => {
  describe('when rows are loaded into the table', () => {
    it('should read every value back as it was, the sign of zero and NaN included', async () => {
      const rows: TestRow[] = [
        { n1: -0, n2: Number.NaN, s1: "it's é😀", s2: '', b1: false },
        { n1: -Infinity, n2: 5e-324, s1: '\uFF61', s2: 'ß', b1: true },
        EMPTY_ROW,
      ];
      await loadRows(rows);
      const stored = (await connection.runAndReadAll('SELECT n1, n2, s1, s2, b1 FROM t ORDER BY id')).getRowObjectsJS();
      expect(stored).toEqual(rows);
      expect(Object.is(stored[0]!.n1, -0)).toBe(true);
    });
  });

  describe('when a number literal is bound as a parameter', () => {
    it.each([...NUMBER_CONSTANTS, ...EXTREMES])('should reach DuckDB as the same double: %s', async (value) => {
      const text = renderLiteral(value);
      await loadRows([EMPTY_ROW]);
      const { js, duck } = await evaluateBoth(text, [EMPTY_ROW]);
      expect(Object.is(js[0], value)).toBe(true);
      expect(Object.is(duck[0], value), `${text} came back as ${show(duck[0])}`).toBe(true);
    });
  });

  describe('when every pair of special numbers meets every operator', () => {
    it('should agree on each result', async () => {
      const rows = SPECIAL_NUMBERS.flatMap((n1) => SPECIAL_NUMBERS.map((n2) => ({ ...EMPTY_ROW, n1, n2 })));
      const texts = [
        ...['+', '-', '*', '/', '=', '!=', '<', '<=', '>', '>='].map((op) => `n1 ${op} n2`),
        '- n1',
        'abs(n1)',
        'floor(n1)',
        'ceil(n1)',
        'coalesce(n1, n2)',
        'n1 IN (n2)',
        'n1 NOT IN (n2, 1)',
        'n1 IN (n2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)',
        'n1 - n1 = n2 - n2',
        'CASE WHEN n1 > n2 THEN n1 WHEN n1 < n2 THEN n2 END',
      ];
      await checkAll(texts, rows);
    });
  });

  describe('when strings with characters beyond ASCII meet every string operation', () => {
    it('should agree on each result', async () => {
      const rows = SPECIAL_STRINGS.flatMap((s1) => SPECIAL_STRINGS.map((s2) => ({ ...EMPTY_ROW, s1, s2 })));
      const texts = [
        ...['=', '!=', '<', '<=', '>', '>=', '||'].map((op) => `s1 ${op} s2`),
        'length(s1)',
        'starts_with(s1, s2)',
        'contains(s1, s2)',
        // Untyped NULLs: DuckDB must still find the string function.
        'contains(NULL, NULL)',
        'starts_with(NULL, NULL)',
        'lower(NULL) || upper(NULL)',
        's1 IN (s2, \'a\')',
        'coalesce(s1, s2, \'x\')',
      ];
      await checkAll(texts, rows);
    });
  });

  describe('when lower() and upper() meet each ASCII character and Latin-1 letter', () => {
    it('should map each alike', async () => {
      const characters = [...ASCII, ...LATIN1_LETTERS];
      const rows = [...characters, characters.join('')].map((s1) => ({ ...EMPTY_ROW, s1 }));
      await checkAll(['lower(s1)', 'upper(s1)', 'lower(upper(s1))', 'length(upper(s1))'], rows);
    });
  });

  describe('when random well-typed expressions run over random rows', () => {
    it('should give the same value in JS and in DuckDB, row by row', async () => {
      const seenFeatures = new Set<string>();
      const seenResults = new Set<string>();
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(anyTree, fc.array(rowArbitrary, { minLength: 1, maxLength: 8 }), async (tree, rows) => {
          runs++;
          const text = render(tree);
          await loadRows(rows);
          const comparison = await evaluateBoth(text, rows);
          expectAgreement(text, rows, comparison);
          features(tree, seenFeatures);
          comparison.js.forEach((value) => seenResults.add(resultKind(value)));
        }),
        { numRuns: 1000, seed: 20240611 },
      );
      expect(runs).toBe(1000);
      // The generator reaches every construct, and results of every kind.
      const literals = ['null', 'number', 'string', 'boolean'].map((type) => `literal:${type}`);
      const constructs = [...literals, 'field', 'negate', 'not', 'is-null', 'in', 'not-in', 'case', 'case-without-else'];
      const operators = ['+', '-', '*', '/', '||', '=', '!=', '<>', '<', '<=', '>', '>=', 'AND', 'OR'].map((op) => `op:${op}`);
      const functions = ['lower', 'upper', 'length', 'abs', 'floor', 'ceil', 'starts_with', 'contains', 'coalesce'].map((name) => `call:${name}`);
      expect([...seenFeatures].sort()).toEqual(expect.arrayContaining([...constructs, ...operators, ...functions]));
      expect([...seenResults].sort()).toEqual(['-0', 'NaN', 'boolean', 'infinite', 'null', 'number', 'string']);
    }, 180_000); // 1,000 property runs: seconds alone, longer beside other suites on two cores
  });
});
