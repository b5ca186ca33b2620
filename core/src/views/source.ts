/**
 * A source: a topic's records and their declared schema. Both layers decode records with the same
 * function, so a record the speed layer sends to the dead-letter topic is one the archiver leaves out of
 * the lake, and the typed values the view expressions see are identical in JS and in DuckDB.
 */
import { InvalidArgumentError } from '../errors/errors.js';
import type { LogRecord } from '../ports/event-log/event-log.js';
import { validateTopicName } from '../ports/event-log/validation.js';
import { eventTimeProblem, parseEventTime } from '../records/event-record.js';
import { isJsonObject, type JsonValue } from '../records/json.js';
import { DEFAULT_RECORD_LIMITS, type RecordLimits } from '../records/record-limits.js';
import type { Row } from './expression/compile.js';
import type { ValueType } from './expression/ast.js';
import { validateIdentifier } from './identifiers.js';

export type FieldType = 'string' | 'number' | 'boolean';

export interface SourceDefinition {
  /** The topic the records arrive on. */
  topic: string;
  /** The value field holding event time: epoch milliseconds, or an ISO-8601 string. */
  eventTimeField: string;
  /**
   * Declared fields and their types. A declared field may be absent or null; a value of another type
   * sends the record to the dead-letter topic. Undeclared fields are kept in the raw value only.
   */
  fields: Record<string, FieldType>;
  /** The field whose value is the record key, so one value's records share a partition. */
  partitionKey?: string;
}

/** A record decoded for the views: its place in the log, its event time and its typed fields. */
export interface SourceRow {
  partition: number;
  offset: number;
  /** The log timestamp (append time unless the producer set one), for freshness. */
  timestamp: number;
  eventTime: number;
  /**
   * The declared fields by name (absent ones read as NULL), plus `event_time`. It is the parsed value
   * itself, so it may hold undeclared fields too, which no view expression can reach.
   */
  fields: Row;
}

export type SourceDecodeResult = { ok: true; row: SourceRow } | { ok: false; reason: string };

/** The name of the event time in expressions. */
export const EVENT_TIME = 'event_time';

export class CompiledSource {
  readonly topic: string;
  /** Fields in scope of the views' expressions, with their types. */
  readonly scope: ReadonlyMap<string, ValueType>;
  private readonly fieldEntries: [string, FieldType][];
  /** The views' own checks (see `CompiledView.admissionCheck`), added by the catalog. */
  private readonly viewChecks: ((row: SourceRow) => string | undefined)[] = [];

  constructor(
    readonly definition: SourceDefinition,
    /** What every record must stay within; the catalog's, so every layer decodes alike. */
    readonly limits: RecordLimits = DEFAULT_RECORD_LIMITS,
  ) {
    if (!isJsonObject(definition as never)) throw new InvalidArgumentError('A source definition must be an object', {});
    this.topic = validateTopicName(definition.topic);
    if (typeof definition.eventTimeField !== 'string' || definition.eventTimeField === '') {
      throw new InvalidArgumentError(`Source "${definition.topic}": eventTimeField must name a field`, { topic: definition.topic });
    }
    if (!isJsonObject(definition.fields as never)) {
      throw new InvalidArgumentError(`Source "${definition.topic}": fields must map names to types`, { topic: definition.topic });
    }
    this.fieldEntries = Object.entries(definition.fields);
    for (const [name, type] of this.fieldEntries) {
      validateIdentifier(name, `field name in source "${definition.topic}"`);
      if (type !== 'string' && type !== 'number' && type !== 'boolean') {
        throw new InvalidArgumentError(`Source "${definition.topic}": field "${name}" has type ${JSON.stringify(type)}; use string, number or boolean`, {
          topic: definition.topic,
          field: name,
        });
      }
    }
    if (definition.partitionKey !== undefined && typeof definition.partitionKey !== 'string') {
      throw new InvalidArgumentError(`Source "${definition.topic}": partitionKey must name a field`, { topic: definition.topic });
    }
    this.scope = new Map<string, ValueType>([...this.fieldEntries, [EVENT_TIME, 'number']]);
  }

  get fieldNames(): string[] {
    return this.fieldEntries.map(([name]) => name);
  }

  fieldType(name: string): FieldType {
    return this.definition.fields[name]!;
  }

  /** Makes `decode` refuse what this check refuses: a record one view cannot take reaches no layer. */
  addViewCheck(check: (row: SourceRow) => string | undefined): void {
    this.viewChecks.push(check);
  }

  /**
   * Parses, checks and types one record, in one pass: this runs for every record in both layers. A
   * record over a limit is refused with a reason naming the limit and its setting.
   */
  decode(record: LogRecord): SourceDecodeResult {
    const { maxEventBytes, maxStringLength, maxNumberMagnitude } = this.limits;
    if (record.value.length > maxEventBytes) {
      return { ok: false, reason: `the event is ${record.value.length} bytes; events are at most ${maxEventBytes} bytes (limits.maxEventBytes)` };
    }
    let value: JsonValue;
    try {
      value = JSON.parse(record.value.toString('utf8')) as JsonValue;
    } catch (error) {
      return { ok: false, reason: `value is not JSON: ${(error as Error).message}` };
    }
    const eventTimeField = this.definition.eventTimeField;
    if (!isJsonObject(value)) return { ok: false, reason: `value is not a JSON object, so it has no event-time field "${eventTimeField}"` };
    const eventTime = parseEventTime(value[eventTimeField]);
    if (eventTime === undefined) return { ok: false, reason: eventTimeProblem(eventTimeField, value[eventTimeField]) };
    // The parsed object itself becomes the row (no copy: this runs for every record). Expressions only
    // reach declared fields, which are checked here; an absent one reads as NULL.
    for (const [name, type] of this.fieldEntries) {
      const raw = value[name];
      if (raw === undefined || raw === null) continue;
      if (typeof raw !== type) return { ok: false, reason: `field "${name}" must be a ${type}, got ${abbreviate(JSON.stringify(raw))}` };
      if (type === 'string' && (raw as string).length > maxStringLength) {
        return { ok: false, reason: `field "${name}" is ${(raw as string).length} characters long; a string field is at most ${maxStringLength} (limits.maxStringLength)` };
      }
      // Also refuses Infinity, which JSON.parse makes of 1e400 and JSON.stringify would write as null.
      if (type === 'number' && !(Math.abs(raw as number) <= maxNumberMagnitude)) {
        return { ok: false, reason: `field "${name}" is ${raw}; a number field is at most ${maxNumberMagnitude} in magnitude (limits.maxNumberMagnitude)` };
      }
    }
    value[EVENT_TIME] = eventTime;
    const row: SourceRow = { partition: record.partition, offset: record.offset, timestamp: record.timestamp, eventTime, fields: value as Row };
    for (const check of this.viewChecks) {
      const problem = check(row);
      if (problem !== undefined) return { ok: false, reason: problem };
    }
    return { ok: true, row };
  }

  /** The record key a producer should use for a value, so one key's records share a partition. */
  partitionKeyOf(value: unknown): string | null {
    const field = this.definition.partitionKey;
    if (field === undefined || !isJsonObject(value as never)) return null;
    const raw = (value as Record<string, unknown>)[field];
    return typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : null;
  }
}

/** A value quoted in a reason, cut short: a reason must not carry a megabyte of the record it is about. */
function abbreviate(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
