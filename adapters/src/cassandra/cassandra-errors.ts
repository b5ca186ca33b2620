/**
 * Driver errors mapped onto the platform's hierarchy, so callers decide on retries and HTTP statuses from
 * `retriable` and the class, as for every other adapter. A cluster that cannot be reached, is overloaded or
 * answers too late may succeed next time (ConnectionError, TimeoutError); a refused statement, bad
 * credentials or bad arguments will not.
 */
import { errors, types } from 'cassandra-driver';
import { ConnectionError, InvalidArgumentError, PlatformError, TimeoutError } from '@lambda/core';

const codes = types.responseErrorCodes;

/** Server answers that say the cluster could not serve the request now, not that the request is wrong. */
const UNAVAILABLE_CODES = new Set<number>([
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.serverError,
  codes.truncateError,
  codes.readFailure,
  codes.writeFailure,
]);
const TIMEOUT_CODES = new Set<number>([codes.readTimeout, codes.writeTimeout]);

/** `error` as a PlatformError; `operation` says what was being done, for the message and context. */
export function mapCassandraError(error: unknown, operation: string): PlatformError {
  if (error instanceof PlatformError) return error;
  const context = { operation };
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.NoHostAvailableError) {
    const hosts = Object.entries(error.innerErrors ?? {}).map(([host, inner]) => `${host}: ${(inner as Error)?.message ?? String(inner)}`);
    return new ConnectionError(`Cassandra is unreachable (${operation}): ${hosts.length > 0 ? hosts.join('; ') : message}`, {
      cause: error,
      context: { ...context, hosts: Object.keys(error.innerErrors ?? {}) },
    });
  }
  if (error instanceof errors.OperationTimedOutError) {
    return new TimeoutError(`Cassandra did not answer in time (${operation}): ${message}`, { cause: error, context: { ...context, host: error.host } });
  }
  if (error instanceof errors.BusyConnectionError) {
    return new ConnectionError(`Cassandra connections are all busy (${operation}): ${message}`, { cause: error, context });
  }
  if (error instanceof errors.ResponseError) {
    const withCode = { ...context, cassandraCode: error.code };
    if (TIMEOUT_CODES.has(error.code)) return new TimeoutError(`Cassandra timed out (${operation}): ${message}`, { cause: error, context: withCode });
    if (UNAVAILABLE_CODES.has(error.code)) {
      return new ConnectionError(`Cassandra could not serve the request (${operation}): ${message}`, { cause: error, context: withCode });
    }
    return new PlatformError(`Cassandra refused the request (${operation}): ${message}`, { cause: error, context: withCode, retriable: false });
  }
  if (error instanceof errors.AuthenticationError) {
    return new PlatformError(`Cassandra refused the credentials (${operation}): ${message}`, { cause: error, context, retriable: false });
  }
  if (error instanceof errors.ArgumentError) {
    return new InvalidArgumentError(`Invalid argument for Cassandra (${operation}): ${message}`, context);
  }
  return new PlatformError(`Cassandra request failed (${operation}): ${message}`, { cause: error, context, retriable: false });
}
