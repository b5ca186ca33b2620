/**
 * Sends records that are not valid events to `<topic>.dead-letter`, each with the reason and where it
 * came from in headers. The dead-letter partition matches the source partition, so after a restart the
 * last dead-letter record of a partition says up to which source offset the work was already done, and
 * re-read records are not dead-lettered twice.
 */
import { ensureTopic, type EventLog, type LogMessage, type LogRecord } from '@lambda/core';

export const DEAD_LETTER_SUFFIX = '.dead-letter';

export const DEAD_LETTER_HEADERS = {
  reason: 'dead-letter.reason',
  topic: 'dead-letter.topic',
  partition: 'dead-letter.partition',
  offset: 'dead-letter.offset',
} as const;

export function deadLetterTopicOf(topic: string): string {
  return `${topic}${DEAD_LETTER_SUFFIX}`;
}

export class DeadLetterWriter {
  private readonly pending: { record: LogRecord; reason: string }[] = [];

  private constructor(
    private readonly log: EventLog,
    readonly topic: string,
    /** Per partition: the highest source offset already dead-lettered (-1 for none). */
    private written: number[],
  ) {}

  static async open(log: EventLog, sourceTopic: string, partitions: number): Promise<DeadLetterWriter> {
    const topic = deadLetterTopicOf(sourceTopic);
    await ensureTopic(log, topic, { partitions });
    return new DeadLetterWriter(log, topic, await lastWritten(log, topic, partitions));
  }

  /**
   * Forgets what is queued and reads again from the log what was written, after a failed micro-batch:
   * its queued records will be read (and queued) again, and a failed append may have landed in some
   * partitions and not in others.
   */
  async reload(): Promise<void> {
    this.pending.length = 0;
    this.written = await lastWritten(this.log, this.topic, this.written.length);
  }

  /** Queues a record unless an earlier run already dead-lettered it. */
  add(record: LogRecord, reason: string): void {
    if (record.offset > this.written[record.partition]!) this.pending.push({ record, reason });
  }

  /**
   * Dead-letters one record at once, whatever was dead-lettered past it: a quarantined record is found
   * after the records around it were dealt with.
   */
  async quarantine(record: LogRecord, reason: string): Promise<void> {
    await this.log.append(this.topic, [this.letter(record, reason)]);
    this.written[record.partition] = Math.max(this.written[record.partition]!, record.offset);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  async flush(): Promise<number> {
    if (this.pending.length === 0) return 0;
    const batch = this.pending.splice(0, this.pending.length);
    await this.log.append(
      this.topic,
      batch.map(({ record, reason }) => this.letter(record, reason)),
    );
    for (const { record } of batch) this.written[record.partition] = Math.max(this.written[record.partition]!, record.offset);
    return batch.length;
  }

  private letter(record: LogRecord, reason: string): LogMessage {
    return {
      key: record.key,
      value: record.value,
      timestamp: record.timestamp,
      partition: record.partition,
      headers: {
        ...record.headers,
        [DEAD_LETTER_HEADERS.reason]: reason,
        [DEAD_LETTER_HEADERS.topic]: record.topic,
        [DEAD_LETTER_HEADERS.partition]: String(record.partition),
        [DEAD_LETTER_HEADERS.offset]: String(record.offset),
      },
    };
  }
}

/** Per partition: the source offset in the header of the last dead-letter record (-1 for none). */
async function lastWritten(log: EventLog, topic: string, partitions: number): Promise<number[]> {
  const ends = await log.endOffsets(topic);
  const written: number[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    const end = ends[partition] ?? 0;
    if (end === 0) {
      written.push(-1);
      continue;
    }
    const { records } = await log.read(topic, partition, end - 1, { maxRecords: 1 });
    // A last record someone else appended (no offset header) promises nothing: dead-letter from scratch.
    const offset = Number(records[0]?.headers[DEAD_LETTER_HEADERS.offset]?.toString());
    written.push(Number.isSafeInteger(offset) ? offset : -1);
  }
  return written;
}
