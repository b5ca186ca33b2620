/**
 * What a query may be: one SELECT (or WITH, FROM, VALUES) statement over the view tables. DuckDB's own
 * parser decides (`json_serialize_sql`), so the checks see the statement as DuckDB will run it: no
 * regular expression guesses at SQL. The connection it runs in has no file, network or extension access
 * besides (see sql-query-engine.ts); these checks make the refusals name the problem, and keep the query
 * to the tables the engine loaded for it.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { InvalidSqlError, SqlNotAllowedError } from './sql-errors.js';

/** Table functions a query may call: they make rows, and read nothing. */
const ALLOWED_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);
const READING_KEYWORDS = new Set(['select', 'with', 'from', 'values']);

export interface CheckedStatement {
  /** Tables the statement names (views, or its own common table expressions), lower-cased. */
  tables: Set<string>;
  /** How many times it names a table, all names counted. */
  references: number;
  /** The statement as DuckDB parsed it (`json_serialize_sql`), for the pushdown of its filters. */
  tree: unknown;
}

/**
 * Checks `sql` is one reading statement that names tables only by their bare names and calls no table
 * function that reads anything; returns the names it reads. An InvalidSqlError when DuckDB cannot parse it,
 * a SqlNotAllowedError naming the problem when it is not a query a reader may run.
 */
export async function checkStatement(connection: DuckDBConnection, sql: string): Promise<CheckedStatement> {
  // Parsing first: a statement that does not parse is reported as such, whatever it starts with.
  const extracted = await connection.extractStatements(sql).catch((error: unknown) => {
    throw new InvalidSqlError(`sql does not parse: ${(error as Error).message.split('\n')[0]}`, {});
  });
  if (extracted.count !== 1) throw new SqlNotAllowedError(`sql must be one statement; it holds ${extracted.count}`, { statements: extracted.count });
  const first = firstKeyword(sql);
  if (!READING_KEYWORDS.has(first.toLowerCase())) {
    throw new SqlNotAllowedError(`sql must be one SELECT or WITH statement; this one starts with ${first ? `"${first.toUpperCase()}"` : 'nothing'}`, { keyword: first });
  }
  const result = await connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR) AS tree', [sql]);
  const tree = JSON.parse(String(result.getRows()[0]![0])) as { error: boolean; error_message?: string; statements?: unknown[] };
  if (tree.error) {
    // The serializer takes SELECT statements only: a statement that starts like one and is not (a
    // PRAGMA DuckDB rewrote, say) is refused in the same terms.
    if (/only select statements/i.test(tree.error_message ?? '')) throw new SqlNotAllowedError('sql must be one SELECT or WITH statement', {});
    throw new InvalidSqlError(`sql does not parse: ${tree.error_message}`, {});
  }
  const statements = tree.statements ?? [];

  const tables = new Set<string>();
  let references = 0;
  visit(statements[0], (node) => {
    if (node.type === 'BASE_TABLE') {
      references++;
      const name = String(node.table_name);
      if (node.schema_name || node.catalog_name) {
        throw new SqlNotAllowedError(`name a view by its bare name: "${[node.catalog_name, node.schema_name, name].filter(Boolean).join('.')}" is qualified`, { table: name });
      }
      tables.add(name.toLowerCase());
    } else if (node.type === 'TABLE_FUNCTION') {
      const name = String((node.function as { function_name?: unknown } | undefined)?.function_name ?? '');
      if (!ALLOWED_TABLE_FUNCTIONS.has(name.toLowerCase())) {
        throw new SqlNotAllowedError(`table function ${name}() is not allowed: a query reads the views only (allowed: ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')})`, {
          function: name,
        });
      }
    }
  });
  return { tables, references, tree: statements[0] };
}

/** The statement's first word, past whitespace, comments and opening parentheses. */
function firstKeyword(sql: string): string {
  const rest = sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*/, '');
  return /^[A-Za-z_]+/.exec(rest)?.[0] ?? '';
}

/** Calls `see` on every object node of a serialized statement. */
function visit(node: unknown, see: (node: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) for (const child of node) visit(child, see);
  else if (node !== null && typeof node === 'object') {
    see(node as Record<string, unknown>);
    for (const child of Object.values(node)) visit(child, see);
  }
}
