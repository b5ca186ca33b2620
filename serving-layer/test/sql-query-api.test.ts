/**
 * `POST /query` and `GET /query` over a real socket, on real embedded ports: answers over the merged
 * views at one snapshot with provenance, typed columns, parameters, truncation, and every way a query is
 * refused (another statement, a file, a setting, a query that runs forever or eats memory), each with the
 * platform unharmed after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, type Metrics, type Ports } from '@lambda/core';
import { querySchemas, type RunningServer } from '../src/index.js';
import { client, conforms, serve } from './api-helpers.js';
import { BASE, MINUTE, VIEW, below, generateRecords, naiveAnswer, openTestPorts, publishBatch, putSlice, testCatalog } from './helpers.js';

const catalog = testCatalog();
const records = generateRecords(seededRandom(17), [40, 30]);
const HORIZON = [15, 10];
const POSITION = [33, 22];
const TOKEN = 'a-token-of-sixteen-characters';

interface SqlAnswer {
  columns: { name: string; type: string }[];
  pushedDown: Record<string, unknown>;
  rows: unknown[][];
  truncated: boolean;
  views: Record<string, { position: number[]; batch: { version: number } | null }>;
  elapsedMs: number;
}

interface ErrorAnswer {
  error: { code: string; message: string };
}

describe('the SQL endpoint', () => {
  let ports: Ports;
  let metrics: Metrics;
  let closePorts: () => Promise<void>;
  let server: RunningServer;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    await publishBatch(ports.viewStore, records, 1, HORIZON);
    await putSlice(ports.viewStore, records, { partition: 0, start: 15, end: 33, closed: false });
    await putSlice(ports.viewStore, records, { partition: 1, start: 10, end: 22, closed: false });
    server = await serve({ ports, catalog, metrics, query: { timeoutMs: 3000, memoryLimit: '96MB', maxRows: 50 } });
    api = client(server.url);
  });

  afterAll(async () => {
    await server.close();
    await closePorts();
  });

  const query = async (sql: string, params: unknown[] = [], limit?: number) => {
    const answer = await api.post('/query', { sql, params, ...(limit === undefined ? {} : { limit }) });
    return { status: answer.status, body: answer.body as SqlAnswer & ErrorAnswer };
  };

  describe('when a group-by query reads a view', () => {
    it('should answer exactly what the records below the position give, with the snapshot it read', async () => {
      const { status, body } = await query(`SELECT url, sum(views) AS views, sum(latency) AS latency FROM ${VIEW} GROUP BY url ORDER BY url`);
      expect(status).toBe(200);
      const expected = new Map<string, { views: number; latency: number }>();
      for (const window of naiveAnswer(below(records, POSITION))) {
        const total = expected.get(window.key) ?? { views: 0, latency: 0 };
        expected.set(window.key, { views: total.views + window.values.views, latency: total.latency + window.values.latency });
      }
      expect(body.rows).toEqual([...expected].sort(([a], [b]) => (a < b ? -1 : 1)).map(([url, { views, latency }]) => [url, views, latency]));
      expect(body.columns).toEqual([
        { name: 'url', type: 'VARCHAR' },
        { name: 'views', type: 'HUGEINT' },
        { name: 'latency', type: 'DOUBLE' },
      ]);
      expect(body.truncated).toBe(false);
      expect(body.views[VIEW]).toMatchObject({ position: POSITION, batch: { version: 1 } });
      conforms(querySchemas.sqlAnswer, body);
    });
  });

  describe('when a query selects every column', () => {
    it('should give windows as ISO instants and top_k as a list of value and count', async () => {
      const { body } = await query(`SELECT * FROM ${VIEW} WHERE url = ? ORDER BY window_start`, ['/a']);
      const expected = naiveAnswer(below(records, POSITION), { keys: ['/a'] });
      expect(body.columns.map((column) => `${column.name} ${column.type}`)).toEqual([
        'url VARCHAR',
        'window_start TIMESTAMP',
        'window_end TIMESTAMP',
        'views BIGINT',
        'latency DOUBLE',
        'referrers STRUCT("value" VARCHAR, "count" BIGINT)[]',
      ]);
      expect(body.rows).toEqual(
        expected.map((window) => [
          window.key,
          new Date(window.windowStart).toISOString(),
          new Date(window.windowEnd).toISOString(),
          window.values.views,
          window.values.latency,
          window.values.referrers,
        ]),
      );
    });
  });

  describe('when views have a composite key, or none', () => {
    it('should give a column per key expression, and none without a key', async () => {
      const iso = (ms: number) => new Date(ms).toISOString();
      await ports.viewStore.putBatchRows('slow_pages', 1, [
        { key: JSON.stringify(['/a', 'google']), windowStart: BASE, state: { n: 2, worst: 1500 } },
        { key: JSON.stringify(['/b', 'ddg']), windowStart: BASE + MINUTE, state: { n: 1, worst: 1200 } },
      ]);
      await ports.viewStore.publishBatchVersion({ view: 'slow_pages', version: 1, horizon: [0, 0], publishedAt: BASE, newestRecordAt: BASE, stats: { records: 3 } });
      await ports.viewStore.putBatchRows('site_totals', 1, [{ key: '*', windowStart: 0, state: { views: 7 } }]);
      await ports.viewStore.publishBatchVersion({ view: 'site_totals', version: 1, horizon: [0, 0], publishedAt: BASE, newestRecordAt: BASE, stats: { records: 7 } });

      const slow = await query('SELECT * FROM slow_pages ORDER BY ALL');
      expect(slow.body.columns.map((column) => `${column.name} ${column.type}`)).toEqual([
        'url VARCHAR',
        'referrer VARCHAR',
        'window_start TIMESTAMP',
        'window_end TIMESTAMP',
        'n BIGINT',
        'worst DOUBLE',
      ]);
      expect(slow.body.rows).toEqual([
        ['/a', 'google', iso(BASE), iso(BASE + 5 * MINUTE), 2, 1500],
        ['/b', 'ddg', iso(BASE + MINUTE), iso(BASE + 6 * MINUTE), 1, 1200],
      ]);
      const totals = await query('SELECT * FROM site_totals');
      expect(totals.body.columns.map((column) => column.name)).toEqual(['window_start', 'window_end', 'views']);
      expect(totals.body.rows).toEqual([[iso(0), null, 7]]);
      // Both views in one query, each at its own snapshot.
      const joined = await query('SELECT count(*) FROM slow_pages, site_totals');
      expect(joined.body.rows).toEqual([[2]]);
      expect(Object.keys(joined.body.views).sort()).toEqual(['site_totals', 'slow_pages']);
    });
  });

  describe('when a query filters on the key and the window', () => {
    /** Runs queries on a server of its own, whose engine has loaded nothing yet. */
    async function onFreshServer(run: (query: (sql: string, params?: unknown[]) => Promise<SqlAnswer>) => Promise<void>): Promise<void> {
      const fresh = await serve({ ports, catalog, metrics });
      try {
        await run(async (sql, params = []) => (await client(fresh.url).post('/query', { sql, params })).body as SqlAnswer);
      } finally {
        await fresh.close();
      }
    }

    it('should read only those rows from the store, and answer as a full read would', async () => {
      await onFreshServer(async (query) => {
        const from = BASE + 2 * MINUTE;
        const sql = `SELECT url, window_start, views FROM ${VIEW} WHERE url IN (?, ?) AND window_start >= epoch_ms(?) AND window_start < TIMESTAMP '2024-01-01 12:05:00' ORDER BY ALL`;
        const narrow = await query(sql, ['/a', '/c', from]);
        expect(narrow.pushedDown).toEqual({ [VIEW]: { keys: ['/a', '/c'], windowFrom: from, windowTo: BASE + 5 * MINUTE } });
        const expected = naiveAnswer(below(records, POSITION), { keys: ['/a', '/c'], from, to: BASE + 5 * MINUTE });
        expect(narrow.rows).toEqual(expected.map((window) => [window.key, new Date(window.windowStart).toISOString(), window.values.views]));

        // A query of the whole view reads it whole again; then the narrow one is answered from that table.
        const whole = await query(`SELECT count(*) FROM ${VIEW}`);
        expect(whole.pushedDown).toEqual({});
        expect(whole.rows).toEqual([[naiveAnswer(below(records, POSITION)).length]]);
        const again = await query(sql, ['/a', '/c', from]);
        expect(again.pushedDown).toEqual({});
        expect(again.rows).toEqual(narrow.rows);
      });
    });

    it('should push nothing down when the view is read twice, or under an OR', async () => {
      await onFreshServer(async (query) => {
        const selfJoin = await query(`SELECT count(*) FROM ${VIEW} a JOIN ${VIEW} b USING (url, window_start) WHERE a.url = ?`, ['/a']);
        expect(selfJoin.pushedDown).toEqual({});
        expect(selfJoin.rows).toEqual([[naiveAnswer(below(records, POSITION), { keys: ['/a'] }).length]]);
      });
      await onFreshServer(async (query) => {
        const either = await query(`SELECT count(*) FROM ${VIEW} WHERE url = ? OR views > 0`, ['/a']);
        expect(either.pushedDown).toEqual({});
        expect(either.rows).toEqual([[naiveAnswer(below(records, POSITION)).length]]);
      });
    });
  });

  describe('when a query compares windows with now()', () => {
    it("should read them as UTC instants, whatever the server's time zone", async () => {
      const { body } = await query("SELECT current_setting('TimeZone'), CAST(TIMESTAMP '2026-01-01 00:00:00' AS TIMESTAMPTZ) = TIMESTAMPTZ '2026-01-01 00:00:00+00'");
      expect(body.rows).toEqual([['UTC', true]]);
    });
  });

  describe('when the answer has more rows than asked for', () => {
    it('should hold the limit and say it was cut', async () => {
      const { body } = await query(`SELECT url, window_start FROM ${VIEW} ORDER BY ALL`, [], 3);
      expect(body.rows).toHaveLength(3);
      expect(body.truncated).toBe(true);
      const whole = await query(`SELECT count(*) FROM ${VIEW}`);
      expect(whole.body.rows[0]![0]).toBeGreaterThan(3);
    });

    it('should cut at the server maximum when no limit is asked for', async () => {
      const { body } = await query('SELECT * FROM range(120)');
      expect(body.rows).toHaveLength(50);
      expect(body.truncated).toBe(true);
    });
  });

  describe('when a query is small enough for a GET', () => {
    it('should answer it with its parameters as a JSON array', async () => {
      const answer = await api.get('/query', [
        ['sql', `SELECT count(*) AS n FROM ${VIEW} WHERE url IN (?, ?)`],
        ['params', JSON.stringify(['/a', '/b'])],
      ]);
      expect(answer.status).toBe(200);
      const expected = naiveAnswer(below(records, POSITION), { keys: ['/a', '/b'] }).length;
      expect((answer.body as SqlAnswer).rows).toEqual([[expected]]);
    });
  });

  describe('when a GET statement is longer than a URL carries', () => {
    it('should answer 400 naming sql, and point to POST', async () => {
      const answer = await api.get('/query', [['sql', `SELECT 1 AS "${'x'.repeat(8 * 1024)}"`]]);
      expect(answer.status).toBe(400);
      expect((answer.body as ErrorAnswer).error.message).toMatch(/"sql".*8192/);
    });
  });

  describe('when the view moves between two queries', () => {
    it('should read the new snapshot, and the same one while it stands', async () => {
      const before = await query(`SELECT sum(views) FROM ${VIEW}`);
      const again = await query(`SELECT sum(views) FROM ${VIEW}`);
      expect(again.body.rows).toEqual(before.body.rows);
      // Partition 0 goes on to offset 50 with other records from offset 33.
      const moved = [...records.filter((record) => record.partition !== 0 || record.offset < 33), ...generateRecords(seededRandom(5), [50, 0]).filter((record) => record.offset >= 33)];
      await putSlice(ports.viewStore, moved, { partition: 0, start: 33, end: 50, closed: false });
      try {
        const after = await query(`SELECT sum(views) FROM ${VIEW}`);
        expect(after.body.views[VIEW]!.position).toEqual([50, 22]);
        expect(after.body.rows).toEqual([[below(moved, [50, 22]).length]]);
      } finally {
        await ports.viewStore.deleteSlices([{ view: VIEW, partition: 0, start: 33 }]);
      }
    });
  });

  describe('when a request is wrong', () => {
    it.each([
      ['a syntax error', { sql: 'SELEC 1' }, 'INVALID_SQL', /syntax error/],
      ['an unknown table', { sql: 'SELECT * FROM nowhere' }, 'INVALID_SQL', /nowhere/],
      ['an unknown column', { sql: `SELECT nothing FROM ${VIEW}` }, 'INVALID_SQL', /nothing/],
      ['too few params', { sql: `SELECT * FROM ${VIEW} WHERE url = ?` }, 'INVALID_SQL', /1 parameter.*0 value/],
      ['a param of the wrong kind', { sql: 'SELECT ?', params: [{ a: 1 }] }, 'INVALID_ARGUMENT', /params/],
      ['no sql', { params: [] }, 'INVALID_ARGUMENT', /sql/],
      ['a limit past the maximum', { sql: 'SELECT 1', limit: 51 }, 'INVALID_ARGUMENT', /limit/],
      ['an unknown field', { sql: 'SELECT 1', page: 2 }, 'INVALID_ARGUMENT', /page/],
    ])('should answer %s with a 400 naming it', async (_what, body, code, message) => {
      const answer = await api.post('/query', body);
      expect(answer.status).toBe(400);
      expect((answer.body as ErrorAnswer).error.code).toBe(code);
      expect((answer.body as ErrorAnswer).error.message).toMatch(message);
    });
  });

  describe('when a query tries to leave the views', () => {
    it.each([
      ['a file read', "SELECT * FROM read_csv('/etc/passwd')", /read_csv/],
      ['a Parquet read', "SELECT * FROM read_parquet('/tmp/any.parquet')", /read_parquet/],
      ['a file read in a subquery', `SELECT * FROM ${VIEW} WHERE url IN (SELECT * FROM read_text('/etc/hostname'))`, /read_text/],
      ['a glob', "SELECT * FROM glob('/*')", /glob/],
      ['a query of a string', `SELECT * FROM query('SELECT 1')`, /query/],
      ['a catalog listing', 'SELECT * FROM duckdb_tables()', /duckdb_tables/],
      ['a qualified name', `SELECT * FROM main.${VIEW}`, /bare name/],
      ['an ATTACH', "ATTACH '/tmp/other.db' AS other", /"ATTACH"/],
      ['a COPY out', `COPY ${VIEW} TO '/tmp/out.csv'`, /"COPY"/],
      ['an INSTALL', 'INSTALL httpfs', /"INSTALL"/],
      ['a LOAD', 'LOAD httpfs', /"LOAD"/],
      ['a SET', 'SET threads = 8', /"SET"/],
      ['a PRAGMA', 'PRAGMA version', /"PRAGMA"/],
      ['a CREATE', 'CREATE TABLE t AS SELECT 1', /"CREATE"/],
      ['a DELETE', `DELETE FROM ${VIEW}`, /"DELETE"/],
      ['two statements', `SELECT 1; DROP TABLE ${VIEW}`, /one statement; it holds 2/],
      ['a statement hidden after a comment', `/* SELECT */ DROP TABLE ${VIEW}`, /"DROP"/],
    ])('should refuse %s with a 400 naming why', async (_what, sql, message) => {
      const { status, body } = await query(sql);
      expect(status).toBe(400);
      expect(body.error.code).toBe('SQL_NOT_ALLOWED');
      expect(body.error.message).toMatch(message);
      await expectUnharmed();
    });

    it('should stop a query that would run forever, with a 422 naming the time limit', async () => {
      const { status, body } = await query(`SELECT count(*) FROM range(1000000000000) AS a, ${VIEW}`);
      expect(status).toBe(422);
      expect(body.error.code).toBe('QUERY_TIMEOUT');
      expect(body.error.message).toMatch(/3000 ms/);
      await expectUnharmed();
    });

    it('should stop a query that would exhaust memory, with a 422 naming the memory limit', async () => {
      // A cross join of the views, every row of it kept 10 kB wide in one list: well past the 96 MB limit.
      // On a server of its own whose time limit no loaded machine reaches first.
      const roomy = await serve({ ports, catalog, metrics, query: { timeoutMs: 120_000, memoryLimit: '96MB' } });
      let answer;
      try {
        answer = await client(roomy.url).post('/query', { sql: `SELECT list(a.url || repeat('x', 10000)) FROM ${VIEW} a, ${VIEW} b, ${VIEW} c, range(4)` });
      } finally {
        await roomy.close();
      }
      const { status, body } = answer as { status: number; body: ErrorAnswer };
      expect(status).toBe(422);
      expect(body.error.code).toBe('QUERY_OUT_OF_MEMORY');
      expect(body.error.message).toMatch(/96MB/);
      await expectUnharmed();
    });
  });

  /** The endpoint still answers exactly, and the REST reads still agree with the records. */
  async function expectUnharmed(): Promise<void> {
    const { status, body } = await query(`SELECT count(*) FROM ${VIEW}`);
    expect(status).toBe(200);
    expect(body.rows).toEqual([[naiveAnswer(below(records, POSITION)).length]]);
    const read = await api.get(`/views/${VIEW}`, [['key', '/b']]);
    expect(read.status).toBe(200);
  }
});

describe('the SQL endpoint with a token and a rate limit', () => {
  let ports: Ports;
  let closePorts: () => Promise<void>;
  let server: RunningServer;

  beforeAll(async () => {
    let metrics: Metrics;
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    server = await serve({ ports, catalog, metrics, apiToken: TOKEN, query: { perMinute: 3 } });
  });

  afterAll(async () => {
    await server.close();
    await closePorts();
  });

  describe('when a query comes without the token', () => {
    it('should answer 401 and run nothing', async () => {
      const answer = await client(server.url).post('/query', { sql: 'SELECT 1' });
      expect(answer.status).toBe(401);
    });
  });

  describe('when a token sends more queries a minute than allowed', () => {
    it('should answer them until the limit, then 429 naming it', async () => {
      const api = client(server.url, TOKEN);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await api.post('/query', { sql: `SELECT ${i} AS n, count(*) FROM ${VIEW}` })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const refused = await api.post('/query', { sql: 'SELECT 1' });
      expect(refused.status).toBe(429);
      expect((refused.body as ErrorAnswer).error).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/3 queries a minute/) });
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    });
  });
});
