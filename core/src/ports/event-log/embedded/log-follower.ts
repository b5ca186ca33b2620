import { join } from 'node:path';
import type { LogFollower, LogRecord } from '../event-log.js';
import { PartitionFollower } from './partition-follower.js';

/** A read-only follower of an embedded log directory that its owner keeps writing. */
export class EmbeddedLogFollower implements LogFollower {
  private readonly partitions = new Map<string, PartitionFollower>();

  constructor(private readonly directory: string) {}

  scan(
    topic: string,
    partition: number,
    offset: number,
    endOffset: number,
    limits: { maxRecords: number; maxBytes: number },
    visit: (record: LogRecord) => void,
  ): Promise<number> {
    const id = `${topic}/${partition}`;
    let follower = this.partitions.get(id);
    if (!follower) this.partitions.set(id, (follower = new PartitionFollower(join(this.directory, 'topics', topic, String(partition)), topic, partition)));
    return follower.scan(offset, endOffset, limits, visit);
  }

  async close(): Promise<void> {
    await Promise.all([...this.partitions.values()].map((follower) => follower.close()));
    this.partitions.clear();
  }
}
