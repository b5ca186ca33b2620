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

/** Register index → rank; absent registers are 0. */
export type Registers = Map<number, number>;

const cache = new Map<string, number>();
const CACHE_LIMIT = 100_000;

/** The register index and rank of a value, packed as index * 256 + rank. Cached: values repeat a lot. */
export function registerOf(value: string): number {
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
  const index = Math.floor(packed / 256);
  const rank = packed % 256;
  if ((registers.get(index) ?? 0) < rank) registers.set(index, rank);
}

export function mergeRegisters(into: Registers, from: Registers): void {
  for (const [index, rank] of from) if ((into.get(index) ?? 0) < rank) into.set(index, rank);
}

/** The cardinality estimate, with the linear-counting correction for small sets. */
export function estimate(registers: Registers): number {
  if (registers.size === 0) return 0;
  const m = REGISTER_COUNT;
  let sum = m - registers.size; // each empty register adds 2^-0
  for (const rank of registers.values()) sum += 2 ** -rank;
  const alpha = 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  const empty = m - registers.size;
  if (raw <= 2.5 * m && empty > 0) return Math.round(m * Math.log(m / empty));
  return Math.round(raw);
}

/** Sparse encoding: base64 of (u16 index, u8 rank) triples sorted by index, so equal registers give equal text. */
export function encodeRegisters(registers: Registers): string {
  const indexes = [...registers.keys()].sort((a, b) => a - b);
  const buffer = Buffer.allocUnsafe(indexes.length * 3);
  indexes.forEach((index, i) => {
    buffer.writeUInt16BE(index, i * 3);
    buffer.writeUInt8(registers.get(index)!, i * 3 + 2);
  });
  return buffer.toString('base64');
}

export function decodeRegisters(text: string): Registers {
  const buffer = Buffer.from(text, 'base64');
  const registers: Registers = new Map();
  for (let at = 0; at + 3 <= buffer.length; at += 3) registers.set(buffer.readUInt16BE(at), buffer.readUInt8(at + 2));
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
