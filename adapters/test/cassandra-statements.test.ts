/**
 * What the Cassandra view store can be checked for without a server: the schema file, the keyspace check,
 * the statements it prepares (constant text, every value bound), its encodings and its error mapping, all
 * with the real code and real `cassandra-driver` classes.
 */
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { errors, types } from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { CassandraViewStore } from '../src/index.js';
import {
  ConfigError,
  ConnectionError,
  CorruptDataError,
  InvalidArgumentError,
  PlatformError,
  TimeoutError,
  type BatchManifest,
  type JsonValue,
  type RowFilter,
  type Slice,
  type ViewRow,
  loadConfig,
  silentLogger,
} from '@lambda/core';
import {
  BATCH_ROW_BUCKETS,
  bucketOfKey,
  decodeManifest,
  decodeRow,
  decodeSlice,
  decodeState,
  encodeManifest,
  encodeState,
  lastRowPerCell,
  StateCache,
} from '../src/cassandra/cassandra-codec.js';
import { mapCassandraError } from '../src/cassandra/cassandra-errors.js';
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
} from '../src/cassandra/cql-statements.js';
import { findSchemaFile, loadSchemaStatements, schemaStatements, validateKeyspace } from '../src/cassandra/schema.js';
import { openViewStore } from '../src/open-view-store.js';
import { makeTempDir } from '@lambda/test-kit';

const testDir = dirname(fileURLToPath(import.meta.url));
const commonDir = dirname(testDir);
const schemaPath = join(commonDir, '..', 'infra', 'cassandra', 'schema.cql');
const MINUTE = 60_000;

/** Every table a statement text names, as `"<keyspace>".<table>`. */
function tablesNamed(text: string, keyspace: string): string[] {
  return [...text.matchAll(new RegExp(`"${keyspace}"\\.([a-z_]+)`, 'g'))].map((match) => match[1]!);
}

describe('when reading the schema file', () => {
  it('should find infra/cassandra/schema.cql from the source tree and from dist', () => {
    expect(findSchemaFile()).toBe(schemaPath);
    expect(findSchemaFile(join(commonDir, 'dist', 'ports', 'view-store', 'cassandra'))).toBe(schemaPath);
    expect(findSchemaFile(join(commonDir, 'src', 'ports', 'view-store', 'cassandra'))).toBe(schemaPath);
  });

  it('should say clearly when no schema file is above the module', async () => {
    const dir = await makeTempDir('no-schema');
    try {
      const error = (() => {
        try {
          return findSchemaFile(dir.path);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(dir.path);
      expect((error as Error).message).toContain('schema.cql');
    } finally {
      await dir.remove();
    }
  });

  it('should split into statements that each name the configured keyspace and use IF NOT EXISTS', async () => {
    const keyspace = 'lambda_ks_7';
    const statements = await loadSchemaStatements({ keyspace, replicationFactor: 3 });
    const text = await readFile(schemaPath, 'utf8');
    // As many statements as the file has CREATE commands (comments hold none).
    const creates = text.split('\n').filter((line) => /^\s*CREATE\b/i.test(line)).length;
    expect(statements).toHaveLength(creates);
    expect(statements.length).toBeGreaterThan(1);
    for (const statement of statements) {
      expect(statement).toMatch(/^CREATE (KEYSPACE|TABLE) IF NOT EXISTS /);
      expect(statement).toContain(`"${keyspace}"`);
      expect(statement).not.toContain('${');
      expect(statement).not.toContain('--');
      expect(statement).not.toContain(';');
    }
    const keyspaceStatements = statements.filter((statement) => statement.startsWith('CREATE KEYSPACE'));
    expect(keyspaceStatements).toHaveLength(1);
    expect(keyspaceStatements[0]).toContain("'replication_factor': 3");
    const tables = statements.filter((statement) => statement.startsWith('CREATE TABLE'));
    expect(tables.length).toBe(statements.length - 1);
    for (const table of tables) expect(table).toMatch(new RegExp(`^CREATE TABLE IF NOT EXISTS "${keyspace}"\\.[a-z_]+ \\(`));
  });

  it('should create every table the adapter’s statements use', async () => {
    const keyspace = 'lambda';
    const created = new Set(
      (await loadSchemaStatements({ keyspace, replicationFactor: 1 }))
        .filter((statement) => statement.startsWith('CREATE TABLE'))
        .flatMap((statement) => tablesNamed(statement, keyspace)),
    );
    const used = new Set(Object.values(cqlStatementTexts(keyspace)).flatMap((text) => tablesNamed(text, keyspace)));
    expect(used.size).toBeGreaterThan(0);
    for (const table of used) expect(created).toContain(table);
  });

  it('should refuse a schema text with a placeholder it does not know', () => {
    const text = 'CREATE TABLE IF NOT EXISTS "${keyspace}".t (a int PRIMARY KEY) WITH comment = ${comment};';
    expect(() => schemaStatements(text, { keyspace: 'lambda', replicationFactor: 1 })).toThrow(ConfigError);
    expect(() => schemaStatements(text, { keyspace: 'lambda', replicationFactor: 1 })).toThrow('${comment}');
  });

  it.each([0, 17, 1.5, Number.NaN])('should refuse the replication factor %j', (replicationFactor) => {
    expect(() => schemaStatements('CREATE KEYSPACE IF NOT EXISTS "${keyspace}";', { keyspace: 'lambda', replicationFactor })).toThrow(
      ConfigError,
    );
  });
});

describe('when given a keyspace name', () => {
  const badNames = ['Lambda', 'lambda; DROP KEYSPACE system', 'a"b', "it's", '', '1abc', '_x', 'x'.repeat(49), 'ks-name', 'naïve', 'ks.other', 'a b'];

  it.each(badNames)('should refuse %j everywhere before it reaches a statement', async (keyspace) => {
    const quoted = JSON.stringify(keyspace);
    for (const attempt of [
      () => validateKeyspace(keyspace),
      () => cqlStatementTexts(keyspace),
      () => schemaStatements('CREATE KEYSPACE IF NOT EXISTS "${keyspace}";', { keyspace, replicationFactor: 1 }),
    ]) {
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(quoted);
    }
    // Refused before any connection is tried: no server is needed to see it.
    const opening = CassandraViewStore.open({ contactPoints: ['127.0.0.1:1'], localDataCenter: 'dc1', keyspace });
    await expect(opening).rejects.toBeInstanceOf(ConfigError);
    await expect(opening).rejects.toThrow(quoted);
  });

  it.each(['lambda', 'a', 'ks_1', 'x'.repeat(48)])('should accept %j and quote it in every statement', (keyspace) => {
    expect(validateKeyspace(keyspace)).toBe(keyspace);
    for (const text of Object.values(cqlStatementTexts(keyspace))) expect(text).toContain(`"${keyspace}".`);
  });
});

describe('when planning statements', () => {
  const hostile = [`it's"; DROP TABLE x; --`, `a'b`, `v"iew`, `'); DELETE FROM slices WHERE ('1'='1`, 'plain-view.1'];

  /** Every statement the adapter can run for one set of port arguments. */
  function planEverything(view: string): CqlStatement[] {
    const s = cqlStatementTexts('lambda');
    const slice: Slice = { view, partition: 3, start: 100, end: 250, closed: true, newestRecordAt: 1_700_000_000_000 };
    const rows: ViewRow[] = [
      { key: view, windowStart: -MINUTE, state: { text: view } },
      { key: `${view}-2`, windowStart: 0, state: [view, 1, null] },
    ];
    const filters: Array<RowFilter | undefined> = [
      undefined,
      {},
      { keys: [view, `${view}'`] },
      { windowFrom: 0 },
      { windowTo: MINUTE },
      { keys: [view], windowFrom: 0, windowTo: MINUTE },
    ];
    const manifest: BatchManifest = { view, version: 4, horizon: [1, 2], publishedAt: 5, newestRecordAt: null, stats: { note: view } };
    const write = planSliceWrite(s, slice, rows, types.Uuid.random());
    const batch = planBatchRowWrites(s, view, 4, rows, 1);
    const deletion = planBatchVersionDelete(s, view, 4);
    const publish = planPublish(s, manifest);
    return [
      write.index,
      ...write.batch,
      planSliceMetadataRead(s, slice),
      ...filters.flatMap((filter) => planSliceRowReads(s, slice, filter)),
      planSliceList(s, view),
      ...planSliceDelete(s, slice),
      batch.index,
      ...batch.batches.flat(),
      ...filters.flatMap((filter) => planBatchRowReads(s, view, 4, filter)),
      planBatchVersionList(s, view),
      ...deletion.rows,
      deletion.index,
      planManifestRead(s, view),
      publish.overOlder,
      publish.first,
      ...planViewLists(s),
    ];
  }

  it('should only ever run the constant statement texts', () => {
    const constant = new Set(Object.values(cqlStatementTexts('lambda')));
    const benign = planEverything('pageviews');
    for (const view of hostile) {
      const planned = planEverything(view);
      // Same statements in the same order, whatever the arguments: the text never depends on them.
      expect(planned.map((statement) => statement.query)).toEqual(benign.map((statement) => statement.query));
      for (const { query } of planned) {
        expect(constant).toContain(query);
        expect(query).not.toContain(view);
      }
      // The values travel as bound parameters instead.
      expect(planned.some(({ params }) => params.includes(view))).toBe(true);
    }
  });

  it('should bind exactly one value per marker, and put no literal in any statement', () => {
    for (const text of Object.values(cqlStatementTexts('lambda'))) {
      expect(text).not.toMatch(/['$;]/);
      expect(text).not.toMatch(/\d/);
    }
    for (const { query, params } of planEverything(`x'y`)) {
      expect(params).toHaveLength(query.split('?').length - 1);
    }
  });

  it('should write every slice row and the metadata into the slice’s one partition', () => {
    const s = cqlStatementTexts('lambda');
    const slice: Slice = { view: 'v', partition: 2, start: 40, end: 90, closed: false, newestRecordAt: null };
    const rows = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, windowStart: i * MINUTE, state: { i } }));
    const writeId = types.Uuid.random();
    const { index, batch } = planSliceWrite(s, slice, rows, writeId);
    expect(index.query).toBe(s.indexSlice);
    expect(batch).toHaveLength(rows.length + 1);
    expect(batch[0]!.query).toBe(s.writeSliceMetadata);
    expect(batch[0]!.params.slice(0, 4).map(String)).toEqual(['90', 'false', 'null', writeId.toString()]);
    const partitionOf = (statement: CqlStatement) => statement.params.slice(statement.query === s.writeSliceMetadata ? 4 : 0, statement.query === s.writeSliceMetadata ? 7 : 3).map(String);
    for (const statement of batch) expect(partitionOf(statement)).toEqual(['v', '2', '40']);
    expect(batch.slice(1).map((statement) => [statement.params[3], Number(String(statement.params[4])), JSON.parse(statement.params[5] as string)])).toEqual(
      rows.map((row) => [row.key, row.windowStart, row.state]),
    );
  });

  it('should stage batch rows into the bucket of each key, and read named keys only from their buckets', () => {
    const s = cqlStatementTexts('lambda');
    const rows = Array.from({ length: 40 }, (_, i) => ({ key: `key-${i}`, windowStart: 0, state: i }));
    const { batches } = planBatchRowWrites(s, 'v', 2, rows, 3);
    const written = batches.flat();
    expect(written).toHaveLength(rows.length);
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(3);
      // One partition (view, version, bucket) per batch.
      expect(new Set(batch.map((statement) => statement.params.slice(0, 3).map(String).join('/'))).size).toBe(1);
    }
    for (const statement of written) expect(statement.params[2]).toBe(bucketOfKey(statement.params[3] as string));

    const keys = ['key-1', 'key-2', 'key-1', 'key-30'];
    const reads = planBatchRowReads(s, 'v', 2, { keys });
    const buckets = new Set(keys.map(bucketOfKey));
    expect(new Set(reads.map((read) => read.params[2]))).toEqual(buckets);
    expect(reads.flatMap((read) => read.params[3] as string[]).sort()).toEqual([...new Set(keys)].sort());
    // Without keys, every bucket is read.
    expect(planBatchRowReads(s, 'v', 2, undefined).map((read) => read.params[2])).toEqual(Array.from({ length: BATCH_ROW_BUCKETS }, (_, i) => i));
  });

  it('should split a long key list into several queries', () => {
    const s = cqlStatementTexts('lambda');
    const keys = Array.from({ length: 250 }, (_, i) => `k${i}`);
    const reads = planSliceRowReads(s, { view: 'v', partition: 0, start: 0 }, { keys: [...keys, ...keys] });
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.flatMap((read) => read.params[3] as string[])).toEqual(keys);
  });

  it('should bound open window ranges by the widest bigint values', () => {
    const s = cqlStatementTexts('lambda');
    const [onlyFrom] = planSliceRowReads(s, { view: 'v', partition: 0, start: 0 }, { windowFrom: 5 * MINUTE });
    expect(onlyFrom!.query).toBe(s.readSliceWindows);
    expect(onlyFrom!.params.slice(3).map(String)).toEqual([String(5 * MINUTE), types.Long.MAX_VALUE.toString()]);
    const [onlyTo] = planSliceRowReads(s, { view: 'v', partition: 0, start: 0 }, { windowTo: -MINUTE });
    expect(onlyTo!.params.slice(3).map(String)).toEqual([types.Long.MIN_VALUE.toString(), String(-MINUTE)]);
    const [all] = planSliceRowReads(s, { view: 'v', partition: 0, start: 0 }, {});
    expect(all!.query).toBe(s.readSliceAll);
  });

  it.each<[RowFilter | undefined, boolean]>([
    [undefined, false],
    [{}, false],
    [{ keys: [] }, true],
    [{ keys: ['a'] }, false],
    [{ windowFrom: 5, windowTo: 5 }, true],
    [{ windowFrom: 6, windowTo: 5 }, true],
    [{ windowFrom: 4, windowTo: 5 }, false],
  ])('should tell that %j matches nothing: %s', (filter, expected) => {
    expect(matchesNothing(filter)).toBe(expected);
  });
});

describe('when encoding rows and manifests', () => {
  const states: JsonValue[] = [
    { count: 3, sum: 12.5, tags: ['a', 'b'], nested: { ok: true, none: null } },
    42,
    -0.125,
    'text with "quotes", \'apostrophes\' and ünïcode 🎉',
    [1, [2, 3], { four: 4 }],
    null,
    false,
  ];

  it.each(states)('should round-trip the state %j, frozen', (state) => {
    const decoded = decodeState(encodeState(state), {});
    expect(decoded).toEqual(state);
    const frozen = (value: unknown): boolean =>
      typeof value !== 'object' || value === null || (Object.isFrozen(value) && Object.values(value).every(frozen));
    expect(frozen(decoded)).toBe(true);
  });

  it('should decode a row whose integers come back as the driver’s Long', () => {
    const row = decodeRow({ row_key: 'k', window_start: types.Long.fromNumber(-3 * MINUTE), state: encodeState({ n: 1 }) }, {});
    expect(row).toEqual({ key: 'k', windowStart: -3 * MINUTE, state: { n: 1 } });
  });

  it('should report a stored state that is not JSON as corrupt', () => {
    expect(() => decodeRow({ row_key: 'k', window_start: types.Long.ZERO, state: '{oops' }, { view: 'v' })).toThrow(CorruptDataError);
  });

  it('should round-trip slice metadata through its static columns', () => {
    const ref = { view: 'v', partition: 4, start: 9_007_199_254_740_000 };
    expect(
      decodeSlice(ref, {
        end_offset: types.Long.fromNumber(9_007_199_254_740_991),
        closed: true,
        newest_record_at: types.Long.fromNumber(1_700_000_000_123),
        write_id: types.Uuid.random(),
      }),
    ).toEqual({ ...ref, end: 9_007_199_254_740_991, closed: true, newestRecordAt: 1_700_000_000_123 });
    expect(decodeSlice(ref, { end_offset: types.Long.fromNumber(5), closed: null, newest_record_at: null, write_id: null })).toEqual({
      ...ref,
      end: 5,
      closed: false,
      newestRecordAt: null,
    });
    // Static columns never written: no slice.
    expect(decodeSlice(ref, { end_offset: null, closed: null, newest_record_at: null, write_id: null })).toBeUndefined();
  });

  it.each<BatchManifest>([
    { view: 'v', version: 1, horizon: [120, 0, 37, 9_007_199_254_740_991], publishedAt: 1_700_000_555_555, newestRecordAt: 1_700_000_444_444, stats: { rows: 12, phases: { read: 1.5 }, note: 'x' } },
    { view: 'v', version: 2, horizon: [], publishedAt: 0, newestRecordAt: null },
  ])('should round-trip the manifest of version $version, frozen', (manifest) => {
    const decoded = decodeManifest(encodeManifest(manifest), 'v');
    expect(decoded).toEqual(manifest);
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(Object.isFrozen(decoded.horizon)).toBe(true);
  });

  it('should refuse a stored manifest of another view or that is not JSON', () => {
    const manifest: BatchManifest = { view: 'a', version: 1, horizon: [1], publishedAt: 1, newestRecordAt: null };
    expect(() => decodeManifest(encodeManifest(manifest), 'b')).toThrow(CorruptDataError);
    expect(() => decodeManifest('not json', 'a')).toThrow(CorruptDataError);
  });

  it('should hand out the same frozen object for a state read again unchanged, within a bound', () => {
    const cache = new StateCache(2);
    const text = encodeState({ count: 1, list: [1, 2] });
    const first = decodeRow({ row_key: 'a', window_start: types.Long.ZERO, state: text }, {}, cache);
    const again = decodeRow({ row_key: 'a', window_start: types.Long.ZERO, state: text }, {}, cache);
    expect(again.state).toBe(first.state);
    expect(Object.isFrozen(first.state)).toBe(true);
    // A changed state is a new object; the least recently used one is forgotten beyond the bound.
    const changed = cache.decode(encodeState({ count: 2, list: [1, 2] }), {});
    expect(changed).toEqual({ count: 2, list: [1, 2] });
    cache.decode(encodeState({ count: 3 }), {});
    expect(cache.size).toBe(2);
    expect(cache.decode(text, {})).not.toBe(first.state);
    expect(cache.decode(text, {})).toEqual(first.state);
  });

  it('should keep the last of rows naming one cell twice', () => {
    const rows = [
      { key: 'a', windowStart: 0, state: 1 },
      { key: 'b', windowStart: 0, state: 2 },
      { key: 'a', windowStart: 0, state: 3 },
      { key: 'a', windowStart: MINUTE, state: 4 },
    ];
    const kept = lastRowPerCell(rows);
    expect(kept).toHaveLength(3);
    expect(kept.find((row) => row.key === 'a' && row.windowStart === 0)?.state).toBe(3);
  });

  it('should bucket keys by FNV-1a, stable across processes', () => {
    // Published FNV-1a 32-bit test vectors.
    for (const [key, hash] of [
      ['', 0x811c9dc5],
      ['a', 0xe40c292c],
      ['foobar', 0xbf9cf968],
    ] as const) {
      expect(bucketOfKey(key)).toBe(hash % BATCH_ROW_BUCKETS);
    }
  });
});

describe('when the driver fails', () => {
  const codes = types.responseErrorCodes;

  it.each<[string, () => Error, typeof ConnectionError | typeof TimeoutError, string]>([
    ['no host available', () => new errors.NoHostAvailableError({ '10.1.2.3:9042': new Error('connect ECONNREFUSED') }), ConnectionError, 'ECONNREFUSED'],
    [
      'an operation timing out',
      () => new errors.OperationTimedOutError('The host 10.1.2.3:9042 did not reply before timeout 12000 ms', '10.1.2.3:9042'),
      TimeoutError,
      'did not reply',
    ],
    ['unavailable replicas', () => new errors.ResponseError(codes.unavailableException, 'Cannot achieve consistency level LOCAL_QUORUM'), ConnectionError, 'LOCAL_QUORUM'],
    ['an overloaded node', () => new errors.ResponseError(codes.overloaded, 'Overloaded'), ConnectionError, 'Overloaded'],
    ['a bootstrapping node', () => new errors.ResponseError(codes.isBootstrapping, 'Bootstrapping'), ConnectionError, 'Bootstrapping'],
    ['a read timeout', () => new errors.ResponseError(codes.readTimeout, 'Operation timed out - received only 1 responses.'), TimeoutError, 'only 1 responses'],
    ['a write timeout', () => new errors.ResponseError(codes.writeTimeout, 'Operation timed out - received only 0 responses.'), TimeoutError, 'only 0 responses'],
    ['busy connections', () => new errors.BusyConnectionError('10.1.2.3:9042', 2048, 1), ConnectionError, '10.1.2.3:9042'],
  ])('should map %s to a retriable error', (_label, make, expected, fragment) => {
    const cause = make();
    const mapped = mapCassandraError(cause, 'readSlice');
    expect(mapped).toBeInstanceOf(expected);
    expect(mapped.retriable).toBe(true);
    expect(mapped.cause).toBe(cause);
    expect(mapped.message).toContain(fragment);
    expect(mapped.message).toContain('readSlice');
    expect(mapped.context['operation']).toBe('readSlice');
  });

  it('should name each unreachable host', () => {
    const mapped = mapCassandraError(
      new errors.NoHostAvailableError({ '10.1.2.3:9042': new Error('ECONNREFUSED'), '10.1.2.4:9042': new Error('EHOSTUNREACH') }),
      'connect',
    );
    expect(mapped.message).toContain('10.1.2.3:9042: ECONNREFUSED');
    expect(mapped.message).toContain('10.1.2.4:9042: EHOSTUNREACH');
    expect(mapped.context['hosts']).toEqual(['10.1.2.3:9042', '10.1.2.4:9042']);
  });

  it.each<[string, () => Error]>([
    ['a syntax error', () => new errors.ResponseError(codes.syntaxError, "line 1:0 no viable alternative at input 'SELEC'")],
    ['an invalid query', () => new errors.ResponseError(codes.invalid, 'unconfigured table slices')],
    ['a missing permission', () => new errors.ResponseError(codes.unauthorized, 'User x has no SELECT permission')],
    ['bad credentials', () => new errors.AuthenticationError('Provided username x and/or password are incorrect')],
    ['an unknown failure', () => new Error('something else')],
  ])('should map %s to an error that is not retried', (_label, make) => {
    const cause = make();
    const mapped = mapCassandraError(cause, 'putSlice');
    expect(mapped).toBeInstanceOf(PlatformError);
    expect(mapped).not.toBeInstanceOf(ConnectionError);
    expect(mapped).not.toBeInstanceOf(TimeoutError);
    expect(mapped.retriable).toBe(false);
    expect(mapped.cause).toBe(cause);
    expect(mapped.message).toContain(cause.message);
  });

  it('should map a driver argument error to InvalidArgumentError, and pass platform errors through', () => {
    expect(mapCassandraError(new errors.ArgumentError('Not a valid bigint'), 'putSlice')).toBeInstanceOf(InvalidArgumentError);
    const own = new ConnectionError('already mapped');
    expect(mapCassandraError(own, 'putSlice')).toBe(own);
  });

  it('should report a cluster that refuses connections as a retriable ConnectionError', async () => {
    const port = await closedPort();
    const error = await CassandraViewStore.open({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'dc1', keyspace: 'lambda' }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retriable).toBe(true);
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('should open the Cassandra adapter when the config names it', async () => {
    const port = await closedPort();
    const config = loadConfig({ env: { VIEWS: 'cassandra', CASSANDRA_CONTACT_POINTS: `127.0.0.1:${port}`, CASSANDRA_LOCAL_DC: 'dc9' } });
    const error = await openViewStore(config, { logger: silentLogger() }).catch((caught: unknown) => caught);
    // It got as far as the driver trying that very host, which refused.
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
  });
});

/** A port that was just free: nothing listens there, so a connection to it is refused. */
function closedPort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
