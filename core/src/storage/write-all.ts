import type { FileHandle } from 'node:fs/promises';
import { PlatformError } from '../errors/errors.js';

/**
 * Writes every byte of `buffers` at `position` (or the handle's current position), looping over short
 * writes, which a full disk or a signal can cause.
 */
export async function writeAll(handle: FileHandle, buffers: readonly Buffer[], position?: number): Promise<number> {
  let remaining = buffers.filter((buffer) => buffer.length > 0);
  let written = 0;
  while (remaining.length > 0) {
    const { bytesWritten } = await handle.writev(remaining, position === undefined ? undefined : position + written);
    if (bytesWritten === 0) throw new PlatformError('write made no progress (is the disk full?)', { context: { position: position === undefined ? null : position + written } });
    written += bytesWritten;
    remaining = skipBytes(remaining, bytesWritten);
  }
  return written;
}

function skipBytes(buffers: Buffer[], bytes: number): Buffer[] {
  let skip = bytes;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}
