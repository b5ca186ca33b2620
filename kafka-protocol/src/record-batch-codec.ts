/**
 * Kafka's v2 record batch (magic 2): decoding what producers send, checksum verified, and encoding what
 * fetchers read. Compression: none and gzip; snappy, lz4 and zstd are refused.
 */
import { gunzipSync } from 'node:zlib';
import type { LogRecord } from '@lambda/core';
import { crc32c } from './crc32c.js';
import { ErrorCode, type ErrorCodeValue } from './error-codes.js';
import { MalformedFrameError, ProtocolReader } from './protocol-reader.js';
import { ProtocolWriter } from './protocol-writer.js';

/** Offset of the CRC field, and of the first byte it covers (the attributes), within a batch. */
const CRC_OFFSET = 17;
const CRC_COVERS_FROM = 21;
/** baseOffset (8) + batchLength (4): the part of a batch its length field does not count. */
const LOG_OVERHEAD = 12;
const HEADER_BYTES = 61;

const COMPRESSION_NONE = 0;
const COMPRESSION_GZIP = 1;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

export interface DecodedRecord {
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
}

export interface DecodedBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** offsetDelta of the last record + 1: how many offsets the batch claims. */
  recordCount: number;
  records: DecodedRecord[];
}

/** Why a produced records field was refused, as the error code a broker would answer with. */
export class RecordBatchError extends Error {
  constructor(
    readonly errorCode: ErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** Decodes every batch in a Produce request's records field. */
export function decodeRecordBatches(records: Buffer): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  let position = 0;
  while (position < records.length) {
    if (records.length - position < HEADER_BYTES) throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'Truncated record batch header');
    const batchLength = records.readInt32BE(position + 8);
    const end = position + LOG_OVERHEAD + batchLength;
    if (batchLength < HEADER_BYTES - LOG_OVERHEAD || end > records.length) {
      throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, `Record batch length ${batchLength} does not fit the ${records.length - position} bytes given`);
    }
    batches.push(decodeBatch(records.subarray(position, end)));
    position = end;
  }
  if (batches.length === 0) throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'No record batch');
  return batches;
}

function decodeBatch(batch: Buffer): DecodedBatch {
  const magic = batch.readInt8(16);
  if (magic !== 2) throw new RecordBatchError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `Message format v${magic} is not supported; use v2 (Kafka 0.11+)`);
  const expectedCrc = batch.readUInt32BE(CRC_OFFSET);
  if (crc32c(batch.subarray(CRC_COVERS_FROM)) !== expectedCrc) throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'Record batch CRC-32C mismatch');
  const reader = new ProtocolReader(batch, CRC_COVERS_FROM);
  const attributes = reader.int16();
  const lastOffsetDelta = reader.int32();
  const firstTimestamp = reader.int64();
  reader.int64(); // maxTimestamp
  const producerId = reader.int64();
  const producerEpoch = reader.int16();
  const baseSequence = reader.int32();
  const count = reader.int32();
  if (attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG)) {
    throw new RecordBatchError(ErrorCode.INVALID_RECORD, 'Transactional and control batches are not supported');
  }
  const compression = attributes & 0x07;
  let body: Buffer;
  if (compression === COMPRESSION_NONE) body = reader.raw(reader.remaining);
  else if (compression === COMPRESSION_GZIP) {
    try {
      body = gunzipSync(reader.raw(reader.remaining), { maxOutputLength: 256 * 1024 * 1024 });
    } catch (error) {
      throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, `Cannot gunzip record batch: ${(error as Error).message}`);
    }
  } else throw new RecordBatchError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Compression codec ${compression} is not supported; use none or gzip`);
  if (count < 0 || count > body.length) throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, `Record count ${count} does not fit the batch`);
  const records: DecodedRecord[] = [];
  try {
    const recordReader = new ProtocolReader(body);
    for (let i = 0; i < count; i++) records.push(decodeRecord(recordReader, firstTimestamp));
    if (recordReader.remaining !== 0) throw new MalformedFrameError(`${recordReader.remaining} bytes after the last record`);
  } catch (error) {
    if (error instanceof MalformedFrameError) throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, `Malformed record: ${error.message}`);
    throw error;
  }
  if (lastOffsetDelta !== count - 1) throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, `Last offset delta ${lastOffsetDelta} disagrees with ${count} records`);
  return { producerId, producerEpoch, baseSequence, recordCount: count, records };
}

function decodeRecord(reader: ProtocolReader, firstTimestamp: number): DecodedRecord {
  const length = reader.varint();
  const start = reader.offset;
  reader.int8(); // attributes, unused
  const timestampDelta = reader.varlong();
  reader.varint(); // offsetDelta: records are appended in order, so their position is their offset
  const key = varintBytes(reader);
  const value = varintBytes(reader);
  const headerCount = reader.varint();
  if (headerCount < 0 || headerCount > reader.remaining) throw new MalformedFrameError(`Header count ${headerCount}`);
  const headers: DecodedRecord['headers'] = [];
  for (let i = 0; i < headerCount; i++) {
    const headerKey = varintBytes(reader);
    if (headerKey === null) throw new MalformedFrameError('Null header key');
    headers.push({ key: headerKey.toString('utf8'), value: varintBytes(reader) });
  }
  if (reader.offset - start !== length) throw new MalformedFrameError(`Record length ${length} disagrees with its ${reader.offset - start} bytes`);
  return { timestamp: firstTimestamp + timestampDelta, key, value, headers };
}

function varintBytes(reader: ProtocolReader): Buffer | null {
  const length = reader.varint();
  if (length < 0) return null;
  return reader.raw(length);
}

/** The idempotent producer's fields of a batch; a fetched batch has none. */
export interface BatchProducer {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

const NO_PRODUCER: BatchProducer = { producerId: -1, producerEpoch: -1, baseSequence: -1 };

/** Encodes records (consecutive offsets of one partition) as one uncompressed v2 batch. */
export function encodeRecordBatch(
  records: ReadonlyArray<Pick<LogRecord, 'offset' | 'timestamp' | 'key' | 'value' | 'headers'>>,
  producer: BatchProducer = NO_PRODUCER,
): Buffer {
  const first = records[0]!;
  const firstTimestamp = Math.min(...records.map((record) => record.timestamp));
  const maxTimestamp = Math.max(...records.map((record) => record.timestamp));
  const body = new ProtocolWriter(1024);
  const recordWriter = new ProtocolWriter(256);
  for (const record of records) {
    recordWriter.int8(0).varlong(record.timestamp - firstTimestamp).varint(record.offset - first.offset);
    writeVarintBytes(recordWriter, record.key);
    writeVarintBytes(recordWriter, record.value);
    const headers = Object.entries(record.headers);
    recordWriter.varint(headers.length);
    for (const [key, value] of headers) {
      writeVarintBytes(recordWriter, Buffer.from(key, 'utf8'));
      writeVarintBytes(recordWriter, value);
    }
    body.varint(recordWriter.length).raw(recordWriter.toBuffer());
    recordWriter.reset();
  }
  const afterCrc = new ProtocolWriter(40 + body.length)
    .int16(0) // attributes: no compression, CreateTime
    .int32(records[records.length - 1]!.offset - first.offset)
    .int64(firstTimestamp)
    .int64(maxTimestamp)
    .int64(producer.producerId)
    .int16(producer.producerEpoch)
    .int32(producer.baseSequence)
    .int32(records.length)
    .raw(body.toBuffer())
    .toBuffer();
  return new ProtocolWriter(CRC_COVERS_FROM + afterCrc.length)
    .int64(first.offset)
    .int32(afterCrc.length + CRC_COVERS_FROM - LOG_OVERHEAD)
    .int32(0) // partitionLeaderEpoch
    .int8(2)
    .uint32(crc32c(afterCrc))
    .raw(afterCrc)
    .toBuffer();
}

function writeVarintBytes(writer: ProtocolWriter, bytes: Buffer | null): void {
  if (bytes === null) writer.varint(-1);
  else writer.varint(bytes.length).raw(bytes);
}
