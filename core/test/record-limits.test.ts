/**
 * The record limits: one decoder, shared by ingest, the speed layer and the archiver, refuses every
 * record that could break a view downstream, with a reason naming the limit; a record it accepts can
 * never be refused by a view store.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Catalog,
  CatalogError,
  DEFAULT_RECORD_LIMITS,
  MAX_VIEW_KEY_LENGTH,
  type CatalogDefinition,
  type LogRecord,
  type ViewDefinition,
} from '../src/index.js';
import { validateRows } from '../src/ports/view-store/validation.js';

const TS = Date.UTC(2026, 0, 1);
const SOURCE = { topic: 'clicks', eventTimeField: 'ts', fields: { url: 'string', referrer: 'string', user: 'string', latency: 'number', bot: 'boolean' } } as const;

function catalogOf(views: Omit<ViewDefinition, 'source'>[], limits?: CatalogDefinition['limits']): Catalog {
  return Catalog.compile({ sources: [{ ...SOURCE, fields: { ...SOURCE.fields } }], views: views.map((view) => ({ ...view, source: 'clicks' })), limits });
}

function record(value: unknown, offset = 0): LogRecord {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return { topic: 'clicks', partition: 0, offset, timestamp: TS, key: null, value: Buffer.from(text), headers: {} };
}

const byReferrer: Omit<ViewDefinition, 'source'> = { name: 'by_referrer', key: 'referrer', aggregates: { n: 'count()', users: 'approx_distinct(user)' } };

describe('when a record is over a limit', () => {
  const source = catalogOf([byReferrer]).sources.get('clicks')!;

  it('should refuse a string field one character over the limit, and accept one at it', () => {
    const over = source.decode(record({ referrer: 'r'.repeat(4097), ts: TS }));
    expect(over).toEqual({ ok: false, reason: 'field "referrer" is 4097 characters long; a string field is at most 4096 (limits.maxStringLength)' });
    expect(source.decode(record({ referrer: 'r'.repeat(4096), ts: TS })).ok).toBe(true);
  });

  it('should refuse a number beyond the magnitude limit, and a number JSON turns into Infinity', () => {
    expect(source.decode(record({ latency: 2 ** 60, ts: TS }))).toMatchObject({ ok: false, reason: expect.stringMatching(/latency.*limits\.maxNumberMagnitude/) });
    expect(source.decode(record('{"latency":1e400,"ts":1}'))).toMatchObject({ ok: false, reason: expect.stringMatching(/Infinity/) });
    expect(source.decode(record({ latency: -Number.MAX_SAFE_INTEGER, ts: TS })).ok).toBe(true);
  });

  it('should refuse an event over the size limit before parsing it', () => {
    const small = catalogOf([byReferrer], { maxEventBytes: 100 }).sources.get('clicks')!;
    const big = record({ url: '/', pad: 'x'.repeat(200), ts: TS });
    expect(small.decode(big)).toEqual({ ok: false, reason: `the event is ${big.value.length} bytes; events are at most 100 bytes (limits.maxEventBytes)` });
    expect(small.decode(record('not json at all, and long enough to be over a hundred bytes: ' + 'y'.repeat(60))).ok).toBe(false);
  });

  it('should cut a long value short in a reason', () => {
    const result = source.decode(record({ latency: 'z'.repeat(10_000), ts: TS }));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason.length).toBeLessThan(300);
  });
});

describe('when a view could make a key longer than the stores keep', () => {
  const concatenated: Omit<ViewDefinition, 'source'> = { name: 'by_pair', key: "url || ' from ' || referrer", aggregates: { n: 'count()' } };
  const composite: Omit<ViewDefinition, 'source'> = { name: 'by_url_user', key: ['url', 'user'], aggregates: { n: 'count()' } };

  it('should refuse the record whose key would be too long, naming the view', () => {
    const source = catalogOf([byReferrer, concatenated]).sources.get('clicks')!;
    const result = source.decode(record({ url: 'u'.repeat(3000), referrer: 'r'.repeat(3000), ts: TS }));
    expect(result).toEqual({ ok: false, reason: `view "by_pair": its key would be 6006 characters long; a view key is at most ${MAX_VIEW_KEY_LENGTH}` });
    expect(source.decode(record({ url: 'u'.repeat(2000), referrer: 'r'.repeat(2000), ts: TS })).ok).toBe(true);
  });

  it('should count the escapes of a composite key', () => {
    const source = catalogOf([composite]).sources.get('clicks')!;
    // 1000 quotes become 2000 characters of JSON: with the url's 2100, over the limit.
    const result = source.decode(record({ url: 'u'.repeat(2100), user: '"'.repeat(1000), ts: TS }));
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/view "by_url_user": its key would be 41\d\d characters/) });
  });

  it('should need no check at all for a key of one declared field within the limits', () => {
    const view = catalogOf([byReferrer]).views.get('by_referrer')!;
    expect(view.admissionCheck(DEFAULT_RECORD_LIMITS)).toBeUndefined();
    const lowered = catalogOf([{ ...byReferrer, key: 'lower(referrer)' }]).views.get('by_referrer')!;
    expect(lowered.admissionCheck(DEFAULT_RECORD_LIMITS)).toBeDefined();
    expect(lowered.admissionCheck({ ...DEFAULT_RECORD_LIMITS, maxStringLength: 1000 })).toBeUndefined();
  });

  it('should refuse a record whose derived input is not a finite number', () => {
    const view: Omit<ViewDefinition, 'source'> = { name: 'ratio', key: 'url', derive: { per: 'latency / latency' }, aggregates: { total: 'sum(latency * latency * latency * latency * latency)' } };
    const source = catalogOf([view], { maxNumberMagnitude: Number.MAX_VALUE }).sources.get('clicks')!;
    expect(source.decode(record({ url: '/', latency: 1e100, ts: TS }))).toMatchObject({ ok: false, reason: expect.stringMatching(/view "ratio": the input of sum\(.*\) is Infinity/) });
    expect(source.decode(record({ url: '/', latency: 10, ts: TS })).ok).toBe(true);
  });
});

describe('when the limits are configured', () => {
  it('should refuse a limit that is not a positive number, among the catalog problems', () => {
    expect(() => catalogOf([byReferrer], { maxStringLength: 0 })).toThrow(CatalogError);
    expect(() => catalogOf([byReferrer], { maxStringLength: 0 })).toThrow(/limits: Invalid record limit maxStringLength 0/);
  });

  it('should keep the limits in the definition, so a worker thread decodes alike', () => {
    const catalog = catalogOf([byReferrer], { maxStringLength: 10 });
    const again = Catalog.compile(catalog.definition);
    expect(again.limits.maxStringLength).toBe(10);
    expect(again.sources.get('clicks')!.decode(record({ referrer: 'r'.repeat(11), ts: TS })).ok).toBe(false);
  });
});

describe('when any record is decoded', () => {
  const views: Omit<ViewDefinition, 'source'>[] = [
    byReferrer,
    { name: 'by_pair', key: "lower(url) || '|' || upper(referrer)", aggregates: { n: 'count()', top: 'top_k(user, 3)' } },
    { name: 'by_url_user', key: ['url', 'user', 'bot'], window: { type: 'tumbling', size: '1m' }, aggregates: { total: 'sum(latency)', worst: 'max(latency)' } },
  ];
  const catalog = catalogOf(views, { maxStringLength: 3000 });
  const source = catalog.sources.get('clicks')!;
  const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', minLength: 1000, maxLength: 3100 }), fc.constant('"\\\u0000'.repeat(400)));
  const value = fc.record(
    {
      url: fc.oneof(text, fc.integer(), fc.constant(null)),
      referrer: text,
      user: text,
      latency: fc.oneof(fc.double(), fc.integer(), fc.constant(1e300)),
      bot: fc.boolean(),
      ts: fc.oneof(fc.integer({ min: 0, max: 4e12 }), fc.constant(-1)),
      extra: fc.anything({ maxDepth: 6 }),
    },
    { requiredKeys: ['ts'] },
  );

  it('should give every view only keys and states its store takes', () => {
    let accepted = 0;
    let longestKey = 0;
    fc.assert(
      fc.property(value, (event) => {
        const decoded = source.decode(record(event));
        if (!decoded.ok) {
          expect(decoded.reason.length).toBeGreaterThan(0);
          return;
        }
        for (const view of catalog.views.values()) {
          const rows: { key: string; windowStart: number; state: unknown }[] = [];
          view.fold(decoded.row, (key, windowStart) => {
            const state = view.createState();
            rows.push({ key, windowStart, state });
            return state;
          });
          const stored = rows.map((row) => ({ ...row, state: view.toJson(row.state as never) }));
          for (const row of stored) longestKey = Math.max(longestKey, row.key.length);
          expect(() => validateRows(stored, { view: view.name })).not.toThrow();
          // JSON must carry every state as it is: no Infinity turned into null.
          for (const row of stored) expect(JSON.parse(JSON.stringify(row.state))).toEqual(row.state);
        }
        accepted++;
      }),
      // One record at the string limit every run, so the edge below is reached whatever the random draws.
      { numRuns: 300, examples: [[{ url: 'u'.repeat(3000), referrer: 'r', user: 'v', latency: 1, bot: false, ts: TS, extra: null }]] },
    );
    // The run reached the edges: records accepted, and keys near the stores' limit among them.
    expect(accepted).toBeGreaterThan(30);
    expect(longestKey).toBeGreaterThan(3000);
  });
});
