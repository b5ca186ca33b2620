/** Produce (v3-v8): v2 record batches, checksum verified, appended to the log; idempotent batches deduplicated. */
import type { LogMessage } from '@lambda/core';
import { ErrorCode, type ErrorCodeValue } from '../error-codes.js';
import { decodeRecordBatches, RecordBatchError, type DecodedBatch } from '../record-batch-codec.js';
import type { ApiHandler, HandlerContext } from './handler-context.js';
import { partitionAccessError } from './access.js';
import { errorCodeOf } from './log-errors.js';

interface PartitionResult {
  partition: number;
  errorCode: ErrorCodeValue;
  baseOffset: number;
  logStartOffset: number;
  errorMessage: string | null;
}

export const handleProduce: ApiHandler = async (request, version, response, context) => {
  const transactionalId = request.nullableString();
  const acks = request.int16();
  request.int32(); // timeout_ms: appends are acknowledged before answering anyway
  const topics = request.array((topic) => ({
    name: topic.string(),
    partitions: topic.array((partition) => ({ partition: partition.int32(), records: partition.nullableBytes() })),
  }));
  const results = await Promise.all(
    topics.map(async (topic) => ({
      name: topic.name,
      partitions: await Promise.all(
        topic.partitions.map((partition) =>
          transactionalId !== null
            ? failure(partition.partition, ErrorCode.INVALID_RECORD, 'Transactions are not supported')
            : producePartition(context, topic.name, partition.partition, partition.records),
        ),
      ),
    })),
  );
  if (acks === 0) return false;
  response.array(results, (writer, topic) => {
    writer.string(topic.name).array(topic.partitions, (partitionWriter, result) => {
      partitionWriter.int32(result.partition).int16(result.errorCode).int64(result.baseOffset).int64(-1);
      if (version >= 5) partitionWriter.int64(result.logStartOffset);
      if (version >= 8) partitionWriter.int32(0).nullableString(result.errorMessage);
    });
  });
  response.int32(0);
  return true;
};

function failure(partition: number, errorCode: ErrorCodeValue, errorMessage: string | null): PartitionResult {
  return { partition, errorCode, baseOffset: -1, logStartOffset: -1, errorMessage };
}

async function producePartition(context: HandlerContext, topic: string, partition: number, records: Buffer | null): Promise<PartitionResult> {
  // Never created here: a topic comes from CreateTopics, or Metadata when auto-creation is on.
  const accessError = await partitionAccessError(context, topic, partition);
  if (accessError !== ErrorCode.NONE) return failure(partition, accessError, null);
  if (records === null) return failure(partition, ErrorCode.CORRUPT_MESSAGE, 'No records');
  let batches: DecodedBatch[];
  try {
    batches = decodeRecordBatches(records);
  } catch (error) {
    if (!(error instanceof RecordBatchError)) throw error;
    context.logger.warn({ topic, partition, client: context.clientId, reason: error.message }, 'produce refused');
    return failure(partition, error.errorCode, error.message);
  }
  try {
    let baseOffset = -1;
    for (const batch of batches) {
      const offset = batch.producerId >= 0 ? await appendIdempotent(context, topic, partition, batch) : await appendBatch(context, topic, partition, batch);
      if (typeof offset !== 'number') return offset;
      if (baseOffset < 0) baseOffset = offset;
    }
    const logStartOffset = (await context.eventLog.startOffsets(topic))[partition] ?? 0;
    return { partition, errorCode: ErrorCode.NONE, baseOffset, logStartOffset, errorMessage: null };
  } catch (error) {
    context.logger.warn({ topic, partition, err: error }, 'append failed');
    return failure(partition, errorCodeOf(error), (error as Error).message);
  }
}

async function appendIdempotent(context: HandlerContext, topic: string, partition: number, batch: DecodedBatch): Promise<number | PartitionResult> {
  const { producerState } = context;
  return producerState.exclusive(topic, partition, async () => {
    const check = producerState.check(topic, partition, batch.producerId, batch.producerEpoch, batch.baseSequence, batch.recordCount);
    if (check.kind === 'duplicate') {
      context.logger.debug({ topic, partition, producerId: batch.producerId, sequence: batch.baseSequence }, 'duplicate batch answered without appending');
      return check.baseOffset;
    }
    if (check.kind === 'error') return failure(partition, check.errorCode, check.message);
    const baseOffset = await appendBatch(context, topic, partition, batch);
    producerState.recordAppend(topic, partition, batch.producerId, batch.producerEpoch, batch.baseSequence, batch.recordCount, baseOffset);
    return baseOffset;
  });
}

async function appendBatch(context: HandlerContext, topic: string, partition: number, batch: DecodedBatch): Promise<number> {
  const now = Date.now();
  const messages: LogMessage[] = batch.records.map((record) => {
    const headers: Record<string, Buffer> = {};
    // The log keeps one value per header name: the last one wins, and a null value reads back empty.
    for (const header of record.headers) headers[header.key] = header.value ?? Buffer.alloc(0);
    return {
      partition,
      key: record.key,
      value: record.value ?? Buffer.alloc(0),
      timestamp: record.timestamp >= 0 ? record.timestamp : now,
      headers,
    };
  });
  if (messages.length === 0) return (await context.eventLog.endOffsets(topic))[partition]!;
  const appended = await context.eventLog.append(topic, messages);
  context.appendSignal.notify();
  return appended[0]!.offset;
}
