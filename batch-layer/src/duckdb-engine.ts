/**
 * The batch layer's compute: one embedded DuckDB instance, and a connection per piece of work, each closed
 * in a finally block however the work ends.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

export interface DuckDbOptions {
  /** Worker threads. Default: DuckDB's own (one per core). */
  threads?: number;
  /** Memory DuckDB may use before spilling to `tempDirectory`, e.g. '2GB'. */
  memoryLimit?: string;
  /** Where DuckDB spills what does not fit in memory. */
  tempDirectory?: string;
}

export type QueryValues = Record<string, DuckDBValue>;
export type QueryTypes = Record<string, DuckDBType>;

export class DuckDbEngine {
  private constructor(private readonly instance: DuckDBInstance) {}

  static async create(options: DuckDbOptions = {}): Promise<DuckDbEngine> {
    const settings: Record<string, string> = {};
    if (options.threads !== undefined) settings.threads = String(options.threads);
    if (options.memoryLimit !== undefined) settings.memory_limit = options.memoryLimit;
    if (options.tempDirectory !== undefined) settings.temp_directory = options.tempDirectory;
    return new DuckDbEngine(await DuckDBInstance.create(':memory:', settings));
  }

  async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}

/** Runs a query with bound parameters and returns its rows as plain JS objects. */
export async function queryRows(
  connection: DuckDBConnection,
  sql: string,
  values: QueryValues = {},
  types?: QueryTypes,
): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql, values, types);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}
