import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ports, seededRandom } from '@lambda/core';
import { apiSchemas, type ErrorBody, type KeysPage, type RunningServer, type TopAnswer } from '../src/index.js';
import { between, byCodePoints, client, conforms, naiveKeys, naiveTop, recordsWithUrls, serve, walkPages } from './api-helpers.js';
import { BASE, MINUTE, VIEW, below, openTestPorts, publishBatch, putSlice, testCatalog, type PageView } from './helpers.js';

const catalog = testCatalog();
const HORIZON = [25, 20];
const POSITION = [50, 42];

// Keys only the batch version holds, keys only the slices hold, and keys both do (two of them outside
// the Basic Multilingual Plane or at its top, where UTF-16 order and code-point order differ).
const BATCH_ONLY = ['/blog/1', '/blog/2', '/blog/3'];
const SLICES_ONLY = ['/shop/1', '/shop/2', '/shop/3'];
const BOTH = ['/', '/docs/a', '/docs/b', '/docs/c', '/\u{1F600}', '/\uFFFD', '/docs/ab'];
const pick = (keys: readonly string[], random: () => number) => keys[Math.floor(random() * keys.length)]!;
const records = recordsWithUrls(seededRandom(7), [60, 50], (partition, offset, random) =>
  offset < HORIZON[partition]! ? pick([...BATCH_ONLY, ...BOTH], random) : pick([...SLICES_ONLY, ...BOTH], random),
);
const counted = below(records, POSITION);

/** A slice below the horizon, still in the store, holding a key no counted record has: never to be read. */
const ghosts: PageView[] = Array.from({ length: HORIZON[1]! }, (_, offset) => ({ ...records.find((r) => r.partition === 1 && r.offset === offset)!, url: '/ghost' }));

describe('GET /views/:name/keys and /views/:name/top', () => {
  let ports: Ports;
  let closePorts: () => Promise<void>;
  let server: RunningServer;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    let metrics;
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    const store = ports.viewStore;
    await publishBatch(store, records, 3, HORIZON);
    await putSlice(store, records, { partition: 0, start: 0, end: 25, closed: true }); // covered, and counted by the batch
    await putSlice(store, ghosts, { partition: 1, start: 0, end: 20, closed: true }); // covered
    await putSlice(store, records, { partition: 0, start: 25, end: 40, closed: true });
    await putSlice(store, records, { partition: 0, start: 40, end: 50, closed: false });
    await putSlice(store, records, { partition: 1, start: 20, end: 42, closed: false });
    server = await serve({ ports, catalog, metrics });
    api = client(server.url);
  });

  afterAll(async () => {
    await server.close();
    await closePorts();
  });

  it('should have a fixture with keys in each layer only, and in both', () => {
    const batchKeys = new Set(naiveKeys(below(records, HORIZON)));
    const sliceKeys = new Set(naiveKeys(between(records, HORIZON, POSITION)));
    for (const key of BATCH_ONLY) expect(batchKeys.has(key) && !sliceKeys.has(key), key).toBe(true);
    for (const key of SLICES_ONLY) expect(sliceKeys.has(key) && !batchKeys.has(key), key).toBe(true);
    for (const key of BOTH) expect(batchKeys.has(key) && sliceKeys.has(key), key).toBe(true);
  });

  describe('keys', () => {
    const keys = async (query: [string, string][] = [], view = VIEW) => {
      const { status, body } = await api.get(`/views/${view}/keys`, query);
      expect(status, JSON.stringify(body)).toBe(200);
      return conforms(apiSchemas.keysPage, body) as KeysPage;
    };

    const walk = (query: [string, string][], limit: number) => walkPages(keys, query, limit);

    it('should list the keys of both layers once each, in code-point order, with provenance', async () => {
      const page = await keys();
      const expected = naiveKeys(counted);
      expect(page.view).toBe(VIEW);
      expect(page.keys).toEqual(expected);
      expect(page.keys).toEqual(expect.arrayContaining([...BATCH_ONLY, ...SLICES_ONLY, ...BOTH]));
      expect(page.keys).toHaveLength(BATCH_ONLY.length + SLICES_ONLY.length + BOTH.length);
      // Code points, not UTF-16 units: U+FFFD comes before U+1F600.
      expect(page.keys.indexOf('/\uFFFD')).toBeLessThan(page.keys.indexOf('/\u{1F600}'));
      expect(page.next).toBeNull();
      expect(page.provenance.batch).toEqual({ version: 3, horizon: HORIZON, publishedAt: expect.any(Number) });
      expect(page.provenance.position).toEqual(POSITION);
    });

    it('should not read a slice the horizon covers', async () => {
      expect((await keys()).keys).not.toContain('/ghost');
      expect((await keys([['prefix', '/gh']])).keys).toEqual([]);
    });

    it.each([
      { prefix: '/docs/', expected: ['/docs/a', '/docs/ab', '/docs/b', '/docs/c'] },
      { prefix: '/docs/a', expected: ['/docs/a', '/docs/ab'] },
      { prefix: '/blog', expected: BATCH_ONLY },
      { prefix: '/shop/2', expected: ['/shop/2'] },
      { prefix: '/\u{1F600}', expected: ['/\u{1F600}'] },
      { prefix: '/', expected: naiveKeys(counted) },
      { prefix: '', expected: naiveKeys(counted) },
      { prefix: '/nothing', expected: [] },
      { prefix: 'docs', expected: [] },
    ])('should keep only the keys starting with $prefix', async ({ prefix, expected }) => {
      expect(naiveKeys(counted, prefix)).toEqual(expected);
      const page = await keys([['prefix', prefix]]);
      expect(page.keys).toEqual(expected);
      expect(page.next).toBeNull();
    });

    it('should give, page after page, every key exactly once, for any limit and prefix', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 15 }), fc.constantFrom(undefined, '/', '/docs', '/shop/', '/b'), async (limit, prefix) => {
          const pages = await walk(prefix === undefined ? [] : [['prefix', prefix]], limit);
          const expected = naiveKeys(counted, prefix);
          expect(pages.flatMap((page) => page.keys)).toEqual(expected);
          expect(pages.length).toBe(Math.max(1, Math.ceil(expected.length / limit)));
          for (const page of pages.slice(0, -1)) expect(page.keys).toHaveLength(limit);
        }),
        { numRuns: 30 },
      );
    });

    it('should answer a view without data with no keys', async () => {
      const page = await keys([], 'site_totals');
      expect(page).toEqual({ view: 'site_totals', keys: [], provenance: expect.objectContaining({ batch: null, slices: [], position: [] }), next: null });
    });

    it.each([
      { title: 'a garbage cursor', query: [['cursor', 'garbage']], parameter: 'cursor' },
      { title: "a windows page's cursor", query: [['cursor', Buffer.from(JSON.stringify(['/a', BASE])).toString('base64url')]], parameter: 'cursor' },
      { title: 'limit 0', query: [['limit', '0']], parameter: 'limit' },
      { title: 'a key parameter', query: [['key', '/a']], parameter: 'key' },
      { title: 'a prefix given twice', query: [['prefix', '/a'], ['prefix', '/b']], parameter: 'prefix' },
    ] as { title: string; query: [string, string][]; parameter: string }[])('should answer 400 naming the parameter: $title', async ({ query, parameter }) => {
      const { status, body } = await api.get(`/views/${VIEW}/keys`, query);
      expect(status).toBe(400);
      const { error } = conforms(apiSchemas.errorBody, body) as ErrorBody;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(`"${parameter}"`);
    });

    it('should answer 404 UNKNOWN_VIEW for an unknown view', async () => {
      const { status, body } = await api.get('/views/nope/keys');
      expect(status).toBe(404);
      expect(conforms(apiSchemas.errorBody, body).error).toMatchObject({ code: 'UNKNOWN_VIEW', context: { view: 'nope' } });
    });
  });

  describe('top', () => {
    const top = async (query: [string, string][] = [], view = VIEW) => {
      const { status, body } = await api.get(`/views/${view}/top`, query);
      expect(status, JSON.stringify(body)).toBe(200);
      return conforms(apiSchemas.topAnswer, body) as TopAnswer;
    };

    it('should rank the ten keys with the most of the first numeric aggregate by default, over both layers', async () => {
      const answer = await top();
      expect(answer).toEqual({
        view: VIEW,
        by: 'views',
        from: null,
        to: null,
        top: naiveTop(counted, { n: 10, by: 'views' }),
        provenance: expect.objectContaining({ position: POSITION }),
      });
    });

    it('should count every record once: the covered slices are not merged again', async () => {
      const answer = await top([['n', '1000']]);
      expect(answer.top).toHaveLength(naiveKeys(counted).length);
      expect(answer.top.reduce((sum, entry) => sum + (entry.values.views as number), 0)).toBe(counted.length);
      expect(answer.top.map((entry) => entry.key)).not.toContain('/ghost');
      // Keys of either layer alone are ranked too.
      expect(answer.top.map((entry) => entry.key)).toEqual(expect.arrayContaining([...BATCH_ONLY, ...SLICES_ONLY]));
    });

    it('should break ties by key', async () => {
      const ranking = naiveTop(counted, { n: 1000, by: 'views' });
      const tied = ranking.filter((entry, i) => ranking[i + 1]?.values.views === entry.values.views);
      expect(tied.length, 'the fixture has ties').toBeGreaterThan(0);
      expect((await top([['n', '1000']])).top).toEqual(ranking);
      for (let i = 1; i < ranking.length; i++) {
        if (ranking[i]!.values.views === ranking[i - 1]!.values.views) expect(byCodePoints(ranking[i - 1]!.key, ranking[i]!.key)).toBeLessThan(0);
      }
    });

    it('should rank by any numeric aggregate over any window range, as a naive ranking does', async () => {
      const minute = fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined });
      await fc.assert(
        fc.asyncProperty(minute, minute, fc.integer({ min: 1, max: 20 }), fc.constantFrom<'views' | 'latency' | undefined>('views', 'latency', undefined), fc.boolean(), async (fromMinute, toMinute, n, by, iso) => {
          fc.pre(fromMinute === undefined || toMinute === undefined || fromMinute < toMinute);
          const from = fromMinute === undefined ? undefined : BASE + fromMinute * MINUTE;
          const to = toMinute === undefined ? undefined : BASE + toMinute * MINUTE;
          const instant = (ms: number) => (iso ? new Date(ms).toISOString() : String(ms));
          const answer = await top([
            ...(from === undefined ? [] : [['from', instant(from)] as [string, string]]),
            ...(to === undefined ? [] : [['to', instant(to)] as [string, string]]),
            ['n', String(n)],
            ...(by === undefined ? [] : [['by', by] as [string, string]]),
          ]);
          expect(answer.by).toBe(by ?? 'views');
          expect(answer.from).toBe(from ?? null);
          expect(answer.to).toBe(to ?? null);
          expect(answer.top).toEqual(naiveTop(counted, { from, to, n, by: by ?? 'views' }));
        }),
        { numRuns: 40 },
      );
    });

    it('should answer no keys over a range without windows', async () => {
      const answer = await top([['from', String(BASE + 60 * MINUTE)]]);
      expect(answer.top).toEqual([]);
    });

    it("should rank by a view's first numeric aggregate when it has no windows", async () => {
      const answer = await top([], 'site_totals');
      expect(answer).toMatchObject({ view: 'site_totals', by: 'views', top: [] });
      expect((await top([], 'slow_pages')).by).toBe('n');
    });

    describe('a bad request', () => {
      it.each([
        { title: 'a non-numeric aggregate', query: [['by', 'referrers']], parameter: 'by' },
        { title: 'an unknown aggregate', query: [['by', 'nope']], parameter: 'by' },
        { title: 'an empty by', query: [['by', '']], parameter: 'by' },
        { title: 'by given twice', query: [['by', 'views'], ['by', 'latency']], parameter: 'by' },
        { title: 'n 0', query: [['n', '0']], parameter: 'n' },
        { title: 'n over 1000', query: [['n', '1001']], parameter: 'n' },
        { title: 'to not after from', query: [['from', String(BASE + MINUTE)], ['to', String(BASE + MINUTE)]], parameter: 'to' },
        { title: 'from not a date', query: [['from', 'noon']], parameter: 'from' },
        { title: 'a limit parameter', query: [['limit', '5']], parameter: 'limit' },
      ] as { title: string; query: [string, string][]; parameter: string }[])('should answer 400 naming the parameter: $title', async ({ query, parameter }) => {
        const { status, body } = await api.get(`/views/${VIEW}/top`, query);
        expect(status).toBe(400);
        const { error } = conforms(apiSchemas.errorBody, body) as ErrorBody;
        expect(error.code).toBe('INVALID_ARGUMENT');
        expect(error.message).toContain(`"${parameter}"`);
      });

      it('should name the numeric aggregates a by may take', async () => {
        const { body } = await api.get(`/views/${VIEW}/top`, [['by', 'referrers']]);
        expect((body as ErrorBody).error.message).toContain('views, latency');
        expect((body as ErrorBody).error.message).not.toContain('referrers,');
      });

      it('should answer 404 UNKNOWN_VIEW for an unknown view, before looking at by', async () => {
        const { status, body } = await api.get('/views/nope/top', [['by', 'nope']]);
        expect(status).toBe(404);
        expect((body as ErrorBody).error.code).toBe('UNKNOWN_VIEW');
      });
    });
  });
});
