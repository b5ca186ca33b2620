/**
 * Consumer-group offsets committed by hand, as a standalone consumer does (Java's `assign()` +
 * `commitSync`): an OffsetCommit to the group's coordinator with generation -1 and no member id, which
 * Kafka accepts for a group that has no live members. The speed layer commits only after the views it
 * fed are durable, so it never joins the group and never lets a client commit behind its back.
 *
 * kafkajs's public `admin.setOffsets` is no substitute: it starts a throwaway consumer that joins the
 * group (a rebalance per commit, seconds each) and refuses while the group has members. Reading
 * committed offsets goes through the public `admin.fetchOffsets`.
 */
import type { Admin } from 'kafkajs';
import { type Logger, retry } from '@lambda/core';
import { mapKafkaErrors } from './kafka-errors.js';
import type { InternalBroker, InternalCluster } from './kafka-internal-cluster.js';

export interface KafkaGroupOffsetsOptions {
  cluster: InternalCluster;
  admin: Admin;
  logger: Logger;
}

/** Errors after which the group's coordinator must be looked up again. */
const COORDINATOR_MOVED = new Set(['NOT_COORDINATOR_FOR_GROUP', 'NOT_COORDINATOR', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_NOT_AVAILABLE']);

export class KafkaGroupOffsets {
  private readonly coordinators = new Map<string, Promise<InternalBroker>>();

  constructor(private readonly options: KafkaGroupOffsetsOptions) {}

  /** Stores next offsets to read of `clusterGroup` for partitions of `clusterTopic`; `group`/`topic` name them in errors. */
  async commit(clusterGroup: string, clusterTopic: string, offsets: ReadonlyMap<number, number>, names: { group: string; topic: string }): Promise<void> {
    if (offsets.size === 0) return;
    const partitions = [...offsets].map(([partition, offset]) => ({ partition, offset: String(offset) }));
    await retry(
      () =>
        mapKafkaErrors({ operation: 'offset commit', ...names }, async () => {
          const coordinator = await this.coordinator(clusterGroup);
          try {
            await coordinator.offsetCommit({ groupId: clusterGroup, groupGenerationId: -1, memberId: '', topics: [{ topic: clusterTopic, partitions }] });
          } catch (error) {
            const type = (error as { type?: string }).type;
            if ((type !== undefined && COORDINATOR_MOVED.has(type)) || (error as Error).name?.startsWith('KafkaJSConnection')) {
              this.coordinators.delete(clusterGroup);
            }
            throw error;
          }
        }),
      { attempts: 6, initialDelayMs: 100, maxDelayMs: 2000, logger: this.options.logger, operation: `commit offsets of group ${names.group}` },
    );
  }

  /** The committed next offsets of `clusterGroup` on `clusterTopic`; partitions never committed are absent. */
  async committed(clusterGroup: string, clusterTopic: string, names: { group: string; topic: string }): Promise<Map<number, number>> {
    // kafkajs's fetchOffsets does not retry: a coordinator still loading its offsets (COORDINATOR_LOAD_IN_PROGRESS,
    // as on a broker's first group request, while it creates __consumer_offsets) or just moved is asked again.
    const topics = await retry(
      () => mapKafkaErrors({ operation: 'offset fetch', ...names }, () => this.options.admin.fetchOffsets({ groupId: clusterGroup, topics: [clusterTopic] })),
      { attempts: 6, initialDelayMs: 100, maxDelayMs: 2000, logger: this.options.logger, operation: `fetch offsets of group ${names.group}` },
    );
    const committed = new Map<number, number>();
    for (const { partition, offset } of topics.find((t) => t.topic === clusterTopic)?.partitions ?? []) {
      // Kafka answers -1 for a partition the group never committed.
      const value = Number(offset);
      if (value >= 0) committed.set(partition, value);
    }
    return committed;
  }

  private coordinator(group: string): Promise<InternalBroker> {
    let found = this.coordinators.get(group);
    if (!found) {
      found = this.options.cluster.findGroupCoordinator({ groupId: group });
      // A failed lookup is not remembered: the next call asks again.
      found.catch(() => this.coordinators.delete(group));
      this.coordinators.set(group, found);
    }
    return found;
  }
}
