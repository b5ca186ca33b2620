import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../src/index.js';

describe('murmur2', () => {
  // The vectors of Apache Kafka's UtilsTest.testMurmur2 (Java signed ints), and more lengths.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
    ['', 275646681],
    ['string-f-24-chars-length', 124730809],
    ['string-fo-25-chars-length', 1269511650],
    ['string-foo-26-chars-length', 119165628],
    ['string-last-27-chars-length', 1089971754],
  ])('should hash %j as Kafka does', (input, expected) => {
    expect(murmur2(Buffer.from(input))).toBe(expected);
  });
});

describe('partitionForKey', () => {
  it('should place a key as the Java client does: positive hash modulo the partition count', () => {
    expect(partitionForKey(Buffer.from('foobar'), 50)).toBe(16);
    expect(partitionForKey(Buffer.from('foobar'), 50)).toBe((-790332482 & 0x7fffffff) % 50);
  });

  it('should always land inside the topic', () => {
    for (let i = 0; i < 1000; i++) {
      const partition = partitionForKey(Buffer.from(`key-${i}`), 7);
      expect(partition).toBeGreaterThanOrEqual(0);
      expect(partition).toBeLessThan(7);
    }
  });
});
