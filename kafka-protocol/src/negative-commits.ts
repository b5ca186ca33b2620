/**
 * Negative committed offsets, which Kafka stores as given but the event log cannot hold (it keeps real
 * offsets only). Clients commit them to mean "reset this partition": kafkajs commits -2 (earliest) or -1
 * (latest) when it recovers from OFFSET_OUT_OF_RANGE and in `admin.resetOffsets`, then reads them back
 * to find its position again. Kept in memory, per group, topic and partition, until a real offset is
 * committed over them; after a restart the log's last real commit shows again.
 */
export class NegativeCommits {
  /** group → topic → partition → negative offset. */
  private readonly groups = new Map<string, Map<string, Map<number, number>>>();

  set(group: string, topic: string, partition: number, offset: number): void {
    let topics = this.groups.get(group);
    if (topics === undefined) this.groups.set(group, (topics = new Map()));
    let partitions = topics.get(topic);
    if (partitions === undefined) topics.set(topic, (partitions = new Map()));
    partitions.set(partition, offset);
  }

  /** Forgets the partition's negative offset: a real one was committed over it. */
  clear(group: string, topic: string, partition: number): void {
    const topics = this.groups.get(group);
    const partitions = topics?.get(topic);
    if (partitions === undefined) return;
    partitions.delete(partition);
    if (partitions.size === 0) topics!.delete(topic);
    if (topics!.size === 0) this.groups.delete(group);
  }

  get(group: string, topic: string): ReadonlyMap<number, number> {
    return this.groups.get(group)?.get(topic) ?? new Map();
  }

  topics(group: string): string[] {
    return [...(this.groups.get(group)?.keys() ?? [])];
  }
}
