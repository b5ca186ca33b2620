/**
 * Column helpers of the structured API, as a Spark user writes them: `col('price')`,
 * `expr('lower(word)').as('w')`, `window('ts', '1 minute')`, `sum('price').as('total')`. Every
 * expression is text in the platform's view expression language, so a query compiles to the same
 * machinery (and the same SQL) as a view definition.
 */
import { InvalidArgumentError, type Duration } from '@lambda/core';

/** A column expression, optionally named with `as`. */
export class Column {
  constructor(
    /** The expression text in the view language, e.g. `price * quantity`. */
    readonly expression: string,
    readonly alias?: string,
  ) {
    if (typeof expression !== 'string' || expression.trim() === '') throw new InvalidArgumentError('A column needs an expression', { expression });
  }

  as(alias: string): Column {
    return new Column(this.expression, alias);
  }

  /** The output name: the alias, or the expression itself when it is a plain column name. */
  get name(): string | undefined {
    if (this.alias !== undefined) return this.alias;
    const trimmed = this.expression.trim();
    return PLAIN_NAME.test(trimmed) ? trimmed : undefined;
  }

  /** Ascending order, for `orderBy` (after an aggregation in complete mode). */
  asc(): SortColumn {
    return new SortColumn(this.expression.trim(), false);
  }

  desc(): SortColumn {
    return new SortColumn(this.expression.trim(), true);
  }
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A column of a string split on a separator, one output row per non-empty piece: `explode(split('value', ' '))`. */
export class ExplodeColumn {
  constructor(
    readonly expression: string,
    readonly separator: string,
    readonly alias?: string,
  ) {
    if (typeof separator !== 'string' || separator === '') throw new InvalidArgumentError('split() needs a non-empty separator', { separator });
  }

  as(alias: string): ExplodeColumn {
    return new ExplodeColumn(this.expression, this.separator, alias);
  }
}

/** A column split on a separator; only `explode` can use it (the expression language has no arrays). */
export class SplitColumn {
  constructor(
    readonly expression: string,
    readonly separator: string,
  ) {}
}

/** An event-time window to group by: tumbling (`size` only) or sliding (`size` and `slide`). */
export class WindowColumn {
  constructor(
    readonly timeColumn: string,
    readonly size: Duration,
    readonly slide?: Duration,
  ) {}
}

export type AggregateFunction = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'approx_count_distinct';

/** An aggregate of a grouped query, named by `as` or by default (`count`, `sum_price`...). */
export class AggregateColumn {
  constructor(
    readonly fn: AggregateFunction,
    /** The input expression; undefined for count(). */
    readonly argument?: string,
    readonly alias?: string,
  ) {}

  as(alias: string): AggregateColumn {
    return new AggregateColumn(this.fn, this.argument, alias);
  }

  /** The aggregate in the view language: approx_count_distinct is the view's approx_distinct. */
  get viewText(): string {
    const name = this.fn === 'approx_count_distinct' ? 'approx_distinct' : this.fn;
    return `${name}(${this.argument ?? ''})`;
  }

  get name(): string {
    if (this.alias !== undefined) return this.alias;
    if (this.argument === undefined) return this.fn;
    const argument = this.argument.trim();
    if (!PLAIN_NAME.test(argument)) {
      throw new InvalidArgumentError(`Name the aggregate ${this.fn}(${argument}) with .as('name'): its expression is not a plain column`, {
        aggregate: this.viewText,
      });
    }
    return `${this.fn}_${argument}`;
  }
}

/** A sort key for `orderBy`: a column name and a direction. */
export class SortColumn {
  constructor(
    readonly column: string,
    readonly descending: boolean,
  ) {}
}

export const col = (name: string): Column => new Column(name);
export const expr = (text: string): Column => new Column(text);
export const split = (column: string | Column, separator: string): SplitColumn =>
  new SplitColumn(typeof column === 'string' ? column : column.expression, separator);
export const explode = (column: SplitColumn): ExplodeColumn => new ExplodeColumn(column.expression, column.separator);

/** `window('ts', '1 minute')` tumbles; `window('ts', '10 minutes', '5 minutes')` slides. */
export const window = (timeColumn: string, size: Duration, slide?: Duration): WindowColumn => new WindowColumn(timeColumn, size, slide);

const argumentOf = (column: string | Column): string => (typeof column === 'string' ? column : column.expression);

/** count() counts rows; count('x') counts rows where x is not null. */
export const count = (column?: string | Column): AggregateColumn => new AggregateColumn('count', column === undefined ? undefined : argumentOf(column));
export const sum = (column: string | Column): AggregateColumn => new AggregateColumn('sum', argumentOf(column));
export const avg = (column: string | Column): AggregateColumn => new AggregateColumn('avg', argumentOf(column));
export const min = (column: string | Column): AggregateColumn => new AggregateColumn('min', argumentOf(column));
export const max = (column: string | Column): AggregateColumn => new AggregateColumn('max', argumentOf(column));
/** HyperLogLog distinct count of a string column (about 1.6% standard error). */
export const approx_count_distinct = (column: string | Column): AggregateColumn => new AggregateColumn('approx_count_distinct', argumentOf(column));
export const asc = (column: string): SortColumn => new SortColumn(column, false);
export const desc = (column: string): SortColumn => new SortColumn(column, true);
