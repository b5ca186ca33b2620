/**
 * A view, defined once and run by both layers.
 *
 *   {
 *     name: 'pageviews_by_url',
 *     source: 'pageviews',
 *     derive: { slow: 'latency > 1000' },
 *     filter: "NOT coalesce(is_bot, false)",
 *     key: ['url'],
 *     window: { type: 'tumbling', size: '1m' },
 *     aggregates: { views: 'count()', visitors: 'approx_distinct(user)', latency: 'avg(latency)' },
 *   }
 *
 * The speed layer calls `evaluate` per record and folds the inputs into row states; the batch layer runs
 * `batchSql` in DuckDB and reads states back with `stateFromSqlRow`. Keys and results are formatted in JS
 * on both paths, from the same typed values.
 */
import { InvalidArgumentError } from '../errors/errors.js';
import type { JsonObject } from '../records/json.js';
import { type Aggregate, toNumber } from './aggregates/aggregate.js';
import { ApproxDistinctAggregate, TopKAggregate } from './aggregates/sketch-aggregates.js';
import { AverageAggregate, CountAggregate, ExtremumAggregate, SumAggregate } from './aggregates/simple-aggregates.js';
import type { Value, ValueType } from './expression/ast.js';
import { compileExpression, compileTree, type CompiledExpression, type Evaluator, type Row, type SqlParameters } from './expression/compile.js';
import { DerivedFields } from './derived-fields.js';
import { ExpressionError } from './expression/expression-error.js';
import { AGGREGATE_FUNCTION_NAMES } from './expression/functions.js';
import { parseExpression } from './expression/parser.js';
import { quoteIdentifier, validateIdentifier } from './identifiers.js';
import { EVENT_TIME, type CompiledSource, type SourceRow } from './source.js';
import { NUMBER_TEXT_LENGTH, type ValueBounds } from './expression/bounds.js';
import { MAX_VIEW_KEY_LENGTH, type RecordLimits } from '../records/record-limits.js';
import { MAX_EVENT_TIME } from '../records/event-record.js';
import { WindowAssigner, type WindowDefinition } from './window.js';
import { validateViewName } from '../ports/view-store/validation.js';

export interface ViewDefinition {
  /** Unique name; the REST API serves the view at /views/<name>. */
  name: string;
  description?: string;
  /** The topic of the source whose records feed the view. */
  source: string;
  /** Derived fields by name, computed in order; each may use the fields and earlier derived fields. */
  derive?: Record<string, string>;
  /** Only records for which this is TRUE feed the view (NULL counts as false, as in SQL WHERE). */
  filter?: string;
  /** Key expressions: a row per distinct key. Records with a NULL key component are left out. No key: one row per window. */
  key: string | string[];
  /** Event-time windows; without, each key has one row for all time (window start 0). */
  window?: WindowDefinition;
  /** Aggregates by output name: count(), count(x), sum(x), min(x), max(x), avg(x), approx_distinct(x), top_k(x, k). */
  aggregates: Record<string, string>;
}

/** The key of a view without key expressions. */
export const GLOBAL_KEY = '*';

/** Per aggregate, in definition order, its state. */
export type RowState = unknown[];

/** What one record contributes: its row key, the windows it falls in, and each aggregate's input. */
export interface Evaluation {
  key: string;
  windowStarts: number[];
  /** Per aggregate: the input, or null when this record adds nothing to it. */
  inputs: Value[];
}

const MAX_TOP_K = 1000;

export class CompiledView {
  readonly name: string;
  readonly aggregates: Aggregate[];
  readonly window: WindowAssigner;
  private readonly derived: { name: string; expression: CompiledExpression }[] = [];
  private readonly filter: CompiledExpression | undefined;
  private readonly keys: CompiledExpression[];
  /**
   * The JS side of the expressions above, each a function of the record's own fields: derived fields
   * are computed once per record into `derivedFields`' slots, where these read them.
   */
  private readonly derivedFields: DerivedFields;
  private readonly filterOf: Evaluator | undefined;
  private readonly keysOf: Evaluator[];
  private readonly argumentsOf: (Evaluator | undefined)[];

  constructor(
    readonly definition: ViewDefinition,
    readonly source: CompiledSource,
  ) {
    this.name = validateViewName(definition.name);
    const scope = new Map<string, ValueType>(source.scope);
    for (const [name, text] of Object.entries(definition.derive ?? {})) {
      validateIdentifier(name, `derived field name in view "${this.name}"`);
      if (scope.has(name)) throw new InvalidArgumentError(`View "${this.name}": derived field "${name}" hides a field of the same name`, { view: this.name });
      const expression = compileExpression(text, scope);
      scope.set(name, expression.type);
      this.derived.push({ name, expression });
    }
    if (definition.filter !== undefined) {
      this.filter = compileExpression(definition.filter, scope);
      if (this.filter.type !== 'boolean' && this.filter.type !== 'null') {
        throw new ExpressionError(`a filter must be a boolean, not a ${this.filter.type}`, definition.filter, 0);
      }
    }
    const keyTexts = typeof definition.key === 'string' ? [definition.key] : definition.key;
    if (!Array.isArray(keyTexts)) throw new InvalidArgumentError(`View "${this.name}": key must be an expression or a list of them`, { view: this.name });
    this.keys = keyTexts.map((text) => compileExpression(text, scope));
    this.window = new WindowAssigner(definition.window);
    const entries = Object.entries(definition.aggregates ?? {});
    if (entries.length === 0) throw new InvalidArgumentError(`View "${this.name}" needs at least one aggregate`, { view: this.name });
    this.aggregates = entries.map(([name, text]) => compileAggregate(validateIdentifier(name, `aggregate name in view "${this.name}"`), text, scope));
    this.derivedFields = new DerivedFields(this.derived);
    this.filterOf = this.filter && this.derivedFields.bind(this.filter);
    this.keysOf = this.keys.map((key) => this.derivedFields.bind(key));
    this.argumentsOf = this.aggregates.map((aggregate) => aggregate.argument && this.derivedFields.bind(aggregate.argument));
    this.adders = this.aggregates.map((aggregate) => aggregate.add.bind(aggregate));
  }

  /** The key expressions and their types, for API documentation. */
  get keySchema(): { expression: string; type: string }[] {
    return this.keys.map((key) => ({ expression: key.text, type: key.type }));
  }

  /**
   * The check a record must pass before any layer counts it for this view, so no store refuses its key
   * and no state holds a number JSON cannot carry; undefined when the record limits already guarantee
   * both (the usual case: keys and inputs of declared fields), so the hot path pays nothing.
   */
  admissionCheck(limits: RecordLimits): ((record: SourceRow) => string | undefined) | undefined {
    const declared = (name: string): ValueBounds => {
      if (name === EVENT_TIME) return { length: NUMBER_TEXT_LENGTH, magnitude: MAX_EVENT_TIME };
      switch (this.source.fieldType(name)) {
        case 'string':
          return { length: limits.maxStringLength, magnitude: 0 };
        case 'number':
          return { length: NUMBER_TEXT_LENGTH, magnitude: limits.maxNumberMagnitude };
        default:
          return { length: 5, magnitude: 0 };
      }
    };
    const derived = new Map<string, ValueBounds>();
    const field = (name: string) => derived.get(name) ?? declared(name);
    for (const { name, expression } of this.derived) derived.set(name, expression.bounds(field));
    const keyBounds = this.keys.map((key) => key.bounds(field));
    // A composite key is JSON: quotes, commas, and escapes of up to six characters per character.
    const keyLength =
      keyBounds.length === 1
        ? keyBounds[0]!.length
        : 2 + keyBounds.length + keyBounds.reduce((sum, bound, i) => sum + (this.keys[i]!.type === 'string' ? 2 + 6 * bound.length : Math.max(bound.length, 4)), 0);
    const checkKey = keyLength > MAX_VIEW_KEY_LENGTH;
    const unboundedInputs = this.aggregates.flatMap((aggregate, index) =>
      aggregate.argument?.type === 'number' && !(aggregate.argument.bounds(field).magnitude <= Number.MAX_VALUE) ? [index] : [],
    );
    if (!checkKey && unboundedInputs.length === 0) return undefined;
    return (record) => {
      const evaluation = this.evaluate(record);
      if (!evaluation) return undefined;
      if (checkKey && evaluation.key.length > MAX_VIEW_KEY_LENGTH) {
        return `view "${this.name}": its key would be ${evaluation.key.length} characters long; a view key is at most ${MAX_VIEW_KEY_LENGTH}`;
      }
      for (const index of unboundedInputs) {
        const input = evaluation.inputs[index];
        if (typeof input === 'number' && !Number.isFinite(input)) {
          return `view "${this.name}": the input of ${this.aggregates[index]!.definition} is ${input}, not a finite number`;
        }
      }
      return undefined;
    };
  }

  /** Derived fields, filter, key, windows and aggregate inputs of one record; undefined when it is left out. */
  evaluate(record: SourceRow): Evaluation | undefined {
    const row = record.fields;
    const key = this.keyOf(row);
    if (key === undefined) return undefined;
    return {
      key,
      windowStarts: this.window.starts(record.eventTime),
      inputs: this.argumentsOf.map((argument) => (argument ? argument(row) : true)),
    };
  }

  /**
   * Folds one record into the states of the rows it falls in; `stateFor` returns (creating it if need
   * be) a row's state. Returns false when the record is left out. The speed layer's hot path: the same
   * steps as `evaluate`, without building an Evaluation per record.
   */
  fold(record: SourceRow, stateFor: (key: string, windowStart: number) => RowState): boolean {
    const row = record.fields;
    const key = this.keyOf(row);
    if (key === undefined) return false;
    const inputs = this.inputs;
    const argumentsOf = this.argumentsOf;
    for (let i = 0; i < argumentsOf.length; i++) {
      const argument = argumentsOf[i];
      inputs[i] = argument ? argument(row) : true;
    }
    const window = this.window;
    if (window.slideMs === window.sizeMs) {
      this.accumulate(stateFor(key, window.startOf(record.eventTime)), inputs);
    } else {
      // The windows of `window.starts`, without an array per record.
      const last = window.lastIndexOf(record.eventTime);
      for (let k = window.firstIndexOf(record.eventTime); k <= last; k++) this.accumulate(stateFor(key, k * window.slideMs), inputs);
    }
    return true;
  }

  /** Reused by `fold` for each record's aggregate inputs: JS is single-threaded and nothing keeps it. */
  private readonly inputs: Value[] = [];

  /**
   * The row key of a record (computing its derived fields first), or undefined when the filter leaves it
   * out or a key component is NULL.
   */
  private keyOf(row: Row): string | undefined {
    if (!this.derivedFields.isEmpty) this.derivedFields.compute(row);
    if (this.filterOf && this.filterOf(row) !== true) return undefined;
    if (this.keysOf.length === 1) {
      const value = this.keysOf[0]!(row);
      return value === null ? undefined : String(value);
    }
    const values = this.keysOf.map((key) => key(row));
    return values.includes(null) ? undefined : formatKey(values);
  }

  createState(): RowState {
    return this.aggregates.map((aggregate) => aggregate.create());
  }

  accumulate(state: RowState, inputs: readonly Value[]): void {
    const adders = this.adders;
    for (let i = 0; i < adders.length; i++) {
      const input = inputs[i];
      if (input !== null && input !== undefined) state[i] = adders[i]!(state[i], input);
    }
  }

  /**
   * Each aggregate's `add`, taken once: reading it from aggregates of five classes per record was a
   * lookup that no inline cache holds (the speed layer's fold runs `accumulate` for every window of
   * every record).
   */
  private readonly adders: Aggregate['add'][];

  /** Merges `from` into `into` (which it returns); `from` is not changed. */
  merge(into: RowState, from: RowState): RowState {
    this.aggregates.forEach((aggregate, i) => (into[i] = aggregate.merge(into[i], from[i])));
    return into;
  }

  result(state: RowState): JsonObject {
    return Object.fromEntries(this.aggregates.map((aggregate, i) => [aggregate.name, aggregate.result(state[i])]));
  }

  toJson(state: RowState): JsonObject {
    return Object.fromEntries(this.aggregates.map((aggregate, i) => [aggregate.name, aggregate.toJson(state[i])]));
  }

  fromJson(json: JsonObject): RowState {
    return this.aggregates.map((aggregate) => aggregate.fromJson(json[aggregate.name]!));
  }

  /**
   * The DuckDB query computing every row's state from `input`, a query whose columns are the source's
   * fields plus `_event_time` and `_timestamp`. Result columns: `__k0`..., `__w`, each aggregate's state
   * columns, and `__newest` (the log time of the row's newest record).
   */
  batchSql(input: string, parameters: SqlParameters): string {
    const column = (field: string) => (field === EVENT_TIME ? '"_event_time"' : quoteIdentifier(field));
    // The record-level steps are never materialized: DuckDB would otherwise keep every record of the lake
    // in memory for the several aggregates reading them (1.7 GB at 20 M records), where a scan each costs
    // less than that copy and streams.
    const ctes = [`base AS NOT MATERIALIZED (${input})`];
    let previous = 'base';
    this.derived.forEach(({ name, expression }, i) => {
      ctes.push(`derived_${i} AS NOT MATERIALIZED (SELECT *, ${expression.toSql(parameters, column)} AS ${quoteIdentifier(name)} FROM ${previous})`);
      previous = `derived_${i}`;
    });
    const where = this.filter ? ` WHERE ${this.filter.toSql(parameters, column)}` : '';
    ctes.push(`filtered AS NOT MATERIALIZED (SELECT * FROM ${previous}${where})`);
    const keyColumns = this.keys.map((_, i) => `"__k${i}"`);
    const keySelect = this.keys.map((key, i) => `${key.toSql(parameters, column)} AS "__k${i}", `).join('');
    // Each record is grouped once, in its bucket: its window, or with hopping windows its pane, the stretch
    // of time all of whose instants lie in the same windows. A pane's partial results are then combined
    // into each of its windows, so a record is not repeated once per window (ten times, for ten-minute
    // windows sliding by the minute).
    const window = this.window;
    const panes = window.windowed && window.slideMs !== window.sizeMs;
    const pane = greatestCommonDivisor(window.sizeMs, window.slideMs);
    const bucket = panes ? `(("_event_time" // ${pane}) * ${pane})` : window.toSql('"_event_time"');
    ctes.push(`keyed_all AS NOT MATERIALIZED (SELECT *, ${keySelect}${bucket} AS "__b" FROM filtered)`);
    const notNull = keyColumns.map((key) => `${key} IS NOT NULL`).join(' AND ');
    ctes.push(`keyed AS NOT MATERIALIZED (SELECT * FROM keyed_all${notNull ? ` WHERE ${notNull}` : ''})`);

    const byBucket = [...keyColumns, '"__b"'].join(', ');
    const byWindow = [...keyColumns, '"__w"'].join(', ');
    /** `relation`, grouped by bucket, with its buckets' windows as `"__w"` (a pane's row repeated per window). */
    const windowsOf = (relation: string) => `(SELECT *, ${panes ? window.toSql('"__b"') : '"__b"'} AS "__w" FROM ${relation})`;
    const partialColumns: string[] = [];
    const windowColumns: string[] = [];
    const sides: string[] = [];
    this.aggregates.forEach((aggregate, i) => {
      const argument = aggregate.argument ? aggregate.argument.toSql(parameters, column) : '';
      const sql = aggregate.sql;
      if (sql.kind === 'columns') {
        sql.columns(argument).forEach((partial, j) => {
          partialColumns.push(`${partial} AS "a${i}_${j}"`);
          windowColumns.push(panes ? `${sql.combine[j]}("a${i}_${j}") AS "a${i}_${j}"` : `"a${i}_${j}"`);
        });
      } else {
        ctes.push(`entries_${i} AS (${sql.entries('keyed', byBucket, argument)})`);
        const entries = panes
          ? `(SELECT ${byWindow}, "__e", ${sql.combine}("__n") AS "__n" FROM ${windowsOf(`entries_${i}`)} GROUP BY ${byWindow}, "__e")`
          : windowsOf(`entries_${i}`);
        const [entry, number] = sql.fields;
        ctes.push(`side_${i} AS (SELECT ${byWindow}, list({'${entry}': "__e", '${number}': "__n"}) AS "a${i}_0" FROM ${entries} GROUP BY ${byWindow})`);
        sides.push(`LEFT JOIN side_${i} USING (${byWindow})`);
      }
    });
    // The newest log time per row rides along: the batch version's freshness, without a second scan.
    partialColumns.push('max("_timestamp") AS "__newest"');
    windowColumns.push(panes ? 'max("__newest") AS "__newest"' : '"__newest"');
    ctes.push(`partial AS (SELECT ${[byBucket, ...partialColumns].join(', ')} FROM keyed GROUP BY ${byBucket})`);
    ctes.push(`main AS (SELECT ${[byWindow, ...windowColumns].join(', ')} FROM ${windowsOf('partial')}${panes ? ` GROUP BY ${byWindow}` : ''})`);
    return `WITH ${ctes.join(',\n')}\nSELECT * FROM main ${sides.join(' ')}`;
  }

  /** A row of `batchSql`'s result as a key, window start and state, and the log time of its newest record. */
  stateFromSqlRow(row: Record<string, unknown>): { key: string; windowStart: number; state: RowState; newestRecordAt: number } {
    // A key over event_time is a BIGINT, which DuckDB returns as a bigint: keys hold numbers, as in JS
    // (JSON.stringify of a composite key cannot even serialize a bigint).
    const keyValues = this.keys.map((_, i) => {
      const value = row[`__k${i}`];
      return (typeof value === 'bigint' ? Number(value) : value) as Value;
    });
    const state = this.aggregates.map((aggregate, i) => {
      const values: unknown[] = [];
      for (let j = 0; `a${i}_${j}` in row; j++) values.push(row[`a${i}_${j}`]);
      return aggregate.fromSql(values);
    });
    return { key: formatKey(keyValues), windowStart: toNumber(row.__w), state, newestRecordAt: toNumber(row.__newest) };
  }

  /** A fresh copy of a state, for merging into without touching the original. */
  clone(state: RowState): RowState {
    return this.merge(this.createState(), state);
  }
}

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

/** A row key: the key value itself when there is one, JSON of the values when several, '*' with none. */
export function formatKey(values: readonly Value[]): string {
  if (values.length === 0) return GLOBAL_KEY;
  if (values.length === 1) return String(values[0]);
  return JSON.stringify(values);
}

function compileAggregate(name: string, text: string, scope: ReadonlyMap<string, ValueType>): Aggregate {
  const tree = parseExpression(text);
  const fail = (problem: string): never => {
    throw new ExpressionError(problem, text, tree.at);
  };
  if (tree.kind !== 'call' || !(AGGREGATE_FUNCTION_NAMES as readonly string[]).includes(tree.name)) {
    return fail(`an aggregate must be one of ${AGGREGATE_FUNCTION_NAMES.map((f) => `${f}()`).join(', ')}`);
  }
  const argument = (index: number, type?: ValueType): CompiledExpression => {
    const node = tree.args[index];
    if (!node) return fail(`${tree.name}() needs an argument`);
    const compiled = compileTree(node, text, scope);
    if (type && compiled.type !== type) fail(`the argument of ${tree.name}() must be a ${type}, not a ${compiled.type}`);
    return compiled;
  };
  const arity = (count: number) => {
    if (tree.args.length !== count) fail(`${tree.name}() takes ${count} argument(s), not ${tree.args.length}`);
  };
  switch (tree.name) {
    case 'count':
      if (tree.args.length > 1) fail('count() takes no argument or one');
      return new CountAggregate(name, text, tree.args.length === 1 ? argument(0) : undefined);
    case 'sum':
      arity(1);
      return new SumAggregate(name, text, argument(0, 'number'));
    case 'min':
    case 'max':
      arity(1);
      return new ExtremumAggregate(name, text, argument(0, 'number'), tree.name);
    case 'avg':
      arity(1);
      return new AverageAggregate(name, text, argument(0, 'number'));
    case 'approx_distinct':
      arity(1);
      return new ApproxDistinctAggregate(name, text, argument(0, 'string'));
    default: {
      arity(2);
      const k = tree.args[1]!;
      if (k.kind !== 'literal' || typeof k.value !== 'number' || !Number.isInteger(k.value) || k.value < 1 || k.value > MAX_TOP_K) {
        return fail(`the k of top_k() must be an integer from 1 to ${MAX_TOP_K}`);
      }
      return new TopKAggregate(name, text, argument(0, 'string'), k.value);
    }
  }
}
