/**
 * Group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups,
 * and OffsetCommit/OffsetFetch, whose offsets are the event log's committed offsets.
 */
import { ErrorCode, type ErrorCodeValue } from '../error-codes.js';
import type { ProtocolReader } from '../protocol-reader.js';
import type { ApiHandler, HandlerContext } from './handler-context.js';
import { groupAccessError, NOT_AUTHENTICATED } from './access.js';
import { errorCodeOf, partitionCountOf } from './log-errors.js';

const GROUP_KEY = 0;

export const handleFindCoordinator: ApiHandler = async (request, version, response, context) => {
  request.string(); // key: this one broker coordinates every group
  const keyType = version >= 1 ? request.int8() : GROUP_KEY;
  let errorCode: ErrorCodeValue = ErrorCode.NONE;
  let message: string | null = null;
  if (!context.authenticated) {
    errorCode = ErrorCode.GROUP_AUTHORIZATION_FAILED;
    message = NOT_AUTHENTICATED;
  } else if (keyType !== GROUP_KEY) {
    errorCode = ErrorCode.UNSUPPORTED_VERSION;
    message = 'Transactions are not supported';
  } else if (!context.coordinator.active) {
    errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    message = 'The server is shutting down';
  }
  if (version >= 1) response.int32(0);
  response.int16(errorCode);
  if (version >= 1) response.nullableString(message);
  const found = errorCode === ErrorCode.NONE;
  response.int32(found ? context.broker.nodeId : -1).string(found ? context.broker.host : '').int32(found ? context.broker.port : -1);
  return true;
};

export const handleJoinGroup: ApiHandler = async (request, version, response, context) => {
  const groupId = request.string();
  const sessionTimeoutMs = request.int32();
  const rebalanceTimeoutMs = version >= 1 ? request.int32() : sessionTimeoutMs;
  const memberId = request.string();
  const groupInstanceId = version >= 5 ? request.nullableString() : null;
  const protocolType = request.string();
  const protocols = request.array((protocol) => ({ name: protocol.string(), metadata: protocol.bytes() }));
  const result = context.authenticated
    ? await context.coordinator.join({
        groupId,
        memberId,
        groupInstanceId,
        clientId: context.clientId ?? '',
        clientHost: context.clientHost,
        sessionTimeoutMs,
        rebalanceTimeoutMs,
        protocolType,
        protocols: protocols.map((protocol) => ({ name: protocol.name, metadata: Buffer.from(protocol.metadata) })),
      })
    : { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] };
  if (version >= 2) response.int32(0);
  response.int16(result.errorCode).int32(result.generationId).string(result.protocolName).string(result.leaderId).string(result.memberId);
  response.array(result.members, (writer, member) => {
    writer.string(member.memberId);
    if (version >= 5) writer.nullableString(member.groupInstanceId);
    writer.bytes(member.metadata);
  });
  return true;
};

export const handleSyncGroup: ApiHandler = async (request, version, response, context) => {
  const groupId = request.string();
  const generationId = request.int32();
  const memberId = request.string();
  if (version >= 3) request.nullableString(); // group_instance_id
  const assignments = new Map(request.array((assignment) => [assignment.string(), Buffer.from(assignment.bytes())] as const));
  const result = context.authenticated
    ? await context.coordinator.sync(groupId, generationId, memberId, assignments)
    : { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, assignment: Buffer.alloc(0) };
  if (version >= 1) response.int32(0);
  response.int16(result.errorCode).bytes(result.assignment);
  return true;
};

export const handleHeartbeat: ApiHandler = async (request, version, response, context) => {
  const groupId = request.string();
  const generationId = request.int32();
  const memberId = request.string();
  if (version >= 3) request.nullableString(); // group_instance_id
  if (version >= 1) response.int32(0);
  response.int16(context.authenticated ? context.coordinator.heartbeat(groupId, generationId, memberId) : ErrorCode.GROUP_AUTHORIZATION_FAILED);
  return true;
};

export const handleLeaveGroup: ApiHandler = async (request, version, response, context) => {
  const groupId = request.string();
  const leave = (memberId: string) => (context.authenticated ? context.coordinator.leave(groupId, memberId) : ErrorCode.GROUP_AUTHORIZATION_FAILED);
  if (version < 3) {
    const errorCode = leave(request.string());
    if (version >= 1) response.int32(0);
    response.int16(errorCode);
    return true;
  }
  const members = request.array((member) => ({ memberId: member.string(), groupInstanceId: member.nullableString() }));
  const results = members.map((member) => ({ ...member, errorCode: leave(member.memberId) }));
  response.int32(0).int16(groupAccessError(context));
  response.array(results, (writer, result) => {
    writer.string(result.memberId).nullableString(result.groupInstanceId).int16(result.errorCode);
  });
  return true;
};

export const handleDescribeGroups: ApiHandler = async (request, version, response, context) => {
  const groups = request.array((group) => group.string());
  if (version >= 1) response.int32(0);
  response.array(groups, (writer, groupId) => {
    // Nothing of a group is told to a connection not allowed to see it, as Kafka's groupError answer.
    const group = context.authenticated ? context.coordinator.describe(groupId) : { state: '', protocolType: '', protocolName: '', members: [] };
    writer.int16(groupAccessError(context));
    writer.string(groupId).string(group.state).string(group.protocolType).string(group.protocolName);
    writer.array(group.members, (memberWriter, member) => {
      memberWriter.string(member.memberId).string(member.clientId).string(member.clientHost).bytes(member.metadata).bytes(member.assignment);
    });
  });
  return true;
};

export const handleListGroups: ApiHandler = async (_request, version, response, context) => {
  if (version >= 1) response.int32(0);
  // Listing groups is a cluster-wide Describe in Kafka's authorizer.
  const errorCode = context.authenticated ? ErrorCode.NONE : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  response.int16(errorCode).array(context.authenticated ? context.coordinator.list() : [], (writer, group) => {
    writer.string(group.groupId).string(group.protocolType);
  });
  return true;
};

export const handleOffsetCommit: ApiHandler = async (request, version, response, context) => {
  const groupId = request.string();
  const generationId = request.int32();
  const memberId = request.string();
  if (version >= 7) request.nullableString(); // group_instance_id
  if (version >= 2 && version <= 4) request.int64(); // retention_time_ms: offsets are kept for good
  const topics = request.array((topic) => ({
    name: topic.string(),
    partitions: topic.array((partition) => {
      const index = partition.int32();
      const offset = partition.int64();
      if (version >= 6) partition.int32(); // committed_leader_epoch
      partition.nullableString(); // committed_metadata: not kept
      return { partition: index, offset };
    }),
  }));
  const groupError = context.authenticated ? context.coordinator.checkCommit(groupId, generationId, memberId) : ErrorCode.GROUP_AUTHORIZATION_FAILED;
  const results = [];
  for (const topic of topics) {
    results.push({
      name: topic.name,
      partitions: await commitTopic(context, groupId, topic.name, topic.partitions, groupError),
    });
  }
  if (version >= 3) response.int32(0);
  response.array(results, (writer, topic) => {
    writer.string(topic.name).array(topic.partitions, (partitionWriter, result) => {
      partitionWriter.int32(result.partition).int16(result.errorCode);
    });
  });
  return true;
};

async function commitTopic(
  context: HandlerContext,
  groupId: string,
  topic: string,
  partitions: Array<{ partition: number; offset: number }>,
  groupError: ErrorCodeValue,
): Promise<Array<{ partition: number; errorCode: ErrorCodeValue }>> {
  if (groupError !== ErrorCode.NONE) return partitions.map(({ partition }) => ({ partition, errorCode: groupError }));
  const count = await partitionCountOf(context, topic);
  const offsets = new Map<number, number>();
  const negative = new Map<number, number>();
  const results = partitions.map(({ partition, offset }) => {
    if (count === undefined || partition < 0 || partition >= count) return { partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION as ErrorCodeValue };
    // Kafka stores any offset, and clients commit -1/-2 to reset a partition; the log holds real offsets only.
    if (offset >= 0) offsets.set(partition, offset);
    else negative.set(partition, offset);
    return { partition, errorCode: ErrorCode.NONE as ErrorCodeValue };
  });
  try {
    if (offsets.size > 0) await context.eventLog.commitOffsets(groupId, topic, offsets);
    for (const partition of offsets.keys()) context.negativeCommits.clear(groupId, topic, partition);
    for (const [partition, offset] of negative) context.negativeCommits.set(groupId, topic, partition, offset);
    return results;
  } catch (error) {
    context.logger.warn({ group: groupId, topic, err: error }, 'offset commit failed');
    return partitions.map(({ partition }) => ({ partition, errorCode: errorCodeOf(error) }));
  }
}

export const handleOffsetFetch: ApiHandler = async (request, version, response, context) => {
  const groupId = request.string();
  const requested = version >= 2 ? request.nullableArray(readTopic) : request.array(readTopic);
  const topics = requested ?? (context.authenticated ? await everyCommittedTopic(context, groupId) : []);
  const results: Array<{ name: string; partitions: Array<{ partition: number; offset: number; errorCode: ErrorCodeValue }> }> = [];
  for (const topic of topics) {
    if (!context.authenticated) {
      // Before v2 there is no top-level error code: the refusal is told per partition.
      const refused = (topic.partitions ?? []).map((partition) => ({ partition, offset: -1, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED }));
      results.push({ name: topic.name, partitions: refused });
      continue;
    }
    const partitionCount = await partitionCountOf(context, topic.name);
    const committed = new Map(partitionCount === undefined ? [] : await context.eventLog.committedOffsets(groupId, topic.name));
    // A negative offset committed since the last real one is the group's latest commit.
    if (partitionCount !== undefined) for (const [partition, offset] of context.negativeCommits.get(groupId, topic.name)) committed.set(partition, offset);
    const partitions = topic.partitions ?? [...committed.keys()];
    results.push({
      name: topic.name,
      partitions: partitions.map((partition) => ({
        partition,
        offset: committed.get(partition) ?? -1,
        errorCode: partitionCount === undefined || partition < 0 || partition >= partitionCount ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NONE,
      })),
    });
  }
  if (version >= 3) response.int32(0);
  response.array(results, (writer, topic) => {
    writer.string(topic.name).array(topic.partitions, (partitionWriter, result) => {
      partitionWriter.int32(result.partition).int64(result.offset);
      if (version >= 5) partitionWriter.int32(-1);
      partitionWriter.nullableString('').int16(result.errorCode);
    });
  });
  if (version >= 2) response.int16(groupAccessError(context));
  return true;
};

function readTopic(topic: ProtocolReader): { name: string; partitions: number[] | null } {
  return { name: topic.string(), partitions: topic.array((partition) => partition.int32()) };
}

async function everyCommittedTopic(context: HandlerContext, groupId: string): Promise<Array<{ name: string; partitions: number[] | null }>> {
  const topics = [];
  const negative = new Set(context.negativeCommits.topics(groupId));
  for (const topic of await context.eventLog.listTopics()) {
    if (negative.has(topic.name) || (await context.eventLog.committedOffsets(groupId, topic.name)).size > 0) topics.push({ name: topic.name, partitions: null });
  }
  return topics;
}
