/**
 * kafkajs's own cluster object (metadata, broker connections), reached through the client's private
 * factory. kafkajs 2.2 offers no public random-access fetch (no `assign()`) and no standalone offset
 * commit, but its Cluster and Broker classes do both, with kafkajs's connection handling, version
 * negotiation, SASL and TLS. This file is the only place that depends on those internals: the typed
 * surface below is the part used, and opening fails with a clear error if a kafkajs upgrade moved it.
 * kafkajs is pinned to one exact version for this (common/package.json), checked by
 * test/kafka-internals.test.ts, and the contract suite drives these internals against a real broker.
 */
import type { Kafka } from 'kafkajs';
import { PlatformError } from '@lambda/core';

/** A record as kafkajs's record-batch decoder yields it. */
export interface InternalRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[] | null | undefined>;
  isControlRecord?: boolean;
}

export interface InternalFetchPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  /** Fetch v4 and later. */
  lastStableOffset?: string;
  messages: InternalRecord[];
}

export interface InternalBroker {
  fetch(request: {
    replicaId?: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: InternalFetchPartition[] }[] }>;
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }): Promise<unknown>;
}

export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  /** The topic's partitions as the cached metadata knows them. */
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  /** Node id → partitions it leads. */
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: string }): Promise<InternalBroker>;
  findGroupCoordinator(query: { groupId: string }): Promise<InternalBroker>;
  /** ListOffsets for the earliest (`fromBeginning`) or latest offsets, sent to each partition's leader as the cached metadata knows it. */
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/** kafkajs's isolation levels (src/protocol/isolationLevel.js). */
export const READ_COMMITTED = 1;

const CREATE_CLUSTER = 'private:Kafka:createCluster';
const USED_METHODS = [
  'connect',
  'disconnect',
  'refreshMetadata',
  'addTargetTopic',
  'findTopicPartitionMetadata',
  'findLeaderForPartitions',
  'findBroker',
  'findGroupCoordinator',
  'fetchTopicsOffset',
] as const;

/** A new cluster object with the client's brokers, TLS, SASL and timeouts; connect it before use. */
export function createInternalCluster(kafka: Kafka): InternalCluster {
  const key = Object.getOwnPropertySymbols(kafka).find((symbol) => symbol.description === CREATE_CLUSTER);
  const factory = key === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof factory !== 'function') throw unsupported('the client has no cluster factory');
  const cluster = (factory as (options: object) => unknown)({
    allowAutoTopicCreation: false,
    isolationLevel: READ_COMMITTED,
    maxInFlightRequests: null,
    instrumentationEmitter: null,
  }) as Record<string, unknown>;
  const missing = USED_METHODS.filter((method) => typeof cluster[method] !== 'function');
  if (missing.length > 0) throw unsupported(`its cluster lacks ${missing.join(', ')}`);
  return cluster as unknown as InternalCluster;
}

function unsupported(why: string): PlatformError {
  return new PlatformError(`This kafkajs version is not supported by the Kafka event log (built on kafkajs 2.2): ${why}`, {
    context: { expected: 'kafkajs 2.2' },
  });
}
