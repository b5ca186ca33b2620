import { describe, expect, it } from 'vitest';
import { decodeEventRecord, encodeEvent, type LogRecord } from '../src/index.js';

function logRecord(value: string | Buffer, timestamp = 1_000): LogRecord {
  return { topic: 't', partition: 2, offset: 41, timestamp, key: Buffer.from('user-1'), value: Buffer.from(value), headers: {} };
}

describe('decodeEventRecord', () => {
  it('should decode a JSON value, keeping its place in the log', () => {
    const result = decodeEventRecord(logRecord('{"url":"/a","n":3}', 77));
    expect(result).toEqual({
      ok: true,
      record: { topic: 't', partition: 2, offset: 41, eventTime: 77, key: 'user-1', value: { url: '/a', n: 3 } },
    });
  });

  it('should take the event time from the named field, in epoch ms or ISO-8601', () => {
    const fromMs = decodeEventRecord(logRecord('{"ts":1700000000123}'), { eventTimeField: 'ts' });
    expect(fromMs.ok && fromMs.record.eventTime).toBe(1_700_000_000_123);
    const fromIso = decodeEventRecord(logRecord('{"ts":"2024-03-01T10:00:00.500Z"}'), { eventTimeField: 'ts' });
    expect(fromIso.ok && fromIso.record.eventTime).toBe(Date.UTC(2024, 2, 1, 10, 0, 0, 500));
  });

  it.each([
    ['not json', {}, /not JSON/],
    ['{"a":1}', { eventTimeField: 'ts' }, /"ts" is missing/],
    ['{"ts":"yesterday"}', { eventTimeField: 'ts' }, /got "yesterday"/],
    ['{"ts":true}', { eventTimeField: 'ts' }, /got true/],
    ['[1,2]', { eventTimeField: 'ts' }, /not a JSON object/],
  ])('should reject %j with a reason', (value, options, reason) => {
    const result = decodeEventRecord(logRecord(value), options);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });

  it('should round-trip what encodeEvent produced', () => {
    const message = encodeEvent({ url: '/x', latency: 12.5 }, { key: 'k', eventTime: 5 });
    expect(message).toEqual({ key: 'k', value: Buffer.from('{"url":"/x","latency":12.5}'), timestamp: 5 });
    const decoded = decodeEventRecord({ ...logRecord(message.value as Buffer), timestamp: message.timestamp! });
    expect(decoded.ok && decoded.record.value).toEqual({ url: '/x', latency: 12.5 });
  });
});
