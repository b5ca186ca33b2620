/**
 * Checksummed frames: the one on-disk unit of every append-only file the embedded adapters write
 * (log segments, the consumer-offsets journal, the view-store journal).
 *
 *   [u32 payload length][u32 CRC-32 of payload][payload]
 *
 * A crash can leave the last frame half written. Recovery scans frames from the start and stops at the
 * first one that is short or fails its checksum: everything before it was written whole, so the file is
 * truncated there. Acknowledged data is never in a torn frame, because a write is acknowledged only once
 * the whole frame is written.
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { CorruptDataError } from '../errors/errors.js';

export const FRAME_HEADER_BYTES = 8;
/** A length field larger than this is garbage from a torn write, not a frame. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

export function frameHeader(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return header;
}

export function encodeFrame(payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload), payload]);
}

export interface FrameVisit {
  /** File position of the frame's header. */
  position: number;
  /** Total bytes of the frame, header included. */
  length: number;
  payload: Buffer;
}

export interface FrameScanResult {
  /** Position just after the last whole, valid frame visited. */
  validEnd: number;
  /** Whether the scan stopped at a short or corrupt frame before `end`. */
  stoppedAtInvalid: boolean;
}

/**
 * Visits the frames of a file from `start` up to `end`. `visit` returns false to stop early.
 *
 * With `onInvalid: 'stop'` (recovery) a bad frame ends the scan and is reported in the result; with
 * `'throw'` (normal reads of data known to be whole) it is a CorruptDataError.
 */
export async function scanFrames(
  handle: FileHandle,
  start: number,
  end: number,
  visit: (frame: FrameVisit) => boolean | void,
  options: { onInvalid: 'stop' | 'throw'; file: string; chunkBytes?: number },
): Promise<FrameScanResult> {
  const chunkBytes = Math.max(options.chunkBytes ?? READ_CHUNK_BYTES, FRAME_HEADER_BYTES);
  let chunk = Buffer.alloc(0);
  let chunkStart = start;
  let position = start;

  const invalid = (reason: string): FrameScanResult => {
    if (options.onInvalid === 'throw') {
      throw new CorruptDataError(`Corrupt frame in ${options.file} at byte ${position}: ${reason}`, {
        file: options.file,
        position,
      });
    }
    return { validEnd: position, stoppedAtInvalid: true };
  };

  // Makes chunk hold at least `bytes` bytes from `position`, unless the file ends first.
  const ensure = async (bytes: number): Promise<boolean> => {
    const offsetInChunk = position - chunkStart;
    if (chunk.length - offsetInChunk >= bytes) return true;
    const want = Math.min(Math.max(bytes, chunkBytes), end - position);
    if (want < bytes) return false;
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buffer, 0, want, position);
    chunk = buffer.subarray(0, bytesRead);
    chunkStart = position;
    return bytesRead >= bytes;
  };

  while (position < end) {
    if (!(await ensure(FRAME_HEADER_BYTES))) return invalid('short frame header');
    const at = position - chunkStart;
    const length = chunk.readUInt32LE(at);
    const checksum = chunk.readUInt32LE(at + 4);
    if (length === 0 || length > MAX_FRAME_BYTES) return invalid(`impossible payload length ${length}`);
    if (!(await ensure(FRAME_HEADER_BYTES + length))) return invalid('short frame payload');
    const from = position - chunkStart + FRAME_HEADER_BYTES;
    const payload = chunk.subarray(from, from + length);
    if (crc32(payload) !== checksum) return invalid('checksum mismatch');
    const frame = { position, length: FRAME_HEADER_BYTES + length, payload };
    position += frame.length;
    if (visit(frame) === false) break;
  }
  return { validEnd: position, stoppedAtInvalid: false };
}
