import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ConnectionError,
  InvalidArgumentError,
  InvalidTopicError,
  OffsetOutOfRangeError,
  PlatformError,
  TimeoutError,
  UnknownTopicError,
  isRetriable,
} from '../src/index.js';

describe('the error hierarchy', () => {
  it('should carry a code, a retriable flag and context fields', () => {
    const error = new InvalidTopicError('bad topic "a b"', { topic: 'a b' });
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvalidTopicError');
    expect(error.code).toBe('INVALID_TOPIC');
    expect(error.retriable).toBe(false);
    expect(error.context).toEqual({ topic: 'a b' });
    expect(error.toJSON()).toEqual({ name: 'InvalidTopicError', code: 'INVALID_TOPIC', message: 'bad topic "a b"', retriable: false, context: { topic: 'a b' } });
  });

  it('should mark connection failures and time-outs retriable, bad input not', () => {
    expect(isRetriable(new ConnectionError('broker down'))).toBe(true);
    expect(isRetriable(new TimeoutError('slow'))).toBe(true);
    expect(isRetriable(new UnknownTopicError('no topic', {}))).toBe(false);
    expect(isRetriable(new OffsetOutOfRangeError('past the end', { offset: 9 }))).toBe(false);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });

  it('should keep the cause', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new ConnectionError('cannot reach redis', { cause }).cause).toBe(cause);
  });

  it('should list every config issue in one message', () => {
    const error = new ConfigError([
      { path: 'http.port', source: 'env HTTP_PORT="abc"', message: 'expected number' },
      { path: 'eventLog.fsync', source: 'config file c.json', message: 'invalid option' },
    ]);
    expect(error.message).toContain('2 problems');
    expect(error.message).toContain('http.port (env HTTP_PORT="abc"): expected number');
    expect(error.message).toContain('eventLog.fsync (config file c.json): invalid option');
    expect(error.context).toEqual({ fields: ['http.port', 'eventLog.fsync'] });
  });
});
