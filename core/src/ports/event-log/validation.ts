import {
  InvalidArgumentError,
  InvalidOffsetError,
  InvalidPartitionError,
  InvalidTopicError,
} from '../../errors/errors.js';
import type { LogMessage } from './event-log.js';

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

/** A message to append, checked: its key, value and headers as bytes, and its log timestamp. */
export interface ValidMessage {
  key: Buffer | null;
  value: Buffer;
  timestamp: number;
  headers: Record<string, Buffer>;
}

/** Checks message `index` of an append to `topic` (every adapter alike); an InvalidArgumentError names what is wrong. */
export function validateMessage(message: LogMessage, index: number, topic: string, now: number): ValidMessage {
  const invalid = (problem: string): never => {
    throw new InvalidArgumentError(`Message ${index} to topic "${topic}": ${problem}`, { topic, index });
  };
  if (typeof message !== 'object' || message === null) return invalid('must be an object with a value');
  const value = toBuffer(message.value) ?? invalid('value must be a Buffer or a string');
  const key = message.key === undefined || message.key === null ? null : (toBuffer(message.key) ?? invalid('key must be a Buffer, a string or null'));
  const timestamp = message.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) invalid(`timestamp ${JSON.stringify(timestamp)} must be epoch milliseconds`);
  const headers: Record<string, Buffer> = {};
  for (const [name, headerValue] of Object.entries(message.headers ?? {})) {
    headers[name] = toBuffer(headerValue) ?? invalid(`header "${name}" must be a Buffer or a string`);
  }
  return { key, value, timestamp, headers };
}

function toBuffer(value: unknown): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value);
  return undefined;
}
