/**
 * Which rows of a view a query can need, found in its WHERE clause, so the store reads only those: keys
 * (`url = ?`, `url IN (...)`) and a range of window starts (`window_start >= TIMESTAMP '...'`,
 * `window_start < epoch_ms(?)`). Only for a query that reads one view once, in its top-level FROM, and only
 * from conditions ANDed at the top: then every row the query can keep passes the filter. The filter may
 * let more rows through than the query keeps (DuckDB still applies every condition), never fewer.
 */
import type { JsonValue, RowFilter } from '@lambda/core';

type Node = Record<string, unknown>;

/** What the pushdown needs of the view the query reads. */
export interface PushdownTarget {
  /** The key column when the view has exactly one key, of type string (lower-cased); else undefined. */
  keyColumn: string | undefined;
}

/** The store filter for the view `statement` reads, or undefined when none can be pushed down. */
export function pushdownFilter(statement: unknown, params: readonly JsonValue[], target: PushdownTarget): RowFilter | undefined {
  const node = (statement as { node?: Node } | undefined)?.node;
  if (node?.type !== 'SELECT_NODE' || (node.from_table as Node | undefined)?.type !== 'BASE_TABLE') return undefined;
  const filter: RowFilter = {};
  for (const condition of conjuncts(node.where_clause as Node | null)) narrow(filter, condition, params, target);
  return filter.keys !== undefined || filter.windowFrom !== undefined || filter.windowTo !== undefined ? filter : undefined;
}

function conjuncts(node: Node | null | undefined): Node[] {
  if (!node) return [];
  if (node.type === 'CONJUNCTION_AND') return (node.children as Node[]).flatMap(conjuncts);
  return [node];
}

function narrow(filter: RowFilter, condition: Node, params: readonly JsonValue[], { keyColumn }: PushdownTarget): void {
  if (condition.type === 'COMPARE_IN') {
    const [column, ...values] = condition.children as Node[];
    const keys = values.map((value) => text(value, params));
    if (keyColumn !== undefined && columnName(column) === keyColumn && keys.every((key) => key !== undefined)) intersectKeys(filter, keys as string[]);
    return;
  }
  if (condition.class !== 'COMPARISON') return;
  const column = columnName(condition.left as Node);
  const right = condition.right as Node;
  if (column !== undefined && column === keyColumn && condition.type === 'COMPARE_EQUAL') {
    const key = text(right, params);
    if (key !== undefined) intersectKeys(filter, [key]);
    return;
  }
  if (column !== 'window_start') return;
  const instant = instantMs(right, params);
  if (instant === undefined) return;
  // Window starts are whole milliseconds: the bounds are rounded outwards.
  const from = Math.floor(instant);
  const to = condition.type === 'COMPARE_LESSTHAN' ? Math.ceil(instant) : Math.floor(instant) + 1;
  if (['COMPARE_GREATERTHANOREQUALTO', 'COMPARE_GREATERTHAN', 'COMPARE_EQUAL'].includes(condition.type as string)) {
    filter.windowFrom = Math.max(filter.windowFrom ?? from, from);
  }
  if (['COMPARE_LESSTHAN', 'COMPARE_LESSTHANOREQUALTO', 'COMPARE_EQUAL'].includes(condition.type as string)) {
    filter.windowTo = Math.min(filter.windowTo ?? to, to);
  }
}

function intersectKeys(filter: RowFilter, keys: string[]): void {
  filter.keys = filter.keys === undefined ? [...new Set(keys)] : filter.keys.filter((key) => keys.includes(key));
}

/** A bare column's name, lower-cased (DuckDB's names are case-insensitive); undefined for anything else. */
function columnName(node: Node | undefined): string | undefined {
  const names = node?.class === 'COLUMN_REF' ? (node.column_names as string[]) : undefined;
  return names?.length === 1 ? names[0]!.toLowerCase() : undefined;
}

/** A constant or a parameter holding a value, as JSON; undefined when it is anything else. */
function valueOf(node: Node, params: readonly JsonValue[]): JsonValue | undefined {
  if (node.class === 'PARAMETER') return params[Number(node.identifier) - 1];
  if (node.class === 'CONSTANT') {
    const value = node.value as { is_null?: boolean; value?: JsonValue; type?: { id?: string } };
    if (value.is_null) return null;
    if (value.type?.id === 'VARCHAR') return typeof value.value === 'string' ? value.value : undefined;
    return typeof value.value === 'number' ? value.value : undefined;
  }
  return undefined;
}

function text(node: Node, params: readonly JsonValue[]): string | undefined {
  const value = valueOf(node, params);
  return typeof value === 'string' ? value : undefined;
}

/** Epoch ms of `epoch_ms(n)`, `TIMESTAMP 'text'` or a timestamp text; undefined for any other expression. */
function instantMs(node: Node, params: readonly JsonValue[]): number | undefined {
  if (node.class === 'FUNCTION' && String(node.function_name).toLowerCase() === 'epoch_ms') {
    const [argument] = node.children as Node[];
    const value = argument ? valueOf(argument, params) : undefined;
    return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
  }
  if (node.class === 'CAST' && (node.cast_type as { id?: string }).id === 'TIMESTAMP' && !node.try_cast) return timestampText(valueOf(node.child as Node, params));
  return timestampText(valueOf(node, params));
}

const TIMESTAMP_TEXT = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/;

/** A TIMESTAMP literal's text as epoch ms, for the plain forms only: others push nothing down. */
function timestampText(value: JsonValue | undefined): number | undefined {
  const match = typeof value === 'string' ? TIMESTAMP_TEXT.exec(value) : null;
  // Years before 1000 are left out: Date.UTC reads 0-99 as 1900-1999.
  if (!match || Number(match[1]) < 1000) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = ''] = match;
  const ms = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  return Number.isNaN(ms) ? undefined : ms + Number(`0.${fraction || '0'}`) * 1000;
}
