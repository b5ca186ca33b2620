/**
 * HyperLogLog registers that the speed layer (JS) and the batch layer (DuckDB SQL) compute bit for bit
 * alike: a value's hash is the first 64 bits of the MD5 of its UTF-8 bytes (DuckDB's md5() is the same);
 * the top PRECISION bits pick a register, and the register keeps the largest rank (position of the first
 * 1 bit in the remaining bits, counted from 1). Registers merge by maximum, so states are a monoid and
 * merged sketches equal the sketch of the union exactly.
 */
import { createHash } from 'node:crypto';

export const PRECISION = 12;
export const REGISTER_COUNT = 1 << PRECISION;
const REST_BITS = 64 - PRECISION;
const REST_MASK = (1n << BigInt(REST_BITS)) - 1n;
/** Past this many set registers a sketch is kept as a byte per register: smaller, and faster to merge. */
const SPARSE_LIMIT = 64;
/** 2^-rank, for every rank a register can hold. */
const POWERS = Float64Array.from({ length: REST_BITS + 2 }, (_, rank) => 2 ** -rank);

/** Where `Registers.encode` writes the triples before they become text: room for every register. */
const encoding = new Uint8Array(REGISTER_COUNT * 3);

/**
 * A sketch's registers: a map of the set ones while few are, a byte array of all of them after. Both
 * forms hold the same registers and encode to the same text.
 */
export class Registers {
  private sparse: Map<number, number> | null = new Map();
  private dense: Uint8Array | null = null;
  /**
   * The registers' text (see `encodeRegisters`) since it was last made, until a register changes. The
   * speed layer writes every row a micro-batch touched, yet a sketch's registers rarely rise once its
   * value set has been seen (a rank is the longest run of zero bits so far): most rows written carry
   * the text of the last write again, and making it anew from 4,096 registers was a seventh of the fold.
   * It costs the text's memory (under 17 KB, 5 KB for 1,000 set registers) while the sketch lives.
   */
  private encoded: string | undefined = undefined;

  static fromEntries(entries: Iterable<readonly [number, number]>): Registers {
    const registers = new Registers();
    for (const [index, rank] of entries) registers.raise(index, rank);
    return registers;
  }

  /** How many registers are set. */
  get size(): number {
    if (this.sparse) return this.sparse.size;
    let set = 0;
    for (const rank of this.dense!) if (rank !== 0) set++;
    return set;
  }

  /** Keeps the larger of the register's rank and `rank`. */
  raise(index: number, rank: number): void {
    if (this.dense) {
      if (this.dense[index]! < rank) {
        this.dense[index] = rank;
        this.encoded = undefined;
      }
      return;
    }
    const sparse = this.sparse!;
    if ((sparse.get(index) ?? 0) < rank) {
      sparse.set(index, rank);
      this.encoded = undefined;
    }
    if (sparse.size > SPARSE_LIMIT) this.densify();
  }

  /** Raises every register to `other`'s; `other` is left as it was. */
  merge(other: Registers): void {
    if (other.dense) {
      this.encoded = undefined;
      if (!this.dense) this.densify();
      const into = this.dense!;
      const from = other.dense;
      for (let i = 0; i < REGISTER_COUNT; i++) if (into[i]! < from[i]!) into[i] = from[i]!;
      return;
    }
    for (const [index, rank] of other.sparse!) this.raise(index, rank);
  }

  clone(): Registers {
    const copy = new Registers();
    if (this.dense) {
      copy.sparse = null;
      copy.dense = this.dense.slice();
    } else {
      copy.sparse = new Map(this.sparse);
    }
    copy.encoded = this.encoded;
    return copy;
  }

  /** The registers as `encodeRegisters` writes them. */
  encode(): string {
    if (this.encoded === undefined) {
      const length = this.writeTriples(encoding);
      this.encoded = Buffer.from(encoding.buffer, 0, length).toString('base64');
    }
    return this.encoded;
  }

  /**
   * Writes the set registers as (u16 index, u8 rank) triples sorted by index into `bytes` (room for
   * every register), and returns how many bytes that took: a plain loop over a Uint8Array (pairs of
   * arrays, or writes through a Buffer, cost several times more).
   */
  private writeTriples(bytes: Uint8Array): number {
    let at = 0;
    if (this.sparse) {
      for (const index of [...this.sparse.keys()].sort((a, b) => a - b)) {
        bytes[at] = index >>> 8;
        bytes[at + 1] = index & 0xff;
        bytes[at + 2] = this.sparse.get(index)!;
        at += 3;
      }
      return at;
    }
    const dense = this.dense!;
    for (let index = 0; index < REGISTER_COUNT; index++) {
      const rank = dense[index]!;
      if (rank === 0) continue;
      bytes[at] = index >>> 8;
      bytes[at + 1] = index & 0xff;
      bytes[at + 2] = rank;
      at += 3;
    }
    return at;
  }

  /** The set registers, by index. */
  toArray(): [index: number, rank: number][] {
    if (this.sparse) return [...this.sparse].sort((a, b) => a[0] - b[0]);
    const set: [number, number][] = [];
    this.dense!.forEach((rank, index) => rank !== 0 && set.push([index, rank]));
    return set;
  }

  /**
   * The cardinality estimate, with the linear-counting correction for small sets. The sum runs over a
   * histogram of ranks in rank order, so equal registers give the same estimate in whatever form or
   * order they were built (floating-point addition is not associative).
   */
  estimate(): number {
    const histogram = new Float64Array(POWERS.length);
    if (this.dense) for (const rank of this.dense) histogram[rank]!++;
    else {
      histogram[0] = REGISTER_COUNT - this.sparse!.size;
      for (const rank of this.sparse!.values()) histogram[rank]!++;
    }
    const empty = histogram[0]!;
    if (empty === REGISTER_COUNT) return 0;
    let sum = 0;
    for (let rank = 0; rank < histogram.length; rank++) sum += histogram[rank]! * POWERS[rank]!;
    const m = REGISTER_COUNT;
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && empty > 0) return Math.round(m * Math.log(m / empty));
    return Math.round(raw);
  }

  private densify(): void {
    const dense = new Uint8Array(REGISTER_COUNT);
    for (const [index, rank] of this.sparse!) dense[index] = rank;
    this.dense = dense;
    this.sparse = null;
  }
}

const cache = new Map<string, number>();
const CACHE_LIMIT = 100_000;
/**
 * The last value asked for and its answer: a record's value is added once per window it falls in (ten
 * times for a ten-minute window sliding by the minute) and once per view counting it, so most calls ask
 * for the very same string again, which `===` answers without hashing it for the map.
 */
let lastValue: string | undefined;
let lastPacked = 0;

/** The register index and rank of a value, packed as index * 256 + rank. Cached: values repeat a lot. */
export function registerOf(value: string): number {
  if (value === lastValue) return lastPacked;
  const packed = hashedRegisterOf(value);
  lastValue = value;
  lastPacked = packed;
  return packed;
}

function hashedRegisterOf(value: string): number {
  const cached = cache.get(value);
  if (cached !== undefined) return cached;
  const digest = createHash('md5').update(value, 'utf8').digest();
  const high = digest.readUInt32BE(0);
  const low = digest.readUInt32BE(4);
  const index = high >>> (32 - PRECISION);
  const highRest = high & ((1 << (32 - PRECISION)) - 1);
  let rank: number;
  if (highRest !== 0) rank = Math.clz32(highRest) - PRECISION + 1;
  else if (low !== 0) rank = 32 - PRECISION + Math.clz32(low) + 1;
  else rank = REST_BITS + 1;
  const packed = index * 256 + rank;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(value, packed);
  return packed;
}

export function addValue(registers: Registers, value: string): void {
  const packed = registerOf(value);
  registers.raise(packed >>> 8, packed & 0xff);
}

export function mergeRegisters(into: Registers, from: Registers): void {
  into.merge(from);
}

export function estimate(registers: Registers): number {
  return registers.estimate();
}

/** Sparse encoding: base64 of (u16 index, u8 rank) triples sorted by index, so equal registers give equal text. */
export function encodeRegisters(registers: Registers): string {
  return registers.encode();
}

export function decodeRegisters(text: string): Registers {
  const buffer = Buffer.from(text, 'base64');
  const registers = new Registers();
  for (let at = 0; at + 3 <= buffer.length; at += 3) registers.raise(buffer.readUInt16BE(at), buffer.readUInt8(at + 2));
  return registers;
}

/** SQL computing a row's register index (`i`) and rank (`r`) from the hash column `h` (UBIGINT). */
export function registerSql(hash: string): { index: string; rank: string } {
  const rest = `(${hash} & ${REST_MASK}::UBIGINT)`;
  return {
    index: `CAST(${hash} >> ${REST_BITS} AS INTEGER)`,
    rank: `CAST(CASE WHEN ${rest} = 0 THEN ${REST_BITS + 1} ELSE ${REST_BITS} - length(bin(${rest})) + 1 END AS INTEGER)`,
  };
}

/** SQL for the 64-bit hash of a string expression: the first 16 hex digits of its MD5. */
export function hashSql(value: string): string {
  return `CAST('0x' || substr(md5(${value}), 1, 16) AS UBIGINT)`;
}
