/**
 * The payload of one segment frame: a batch of records appended together, at consecutive offsets.
 * A batch is one frame, so it is written (and recovered) all or none.
 *
 *   u8 magic | u64 base offset | u32 record count
 *   per record: u64 timestamp | i32 key length (-1: null) | key | u32 value length | value
 *               | u16 header count | per header: u16 name length | name | u32 value length | value
 */
import { CorruptDataError } from '../../../errors/errors.js';
import type { LogRecord } from '../event-log.js';

const MAGIC = 1;
const BATCH_HEADER_BYTES = 1 + 8 + 4;

export interface BatchRecord {
  timestamp: number;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, Buffer>;
}

/** No headers: one shared object, not one per record. */
const NO_HEADERS: Record<string, Buffer> = Object.freeze({}) as Record<string, Buffer>;

export function recordBytes(record: BatchRecord): number {
  let bytes = 8 + 4 + (record.key?.length ?? 0) + 4 + record.value.length + 2;
  if (record.headers === NO_HEADERS) return bytes;
  for (const name in record.headers) bytes += 2 + Buffer.byteLength(name) + 4 + record.headers[name]!.length;
  return bytes;
}

export function encodeRecordBatch(baseOffset: number, records: readonly BatchRecord[]): Buffer {
  let size = BATCH_HEADER_BYTES;
  for (const record of records) size += recordBytes(record);
  const buffer = Buffer.allocUnsafe(size);
  let at = buffer.writeUInt8(MAGIC, 0);
  at = writeUint64(buffer, baseOffset, at);
  at = buffer.writeUInt32LE(records.length, at);
  for (const record of records) {
    at = writeUint64(buffer, record.timestamp, at);
    if (record.key === null) {
      at = buffer.writeInt32LE(-1, at);
    } else {
      at = buffer.writeInt32LE(record.key.length, at);
      at += record.key.copy(buffer, at);
    }
    at = buffer.writeUInt32LE(record.value.length, at);
    at += record.value.copy(buffer, at);
    const headers = Object.entries(record.headers);
    at = buffer.writeUInt16LE(headers.length, at);
    for (const [name, value] of headers) {
      at = buffer.writeUInt16LE(Buffer.byteLength(name), at);
      at += buffer.write(name, at);
      at = buffer.writeUInt32LE(value.length, at);
      at += value.copy(buffer, at);
    }
  }
  return buffer;
}

/** Base offset and record count, without decoding the records. */
export function readBatchHeader(payload: Buffer): { baseOffset: number; count: number } {
  if (payload.length < BATCH_HEADER_BYTES || payload[0] !== MAGIC) {
    throw new CorruptDataError('Not a record batch: bad magic byte or short header', { length: payload.length });
  }
  return { baseOffset: readUint64(payload, 1), count: payload.readUInt32LE(9) };
}

/**
 * Decodes the records of a batch with offsets at or above `fromOffset`, handing each to `take`;
 * `take` returns false to stop. Keys, values and headers are views into `payload`, not copies: a read
 * allocates a fresh buffer for its frames, so the views stay valid (and keep that buffer alive).
 */
export function decodeRecordBatch(
  payload: Buffer,
  topic: string,
  partition: number,
  fromOffset: number,
  take: (record: LogRecord) => boolean,
): void {
  const { baseOffset, count } = readBatchHeader(payload);
  let at = BATCH_HEADER_BYTES;
  try {
    for (let i = 0; i < count; i++) {
      const timestamp = readUint64(payload, at);
      at += 8;
      const keyLength = payload.readInt32LE(at);
      at += 4;
      const key = keyLength < 0 ? null : payload.subarray(at, (at += keyLength));
      const valueLength = payload.readUInt32LE(at);
      at += 4;
      const valueStart = at;
      at += valueLength;
      const headerCount = payload.readUInt16LE(at);
      at += 2;
      const headers: Record<string, Buffer> = headerCount === 0 ? NO_HEADERS : {};
      for (let h = 0; h < headerCount; h++) {
        const nameLength = payload.readUInt16LE(at);
        at += 2;
        const name = payload.toString('utf8', at, (at += nameLength));
        const headerValueLength = payload.readUInt32LE(at);
        at += 4;
        headers[name] = payload.subarray(at, (at += headerValueLength));
      }
      const offset = baseOffset + i;
      if (offset < fromOffset) continue;
      if (at > payload.length) throw new RangeError('record runs past the batch');
      const value = payload.subarray(valueStart, valueStart + valueLength);
      if (!take({ topic, partition, offset, timestamp, key, value, headers })) return;
    }
  } catch (error) {
    if (error instanceof CorruptDataError) throw error;
    // The frame checksum passed, so a decode failure means a bug or a foreign file, not a torn write.
    throw new CorruptDataError(`Record batch at offset ${baseOffset} of ${topic}/${partition} does not decode`, {
      topic,
      partition,
      baseOffset,
      cause: String(error),
    });
  }
}

/** Offsets and timestamps are below 2^53, so two u32 halves hold them without BigInt. */
function writeUint64(buffer: Buffer, value: number, at: number): number {
  buffer.writeUInt32LE(value % 0x1_0000_0000, at);
  buffer.writeUInt32LE(Math.floor(value / 0x1_0000_0000), at + 4);
  return at + 8;
}

function readUint64(buffer: Buffer, at: number): number {
  return buffer.readUInt32LE(at) + buffer.readUInt32LE(at + 4) * 0x1_0000_0000;
}
