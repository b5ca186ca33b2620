import { InvalidObjectKeyError } from '../../errors/errors.js';

const MAX_KEY_BYTES = 1024;

/**
 * The keys every lake adapter accepts: S3's limit of 1024 UTF-8 bytes, '/'-separated segments, and
 * nothing a file system would read as a path trick (empty, '.' or '..' segments, a leading '/', a
 * backslash, control characters). Segments starting with '.lake' are reserved for adapters.
 */
export function validateObjectKey(key: unknown): string {
  const fail = (why: string): never => {
    throw new InvalidObjectKeyError(`Invalid object key ${JSON.stringify(key)}: ${why}`, { key });
  };
  if (typeof key !== 'string' || key.length === 0) return fail('must be a non-empty string');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) fail(`must be at most ${MAX_KEY_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(key)) fail('must not contain control characters or backslashes');
  for (const segment of key.split('/')) {
    if (segment === '') fail("must not start or end with '/' or contain '//'");
    if (segment === '.' || segment === '..') fail("must not contain '.' or '..' segments");
    if (segment.startsWith('.lake')) fail("segments starting with '.lake' are reserved");
  }
  return key;
}

/** A prefix is a key's beginning: it may be empty or end with '/', but obeys the same rules otherwise. */
export function validateObjectPrefix(prefix: unknown): string {
  if (prefix === '') return prefix;
  if (typeof prefix !== 'string') {
    throw new InvalidObjectKeyError(`Invalid prefix ${JSON.stringify(prefix)}: must be a string`, { prefix });
  }
  validateObjectKey(prefix.endsWith('/') ? `${prefix}x` : prefix);
  return prefix;
}
