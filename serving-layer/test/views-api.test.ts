import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type Ports, seededRandom } from '@lambda/core';
import { apiSchemas, createServer, listen, type ErrorBody, type MergedAnswer, type RunningServer } from '../src/index.js';
import {
  BASE,
  HookedViewStore,
  MINUTE,
  VIEW,
  below,
  generateRecords,
  naiveAnswer,
  newestOf,
  openTestPorts,
  publishBatch,
  putSlice,
  testCatalog,
} from './helpers.js';

const catalog = testCatalog();
const records = generateRecords(seededRandom(99), [40, 30]);
const HORIZON = [15, 10];
const POSITION = [33, 22];
const PUBLISHED_AT = BASE + 20 * MINUTE;
const counted = below(records, POSITION);

interface ViewListing {
  views: {
    name: string;
    description: string | null;
    source: string;
    definition: Record<string, unknown>;
    status: { batch: unknown; slices: number; newestRecordAt: number | null; freshnessMs: number | null };
  }[];
}

describe('the views API', () => {
  let ports: Ports;
  let closePorts: () => Promise<void>;
  let server: RunningServer;

  beforeAll(async () => {
    let metrics;
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    const store = ports.viewStore;
    await publishBatch(store, records, 1, [5, 5], BASE + 10 * MINUTE);
    await publishBatch(store, records, 2, HORIZON, PUBLISHED_AT);
    await putSlice(store, records, { partition: 0, start: 0, end: 15, closed: true }); // covered: not live
    await putSlice(store, records, { partition: 0, start: 15, end: 28, closed: true });
    await putSlice(store, records, { partition: 0, start: 28, end: 33, closed: false });
    await putSlice(store, records, { partition: 1, start: 10, end: 22, closed: false });
    server = await listen(createServer({ ports, catalog, metrics, logger: silentLogger() }), { host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await server.close();
    await closePorts();
  });

  const get = async (path: string, query?: [string, string][]) => {
    const search = query ? `?${new URLSearchParams(query).toString()}` : '';
    const response = await fetch(`${server.url}${path}${search}`);
    return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as unknown };
  };

  describe('GET /views', () => {
    it('should list every view with its definition and status', async () => {
      const before = Date.now();
      const { status, body } = await get('/views');
      const after = Date.now();
      expect(status).toBe(200);
      const { views } = body as ViewListing;
      expect(views.map((view) => view.name)).toEqual([VIEW, 'slow_pages', 'site_totals']);

      const newest = newestOf(counted)!;
      expect(views[0]).toEqual({
        name: VIEW,
        // Never reprocessed: the catalog's definition is generation 1.
        generation: 1,
        description: 'Views, total latency and top referrers per page per minute',
        source: 'pageviews',
        definition: {
          derive: {},
          filter: null,
          key: ['url'],
          window: { type: 'tumbling', sizeMs: MINUTE, slideMs: MINUTE },
          aggregates: { views: 'count()', latency: 'sum(latency)', referrers: 'top_k(referrer, 2)' },
        },
        schema: {
          key: [{ expression: 'url', type: 'string' }],
          values: {
            views: expect.objectContaining({ type: 'integer' }),
            latency: expect.objectContaining({ type: 'number' }),
            referrers: expect.objectContaining({ type: 'array' }),
          },
        },
        status: {
          batch: { version: 2, horizon: HORIZON, publishedAt: PUBLISHED_AT, stats: { records: below(records, HORIZON).length } },
          slices: 3,
          position: POSITION,
          newestRecordAt: newest,
          freshnessMs: expect.any(Number),
        },
      });
      // The response is what the OpenAPI document promises.
      expect(() => apiSchemas.viewList.parse(body)).not.toThrow();
      expect(views[0]!.status.freshnessMs).toBeGreaterThanOrEqual(before - newest);
      expect(views[0]!.status.freshnessMs).toBeLessThanOrEqual(after - newest);

      expect(views[1]).toEqual({
        name: 'slow_pages',
        generation: 1,
        description: null,
        source: 'pageviews',
        definition: {
          derive: { slow: 'latency > 1000' },
          filter: 'slow',
          key: ['url', 'referrer'],
          window: { type: 'hopping', sizeMs: 5 * MINUTE, slideMs: MINUTE },
          aggregates: { n: 'count()', worst: 'max(latency)' },
        },
        schema: {
          key: [
            { expression: 'url', type: 'string' },
            { expression: 'referrer', type: 'string' },
          ],
          values: { n: expect.objectContaining({ type: 'integer' }), worst: expect.objectContaining({ type: ['number', 'null'] }) },
        },
        status: { batch: null, slices: 0, position: [], newestRecordAt: null, freshnessMs: null },
      });
      expect(views[2]!.definition).toEqual({ derive: {}, filter: null, key: [], window: null, aggregates: { views: 'count()' } });
    });
  });

  describe('GET /views/:name', () => {
    it('should answer the windows of the keys asked for, with provenance', async () => {
      const from = BASE + MINUTE;
      const to = BASE + 5 * MINUTE;
      const before = Date.now();
      const { status, type, body } = await get(`/views/${VIEW}`, [
        ['key', '/a'],
        ['key', '/b'],
        ['from', new Date(from).toISOString()],
        ['to', String(to)],
      ]);
      const after = Date.now();
      expect(status).toBe(200);
      expect(type).toMatch(/^application\/json/);
      const answer = body as MergedAnswer;
      expect(answer.view).toBe(VIEW);
      expect(answer.windows).toEqual(naiveAnswer(counted, { keys: ['/a', '/b'], from, to }));
      expect(answer.windows.length).toBeGreaterThan(2);

      const newest = newestOf(counted)!;
      expect(answer.provenance).toEqual({
        batch: { version: 2, horizon: HORIZON, publishedAt: PUBLISHED_AT },
        slices: [
          { partition: 0, start: 15, end: 28, closed: true },
          { partition: 0, start: 28, end: 33, closed: false },
          { partition: 1, start: 10, end: 22, closed: false },
        ],
        position: POSITION,
        newestRecordAt: newest,
        freshnessMs: expect.any(Number),
        attempts: 1,
      });
      expect(answer.provenance.freshnessMs).toBeGreaterThanOrEqual(before - newest);
      expect(answer.provenance.freshnessMs).toBeLessThanOrEqual(after - newest);
    });

    it('should answer one key, over all windows, without from and to', async () => {
      const { status, body } = await get(`/views/${VIEW}`, [['key', '/c']]);
      expect(status).toBe(200);
      expect((body as MergedAnswer).windows).toEqual(naiveAnswer(counted, { keys: ['/c'] }));
    });

    it('should take from and to as ISO-8601 dates or epoch milliseconds alike', async () => {
      const from = BASE + 2 * MINUTE;
      const to = BASE + 4 * MINUTE;
      const expected = naiveAnswer(counted, { keys: ['/a', '/d'], from, to });
      expect(expected.length).toBeGreaterThan(0);
      const forms: [string, string][] = [
        [String(from), String(to)],
        [new Date(from).toISOString(), new Date(to).toISOString()],
        ['2024-01-01T13:02:00+01:00', '2024-01-01T12:04:00.000Z'],
        [String(from), '2024-01-01T12:04:00Z'],
      ];
      for (const [fromText, toText] of forms) {
        const { status, body } = await get(`/views/${VIEW}`, [
          ['key', '/a'],
          ['key', '/d'],
          ['from', fromText],
          ['to', toText],
        ]);
        expect(status, `${fromText} .. ${toText}`).toBe(200);
        expect((body as MergedAnswer).windows, `${fromText} .. ${toText}`).toEqual(expected);
      }
    });

    it('should accept 100 keys', async () => {
      const keys = Array.from({ length: 100 }, (_, i) => (i < 4 ? ['/a', '/b', '/c', '/d'][i]! : `/page-${i}`));
      const { status, body } = await get(`/views/${VIEW}`, keys.map((key) => ['key', key]));
      expect(status).toBe(200);
      expect((body as MergedAnswer).windows).toEqual(naiveAnswer(counted));
    });

    describe('a bad request', () => {
      const cases: { title: string; query: [string, string][]; parameter: string }[] = [
        { title: 'no key', query: [['from', String(BASE)]], parameter: 'key' },
        { title: 'from that is not a date', query: [['key', '/a'], ['from', 'yesterday']], parameter: 'from' },
        { title: 'from with an impossible date', query: [['key', '/a'], ['from', '2024-13-45']], parameter: 'from' },
        { title: 'to that is not a date', query: [['key', '/a'], ['to', '12abc']], parameter: 'to' },
        { title: 'a negative epoch', query: [['key', '/a'], ['to', '-5']], parameter: 'to' },
        { title: 'to before from', query: [['key', '/a'], ['from', String(BASE + MINUTE)], ['to', String(BASE)]], parameter: 'to' },
        { title: 'from given twice', query: [['key', '/a'], ['from', String(BASE)], ['from', String(BASE + 1)]], parameter: 'from' },
        { title: 'an unknown parameter', query: [['key', '/a'], ['colour', 'red']], parameter: 'colour' },
        { title: 'more than 100 keys', query: Array.from({ length: 101 }, (_, i): [string, string] => ['key', `k${i}`]), parameter: 'key' },
      ];

      it.each(cases)('should answer 400 naming the parameter: $title', async ({ query, parameter }) => {
        const { status, type, body } = await get(`/views/${VIEW}`, query);
        expect(status).toBe(400);
        expect(type).toMatch(/^application\/json/);
        const { error } = body as ErrorBody;
        expect(error.code).toBe('INVALID_ARGUMENT');
        expect(error.message).toContain(`"${parameter}"`);
        expect(error.context?.parameters).toContainEqual(expect.objectContaining({ parameter }));
      });

      it('should say why a key is missing and how to give one', async () => {
        const { body } = await get(`/views/${VIEW}`);
        expect((body as ErrorBody).error.message).toBe('query parameter "key" is required: give one or more keys (?key=a&key=b)');
      });

      it('should name every bad parameter at once', async () => {
        const { status, body } = await get(`/views/${VIEW}`, [['from', 'soon'], ['colour', 'red']]);
        expect(status).toBe(400);
        const parameters = ((body as ErrorBody).error.context?.parameters as { parameter: string }[]).map((p) => p.parameter).sort();
        expect(parameters).toEqual(['colour', 'from', 'key']);
      });
    });

    describe('an unknown view', () => {
      it('should answer 404 UNKNOWN_VIEW naming it', async () => {
        const { status, type, body } = await get('/views/no_such_view', [['key', '/a']]);
        expect(status).toBe(404);
        expect(type).toMatch(/^application\/json/);
        const { error } = body as ErrorBody;
        expect(error.code).toBe('UNKNOWN_VIEW');
        expect(error.message).toContain('"no_such_view"');
        expect(error.context).toEqual({ view: 'no_such_view' });
      });

      it('should answer 404 before looking at the parameters', async () => {
        const { status, body } = await get('/views/no_such_view', [['colour', 'red']]);
        expect(status).toBe(404);
        expect((body as ErrorBody).error.code).toBe('UNKNOWN_VIEW');
      });

      it('should treat SQL in a view name or a key as plain text', async () => {
        const name = "x'; DROP TABLE views;--";
        const response = await fetch(`${server.url}/views/${encodeURIComponent(name)}?key=a`);
        expect(response.status).toBe(404);
        expect(await response.json()).toEqual({
          error: { code: 'UNKNOWN_VIEW', message: expect.stringContaining(JSON.stringify(name)), context: { view: name } },
        });

        const { status, body } = await get(`/views/${VIEW}`, [['key', "/a' OR '1'='1"]]);
        expect(status).toBe(200);
        expect((body as MergedAnswer).windows).toEqual([]);
        // The data is all still there.
        expect(((await get(`/views/${VIEW}`, [['key', '/a']])).body as MergedAnswer).windows).toEqual(naiveAnswer(counted, { keys: ['/a'] }));
      });
    });
  });
});

describe('the views API when the view never stops changing', () => {
  it('should answer 503 with a retriable CONNECTION error', async () => {
    const { ports, metrics, close } = await openTestPorts();
    const hooked = new HookedViewStore(ports.viewStore);
    let version = 0;
    hooked.afterReadManifest = async () => {
      version += 1;
      await publishBatch(ports.viewStore, records, version, [version, 0]);
    };
    const server = await listen(createServer({ ports: { ...ports, viewStore: hooked }, catalog, metrics, logger: silentLogger() }), {
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const response = await fetch(`${server.url}/views/${VIEW}?key=/a`);
      expect(response.status).toBe(503);
      const { error } = (await response.json()) as ErrorBody;
      expect(error.code).toBe('CONNECTION');
      expect(error.message).toContain(`"${VIEW}"`);
      expect(error.context).toEqual({ view: VIEW });
    } finally {
      await server.close();
      await close();
    }
  });
});
