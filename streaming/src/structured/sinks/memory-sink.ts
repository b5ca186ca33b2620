/**
 * Spark's memory sink: the result kept as an in-memory table named by the query, for tests and
 * notebooks. Rows are kept per batch id, so a batch handed again after a restart replaces its first
 * copy; in complete mode the table is the last batch, otherwise every batch in order.
 */
import { InvalidArgumentError, UnknownViewError, type ValueType, compileExpression, type Row } from '@lambda/core';
import type { SchemaColumn } from '../logical-plan.js';
import type { OutputRow } from '../row-pipeline.js';
import type { OutputMode, SinkBatch, StructuredSink } from './structured-sink.js';

export class MemoryTable {
  private readonly batches = new Map<number, OutputRow[]>();
  private mode: OutputMode = 'append';
  private schema: SchemaColumn[] = [];

  constructor(readonly name: string) {}

  /** Stores a batch's rows, replacing any stored under the same id. */
  put(batch: SinkBatch): void {
    this.mode = batch.outputMode;
    this.schema = batch.columns;
    this.batches.set(batch.batchId, batch.rows.map((row) => ({ ...row })));
  }

  get columns(): readonly SchemaColumn[] {
    return this.schema;
  }

  /** The batch ids stored, ascending. */
  get batchIds(): number[] {
    return [...this.batches.keys()].sort((a, b) => a - b);
  }

  /** The table: the last batch in complete mode, every batch's rows in batch order otherwise. */
  rows(): OutputRow[] {
    const ids = this.batchIds;
    if (this.mode === 'complete') return ids.length === 0 ? [] : structuredClone(this.batches.get(ids.at(-1)!)!);
    return ids.flatMap((id) => structuredClone(this.batches.get(id)!));
  }

  /** The rows of one batch, as handed to the sink. */
  batch(batchId: number): OutputRow[] | undefined {
    const rows = this.batches.get(batchId);
    return rows && structuredClone(rows);
  }

  /** The table's rows where a view-language condition over its scalar columns is TRUE. */
  where(condition: string): OutputRow[] {
    const scope = new Map<string, ValueType>();
    for (const column of this.schema) if (column.type !== 'window') scope.set(column.name, column.type);
    const compiled = compileExpression(condition, scope);
    if (compiled.type !== 'boolean' && compiled.type !== 'null') throw new InvalidArgumentError(`where(${condition}) needs a boolean condition`, {});
    return this.rows().filter((row) => compiled.evaluate(row as Row) === true);
  }

  clear(): void {
    this.batches.clear();
  }
}

/** The memory tables by query name; one per process by default (`memoryTables`), or one per test. */
export class MemoryTables {
  private readonly tables = new Map<string, MemoryTable>();

  /** The table of a query, created empty if need be. */
  open(name: string): MemoryTable {
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = new MemoryTable(name)));
    return table;
  }

  table(name: string): MemoryTable {
    const table = this.tables.get(name);
    if (!table) throw new UnknownViewError(`No memory table "${name}": start a query with format('memory') and queryName('${name}')`, { name });
    return table;
  }

  has(name: string): boolean {
    return this.tables.has(name);
  }

  drop(name: string): void {
    this.tables.delete(name);
  }
}

export const memoryTables = new MemoryTables();

export class MemorySink implements StructuredSink {
  readonly description: string;
  readonly idempotent = true;
  private readonly table: MemoryTable;

  constructor(name: string, tables: MemoryTables = memoryTables) {
    this.description = `memory:${name}`;
    this.table = tables.open(name);
  }

  async addBatch(batch: SinkBatch): Promise<void> {
    this.table.put(batch);
  }
}
