/**
 * Event times mean the same everywhere. An ISO-8601 time without a zone is UTC, never the server's local
 * time, so the speed layer and the batch layer (which reads the event times the archiver's decoder wrote)
 * put one record in one window even when their processes run in different time zones.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Catalog, type LogRecord } from '../src/index.js';

const run = promisify(execFile);

const SOURCE = { topic: 'clicks', eventTimeField: 'ts', fields: { url: 'string' } } as const;
const catalog = Catalog.compile({ sources: [{ ...SOURCE, fields: { ...SOURCE.fields } }], views: [] });

function eventTime(ts: unknown): number | string {
  const record: LogRecord = { topic: 'clicks', partition: 0, offset: 0, timestamp: 1, key: null, value: Buffer.from(JSON.stringify({ ts })), headers: {} };
  const decoded = catalog.sources.get('clicks')!.decode(record);
  return decoded.ok ? decoded.row.eventTime : decoded.reason;
}

const UTC_3AM = Date.UTC(2026, 11, 4, 3, 0, 0);

describe('when an event time is an ISO-8601 string', () => {
  it.each([
    ['2026-12-04T03:00:00', UTC_3AM],
    ['2026-12-04 03:00', UTC_3AM],
    ['2026-12-04T03:00:00.250', UTC_3AM + 250],
    ['2026-12-04T03:00:00Z', UTC_3AM],
    ['2026-12-04T05:00:00+02:00', UTC_3AM],
    ['2026-12-04T05:00+0200', UTC_3AM],
    ['2026-12-04T05:00+02', UTC_3AM],
    ['2026-12-03T22:00:00-05:00', UTC_3AM],
    ['2026-12-04', Date.UTC(2026, 11, 4)],
  ])('should read %j as UTC unless it names its own offset', (text, expected) => {
    expect(eventTime(text)).toBe(expected);
  });

  it.each(['2026-12-04T03', '2026-12-04T03:00 UTC', 'December 4, 2026', '04/12/2026', '2026-12-04T03:00:00ZZ'])('should refuse %j, naming the field', (text) => {
    expect(eventTime(text)).toMatch(/event-time field "ts" must be epoch milliseconds or an ISO-8601 string/);
  });

  it('should truncate fractional epoch milliseconds toward zero', () => {
    expect(eventTime(UTC_3AM + 0.9)).toBe(UTC_3AM);
  });
});

describe('when two processes decode the same records in different time zones', () => {
  it('should give every record the same event time', async () => {
    const texts = ['2026-12-04T03:00:00', '2026-12-04 03:00', '2026-06-01T12:30:00.5', '2026-03-29T02:30:00', '2026-12-04T05:00:00+02:00'];
    const dist = new URL('../dist/index.js', import.meta.url).href;
    // Each process decodes through the built package, as a speed layer or an archiver process does.
    const script = `
      const { Catalog } = await import(${JSON.stringify(dist)});
      const catalog = Catalog.compile({ sources: [{ topic: 'clicks', eventTimeField: 'ts', fields: {} }], views: [] });
      const source = catalog.sources.get('clicks');
      const times = ${JSON.stringify(texts)}.map((ts, offset) => {
        const decoded = source.decode({ topic: 'clicks', partition: 0, offset, timestamp: 1, key: null, value: Buffer.from(JSON.stringify({ ts })), headers: {} });
        return decoded.ok ? decoded.row.eventTime : decoded.reason;
      });
      console.log(JSON.stringify({ zone: Intl.DateTimeFormat().resolvedOptions().timeZone, offset: new Date(${UTC_3AM}).getTimezoneOffset(), times }));
    `;
    const decodeIn = async (zone: string) => {
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: zone }, cwd: fileURLToPath(new URL('..', import.meta.url)) });
      return JSON.parse(stdout) as { zone: string; offset: number; times: (number | string)[] };
    };
    const [utc, newYork, kolkata] = await Promise.all(['UTC', 'America/New_York', 'Asia/Kolkata'].map(decodeIn));
    // The processes really ran in different zones...
    expect([utc!.offset, newYork!.offset, kolkata!.offset]).toEqual([0, 300, -330]);
    // ...and agree on every record, with this process too.
    expect(newYork!.times).toEqual(utc!.times);
    expect(kolkata!.times).toEqual(utc!.times);
    expect(utc!.times).toEqual(texts.map((text) => eventTime(text)));
    expect(utc!.times[0]).toBe(UTC_3AM);
  });
});
