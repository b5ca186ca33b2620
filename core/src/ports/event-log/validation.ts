import {
  InvalidArgumentError,
  InvalidOffsetError,
  InvalidPartitionError,
  InvalidTopicError,
} from '../../errors/errors.js';

/** Kafka's own topic name rule, so every topic name is valid on every adapter. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export const MAX_PARTITIONS = 1024;

export function validateTopicName(topic: unknown): string {
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    throw new InvalidTopicError(
      `Invalid topic name ${JSON.stringify(topic)}: use 1 to 249 characters from a-z, A-Z, 0-9, '.', '_' and '-', and not "." or ".."`,
      { topic },
    );
  }
  return topic;
}

export function validatePartitionCount(partitions: unknown, topic: string): number {
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new InvalidPartitionError(
      `Invalid partition count ${JSON.stringify(partitions)} for topic "${topic}": must be an integer from 1 to ${MAX_PARTITIONS}`,
      { topic, partitions },
    );
  }
  return partitions;
}

/** A partition number that exists in a topic of `partitionCount` partitions. */
export function validatePartition(partition: unknown, topic: string, partitionCount: number): number {
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
    throw new InvalidPartitionError(
      `Invalid partition ${JSON.stringify(partition)} for topic "${topic}": it has partitions 0 to ${partitionCount - 1}`,
      { topic, partition, partitionCount },
    );
  }
  return partition;
}

export function validateOffset(offset: unknown, topic: string, partition: number): number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidOffsetError(
      `Invalid offset ${JSON.stringify(offset)} for ${topic}/${partition}: must be a non-negative integer`,
      { topic, partition, offset },
    );
  }
  return offset;
}

export function validateGroupName(group: unknown): string {
  if (typeof group !== 'string' || group.length === 0 || group.length > 249 || /[\0\n]/.test(group)) {
    throw new InvalidArgumentError(
      `Invalid consumer group ${JSON.stringify(group)}: must be 1 to 249 characters without NUL or newline`,
      { group },
    );
  }
  return group;
}

/** `maxBytes` / `maxRecords` of a read: positive integers when given. */
export function validateReadLimit(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
    throw new InvalidArgumentError(`Invalid ${name} ${JSON.stringify(value)}: must be a positive integer`, { [name]: value });
  }
}
