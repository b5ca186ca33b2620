/** Writes the Kafka protocol's primitive types into a growing buffer. */
export class ProtocolWriter {
  private buffer: Buffer;
  private position = 0;

  constructor(initialSize = 256) {
    this.buffer = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.position;
  }

  private reserve(bytes: number): number {
    if (this.position + bytes > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
      this.buffer.copy(grown, 0, 0, this.position);
      this.buffer = grown;
    }
    const at = this.position;
    this.position += bytes;
    return at;
  }

  int8(value: number): this {
    const at = this.reserve(1);
    this.buffer.writeInt8(value, at);
    return this;
  }
  int16(value: number): this {
    const at = this.reserve(2);
    this.buffer.writeInt16BE(value, at);
    return this;
  }
  int32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeInt32BE(value, at);
    return this;
  }
  uint32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeUInt32BE(value >>> 0, at);
    return this;
  }
  int64(value: number): this {
    const at = this.reserve(8);
    this.buffer.writeBigInt64BE(BigInt(value), at);
    return this;
  }
  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }
  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    this.int16(bytes.length);
    return this.raw(bytes);
  }
  nullableString(value: string | null | undefined): this {
    if (value === null || value === undefined) return this.int16(-1);
    return this.string(value);
  }
  bytes(value: Buffer): this {
    this.int32(value.length);
    return this.raw(value);
  }
  nullableBytes(value: Buffer | null | undefined): this {
    if (value === null || value === undefined) return this.int32(-1);
    return this.bytes(value);
  }
  /** Flexible versions' strings and bytes: an unsigned varint of length + 1 (0 for null), then the bytes. */
  compactNullableString(value: string | null): this {
    if (value === null) return this.unsignedVarint(0);
    return this.compactBytes(Buffer.from(value, 'utf8'));
  }
  compactBytes(value: Buffer): this {
    this.unsignedVarint(value.length + 1);
    return this.raw(value);
  }
  /** A flexible version's tagged-field section with no fields. */
  noTaggedFields(): this {
    return this.unsignedVarint(0);
  }
  raw(value: Buffer): this {
    const at = this.reserve(value.length);
    value.copy(this.buffer, at);
    return this;
  }
  array<T>(items: readonly T[], writeItem: (writer: this, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) writeItem(this, item);
    return this;
  }
  varint(value: number): this {
    return this.unsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }
  unsignedVarint(value: number): this {
    let rest = value >>> 0;
    while (rest >= 0x80) {
      const at = this.reserve(1);
    this.buffer.writeUInt8((rest & 0x7f) | 0x80, at);
      rest >>>= 7;
    }
    const at = this.reserve(1);
    this.buffer.writeUInt8(rest, at);
    return this;
  }
  varlong(value: number): this {
    let rest = (BigInt(value) << 1n) ^ (BigInt(value) >> 63n);
    rest = BigInt.asUintN(64, rest);
    while (rest >= 0x80n) {
      const at = this.reserve(1);
    this.buffer.writeUInt8(Number(rest & 0x7fn) | 0x80, at);
      rest >>= 7n;
    }
    const at = this.reserve(1);
    this.buffer.writeUInt8(Number(rest), at);
    return this;
  }

  /** Starts over, keeping the allocated buffer. */
  reset(): this {
    this.position = 0;
    return this;
  }

  /** The bytes written so far (a view, not a copy). */
  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.position);
  }
}
