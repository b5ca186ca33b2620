/** Metadata (v0-v8), CreateTopics (v0-v4), ListOffsets (v1-v5), ApiVersions (v0-v2) and InitProducerId (v0-v1). */
import { UnknownTopicError, MAX_PARTITIONS, validateTopicName } from '@lambda/core';
import { SUPPORTED_VERSIONS } from '../api-versions.js';
import { ErrorCode, type ErrorCodeValue } from '../error-codes.js';
import type { ProtocolWriter } from '../protocol-writer.js';
import type { ApiHandler, HandlerContext } from './handler-context.js';
import { NOT_AUTHENTICATED, partitionAccessError } from './access.js';
import { errorCodeOf, partitionCountOf } from './log-errors.js';

export function writeApiVersions(response: ProtocolWriter, version: number, errorCode: ErrorCodeValue): void {
  response.int16(errorCode).array([...SUPPORTED_VERSIONS], (writer, [apiKey, range]) => {
    writer.int16(apiKey).int16(range.min).int16(range.max);
  });
  if (version >= 1) response.int32(0);
}

export const handleApiVersions: ApiHandler = async (_request, version, response) => {
  writeApiVersions(response, version, ErrorCode.NONE);
  return true;
};

export const handleMetadata: ApiHandler = async (request, version, response, context) => {
  const requested = version === 0 ? request.array((topic) => topic.string()) : request.nullableArray((topic) => topic.string());
  const allowAutoCreation = version >= 4 ? request.boolean() : true;
  if (version >= 8) {
    request.boolean(); // include_cluster_authorized_operations
    request.boolean(); // include_topic_authorized_operations
  }
  const everyTopic = requested === null || (version === 0 && requested.length === 0);
  const names = everyTopic ? await everyVisibleTopic(context) : requested;
  const topics: Array<{ name: string; errorCode: ErrorCodeValue; partitions: number }> = [];
  for (const name of names) topics.push(await describeOrCreate(context, name, allowAutoCreation));

  const { broker } = context;
  if (version >= 3) response.int32(0);
  response.array([broker], (writer, node) => {
    writer.int32(node.nodeId).string(node.host).int32(node.port);
    if (version >= 1) writer.nullableString(null);
  });
  if (version >= 2) response.nullableString(context.clusterId);
  if (version >= 1) response.int32(broker.nodeId);
  response.array(topics, (writer, topic) => {
    writer.int16(topic.errorCode).string(topic.name);
    if (version >= 1) writer.boolean(false);
    writer.array(Array.from({ length: topic.partitions }, (_, index) => index), (partitionWriter, partition) => {
      partitionWriter.int16(ErrorCode.NONE).int32(partition).int32(broker.nodeId);
      if (version >= 7) partitionWriter.int32(0);
      partitionWriter.array([broker.nodeId], (nodes, node) => nodes.int32(node));
      partitionWriter.array([broker.nodeId], (nodes, node) => nodes.int32(node));
      if (version >= 5) partitionWriter.array([], () => undefined);
    });
    if (version >= 8) writer.int32(-2147483648);
  });
  if (version >= 8) response.int32(-2147483648);
  return true;
};

/** An unauthenticated connection sees no topic, as a principal without Describe ACLs does. */
async function everyVisibleTopic(context: HandlerContext): Promise<string[]> {
  if (!context.authenticated) return [];
  return (await context.eventLog.listTopics()).map((topic) => topic.name);
}

async function describeOrCreate(context: HandlerContext, name: string, allowAutoCreation: boolean) {
  if (!context.authenticated) return { name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, partitions: 0 };
  try {
    validateTopicName(name);
  } catch {
    return { name, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: 0 };
  }
  let partitions = await partitionCountOf(context, name);
  if (partitions === undefined && context.autoCreateTopics !== false && allowAutoCreation) {
    try {
      await context.eventLog.createTopic(name, { partitions: context.autoCreateTopics.partitions });
      context.logger.info({ topic: name, partitions: context.autoCreateTopics.partitions, client: context.clientId }, 'auto-created topic');
    } catch (error) {
      // Another request created it meanwhile: fine, describe it below.
      if (errorCodeOf(error) !== ErrorCode.TOPIC_ALREADY_EXISTS) throw error;
    }
    partitions = await partitionCountOf(context, name);
  }
  if (partitions === undefined) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: 0 };
  return { name, errorCode: ErrorCode.NONE, partitions };
}

export const handleCreateTopics: ApiHandler = async (request, version, response, context) => {
  const topics = request.array((topic) => ({
    name: topic.string(),
    partitions: topic.int32(),
    replicationFactor: topic.int16(),
    assignments: topic.array((assignment) => [assignment.int32(), assignment.array((brokers) => brokers.int32())] as const),
    configs: topic.array((config) => [config.string(), config.nullableString()] as const),
  }));
  request.int32(); // timeout_ms
  const validateOnly = version >= 1 ? request.boolean() : false;
  const results: Array<{ name: string; errorCode: ErrorCodeValue; message: string | null }> = [];
  for (const topic of topics) results.push(await createTopic(context, topic, validateOnly));
  if (version >= 2) response.int32(0);
  response.array(results, (writer, result) => {
    writer.string(result.name).int16(result.errorCode);
    if (version >= 1) writer.nullableString(result.message);
  });
  return true;
};

async function createTopic(
  context: HandlerContext,
  topic: { name: string; partitions: number; replicationFactor: number; assignments: ReadonlyArray<readonly [number, number[]]> },
  validateOnly: boolean,
): Promise<{ name: string; errorCode: ErrorCodeValue; message: string | null }> {
  const result = (errorCode: ErrorCodeValue, message: string | null) => ({ name: topic.name, errorCode, message });
  if (!context.authenticated) return result(ErrorCode.TOPIC_AUTHORIZATION_FAILED, NOT_AUTHENTICATED);
  const defaultPartitions = context.autoCreateTopics === false ? 1 : context.autoCreateTopics.partitions;
  const partitions = topic.assignments.length > 0 ? topic.assignments.length : topic.partitions === -1 ? defaultPartitions : topic.partitions;
  if (partitions <= 0 || partitions > MAX_PARTITIONS) {
    return result(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be from 1 to ${MAX_PARTITIONS}, got ${partitions}`);
  }
  if (topic.replicationFactor !== -1 && topic.replicationFactor !== 1) {
    return result(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor ${topic.replicationFactor} is larger than the 1 broker available`);
  }
  try {
    validateTopicName(topic.name);
  } catch (error) {
    return result(ErrorCode.INVALID_TOPIC_EXCEPTION, (error as Error).message);
  }
  if ((await partitionCountOf(context, topic.name)) !== undefined) return result(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${topic.name}' already exists.`);
  if (validateOnly) return result(ErrorCode.NONE, null);
  try {
    await context.eventLog.createTopic(topic.name, { partitions });
    return result(ErrorCode.NONE, null);
  } catch (error) {
    context.logger.warn({ topic: topic.name, err: error }, 'create topic failed');
    return result(errorCodeOf(error), (error as Error).message);
  }
}

const LATEST = -1;
const EARLIEST = -2;

export const handleListOffsets: ApiHandler = async (request, version, response, context) => {
  request.int32(); // replica_id
  if (version >= 2) request.int8(); // isolation_level
  const topics = request.array((topic) => ({
    name: topic.string(),
    partitions: topic.array((partition) => {
      const index = partition.int32();
      if (version >= 4) partition.int32(); // current_leader_epoch
      return { partition: index, timestamp: partition.int64() };
    }),
  }));
  const results = [];
  for (const topic of topics) {
    const partitions = [];
    for (const partition of topic.partitions) partitions.push({ partition: partition.partition, ...(await listOffset(context, topic.name, partition.partition, partition.timestamp)) });
    results.push({ name: topic.name, partitions });
  }
  if (version >= 2) response.int32(0);
  response.array(results, (writer, topic) => {
    writer.string(topic.name).array(topic.partitions, (partitionWriter, result) => {
      partitionWriter.int32(result.partition).int16(result.errorCode).int64(result.timestamp).int64(result.offset);
      if (version >= 4) partitionWriter.int32(0);
    });
  });
  return true;
};

async function listOffset(context: HandlerContext, topic: string, partition: number, timestamp: number): Promise<{ errorCode: ErrorCodeValue; timestamp: number; offset: number }> {
  const failed = (errorCode: ErrorCodeValue) => ({ errorCode, timestamp: -1, offset: -1 });
  const accessError = await partitionAccessError(context, topic, partition);
  if (accessError !== ErrorCode.NONE) return failed(accessError);
  try {
    const start = (await context.eventLog.startOffsets(topic))[partition]!;
    const end = (await context.eventLog.endOffsets(topic))[partition]!;
    if (timestamp === LATEST) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: end };
    if (timestamp === EARLIEST) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: start };
    // The first record at or after the timestamp: a scan, since the log keeps no time index.
    for (let offset = start; offset < end; ) {
      const read = await context.eventLog.read(topic, partition, offset, { maxBytes: 1024 * 1024 });
      const found = read.records.find((record) => record.timestamp >= timestamp);
      if (found) return { errorCode: ErrorCode.NONE, timestamp: found.timestamp, offset: found.offset };
      if (read.nextOffset <= offset) break;
      offset = read.nextOffset;
    }
    return { errorCode: ErrorCode.NONE, timestamp: -1, offset: -1 };
  } catch (error) {
    if (error instanceof UnknownTopicError) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    context.logger.warn({ topic, partition, err: error }, 'list offsets failed');
    return failed(errorCodeOf(error));
  }
}

export const handleInitProducerId: ApiHandler = async (request, _version, response, context) => {
  const transactionalId = request.nullableString();
  request.int32(); // transaction_timeout_ms
  response.int32(0);
  if (!context.authenticated) {
    // Kafka's authorizer: a transactional id needs Write on it, an idempotent producer IdempotentWrite on the cluster.
    const refusal = transactionalId !== null ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    response.int16(refusal).int64(-1).int16(-1);
    return true;
  }
  if (transactionalId !== null) {
    context.logger.warn({ client: context.clientId, transactionalId }, 'transactional producer refused: transactions are not supported');
    response.int16(ErrorCode.UNSUPPORTED_VERSION).int64(-1).int16(-1);
    return true;
  }
  const { producerId, producerEpoch } = context.producerState.allocateProducerId();
  response.int16(ErrorCode.NONE).int64(producerId).int16(producerEpoch);
  return true;
};
