/**
 * A map from pair-stream keys to values where keys are compared by value, not identity, so `['a', 1]`
 * built twice is one key, as in Spark. Entries keep the order keys were first seen.
 */

/** Distinct encodings for distinct values of any JSON-like key: 1 and '1' stay apart. */
export function encodeKey(key: unknown): string {
  switch (typeof key) {
    case 'string':
      return `s${key}`;
    case 'number':
      return `n${key}`;
    case 'boolean':
      return key ? 'T' : 'F';
    case 'undefined':
      return 'u';
    case 'bigint':
      return `b${key}`;
    default:
      return key === null ? 'l' : `j${JSON.stringify(key)}`;
  }
}

export class KeyedMap<K, V> {
  private readonly entries = new Map<string, { key: K; value: V }>();

  static from<K, V>(pairs: Iterable<readonly [K, V]>): KeyedMap<K, V> {
    const map = new KeyedMap<K, V>();
    for (const [key, value] of pairs) map.set(key, value);
    return map;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(encodeKey(key))?.value;
  }

  has(key: K): boolean {
    return this.entries.has(encodeKey(key));
  }

  set(key: K, value: V): void {
    const encoded = encodeKey(key);
    const entry = this.entries.get(encoded);
    if (entry) entry.value = value;
    else this.entries.set(encoded, { key, value });
  }

  delete(key: K): void {
    this.entries.delete(encodeKey(key));
  }

  /** Folds `value` into the key's value with `combine`, or sets it for a new key. */
  merge(key: K, value: V, combine: (current: V, value: V) => V): void {
    const encoded = encodeKey(key);
    const entry = this.entries.get(encoded);
    if (entry) entry.value = combine(entry.value, value);
    else this.entries.set(encoded, { key, value });
  }

  *[Symbol.iterator](): IterableIterator<[K, V]> {
    for (const { key, value } of this.entries.values()) yield [key, value];
  }

  toPairs(): [K, V][] {
    return [...this];
  }

  clone(): KeyedMap<K, V> {
    return KeyedMap.from(this);
  }
}
