/**
 * `npm run query`: the operator's command, run as a child process against a platform listening on a real
 * socket, over page views ingested through the API (no demo stream: the answer holds still, so the table
 * can be held against what the API answers for the same statement, and against the events themselves).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, loadConfig, silentLogger } from '@lambda/core';
import { createAllInOne, type AllInOne } from '../src/all-in-one.js';
import { makeTempDir } from '@lambda/test-kit';
import { runCommand, type EntrypointRun } from './helpers/run-entrypoint.js';

const VIEW = 'pageviews_by_url';
const TOKEN = 'query-cli-test-token-0123456';
/** Page views per page, all in the first minute of 2026: one window per page. */
const COUNTS: Record<string, number> = { '/': 12, '/docs': 9, '/pricing': 5, '/blog': 2 };
const START = Date.UTC(2026, 0, 1);
const EVENTS = Object.entries(COUNTS).flatMap(([url, count], page) =>
  Array.from({ length: count }, (_, i) => ({
    url,
    user: `u${(page * 7 + i) % 5}`,
    referrer: ['google', 'direct', 'github'][i % 3]!,
    latency: 40 + ((page * 13 + i * 37) % 500),
    device: 'desktop',
    ts: START + page * 10_000 + i * 500,
  })),
);

interface SqlAnswer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
  views: Record<string, { position: number[]; batch: unknown }>;
  elapsedMs: number;
}

function query(args: string[], env: Record<string, string> = {}): Promise<EntrypointRun> {
  return runCommand('query', args, env);
}

/** The table a run printed: the header's names and types, and each row's cells, as text. */
function parseTable(stdout: string): { names: string[]; types: string[]; rows: string[][]; footer: string } {
  const lines = stdout.trimEnd().split('\n');
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split('│')
      .map((cell) => cell.trim());
  const separator = lines.findIndex((line) => line.startsWith('├'));
  const bottom = lines.findIndex((line) => line.startsWith('└'));
  expect(lines[0], stdout).toMatch(/^┌/);
  expect(separator, stdout).toBe(3);
  expect(bottom, stdout).toBe(lines.length - 2);
  return { names: cells(lines[1]!), types: cells(lines[2]!), rows: lines.slice(separator + 1, bottom).map(cells), footer: lines.at(-1)! };
}

/** A value of the API's answer as the table should show it. */
function cell(value: unknown): string {
  if (value === null) return 'NULL';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

describe('npm run query', () => {
  let platform: AllInOne;
  let dataDir: Awaited<ReturnType<typeof makeTempDir>>;

  /** What the API answers for the same statement, asked directly. */
  const api = async (sql: string, params: unknown[] = []): Promise<SqlAnswer> => {
    const response = await fetch(`${platform.url}/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql, params }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as SqlAnswer;
  };

  beforeAll(async () => {
    dataDir = await makeTempDir('query-cli');
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dataDir.path,
        http: { port: 0, apiToken: TOKEN },
        kafkaServer: { enabled: false },
        demo: { enabled: false },
        speedLayer: { batchIntervalMs: 100, workers: 0, sliceMicroBatches: 2 },
        batchLayer: { recomputeEvery: '1h' },
      },
    });
    platform = await createAllInOne(config, { logger: silentLogger(), metrics: new Metrics() });
    const ingest = await fetch(`${platform.url}/ingest/pageviews`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(EVENTS),
    });
    expect(ingest.status).toBeLessThan(300);
    // Wait until the view counts every event ingested.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { views } = (await (await fetch(`${platform.url}/views`)).json()) as { views: { name: string; status: { position: number[] } }[] };
      const position = views.find((view) => view.name === VIEW)!.status.position;
      if (position.reduce((sum, end) => sum + end, 0) === EVENTS.length) break;
      if (Date.now() > deadline) throw new Error(`the speed layer counted ${position.join(', ')} of ${EVENTS.length} events in 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 30_000);

  afterAll(async () => {
    await platform?.close();
    await dataDir?.remove();
  });

  describe('when a group-by query reads a view', () => {
    const SQL = `SELECT url, sum(views) AS views, max(max_latency_ms) AS slowest_ms, first(top_referrers) AS top_referrers,
                        CASE WHEN url = '/blog' THEN NULL ELSE min(window_start) END AS first_window
                 FROM ${VIEW} GROUP BY url ORDER BY views DESC`;

    it('should print a table of the columns and the cells the API answers, then the count, the time and the position read', async () => {
      const run = await query([SQL, '--url', platform.url], { API_TOKEN: TOKEN });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const table = parseTable(run.stdout);
      const answer = await api(SQL);
      expect(table.names).toEqual(['url', 'views', 'slowest_ms', 'top_referrers', 'first_window']);
      expect(table.types).toEqual(answer.columns.map((column) => column.type));
      expect(table.rows).toEqual(answer.rows.map((row) => row.map(cell)));

      // The cells are the events' own numbers: the API is not the only witness.
      expect(table.rows.map(([url, views]) => [url, Number(views)])).toEqual(Object.entries(COUNTS));
      for (const [url, , slowest] of table.rows) expect(Number(slowest)).toBe(Math.max(...EVENTS.filter((event) => event.url === url).map((event) => event.latency)));
      // A list of structs as compact JSON, a null as NULL.
      expect(JSON.parse(table.rows[0]![3]!)).toEqual(expect.arrayContaining([expect.objectContaining({ value: 'google' })]));
      expect(table.rows[0]![3]).not.toContain(' ');
      expect(table.rows.map((row) => row[4])).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'NULL']);

      const footer = /^4 rows in (\d+\.\d) ms; pageviews_by_url at position \[(\d+(?:, \d+)*)\]$/.exec(table.footer);
      expect(footer, table.footer).not.toBeNull();
      expect(footer![2]).toBe(answer.views[VIEW]!.position.join(', '));
      expect(footer![2]!.split(', ').reduce((sum, end) => sum + Number(end), 0)).toBe(EVENTS.length);
    }, 30_000);
  });

  describe('when the statement is read from a file', () => {
    it('should answer the same as when it is given as the argument', async () => {
      const sql = `SELECT url, sum(views) AS views FROM ${VIEW} GROUP BY url ORDER BY url`;
      const file = join(dataDir.path, 'statement.sql');
      await writeFile(file, `${sql}\n`);
      const run = await query(['--file', file, '--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(0);
      expect(parseTable(run.stdout).rows).toEqual((await api(sql)).rows.map((row) => row.map(cell)));
    });
  });

  describe('when the statement has parameters', () => {
    it('should bind each --param in order, in the table', async () => {
      const run = await query([`SELECT url, sum(views) AS views FROM ${VIEW} WHERE url = ? AND max_latency_ms >= ? GROUP BY url`, '--param', '/docs', '--param', '0', '--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(0);
      const table = parseTable(run.stdout);
      expect(table.rows).toEqual([['/docs', String(COUNTS['/docs'])]]);
      expect(table.footer).toMatch(/^1 row in /);
    });

    it('should send a value that parses as JSON as that value, and any other as text', async () => {
      const params = ['100', 'true', 'null', '/docs', '007', '"quoted"', '[1]', '12345678901234567890'];
      const run = await query(['SELECT ? AS n, ? AS b, ? AS z, ? AS s, ? AS leading_zeros, ? AS quoted, ? AS list, ? AS big', ...params.flatMap((param) => ['--param', param]), '--json', '--url', platform.url, '--token', TOKEN]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const answer = JSON.parse(run.stdout) as SqlAnswer;
      expect(answer.rows).toEqual([[100, true, null, '/docs', '007', 'quoted', '[1]', '12345678901234567890']]);
      expect(answer.columns.map((column) => column.type)).toEqual(['BIGINT', 'BOOLEAN', expect.any(String), 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR']);
    });
  });

  describe('when --json is given', () => {
    it("should print the API's answer as JSON instead of a table", async () => {
      const sql = `SELECT url, sum(views) AS views FROM ${VIEW} GROUP BY url ORDER BY url`;
      const run = await query([sql, '--json', '--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(0);
      expect(run.stdout).not.toContain('│');
      const printed = JSON.parse(run.stdout) as SqlAnswer;
      const answer = await api(sql);
      expect(printed.columns).toEqual(answer.columns);
      expect(printed.rows).toEqual(answer.rows);
      expect(printed.truncated).toBe(false);
      expect(printed.views[VIEW]!.position).toEqual(answer.views[VIEW]!.position);
      expect(printed.elapsedMs).toEqual(expect.any(Number));
    });
  });

  describe('when --limit is below the number of rows', () => {
    it('should show that many rows and say the answer was truncated', async () => {
      const sql = `SELECT url, sum(views) AS views FROM ${VIEW} GROUP BY url ORDER BY views DESC`;
      const run = await query([sql, '--limit', '2', '--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(0);
      const table = parseTable(run.stdout);
      expect(table.rows).toEqual((await api(sql)).rows.slice(0, 2).map((row) => row.map(cell)));
      expect(table.footer).toMatch(/^2 rows \(truncated: more rows than shown\) in /);
    });
  });

  describe('when the statement is refused', () => {
    it('should exit 1 naming SQL_NOT_ALLOWED, and attach nothing', async () => {
      const attached = join(dataDir.path, 'attached.db');
      const run = await query([`ATTACH '${attached}' AS other`, '--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: SQL_NOT_ALLOWED: \S/);
      expect(existsSync(attached)).toBe(false);
    });
  });

  describe('when the table is unknown', () => {
    it('should exit 1 with the code and a message naming the table', async () => {
      const run = await query(['SELECT * FROM no_such_table', '--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: INVALID_SQL: .*no_such_table/);
    });
  });

  describe('when the token is missing', () => {
    it('should exit 1 with the API error', async () => {
      const run = await query([`SELECT count(*) FROM ${VIEW}`, '--url', platform.url]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error: UNAUTHENTICATED: .*token/i);
    });
  });

  describe('when neither a statement nor --file is given', () => {
    it('should exit 1 saying what to give', async () => {
      const run = await query(['--url', platform.url, '--token', TOKEN]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('error: missing the statement: give it as the argument, or --file FILE');
    });
  });

  describe('when nothing listens at the URL', () => {
    it('should exit 1 and say the platform cannot be reached', async () => {
      const run = await query([`SELECT count(*) FROM ${VIEW}`, '--url', 'http://127.0.0.1:9']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('cannot reach the platform at http://127.0.0.1:9');
    });
  });
  describe('when the examples of the OpenAPI document are run on the demo views', () => {
    it('should answer each of them', async () => {
      const document = (await (await fetch(`${platform.url}/openapi.json`)).json()) as {
        paths: { '/query': { post: { requestBody: { content: { 'application/json': { examples: Record<string, { value: { sql: string; params?: unknown[] } }> } } } } } };
      };
      const examples = Object.values(document.paths['/query'].post.requestBody.content['application/json'].examples);
      expect(examples.length).toBeGreaterThan(0);
      for (const { value } of examples) {
        const answer = await api(value.sql, value.params);
        expect(answer.columns.length, value.sql).toBeGreaterThan(0);
      }
    });
  });
});
