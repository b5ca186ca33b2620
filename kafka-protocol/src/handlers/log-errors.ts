/** Maps the event log's errors onto the Kafka error codes a broker would answer with. */
import {
  InvalidPartitionError,
  InvalidTopicError,
  OffsetOutOfRangeError,
  UnknownTopicError,
  InvalidArgumentError,
  TopicExistsError,
} from '@lambda/core';
import { ErrorCode, type ErrorCodeValue } from '../error-codes.js';

export function errorCodeOf(error: unknown): ErrorCodeValue {
  if (error instanceof UnknownTopicError || error instanceof InvalidPartitionError) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  if (error instanceof InvalidTopicError) return ErrorCode.INVALID_TOPIC_EXCEPTION;
  if (error instanceof OffsetOutOfRangeError) return ErrorCode.OFFSET_OUT_OF_RANGE;
  if (error instanceof TopicExistsError) return ErrorCode.TOPIC_ALREADY_EXISTS;
  if (error instanceof InvalidArgumentError) return ErrorCode.INVALID_REQUEST;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** The partition count of a topic, or undefined when the log does not have it. */
export async function partitionCountOf(context: { eventLog: { describeTopic(topic: string): Promise<{ partitions: number }> } }, topic: string): Promise<number | undefined> {
  try {
    return (await context.eventLog.describeTopic(topic)).partitions;
  } catch (error) {
    if (error instanceof UnknownTopicError || error instanceof InvalidTopicError) return undefined;
    throw error;
  }
}
