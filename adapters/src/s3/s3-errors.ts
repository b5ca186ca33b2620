/**
 * S3's failures as platform errors: what a retry may cure (server errors, throttling, timeouts, dropped
 * connections) becomes a retriable ConnectionError or TimeoutError, a missing object an
 * ObjectNotFoundError, and the rest a non-retriable PlatformError. Each carries the bucket, key and HTTP
 * status, and S3's own error code, so callers and logs never parse messages.
 */
import { ConnectionError, InvalidObjectKeyError, NotFoundError, ObjectNotFoundError, PlatformError, TimeoutError } from '@lambda/core';

/** What a failed request was about, for the error's context. */
export interface S3ErrorContext {
  operation: string;
  bucket: string;
  key?: string | undefined;
}

const RETRIABLE_STATUSES = new Set([500, 502, 503, 504]);
const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
]);
/** S3's own "you were too slow" answers: the request may succeed on a fresh connection. */
const SERVER_TIMEOUT_CODES = new Set(['RequestTimeout', 'RequestTimeoutException']);
const CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

/** The HTTP status of an SDK error, when a response arrived. */
export function statusOf(error: unknown): number | undefined {
  const shape = error as SdkErrorShape | undefined;
  return shape?.$metadata?.httpStatusCode ?? shape?.$response?.statusCode;
}

export function toPlatformError(error: unknown, context: S3ErrorContext): unknown {
  if (error instanceof PlatformError) return error;
  if (!(error instanceof Error)) return error;
  const shape = error as SdkErrorShape;
  if (shape.name === 'AbortError') return error; // the caller's own cancellation: not S3's failure
  const status = statusOf(error);
  const s3Code = shape.name && shape.name !== 'Error' && shape.name !== 'S3ServiceException' ? shape.name : undefined;
  const where = `${context.operation} s3://${context.bucket}/${context.key ?? ''}`;
  const fields = { bucket: context.bucket, key: context.key, status, s3Code, operation: context.operation };
  const options = { context: fields, cause: error };

  if (shape.code && CONNECTION_CODES.has(shape.code)) return new ConnectionError(`${where}: connection failed (${shape.code})`, options);
  if (shape.name === 'TimeoutError' || shape.code === 'ETIMEDOUT') return new TimeoutError(`${where}: timed out (${error.message})`, options);
  if (s3Code === 'NoSuchBucket' || (context.key === undefined && (status === 404 || (s3Code && NOT_FOUND_CODES.has(s3Code))))) {
    return new NotFoundError(`${where}: the bucket "${context.bucket}" does not exist`, fields);
  }
  if (status === 404 || (s3Code && NOT_FOUND_CODES.has(s3Code))) {
    return new ObjectNotFoundError(`No object "${context.key}" in the lake (s3://${context.bucket})`, fields);
  }
  if (s3Code === 'KeyTooLongError') return new InvalidObjectKeyError(`${where}: the key is too long for S3`, fields);
  if (status === 429 || (s3Code && THROTTLING_CODES.has(s3Code))) {
    return new ConnectionError(`${where}: throttled by S3 (${s3Code ?? status})`, options);
  }
  if (s3Code && SERVER_TIMEOUT_CODES.has(s3Code)) return new TimeoutError(`${where}: S3 timed the request out (${s3Code})`, options);
  if (status !== undefined && RETRIABLE_STATUSES.has(status)) {
    return new ConnectionError(`${where}: S3 answered ${status}${s3Code ? ` ${s3Code}` : ''}`, options);
  }
  if (status === undefined && /^E[A-Z]+$/.test(shape.code ?? '')) {
    // Some other system error before any response: a transport failure, worth retrying.
    return new ConnectionError(`${where}: ${error.message}`, options);
  }
  if (status === undefined) return new PlatformError(`${where}: ${error.message}`, options);
  return new PlatformError(`${where}: S3 answered ${status}${s3Code ? ` ${s3Code}` : ''}: ${error.message}`, options);
}
