/**
 * kafkajs errors mapped onto the platform's hierarchy, so callers of the event-log port decide on retries
 * and HTTP statuses the same way whichever adapter is behind it.
 */
import {
  ConnectionError,
  InvalidArgumentError,
  InvalidPartitionError,
  InvalidTopicError,
  OffsetOutOfRangeError,
  PlatformError,
  TimeoutError,
  TopicExistsError,
  UnknownTopicError,
} from '@lambda/core';

/** The fields of a kafkajs error the mapping reads (kafkajs's classes are not exported with types we can test by). */
interface KafkaJsErrorShape {
  name: string;
  message: string;
  retriable?: boolean;
  /** The protocol error's name, e.g. `UNKNOWN_TOPIC_OR_PARTITION`. */
  type?: string;
  /** What a retry wrapper (KafkaJSNumberOfRetriesExceeded) gave up on. */
  cause?: unknown;
  /** What an aggregate (e.g. from createTopics) collects. */
  errors?: unknown[];
}

/** What a failed call was about, for the error's message and context. */
export interface KafkaErrorContext {
  operation: string;
  topic?: string;
  partition?: number;
  offset?: number;
  group?: string;
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);
const TIMEOUT_ERRORS = new Set(['KafkaJSRequestTimeoutError', 'KafkaJSTimeout', 'KafkaJSLockTimeout']);

export function isKafkaJsError(error: unknown): error is KafkaJsErrorShape {
  return error instanceof Error && (error.name.startsWith('KafkaJS') || 'retriable' in error);
}

/**
 * The platform error for a kafkajs error. Protocol errors with a platform meaning (unknown topic, offset
 * out of range...) get their own class; the rest keep kafkajs's `retriable` verdict. Platform errors pass
 * through unchanged.
 */
export function toPlatformError(error: unknown, context: KafkaErrorContext): PlatformError {
  if (error instanceof PlatformError) return error;
  if (!isKafkaJsError(error)) {
    return new PlatformError(`Kafka ${context.operation} failed: ${String((error as Error)?.message ?? error)}`, { cause: error, context: { ...context } });
  }
  // A retry wrapper hides what actually failed; the platform decides on retries from the cause.
  if (error.name === 'KafkaJSNumberOfRetriesExceeded' && error.cause instanceof Error) {
    return toPlatformError(error.cause, context);
  }
  if (error.name === 'KafkaJSAggregateError' && Array.isArray(error.errors) && error.errors.length > 0) {
    return toPlatformError(error.errors[0], context);
  }
  const where = describe(context);
  const call = `Kafka ${context.operation}${where === '' ? '' : ` of ${where}`}`;
  const fields = { ...context, kafkaError: error.type ?? error.name };
  switch (error.type) {
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return new UnknownTopicError(`Unknown topic${context.topic === undefined ? '' : ` "${context.topic}"`} (Kafka ${context.operation})`, fields);
    case 'TOPIC_ALREADY_EXISTS':
      return new TopicExistsError(`Topic "${context.topic}" already exists`, fields);
    case 'OFFSET_OUT_OF_RANGE':
      return new OffsetOutOfRangeError(`Offset ${context.offset} is out of range for ${where}`, fields);
    case 'INVALID_TOPIC_EXCEPTION':
      return new InvalidTopicError(`Kafka refused the topic name ${JSON.stringify(context.topic)}: ${error.message}`, fields);
    case 'INVALID_PARTITIONS':
      return new InvalidPartitionError(`Kafka refused the partition count of topic "${context.topic}": ${error.message}`, fields);
    case 'INVALID_REPLICATION_FACTOR':
    case 'MESSAGE_TOO_LARGE':
    case 'RECORD_LIST_TOO_LARGE':
    case 'INVALID_RECORD':
    case 'INVALID_TIMESTAMP':
    case 'INVALID_GROUP_ID':
      return new InvalidArgumentError(`${call} was refused: ${error.message}`, fields);
  }
  if (CONNECTION_ERRORS.has(error.name)) {
    return new ConnectionError(`${call} could not reach the cluster: ${error.message}`, { cause: error, context: fields });
  }
  if (TIMEOUT_ERRORS.has(error.name)) {
    return new TimeoutError(`${call} timed out: ${error.message}`, { cause: error, context: fields });
  }
  return new PlatformError(`${call} failed: ${error.message}`, {
    cause: error,
    retriable: error.retriable ?? false,
    context: fields,
  });
}

/** Runs a kafkajs call, rethrowing its failure as a platform error. */
export async function mapKafkaErrors<T>(context: KafkaErrorContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toPlatformError(error, context);
  }
}

function describe(context: KafkaErrorContext): string {
  const parts: string[] = [];
  if (context.group !== undefined) parts.push(`group "${context.group}"`);
  if (context.topic !== undefined) parts.push(context.partition === undefined ? `topic "${context.topic}"` : `${context.topic}/${context.partition}`);
  return parts.join(' on ');
}
