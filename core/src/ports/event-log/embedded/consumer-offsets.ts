/**
 * Consumer-group offsets of the embedded log, like Kafka's compacted `__consumer_offsets` topic: each
 * commit is a journal entry, the latest entry for a (group, topic, partition) wins, and the journal is
 * compacted once it holds far more entries than live offsets.
 */
import type { Logger } from '../../../logging/logger.js';
import type { DurabilityOptions } from '../../../storage/fsync-policy.js';
import { Journal } from '../../../storage/journal.js';

interface CommitEntry {
  group: string;
  topic: string;
  offsets: [partition: number, offset: number][];
}

const COMPACT_WHEN_BYTES = 4 * 1024 * 1024;

export class ConsumerOffsets {
  private constructor(
    private readonly journal: Journal,
    private readonly offsets: Map<string, Map<number, number>>,
  ) {}

  static async open(path: string, options: DurabilityOptions & { logger: Logger }): Promise<ConsumerOffsets> {
    const offsets = new Map<string, Map<number, number>>();
    const journal = await Journal.open(path, {
      ...options,
      replay: (payload) => apply(offsets, JSON.parse(payload.toString('utf8')) as CommitEntry),
      onBackgroundError: (error) => options.logger.error({ err: error }, 'background fsync of consumer offsets failed'),
    });
    return new ConsumerOffsets(journal, offsets);
  }

  get(group: string, topic: string): Map<number, number> {
    return new Map(this.offsets.get(mapKey(group, topic)));
  }

  async commit(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    const entry: CommitEntry = { group, topic, offsets: [...offsets] };
    await this.journal.append([Buffer.from(JSON.stringify(entry))]);
    apply(this.offsets, entry);
    if (this.journal.size > COMPACT_WHEN_BYTES) await this.compact();
  }

  private async compact(): Promise<void> {
    const entries = [...this.offsets].map(([key, offsets]) => {
      const [group, topic] = JSON.parse(key) as [string, string];
      return Buffer.from(JSON.stringify({ group, topic, offsets: [...offsets] } satisfies CommitEntry));
    });
    await this.journal.rewrite(entries);
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}

function mapKey(group: string, topic: string): string {
  return JSON.stringify([group, topic]);
}

function apply(offsets: Map<string, Map<number, number>>, entry: CommitEntry): void {
  const key = mapKey(entry.group, entry.topic);
  const partitions = offsets.get(key) ?? new Map<number, number>();
  for (const [partition, offset] of entry.offsets) partitions.set(partition, offset);
  offsets.set(key, partitions);
}
