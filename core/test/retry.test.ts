import { describe, expect, it } from 'vitest';
import { ConnectionError, InvalidArgumentError, retry } from '../src/index.js';

describe('retry', () => {
  describe('when the operation fails with a retriable error and then succeeds', () => {
    it('should try again and return the result', async () => {
      const attempts: number[] = [];
      const result = await retry(
        async (attempt) => {
          attempts.push(attempt);
          if (attempt < 3) throw new ConnectionError('down', { context: { host: 'x' } });
          return 'ok';
        },
        { initialDelayMs: 1, maxDelayMs: 2 },
      );
      expect(result).toBe('ok');
      expect(attempts).toEqual([1, 2, 3]);
    });
  });

  describe('when the error is not retriable', () => {
    it('should throw it after the first attempt', async () => {
      let calls = 0;
      await expect(
        retry(async () => {
          calls += 1;
          throw new InvalidArgumentError('bad', { field: 'x' });
        }, { initialDelayMs: 1 }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(calls).toBe(1);
    });
  });

  describe('when the attempts run out', () => {
    it('should throw the last error after exactly that many attempts', async () => {
      let calls = 0;
      await expect(
        retry(async () => {
          calls += 1;
          throw new ConnectionError(`down ${calls}`);
        }, { attempts: 4, initialDelayMs: 1, maxDelayMs: 1 }),
      ).rejects.toThrow('down 4');
      expect(calls).toBe(4);
    });
  });

  describe('when a custom classifier is given', () => {
    it('should retry what it accepts', async () => {
      let calls = 0;
      const result = await retry(
        async () => {
          calls += 1;
          if (calls === 1) throw Object.assign(new Error('throttled'), { status: 503 });
          return calls;
        },
        { initialDelayMs: 1, isRetriable: (error) => (error as { status?: number }).status === 503 },
      );
      expect(result).toBe(2);
    });
  });
});
