import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ports, seededRandom } from '@lambda/core';
import { apiSchemas, type ErrorBody, type MergedAnswer, type RunningServer } from '../src/index.js';
import { between, client, conforms, naiveContributions, serve, walkPages } from './api-helpers.js';
import {
  BASE,
  MINUTE,
  URLS,
  VIEW,
  below,
  generateRecords,
  naiveAnswer,
  openTestPorts,
  publishBatch,
  putSlice,
  testCatalog,
} from './helpers.js';

const catalog = testCatalog();
const records = generateRecords(seededRandom(99), [40, 30]);
const HORIZON = [15, 10];
const POSITION = [33, 22];
const counted = below(records, POSITION);
const ALL_KEYS = [...URLS];

const keyQuery = (keys: readonly string[]): [string, string][] => keys.map((key) => ['key', key]);

describe('GET /views/:name, paged and with contributions', () => {
  let ports: Ports;
  let closePorts: () => Promise<void>;
  let server: RunningServer;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    let metrics;
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    const store = ports.viewStore;
    await publishBatch(store, records, 1, HORIZON);
    await putSlice(store, records, { partition: 0, start: 0, end: 15, closed: true }); // covered by the batch: not merged
    await putSlice(store, records, { partition: 0, start: 15, end: 28, closed: true });
    await putSlice(store, records, { partition: 0, start: 28, end: 33, closed: false });
    await putSlice(store, records, { partition: 1, start: 10, end: 22, closed: false });
    server = await serve({ ports, catalog, metrics });
    api = client(server.url);
  });

  afterAll(async () => {
    await server.close();
    await closePorts();
  });

  const read = async (query: [string, string][]) => {
    const { status, body } = await api.get(`/views/${VIEW}`, query);
    expect(status, JSON.stringify(body)).toBe(200);
    return conforms(apiSchemas.mergedAnswer, body) as MergedAnswer;
  };

  /** Every page from the first, following `next`, with `limit` windows a page. */
  const walk = (query: [string, string][], limit: number) => walkPages(read, query, limit);

  describe('paging', () => {
    it('should answer everything on one page, with no next, when the answer fits the default limit', async () => {
      const answer = await read(keyQuery(ALL_KEYS));
      expect(answer.windows).toEqual(naiveAnswer(counted));
      expect(answer.windows.length).toBeGreaterThan(12);
      expect(answer.next).toBeNull();
    });

    it('should give, page after page, exactly the windows of the unpaged answer, in order', async () => {
      const expected = naiveAnswer(counted);
      for (const limit of [1, 2, 5, 7, expected.length - 1, expected.length, expected.length + 1]) {
        const pages = await walk(keyQuery(ALL_KEYS), limit);
        expect(pages.length, `limit ${limit}`).toBe(Math.max(1, Math.ceil(expected.length / limit)));
        for (const page of pages.slice(0, -1)) expect(page.windows, `limit ${limit}`).toHaveLength(limit);
        expect(pages.flatMap((page) => page.windows), `limit ${limit}`).toEqual(expected);
        // Every page tells where it came from, and all of them the same.
        for (const page of pages) expect(page.provenance.position).toEqual(POSITION);
      }
    });

    it('should page any selection of keys and windows alike, for any limit', async () => {
      const range = fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined });
      await fc.assert(
        fc.asyncProperty(
          fc.subarray(ALL_KEYS, { minLength: 1 }),
          range,
          range,
          fc.integer({ min: 1, max: 30 }),
          fc.boolean(),
          async (keys, fromMinute, toMinute, limit, contributions) => {
            fc.pre(fromMinute === undefined || toMinute === undefined || fromMinute < toMinute);
            const from = fromMinute === undefined ? undefined : BASE + fromMinute * MINUTE;
            const to = toMinute === undefined ? undefined : BASE + toMinute * MINUTE;
            const query: [string, string][] = [
              ...keyQuery(keys),
              ...(from === undefined ? [] : [['from', String(from)] as [string, string]]),
              ...(to === undefined ? [] : [['to', new Date(to).toISOString()] as [string, string]]),
              ...(contributions ? [['contributions', 'true'] as [string, string]] : []),
            ];
            const windows = (await walk(query, limit)).flatMap((page) => page.windows);
            const expected = contributions ? naiveContributions(records, HORIZON, POSITION, { keys, from, to }) : naiveAnswer(counted, { keys, from, to });
            expect(windows).toEqual(expected);
            const ids = windows.map((window) => `${window.key} ${window.windowStart}`);
            expect(new Set(ids).size).toBe(ids.length);
          },
        ),
        { numRuns: 40 },
      );
    });

    it('should give a last page with no next, and an empty answer one page with no next', async () => {
      const expected = naiveAnswer(counted, { keys: ['/b'] });
      const last = await read([['key', '/b'], ['limit', String(expected.length)]]);
      expect(last.windows).toEqual(expected);
      expect(last.next).toBeNull();

      const empty = await read([['key', '/nobody'], ['limit', '1']]);
      expect(empty.windows).toEqual([]);
      expect(empty.next).toBeNull();
    });

    describe('a bad cursor or limit', () => {
      const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const cases: { title: string; query: [string, string][]; parameter: string }[] = [
        { title: 'garbage', query: [['cursor', 'not-a-cursor']], parameter: 'cursor' },
        { title: 'punctuation', query: [['cursor', '!!!***']], parameter: 'cursor' },
        { title: 'empty', query: [['cursor', '']], parameter: 'cursor' },
        { title: 'JSON that is not a position', query: [['cursor', base64url({ key: '/a' })]], parameter: 'cursor' },
        { title: "a keys page's cursor", query: [['cursor', base64url(['/a'])]], parameter: 'cursor' },
        { title: 'a position of the wrong types', query: [['cursor', base64url([1, '/a'])]], parameter: 'cursor' },
        { title: 'longer than 8192 characters', query: [['cursor', 'A'.repeat(8193)]], parameter: 'cursor' },
        { title: 'given twice', query: [['cursor', base64url(['/a', BASE])], ['cursor', base64url(['/b', BASE])]], parameter: 'cursor' },
        { title: 'limit 0', query: [['limit', '0']], parameter: 'limit' },
        { title: 'limit over 10000', query: [['limit', '10001']], parameter: 'limit' },
        { title: 'limit not a number', query: [['limit', 'ten']], parameter: 'limit' },
        { title: 'limit not an integer', query: [['limit', '2.5']], parameter: 'limit' },
        { title: 'contributions not a boolean', query: [['contributions', 'yes']], parameter: 'contributions' },
      ];

      it.each(cases)('should answer 400 naming the parameter: $title', async ({ query, parameter }) => {
        const { status, body } = await api.get(`/views/${VIEW}`, [['key', '/a'], ...query]);
        expect(status).toBe(400);
        const { error } = conforms(apiSchemas.errorBody, body) as ErrorBody;
        expect(error.code).toBe('INVALID_ARGUMENT');
        expect(error.message).toContain(`"${parameter}"`);
      });
    });
  });

  describe('contributions', () => {
    it("should give each window the batch version's part and the slices' part beside the merged values", async () => {
      const answer = await read([...keyQuery(ALL_KEYS), ['contributions', 'true']]);
      const expected = naiveContributions(records, HORIZON, POSITION);
      expect(answer.windows).toEqual(expected);
      // The fixture has windows of each kind: both layers, the batch only, the slices only.
      expect(expected.some((window) => window.batch !== null && window.realtime !== null)).toBe(true);
      expect(expected.some((window) => window.batch === null)).toBe(true);
      expect(expected.some((window) => window.realtime === null)).toBe(true);
      // The parts add up to the whole.
      for (const window of answer.windows) {
        expect(window.values.views).toBe(((window.batch?.views as number) ?? 0) + ((window.realtime?.views as number) ?? 0));
        expect(window.values.latency).toBe(((window.batch?.latency as number) ?? 0) + ((window.realtime?.latency as number) ?? 0));
      }
    });

    it('should count the covered slice in the batch part only, never again in the real-time part', async () => {
      // Partition 0's slice [0, 15) is still in the store, covered by the batch version's horizon.
      const answer = await read([...keyQuery(ALL_KEYS), ['contributions', 'true']]);
      const realtime = answer.windows.reduce((sum, window) => sum + ((window.realtime?.views as number) ?? 0), 0);
      const batch = answer.windows.reduce((sum, window) => sum + ((window.batch?.views as number) ?? 0), 0);
      expect(realtime).toBe(between(records, HORIZON, POSITION).length);
      expect(batch).toBe(below(records, HORIZON).length);
    });

    it('should keep the parts apart over a window range and across pages', async () => {
      const from = BASE + MINUTE;
      const to = BASE + 4 * MINUTE;
      const pages = await walk([['key', '/a'], ['key', '/c'], ['from', String(from)], ['to', String(to)], ['contributions', 'true']], 3);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.flatMap((page) => page.windows)).toEqual(naiveContributions(records, HORIZON, POSITION, { keys: ['/a', '/c'], from, to }));
    });

    it('should leave the parts out without contributions=true', async () => {
      for (const query of [keyQuery(['/a']), [...keyQuery(['/a']), ['contributions', 'false']] as [string, string][]]) {
        const answer = await read(query);
        expect(answer.windows.length).toBeGreaterThan(0);
        for (const window of answer.windows) {
          expect(window).not.toHaveProperty('batch');
          expect(window).not.toHaveProperty('realtime');
        }
      }
    });
  });
});

describe('GET /views/:name, paging while the data changes', () => {
  it('should continue after where the previous page ended, with what the view holds now', async () => {
    const { ports, metrics, close } = await openTestPorts();
    const server = await serve({ ports, catalog, metrics });
    try {
      const api = client(server.url);
      await publishBatch(ports.viewStore, records, 1, HORIZON);
      await putSlice(ports.viewStore, records, { partition: 0, start: 15, end: 33, closed: false });
      await putSlice(ports.viewStore, records, { partition: 1, start: 10, end: 22, closed: true });

      const first = await api.get(`/views/${VIEW}`, [...keyQuery(ALL_KEYS), ['limit', '6']]);
      const page = conforms(apiSchemas.mergedAnswer, first.body) as MergedAnswer;
      expect(page.windows).toEqual(naiveAnswer(counted).slice(0, 6));
      expect(page.next).not.toBeNull();

      // The speed layer moves on: partition 1 gets a new slice, [22, 30).
      await putSlice(ports.viewStore, records, { partition: 1, start: 22, end: 30, closed: false });
      const now = below(records, [33, 30]);
      const rest = await api.get(`/views/${VIEW}`, [...keyQuery(ALL_KEYS), ['cursor', page.next!]]);
      const second = conforms(apiSchemas.mergedAnswer, rest.body) as MergedAnswer;
      expect(second.provenance.position).toEqual([33, 30]);
      const last = page.windows.at(-1)!;
      const after = naiveAnswer(now).filter((w) => w.key > last.key || (w.key === last.key && w.windowStart > last.windowStart));
      expect(second.windows).toEqual(after);
      expect(second.next).toBeNull();
    } finally {
      await server.close();
      await close();
    }
  });
});
