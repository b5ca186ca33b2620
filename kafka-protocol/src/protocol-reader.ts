/**
 * Reads the Kafka protocol's primitive types from a request buffer. Every read is bounds-checked and a
 * short or inconsistent buffer throws MalformedFrameError, so a hostile frame can only close its own
 * connection.
 */
import { PlatformError } from '@lambda/core';

/** A request the server cannot parse: its connection is closed, nothing else is affected. */
export class MalformedFrameError extends PlatformError {
  override readonly code = 'MALFORMED_FRAME';
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { context, retriable: false });
  }
}

/** Arrays longer than this in one request are treated as malformed, not allocated. */
const MAX_ARRAY_LENGTH = 1_000_000;

export class ProtocolReader {
  private position: number;

  constructor(
    private readonly buffer: Buffer,
    offset = 0,
  ) {
    this.position = offset;
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.buffer.length - this.position;
  }

  private take(bytes: number): number {
    if (bytes < 0 || this.position + bytes > this.buffer.length) {
      throw new MalformedFrameError(`Truncated request: needed ${bytes} bytes at ${this.position} of ${this.buffer.length}`);
    }
    const at = this.position;
    this.position += bytes;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.take(1));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.take(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }
  uint32(): number {
    return this.buffer.readUInt32BE(this.take(4));
  }
  /** int64 as a number: offsets, timestamps and producer ids stay far below 2^53 here. */
  int64(): number {
    return Number(this.buffer.readBigInt64BE(this.take(8)));
  }
  boolean(): boolean {
    return this.int8() !== 0;
  }

  string(): string {
    const length = this.int16();
    if (length < 0) throw new MalformedFrameError(`Negative string length ${length}`);
    return this.utf8(length);
  }
  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    return this.utf8(length);
  }
  bytes(): Buffer {
    const length = this.int32();
    if (length < 0) throw new MalformedFrameError(`Negative bytes length ${length}`);
    return this.raw(length);
  }
  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    return this.raw(length);
  }
  /** Flexible versions' bytes: an unsigned varint of length + 1, then the bytes. */
  compactBytes(): Buffer {
    const lengthPlusOne = this.unsignedVarint();
    if (lengthPlusOne === 0) throw new MalformedFrameError('Null compact bytes where bytes are required');
    return this.raw(lengthPlusOne - 1);
  }
  raw(length: number): Buffer {
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }

  array<T>(readItem: (reader: ProtocolReader) => T): T[] {
    const length = this.int32();
    if (length < 0) return [];
    return this.items(length, readItem);
  }
  /** Null (-1) stays null: Metadata uses it for "every topic". */
  nullableArray<T>(readItem: (reader: ProtocolReader) => T): T[] | null {
    const length = this.int32();
    if (length < 0) return null;
    return this.items(length, readItem);
  }

  varint(): number {
    const raw = this.unsignedVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }
  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buffer.readUInt8(this.take(1));
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
    throw new MalformedFrameError('Varint longer than 5 bytes');
  }
  varlong(): number {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.buffer.readUInt8(this.take(1));
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return Number((value >> 1n) ^ -(value & 1n));
    }
    throw new MalformedFrameError('Varlong longer than 10 bytes');
  }
  /** Skips a flexible version's tagged fields: only their sizes matter here. */
  skipTaggedFields(): void {
    const count = this.unsignedVarint();
    for (let i = 0; i < count; i++) {
      this.unsignedVarint();
      this.raw(this.unsignedVarint());
    }
  }

  private utf8(length: number): string {
    const at = this.take(length);
    return this.buffer.toString('utf8', at, at + length);
  }

  private items<T>(length: number, readItem: (reader: ProtocolReader) => T): T[] {
    // Each item takes at least one byte, so a count past the bytes left is a lie, not an allocation.
    if (length > MAX_ARRAY_LENGTH || length > this.remaining) {
      throw new MalformedFrameError(`Array of ${length} items does not fit in the ${this.remaining} bytes left`);
    }
    const items: T[] = [];
    for (let i = 0; i < length; i++) items.push(readItem(this));
    return items;
  }
}
