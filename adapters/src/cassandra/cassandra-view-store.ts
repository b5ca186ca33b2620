/**
 * The view store on Cassandra (cassandra-driver), with the tables of `infra/cassandra/schema.cql`.
 * (Over 400 lines: one adapter of one port; the statements and codecs are apart, in cql-statements.ts and
 * cassandra-codec.ts.)
 *
 * - A slice is one partition: metadata in static columns, rows clustered by key and window. A write is one
 *   single-partition batch, which Cassandra applies atomically and in isolation. A read is one partition
 *   read; when it spans several pages or queries, every row carries the slice's `write_id` and the read is
 *   repeated unless all saw the same write, so a reader never mixes two writes.
 * - Batch rows are staged per version in a few bucket partitions, invisible until the manifest names the
 *   version. The manifest row is switched by a lightweight transaction (`IF version < ?`, or `IF NOT
 *   EXISTS` for the first), so versions only move forward and a concurrent lower publish is refused.
 * - Every statement is prepared with bound values and marked idempotent, so the driver may retry it; every
 *   large read is paged (`fetchSize` and `pageState`).
 *
 * Two checks are made by reading first, without a transaction, as Cassandra cannot join them to the write:
 * rows staged for a version at or below the serving one are refused, and the serving version cannot be
 * deleted. A publish racing either can leave rows of a version below the serving one (never served, and
 * removed by the batch layer's clean-up like any superseded version); publishing and deleting the same
 * staged version at once is a caller's error the store does not guard against.
 */
import { Client, policies, types } from 'cassandra-driver';
import {
  ClosedError,
  ConflictError,
  TimeoutError,
  silentLogger,
  type Logger,
  retry,
  validateFilter,
  validateManifest,
  validateRows,
  validateSlice,
  validateSliceRef,
  validateVersion,
  validateViewName,
  type BatchManifest,
  type RowFilter,
  type Slice,
  type SliceRef,
  type ViewRow,
  type ViewStore,
} from '@lambda/core';
import {
  compareRows,
  decodeManifest,
  decodeRow,
  decodeSlice,
  encodeManifest,
  lastRowPerCell,
  toNullableNumber,
  toNumber,
  writeIdOf,
  StateCache,
  type RowColumns,
  type SliceColumns,
} from './cassandra-codec.js';
import { mapCassandraError } from './cassandra-errors.js';
import {
  cqlStatementTexts,
  matchesNothing,
  planBatchRowReads,
  planBatchRowWrites,
  planBatchVersionDelete,
  planBatchVersionList,
  planManifestRead,
  planPublish,
  planSliceDelete,
  planSliceList,
  planSliceMetadataRead,
  planSliceRowReads,
  planSliceWrite,
  planViewLists,
  type CqlStatement,
  type CqlStatementTexts,
} from './cql-statements.js';
import { loadSchemaStatements, validateKeyspace } from './schema.js';

export type CassandraConsistency = 'ONE' | 'LOCAL_ONE' | 'QUORUM' | 'LOCAL_QUORUM' | 'EACH_QUORUM' | 'ALL';
export type CassandraSerialConsistency = 'SERIAL' | 'LOCAL_SERIAL';

const CONSISTENCIES: Record<CassandraConsistency | CassandraSerialConsistency, types.consistencies> = {
  ONE: types.consistencies.one,
  LOCAL_ONE: types.consistencies.localOne,
  QUORUM: types.consistencies.quorum,
  LOCAL_QUORUM: types.consistencies.localQuorum,
  EACH_QUORUM: types.consistencies.eachQuorum,
  ALL: types.consistencies.all,
  SERIAL: types.consistencies.serial,
  LOCAL_SERIAL: types.consistencies.localSerial,
};

export interface CassandraViewStoreOptions {
  /** Hosts (`host` or `host:port`) the driver contacts first; it discovers the rest of the cluster. */
  contactPoints: readonly string[];
  /** The data centre whose nodes serve requests (LOCAL_* consistencies count replicas there). */
  localDataCenter: string;
  /** The keyspace of the tables; a plain lower-case identifier, the only config text put in statements. */
  keyspace: string;
  /** Consistency of every read and write. Default LOCAL_QUORUM. */
  consistency?: CassandraConsistency;
  /** Consistency of the Paxos phase of the manifest's lightweight transactions. Default LOCAL_SERIAL. */
  serialConsistency?: CassandraSerialConsistency;
  /** Create the keyspace and tables from `infra/cassandra/schema.cql` (IF NOT EXISTS) when opening. Default false. */
  applySchema?: boolean;
  /** Replication factor of the keyspace when the schema creates it. Default 1. */
  replicationFactor?: number;
  /** The schema file; found above this module (the repository's `infra/cassandra/schema.cql`) when unset. */
  schemaFile?: string;
  username?: string;
  password?: string;
  /** Rows per page of every read. Default 1000. */
  fetchSize?: number;
  /** Rows per batch when staging batch rows (one partition per batch). Default 200. */
  rowsPerBatch?: number;
  /** Requests one call keeps in flight at most. Default 16. */
  concurrency?: number;
  /** Attempts of each call when the cluster answers with a retriable error (on top of the driver's own). Default 3. */
  attempts?: number;
  /**
   * The longest wait between the driver's attempts to reconnect to a node that went down. Default 5000 ms:
   * the driver's own default (ten minutes) can leave a process unable to reach a node for minutes after
   * it is back, so its recomputes fail while every other process reads again.
   */
  maxReconnectDelayMs?: number;
  logger?: Logger;
}

/** Attempts at reading a slice whose pages keep seeing different writes before giving up. */
const CONSISTENT_READ_ATTEMPTS = 10;
/** Rounds of a publish losing races to other publishes of lower versions before giving up. */
const PUBLISH_ROUNDS = 20;

type Row = types.Row & Partial<SliceColumns & RowColumns>;
type SliceRead = { slice: Slice; rows: ViewRow[] };

export class CassandraViewStore implements ViewStore {
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly states = new StateCache();

  private constructor(
    private readonly client: Client,
    private readonly statements: CqlStatementTexts,
    private readonly serialConsistency: types.consistencies,
    private readonly fetchSize: number,
    private readonly rowsPerBatch: number,
    private readonly concurrency: number,
    private readonly attempts: number,
    private readonly logger: Logger,
  ) {}

  static async open(options: CassandraViewStoreOptions): Promise<CassandraViewStore> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'view-store' });
    const keyspace = validateKeyspace(options.keyspace);
    const statements = cqlStatementTexts(keyspace);
    const schema = options.applySchema
      ? await loadSchemaStatements({ keyspace, replicationFactor: options.replicationFactor ?? 1 }, options.schemaFile)
      : [];
    const fetchSize = options.fetchSize ?? 1000;
    const client = new Client({
      contactPoints: [...options.contactPoints],
      localDataCenter: options.localDataCenter,
      policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(250, options.maxReconnectDelayMs ?? 5000, true) },
      ...(options.username !== undefined && options.password !== undefined
        ? { credentials: { username: options.username, password: options.password } }
        : {}),
      queryOptions: {
        consistency: CONSISTENCIES[options.consistency ?? 'LOCAL_QUORUM'],
        serialConsistency: CONSISTENCIES[options.serialConsistency ?? 'LOCAL_SERIAL'],
        prepare: true,
        fetchSize,
      },
    });
    try {
      await retry(
        async () => {
          try {
            await client.connect();
          } catch (error) {
            throw mapCassandraError(error, 'connect');
          }
        },
        { attempts: 5, logger, operation: 'connecting to Cassandra' },
      );
      // DDL has no values to bind, so it runs as plain statements; the driver waits for schema agreement.
      for (const statement of schema) {
        try {
          await client.execute(statement, [], { prepare: false });
        } catch (error) {
          throw mapCassandraError(error, 'apply schema');
        }
      }
      if (schema.length > 0) logger.info({ keyspace, statements: schema.length }, 'applied the Cassandra schema');
      return new CassandraViewStore(
        client,
        statements,
        CONSISTENCIES[options.serialConsistency ?? 'LOCAL_SERIAL'],
        fetchSize,
        options.rowsPerBatch ?? 200,
        options.concurrency ?? 16,
        options.attempts ?? 3,
        logger,
      );
    } catch (error) {
      await client.shutdown().catch(() => undefined);
      throw error;
    }
  }

  async putSlice(slice: Slice, rows: readonly ViewRow[]): Promise<void> {
    this.assertOpen();
    validateSlice(slice);
    validateRows(rows, { view: slice.view, partition: slice.partition, start: slice.start });
    // Planned (states encoded) before any await: what the caller does with its objects later changes nothing.
    const plan = planSliceWrite(this.statements, slice, lastRowPerCell(rows), types.Uuid.random());
    await this.attempt('putSlice', async () => {
      await this.run(plan.index);
      await this.batch(plan.batch);
    });
  }

  async listSlices(view: string): Promise<Slice[]> {
    this.assertOpen();
    validateViewName(view);
    return this.attempt('listSlices', async () => {
      const refs: SliceRef[] = [];
      for await (const row of this.scan(planSliceList(this.statements, view))) {
        refs.push({ view, partition: row['partition_id'] as number, start: toNumber(row['start_offset']) });
      }
      const slices = await mapLimited(refs, this.concurrency, (ref) => this.readSliceMetadata(ref));
      return slices.filter((slice): slice is Slice => slice !== undefined);
    });
  }

  async readSlice(ref: SliceRef, filter?: RowFilter): Promise<{ slice: Slice; rows: ViewRow[] } | undefined> {
    this.assertOpen();
    validateSliceRef(ref);
    validateFilter(filter);
    const { view, partition, start } = ref;
    const target = { view, partition, start };
    return this.attempt('readSlice', async () => {
      if (matchesNothing(filter)) {
        const slice = await this.readSliceMetadata(target);
        return slice && { slice, rows: [] };
      }
      for (let attempt = 1; attempt <= CONSISTENT_READ_ATTEMPTS; attempt++) {
        const read = await this.readSliceOnce(target, filter);
        if (read !== 'moved') return read;
      }
      throw new TimeoutError(`Slice ${view}/${partition}/${start} kept changing while being read; try again`, {
        context: { view, partition, start },
      });
    });
  }

  async deleteSlices(refs: readonly SliceRef[]): Promise<void> {
    this.assertOpen();
    refs.forEach(validateSliceRef);
    const plans = refs.map((ref) => planSliceDelete(this.statements, ref));
    if (plans.length === 0) return;
    await this.attempt('deleteSlices', async () => {
      await mapLimited(plans, this.concurrency, async (steps) => {
        for (const step of steps) await this.run(step);
      });
    });
  }

  async putBatchRows(view: string, version: number, rows: readonly ViewRow[]): Promise<void> {
    this.assertOpen();
    validateViewName(view);
    validateVersion(version, view);
    validateRows(rows, { view, version });
    const plan = planBatchRowWrites(this.statements, view, version, lastRowPerCell(rows), this.rowsPerBatch);
    await this.attempt('putBatchRows', async () => {
      const serving = await this.readServingVersion(view);
      if (serving !== undefined && version <= serving) {
        throw new ConflictError(`Batch version ${version} of view "${view}" is already published (serving: ${serving}); build a newer one`, {
          view,
          version,
          serving,
        });
      }
      // No rows stores nothing: a version exists once it has rows or a manifest.
      if (plan.batches.length === 0) return;
      await this.run(plan.index);
      await mapLimited(plan.batches, this.concurrency, (batch) => this.batch(batch));
    });
  }

  async publishBatchVersion(manifest: BatchManifest): Promise<void> {
    this.assertOpen();
    validateManifest(manifest);
    const { view, version } = manifest;
    const plan = planPublish(this.statements, manifest);
    const text = encodeManifest(manifest);
    await this.attempt('publishBatchVersion', async () => {
      for (let round = 1; round <= PUBLISH_ROUNDS; round++) {
        const overOlder = await this.run(plan.overOlder, { serialConsistency: this.serialConsistency });
        if (overOlder.wasApplied()) return this.published(manifest);
        const serving = toNullableNumber(overOlder.first()?.['version']);
        // A row exists (its version is not below ours): refused, unless it is this very publish, retried.
        if (serving !== null) return this.refuseOrConfirm(view, version, serving, text);
        const first = await this.run(plan.first, { serialConsistency: this.serialConsistency });
        if (first.wasApplied()) return this.published(manifest);
        const existing = toNullableNumber(first.first()?.['version']);
        if (existing !== null && existing >= version) return this.refuseOrConfirm(view, version, existing, text);
        // Another publish created the row, with a lower version, between our two attempts: go again.
      }
      throw new TimeoutError(`Publishing version ${version} of view "${view}" kept losing races to other publishes; try again`, {
        context: { view, version },
      });
    });
  }

  async readManifest(view: string): Promise<BatchManifest | undefined> {
    this.assertOpen();
    validateViewName(view);
    return this.attempt('readManifest', async () => {
      const row = (await this.run(planManifestRead(this.statements, view))).first();
      const text = row?.['manifest'] as string | null | undefined;
      return text ? decodeManifest(text, view) : undefined;
    });
  }

  async readBatchRows(view: string, version: number, filter?: RowFilter): Promise<ViewRow[]> {
    this.assertOpen();
    validateViewName(view);
    validateVersion(version, view);
    validateFilter(filter);
    if (matchesNothing(filter)) return [];
    const queries = planBatchRowReads(this.statements, view, version, filter);
    return this.attempt('readBatchRows', async () => {
      const parts = await mapLimited(queries, this.concurrency, async (query) => {
        const rows: ViewRow[] = [];
        for await (const row of this.scan(query)) rows.push(decodeRow(row as unknown as RowColumns, { view, version }, this.states));
        return rows;
      });
      return parts.flat().sort(compareRows);
    });
  }

  async listBatchVersions(view: string): Promise<number[]> {
    this.assertOpen();
    validateViewName(view);
    return this.attempt('listBatchVersions', async () => {
      const versions = new Set<number>();
      for await (const row of this.scan(planBatchVersionList(this.statements, view))) versions.add(toNumber(row['version']));
      const serving = await this.readServingVersion(view);
      if (serving !== undefined) versions.add(serving);
      return [...versions].sort((a, b) => a - b);
    });
  }

  async deleteBatchVersion(view: string, version: number): Promise<void> {
    this.assertOpen();
    validateViewName(view);
    validateVersion(version, view);
    const plan = planBatchVersionDelete(this.statements, view, version);
    await this.attempt('deleteBatchVersion', async () => {
      if ((await this.readServingVersion(view)) === version) {
        throw new ConflictError(`Version ${version} of view "${view}" is serving; publish a newer one before deleting it`, { view, version });
      }
      // Rows first, then the index entry: a crash between leaves a listed version with no rows, deleted again later.
      await mapLimited(plan.rows, this.concurrency, (statement) => this.run(statement));
      await this.run(plan.index);
    });
  }

  async listViews(): Promise<string[]> {
    this.assertOpen();
    return this.attempt('listViews', async () => {
      const views = new Set<string>();
      for (const query of planViewLists(this.statements)) {
        for await (const row of this.scan(query)) views.add(row['view_name'] as string);
      }
      return [...views].sort();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.inFlight);
    await this.client.shutdown();
  }

  /**
   * One attempt at a consistent read of a slice. A read made of one request is one isolated partition
   * read. Otherwise every row carries the write it belongs to (`write_id`), and the read is accepted only
   * when it can be pinned to one write: all rows name the same one and no other came before the last
   * request, or (when some request found nothing, or the filter matched no row) the metadata read just
   * before and just after name the same write, and every row names it too.
   */
  private async readSliceOnce(ref: SliceRef, filter: RowFilter | undefined): Promise<SliceRead | undefined | 'moved'> {
    const queries = planSliceRowReads(this.statements, ref, filter);
    const unfiltered = filter?.keys === undefined && filter?.windowFrom === undefined && filter?.windowTo === undefined;
    const optimistic = await this.readSliceRows(ref, queries);
    if (optimistic === 'moved' || typeof optimistic === 'object') return optimistic;
    // An unfiltered read also returns the static row of a slice without rows: nothing at all means no slice.
    if (optimistic === undefined && unfiltered) return undefined;
    const before = await this.readSliceMetadataRow(ref);
    if (before === undefined) return undefined;
    const pinned = await this.readSliceRows(ref, queries, writeIdOf(before));
    if (pinned === 'moved') return 'moved';
    const after = await this.readSliceMetadataRow(ref);
    if (after === undefined || writeIdOf(after) !== writeIdOf(before)) return 'moved';
    if (typeof pinned === 'object') return pinned;
    const slice = decodeSlice(ref, before);
    return slice && { slice, rows: [] };
  }

  /**
   * The slice and its rows from `queries`; undefined when they return nothing; 'moved' when rows name
   * different writes (or not `pinnedWriteId`); 'unpinned' when, unpinned, a request found nothing before
   * later ones found rows, so the first write seen may not be the one the empty request saw.
   */
  private async readSliceRows(
    ref: SliceRef,
    queries: CqlStatement[],
    pinnedWriteId?: string,
  ): Promise<SliceRead | undefined | 'moved' | 'unpinned'> {
    let first: Row | undefined;
    let requests = 0;
    let emptyBeforeFirst = false;
    const rows: ViewRow[] = [];
    for (const query of queries) {
      for await (const page of this.pages(query)) {
        requests++;
        if (page.length === 0 && first === undefined) emptyBeforeFirst = true;
        for (const row of page) {
          first ??= row;
          const writeId = writeIdOf(row as unknown as SliceColumns);
          if (writeId !== (pinnedWriteId ?? writeIdOf(first as unknown as SliceColumns))) return 'moved';
          if (row['row_key'] !== null && row['row_key'] !== undefined) rows.push(decodeRow(row as unknown as RowColumns, { ...ref }, this.states));
        }
      }
    }
    if (first === undefined) return undefined;
    if (pinnedWriteId === undefined && requests > 1) {
      if (emptyBeforeFirst) return 'unpinned';
      // The first rows named this write; if the metadata still does, no write came between the requests.
      const last = await this.readSliceMetadataRow(ref);
      if (last === undefined || writeIdOf(last) !== writeIdOf(first as unknown as SliceColumns)) return 'moved';
    }
    const slice = decodeSlice(ref, first as unknown as SliceColumns);
    // Rows without metadata cannot be written (they share one batch), so treat them as no slice.
    if (slice === undefined) return undefined;
    return { slice, rows: rows.sort(compareRows) };
  }

  private async readSliceMetadataRow(ref: SliceRef): Promise<SliceColumns | undefined> {
    const row = (await this.run(planSliceMetadataRead(this.statements, ref))).first() as (types.Row & SliceColumns) | null;
    return row && decodeSlice(ref, row) ? row : undefined;
  }

  private async readSliceMetadata(ref: SliceRef): Promise<Slice | undefined> {
    const row = await this.readSliceMetadataRow(ref);
    return row && decodeSlice(ref, row);
  }

  private async readServingVersion(view: string): Promise<number | undefined> {
    const row = (await this.run(planManifestRead(this.statements, view))).first();
    return toNullableNumber(row?.['version']) ?? undefined;
  }

  /**
   * The publish found `serving` at or above its version. When that is its own version with its own
   * manifest (a retry of a publish whose answer was lost), it succeeded; otherwise it is refused.
   */
  private async refuseOrConfirm(view: string, version: number, serving: number, text: string): Promise<void> {
    if (serving === version) {
      // A serial read sees any transaction in progress completed, so it tells whether ours landed.
      const stored = (await this.run(planManifestRead(this.statements, view), { consistency: this.serialConsistency })).first();
      if (stored?.['manifest'] === text) return;
    }
    throw new ConflictError(`Cannot publish version ${version} of view "${view}": version ${serving} is serving`, { view, version, serving });
  }

  private published(manifest: BatchManifest): void {
    this.logger.debug({ view: manifest.view, version: manifest.version, horizon: manifest.horizon }, 'published batch version');
  }

  /** Runs one prepared, idempotent statement. */
  private async run(statement: CqlStatement, options: { consistency?: number; serialConsistency?: number } = {}): Promise<types.ResultSet> {
    try {
      return await this.client.execute(statement.query, statement.params, { prepare: true, isIdempotent: true, ...options });
    } catch (error) {
      throw mapCassandraError(error, firstWords(statement.query));
    }
  }

  /** Runs statements of one partition as one unlogged batch: applied atomically and in isolation. */
  private async batch(statements: CqlStatement[]): Promise<void> {
    try {
      await this.client.batch(
        statements.map(({ query, params }) => ({ query, params })),
        { prepare: true, isIdempotent: true, logged: false },
      );
    } catch (error) {
      throw mapCassandraError(error, `batch of ${statements.length}`);
    }
  }

  /** The rows of a query, page by page (`fetchSize`, then `pageState`), never the whole result at once. */
  private async *scan(statement: CqlStatement): AsyncGenerator<Row> {
    for await (const page of this.pages(statement)) yield* page;
  }

  /** The pages of a query, one request each. */
  private async *pages(statement: CqlStatement): AsyncGenerator<Row[]> {
    let pageState: string | undefined;
    do {
      let page: types.ResultSet;
      try {
        page = await this.client.execute(statement.query, statement.params, {
          prepare: true,
          isIdempotent: true,
          fetchSize: this.fetchSize,
          ...(pageState === undefined ? {} : { pageState }),
        });
      } catch (error) {
        throw mapCassandraError(error, firstWords(statement.query));
      }
      yield page.rows as Row[];
      pageState = page.pageState ?? undefined;
    } while (pageState);
  }

  /** Runs one call of the port, trying again (with backoff) while the cluster answers with retriable errors. */
  private attempt<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const result = retry(
      async () => {
        this.assertOpen();
        return call();
      },
      { attempts: this.attempts, logger: this.logger, operation: `Cassandra view store ${operation}` },
    );
    // Tracked so close() lets calls already made finish before the connections go.
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
    return result;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The Cassandra view store');
  }
}

/** The statement's verb and table, for error messages: never its values, which are bound separately. */
function firstWords(query: string): string {
  return query.split(' WHERE ')[0]!.slice(0, 80);
}

/** Maps `items` through `fn` with at most `limit` calls in flight, keeping their order; every call settles before a failure is thrown. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
