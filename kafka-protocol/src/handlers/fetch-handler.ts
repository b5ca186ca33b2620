/** Fetch (v4-v11): reads the log from each requested offset and answers with v2 record batches, long-polling when empty. */
import { ErrorCode, type ErrorCodeValue } from '../error-codes.js';
import { encodeRecordBatch } from '../record-batch-codec.js';
import type { ApiHandler, HandlerContext } from './handler-context.js';
import { partitionAccessError } from './access.js';
import { errorCodeOf } from './log-errors.js';

interface FetchPartition {
  partition: number;
  fetchOffset: number;
  maxBytes: number;
}

interface PartitionData {
  partition: number;
  errorCode: ErrorCodeValue;
  highWatermark: number;
  logStartOffset: number;
  /** Empty, never null, when there is nothing to send: librdkafka refuses a null records field (as Kafka never sends one). */
  records: Buffer;
}

/** Longest a fetch may wait for data, whatever the client asks, so a connection is never parked for long. */
const MAX_WAIT_MS = 30_000;

export const handleFetch: ApiHandler = async (request, version, response, context) => {
  request.int32(); // replica_id
  const maxWaitMs = Math.min(Math.max(request.int32(), 0), MAX_WAIT_MS);
  const minBytes = request.int32();
  let remainingBytes = request.int32();
  if (remainingBytes <= 0) remainingBytes = 1;
  request.int8(); // isolation_level: no transactions, so everything is committed
  if (version >= 7) {
    request.int32(); // session_id: fetch sessions are not kept, every fetch is a full one
    request.int32(); // session_epoch
  }
  const topics = request.array((topic) => ({
    name: topic.string(),
    partitions: topic.array((partition): FetchPartition => {
      const index = partition.int32();
      if (version >= 9) partition.int32(); // current_leader_epoch
      const fetchOffset = partition.int64();
      if (version >= 5) partition.int64(); // log_start_offset (a follower's)
      return { partition: index, fetchOffset, maxBytes: partition.int32() };
    }),
  }));
  if (version >= 7) request.array((topic) => [topic.string(), topic.array((partition) => partition.int32())]);
  if (version >= 11) request.string(); // rack_id

  const deadline = Date.now() + maxWaitMs;
  let results = await readAll(context, topics, remainingBytes);
  while (Date.now() < deadline && !hasEnough(results, minBytes)) {
    await context.appendSignal.wait(Math.min(100, deadline - Date.now()));
    results = await readAll(context, topics, remainingBytes);
  }

  response.int32(0);
  if (version >= 7) response.int16(ErrorCode.NONE).int32(0);
  response.array(results, (writer, topic) => {
    writer.string(topic.name).array(topic.partitions, (partitionWriter, data) => {
      partitionWriter.int32(data.partition).int16(data.errorCode).int64(data.highWatermark).int64(data.highWatermark);
      if (version >= 5) partitionWriter.int64(data.logStartOffset);
      partitionWriter.int32(-1); // aborted_transactions: none
      if (version >= 11) partitionWriter.int32(-1); // preferred_read_replica: this broker
      partitionWriter.bytes(data.records);
    });
  });
  return true;
};

function hasEnough(results: Array<{ partitions: PartitionData[] }>, minBytes: number): boolean {
  let bytes = 0;
  for (const topic of results) {
    for (const partition of topic.partitions) {
      // An error is an answer too: the client should hear it now, not after max_wait_ms.
      if (partition.errorCode !== ErrorCode.NONE) return true;
      bytes += partition.records.length;
    }
  }
  return bytes > 0 && bytes >= minBytes;
}

async function readAll(context: HandlerContext, topics: Array<{ name: string; partitions: FetchPartition[] }>, maxBytes: number) {
  let remaining = maxBytes;
  const results: Array<{ name: string; partitions: PartitionData[] }> = [];
  for (const topic of topics) {
    const partitions: PartitionData[] = [];
    for (const partition of topic.partitions) {
      const data = await readPartition(context, topic.name, partition, Math.max(1, Math.min(partition.maxBytes, remaining)));
      remaining -= data.records.length;
      partitions.push(data);
    }
    results.push({ name: topic.name, partitions });
  }
  return results;
}

async function readPartition(context: HandlerContext, topic: string, request: FetchPartition, maxBytes: number): Promise<PartitionData> {
  const empty = (errorCode: ErrorCodeValue, highWatermark = -1, logStartOffset = -1): PartitionData => ({
    partition: request.partition,
    errorCode,
    highWatermark,
    logStartOffset,
    records: Buffer.alloc(0),
  });
  const accessError = await partitionAccessError(context, topic, request.partition);
  if (accessError !== ErrorCode.NONE) return empty(accessError);
  try {
    const [startOffsets, endOffsets] = await Promise.all([context.eventLog.startOffsets(topic), context.eventLog.endOffsets(topic)]);
    const start = startOffsets[request.partition]!;
    const end = endOffsets[request.partition]!;
    // Kafka tells no offsets with this error (-1 for both): the client asks ListOffsets where to reset to.
    if (request.fetchOffset < start || request.fetchOffset > end) return empty(ErrorCode.OFFSET_OUT_OF_RANGE);
    if (request.fetchOffset === end) return empty(ErrorCode.NONE, end, start);
    const read = await context.eventLog.read(topic, request.partition, request.fetchOffset, { maxBytes });
    return {
      partition: request.partition,
      errorCode: ErrorCode.NONE,
      highWatermark: Math.max(read.endOffset, end),
      logStartOffset: start,
      records: read.records.length > 0 ? encodeRecordBatch(read.records) : Buffer.alloc(0),
    };
  } catch (error) {
    context.logger.warn({ topic, partition: request.partition, err: error }, 'fetch failed');
    return empty(errorCodeOf(error));
  }
}
