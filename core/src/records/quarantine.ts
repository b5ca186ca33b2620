/**
 * Quarantine: records one view could not take, though the decoder accepted them (a micro-batch failed on
 * the same record again and again with an error no retry cures). Each entry names the view, so the other
 * views of the topic still count the record; the speed layer skips it for that view, and the batch layer
 * leaves it out of that view's recompute, so both layers agree and the merged answer stays exact.
 *
 * Entries live in the topic `<topic>.quarantine`, one partition per source partition, as JSON. They are
 * few (a quarantine follows a bug or a broken limit, not bad input, which the decoder catches), so every
 * reader loads them whole.
 */
import { UnknownTopicError } from '../errors/errors.js';
import type { EventLog } from '../ports/event-log/event-log.js';
import { ensureTopic } from '../ports/event-log/ensure-topic.js';

export const QUARANTINE_SUFFIX = '.quarantine';

export interface QuarantineEntry {
  /** The view (its storage name) that cannot take the record. */
  view: string;
  partition: number;
  offset: number;
  /** The error the record kept failing with. */
  reason: string;
  /** When it was quarantined, epoch ms. */
  at: number;
}

export function quarantineTopicOf(topic: string): string {
  return `${topic}${QUARANTINE_SUFFIX}`;
}

/** The quarantined offsets of a topic, by view and partition. */
export class Quarantine {
  private readonly byView = new Map<string, Map<number, Set<number>>>();

  constructor(readonly entries: readonly QuarantineEntry[] = []) {
    for (const { view, partition, offset } of entries) {
      let partitions = this.byView.get(view);
      if (!partitions) this.byView.set(view, (partitions = new Map()));
      let offsets = partitions.get(partition);
      if (!offsets) partitions.set(partition, (offsets = new Set()));
      offsets.add(offset);
    }
  }

  /** Reads every entry of the topic's quarantine; none when it was never needed. */
  static async load(log: EventLog, topic: string): Promise<Quarantine> {
    const quarantineTopic = quarantineTopicOf(topic);
    let ends: number[];
    try {
      ends = await log.endOffsets(quarantineTopic);
    } catch (error) {
      if (error instanceof UnknownTopicError) return new Quarantine();
      throw error;
    }
    const entries: QuarantineEntry[] = [];
    for (let partition = 0; partition < ends.length; partition++) {
      for (let offset = 0; offset < ends[partition]!; ) {
        const page = await log.read(quarantineTopic, partition, offset, { maxRecords: 1000 });
        if (page.records.length === 0) break;
        for (const record of page.records) entries.push(JSON.parse(record.value.toString('utf8')) as QuarantineEntry);
        offset = page.nextOffset;
      }
    }
    return new Quarantine(entries);
  }

  /** Appends entries (creating the topic on first use); durable when it resolves. */
  static async append(log: EventLog, topic: string, partitions: number, entries: readonly QuarantineEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const quarantineTopic = quarantineTopicOf(topic);
    await ensureTopic(log, quarantineTopic, { partitions });
    await log.append(
      quarantineTopic,
      entries.map((entry) => ({ key: entry.view, value: Buffer.from(JSON.stringify(entry)), partition: entry.partition })),
    );
  }

  /** The offsets of `partition` quarantined for `view`, ascending. */
  offsets(view: string, partition: number): number[] {
    return [...(this.byView.get(view)?.get(partition) ?? [])].sort((a, b) => a - b);
  }

  /** Per partition, the offsets quarantined for `view` below `horizon` (absent partitions: none). */
  below(view: string, horizon: readonly number[]): number[][] {
    return horizon.map((end, partition) => this.offsets(view, partition).filter((offset) => offset < end));
  }

  get size(): number {
    return this.entries.length;
  }
}
