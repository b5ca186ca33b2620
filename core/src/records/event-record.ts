import type { LogMessage, LogRecord } from '../ports/event-log/event-log.js';
import { isJsonObject, type JsonValue } from './json.js';

/**
 * One event as the platform sees it: where it sits in the log (topic, partition, offset), when it
 * happened (event time), its key, and its JSON value.
 */
export interface EventRecord<V extends JsonValue = JsonValue> {
  topic: string;
  partition: number;
  offset: number;
  /** When the event happened, in ms since the epoch. Late events have an event time far behind the log's. */
  eventTime: number;
  key: string | null;
  value: V;
}

export interface DecodeOptions {
  /**
   * The value field holding the event time (epoch ms, or an ISO-8601 string). Without it the record's
   * log timestamp is the event time.
   */
  eventTimeField?: string;
}

export type DecodeResult = { ok: true; record: EventRecord } | { ok: false; reason: string };

/**
 * Decodes a log record into an event. A record that is not JSON, or whose event time is missing or of the
 * wrong type, is not an event: the caller sends it to the dead-letter topic with the returned reason.
 */
export function decodeEventRecord(record: LogRecord, options: DecodeOptions = {}): DecodeResult {
  let value: JsonValue;
  try {
    value = JSON.parse(record.value.toString('utf8')) as JsonValue;
  } catch (error) {
    return { ok: false, reason: `value is not JSON: ${(error as Error).message}` };
  }
  let eventTime = record.timestamp;
  const field = options.eventTimeField;
  if (field !== undefined) {
    if (!isJsonObject(value)) {
      return { ok: false, reason: `value is not a JSON object, so it has no event-time field "${field}"` };
    }
    const parsed = parseEventTime(value[field]);
    if (parsed === undefined) return { ok: false, reason: eventTimeProblem(field, value[field]) };
    eventTime = parsed;
  }
  return {
    ok: true,
    record: {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      eventTime,
      key: record.key === null ? null : record.key.toString('utf8'),
      value,
    },
  };
}

export function eventTimeProblem(field: string, raw: JsonValue | undefined): string {
  return raw === undefined
    ? `event-time field "${field}" is missing`
    : `event-time field "${field}" must be epoch milliseconds or an ISO-8601 string from 1970 on, got ${JSON.stringify(raw)}`;
}

/** The latest event time accepted: the end of JavaScript's date range. */
export const MAX_EVENT_TIME = 8.64e15;

/**
 * An ISO-8601 date, or date and time (`T` or a space between), with an optional zone: `Z` or an offset.
 * Nothing else: Date.parse alone accepts too much ("1", "May") and differs between engines.
 */
const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([zZ]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Epoch ms from a number or an ISO-8601 string; undefined when it is neither, or before 1970. A time
 * without a zone is UTC, never the server's local time: layers in different time zones must put one
 * record in one window. Fractional milliseconds are truncated toward zero.
 */
export function parseEventTime(raw: JsonValue | undefined): number | undefined {
  let ms: number | undefined;
  if (typeof raw === 'number') ms = Math.trunc(raw);
  else if (typeof raw === 'string') {
    const parts = ISO_8601.exec(raw);
    if (parts) {
      const [, date, time, zone = 'Z'] = parts;
      // An offset of hours alone (`+02`) is ISO-8601 that Date.parse refuses: it reads `+02:00`.
      ms = Date.parse(time === undefined ? date! : `${date}T${time}${/^[+-]\d{2}$/.test(zone) ? `${zone}:00` : zone}`);
    }
  }
  return ms !== undefined && ms >= 0 && ms <= MAX_EVENT_TIME ? ms : undefined;
}

/** Encodes a JSON event as a log message. */
export function encodeEvent(value: JsonValue, options: { key?: string | null; eventTime?: number } = {}): LogMessage {
  return { key: options.key ?? null, value: Buffer.from(JSON.stringify(value)), timestamp: options.eventTime };
}
