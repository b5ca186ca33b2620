/**
 * How a query fails, as platform errors the API turns into statuses: a query that is not allowed or does
 * not parse or bind is the caller's to fix (400); one that hits its time or memory limit is a valid query
 * this server will not run to the end (422, naming the limit).
 */
import { InvalidArgumentError, PlatformError } from '@lambda/core';

/** Not one reading statement over the views: another kind, several, a file read, a qualified name. */
export class SqlNotAllowedError extends InvalidArgumentError {
  override readonly code = 'SQL_NOT_ALLOWED';
}

/** DuckDB could not parse, bind or run it as written: DuckDB's message says where. */
export class InvalidSqlError extends InvalidArgumentError {
  override readonly code = 'INVALID_SQL';
}

/** The query ran past its time limit or memory limit and was stopped; the same query fails again. */
export class QueryLimitError extends PlatformError {
  override readonly code: string;
  constructor(limit: 'time' | 'memory', message: string, context: Record<string, unknown> = {}) {
    super(message, { context: { limit, ...context }, retriable: false });
    this.code = limit === 'time' ? 'QUERY_TIMEOUT' : 'QUERY_OUT_OF_MEMORY';
  }
}
