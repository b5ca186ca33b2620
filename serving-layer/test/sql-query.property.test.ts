/**
 * The exactness contract, for SQL: for any split of the log into a batch version and slices, and any
 * query of a small grammar (filters on key and window, group by, order, limit, aggregates over the view's
 * columns), `POST /query` answers exactly what DuckDB gives for the same SQL over a table recomputed from
 * scratch, record by record, at the position the answer reports.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIGINT, DuckDBInstance, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { seededRandom, type Metrics, type Ports } from '@lambda/core';
import { client, serve } from './api-helpers.js';
import { BASE, MINUTE, URLS, VIEW, below, generateRecords, naiveAnswer, openTestPorts, openTestStore, publishBatch, putSlice, testCatalog, type ExpectedWindow } from './helpers.js';

const catalog = testCatalog();

/** A query of the grammar, with the values of its parameters. */
interface GeneratedQuery {
  sql: string;
  params: (string | number)[];
}

const AGGREGATES = [
  'count(*)',
  'sum(views)',
  'sum(latency)',
  'max(views)',
  'min(latency)',
  'avg(views)',
  'count(DISTINCT url)',
  'sum(len(referrers))',
  'max(referrers[1].count)',
] as const;

const filterPart: fc.Arbitrary<{ sql: string; params: (string | number)[] }> = fc.oneof(
  fc.constantFrom(...URLS, '/nowhere').map((url) => ({ sql: 'url = ?', params: [url] })),
  fc.subarray([...URLS], { minLength: 1, maxLength: 2 }).map((urls) => ({ sql: `url IN (${urls.map(() => '?').join(', ')})`, params: urls })),
  fc.integer({ min: 0, max: 6 }).map((minute) => ({ sql: 'window_start >= epoch_ms(?)', params: [BASE + minute * MINUTE] })),
  fc.integer({ min: 0, max: 7 }).map((minute) => ({ sql: 'window_end <= epoch_ms(?)', params: [BASE + minute * MINUTE] })),
  fc.integer({ min: 0, max: 7 }).map((minute) => ({ sql: 'window_start < epoch_ms(?)', params: [BASE + minute * MINUTE] })),
  fc.integer({ min: 0, max: 7 * 60 }).map((seconds) => ({ sql: `window_start <= TIMESTAMP '${new Date(BASE + seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')}'`, params: [] })),
  fc.integer({ min: 0, max: 5 }).map((views) => ({ sql: 'views > ?', params: [views] })),
  fc.integer({ min: 0, max: 2000 }).map((latency) => ({ sql: 'latency <= ?', params: [latency] })),
);

const generatedQuery: fc.Arbitrary<GeneratedQuery> = fc
  .record({
    groupBy: fc.subarray(['url', 'window_start'] as const),
    aggregates: fc.subarray([...AGGREGATES], { minLength: 1, maxLength: 3 }),
    filters: fc.array(filterPart, { maxLength: 3 }),
    limit: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  })
  .map(({ groupBy, aggregates, filters, limit }) => {
    const select = [...groupBy, ...aggregates.map((aggregate, i) => `${aggregate} AS a${i}`)].join(', ');
    const where = filters.length > 0 ? ` WHERE ${filters.map((filter) => filter.sql).join(' AND ')}` : '';
    const group = groupBy.length > 0 ? ` GROUP BY ${groupBy.join(', ')}` : '';
    return {
      sql: `SELECT ${select} FROM ${VIEW}${where}${group} ORDER BY ALL${limit === undefined ? '' : ' LIMIT ?'}`,
      params: [...filters.flatMap((filter) => filter.params), ...(limit === undefined ? [] : [limit])],
    };
  });

/** One partition's plan: its records, the slice edges, and where the horizon falls among them. */
const partitionPlan = fc.record({
  records: fc.integer({ min: 0, max: 25 }),
  edges: fc.uniqueArray(fc.integer({ min: 1, max: 25 }), { maxLength: 4 }),
  horizonAt: fc.nat(),
  lastOpen: fc.boolean(),
});

describe('POST /query, for any split of the log and any query of the grammar', () => {
  let ports: Ports;
  let metrics: Metrics;
  let closePorts: () => Promise<void>;
  let truth: DuckDBInstance;
  let truthConnection: DuckDBConnection;

  beforeAll(async () => {
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    truth = await DuckDBInstance.create(':memory:');
    truthConnection = await truth.connect();
  });

  afterAll(async () => {
    truthConnection.closeSync();
    truth.closeSync();
    await closePorts();
  });

  it('should answer what the same SQL gives over a from-scratch recompute at the position it reports', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(partitionPlan, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.integer(),
        fc.array(generatedQuery, { minLength: 1, maxLength: 4 }),
        async (plans, withBatch, seed, queries) => {
          const records = generateRecords(
            seededRandom(seed),
            plans.map((plan) => plan.records),
          );
          const { store, close } = await openTestStore();
          const server = await serve({ ports: { ...ports, viewStore: store }, catalog, metrics, query: { perMinute: 1_000_000 } });
          try {
            const position: number[] = [];
            const horizon: number[] = [];
            for (const [partition, plan] of plans.entries()) {
              const points = [...new Set([0, ...plan.edges.filter((edge) => edge <= plan.records)])].sort((a, b) => a - b);
              horizon.push(withBatch ? points[plan.horizonAt % points.length]! : 0);
              for (let i = 0; i + 1 < points.length; i++) {
                await putSlice(store, records, { partition, start: points[i]!, end: points[i + 1]!, closed: !(plan.lastOpen && i + 2 === points.length) });
              }
              position.push(points.at(-1)!);
            }
            if (withBatch) await publishBatch(store, records, 1, horizon);
            const api = client(server.url);
            const expectTruth = async () => {
              await loadTruth(truthConnection, naiveAnswer(below(records, position)));
              for (const { sql, params } of queries) {
                const answer = await api.post('/query', { sql, params });
                expect(answer.status, JSON.stringify(answer.body)).toBe(200);
                const body = answer.body as { columns: { name: string; type: string }[]; rows: unknown[][]; views: Record<string, { position: number[] }> };
                const expected = await truthConnection.runAndReadAll(sql, params, params.map((value) => (typeof value === 'number' ? BIGINT : VARCHAR)));
                expect(body.columns.map((column) => column.type)).toEqual(expected.columnTypes().map(String));
                expect(body.rows, sql).toEqual(expected.getRowsJS().map((row) => row.map(plainValue)));
                // The position it reports is the one the truth was recomputed at (as far as the slices reach).
                expect(body.views[VIEW]!.position).toEqual(position.slice(0, body.views[VIEW]!.position.length));
              }
            };
            await expectTruth();
            // The view moves on, a closed slice more per partition up to its last record: the tables
            // loaded above are brought up to date, and answer as a recompute at the new position.
            for (const [partition, plan] of plans.entries()) {
              if (plan.lastOpen || position[partition]! >= plan.records) continue;
              await putSlice(store, records, { partition, start: position[partition]!, end: plan.records, closed: true });
              position[partition] = plan.records;
            }
            await expectTruth();
          } finally {
            await server.close();
            await close();
          }
        },
      ),
      { numRuns: 30 },
    );
    // Each run starts a server with a DuckDB of its own: seconds alone, minutes beside CI's other packages.
  }, 300_000);
});

/** The view's table, recomputed from the records: the columns and types the endpoint documents. */
async function loadTruth(connection: DuckDBConnection, windows: readonly ExpectedWindow[]): Promise<void> {
  await connection.run(`CREATE OR REPLACE TABLE ${VIEW} (url VARCHAR, window_start TIMESTAMP, window_end TIMESTAMP, views BIGINT, latency DOUBLE, referrers STRUCT(value VARCHAR, count BIGINT)[])`);
  for (const window of windows) {
    await connection.run(`INSERT INTO ${VIEW} VALUES ($1, epoch_ms($2::BIGINT), epoch_ms($3::BIGINT), $4, $5, $6::JSON::STRUCT(value VARCHAR, count BIGINT)[])`, [
      window.key,
      BigInt(window.windowStart),
      BigInt(window.windowEnd),
      BigInt(window.values.views),
      window.values.latency,
      JSON.stringify(window.values.referrers),
    ]);
  }
}

/** A DuckDB value as the API's JSON has it: integers as numbers, instants as ISO 8601. */
function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plainValue(item)]));
  return value;
}
