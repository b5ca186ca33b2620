/**
 * Whether a connection may use a partition or a group. A connection that has not authenticated (when
 * the server requires it) is answered like a principal without ACLs on a secured broker: each entry of
 * the API's own response carries TOPIC_/GROUP_AUTHORIZATION_FAILED, so clients report "not authorized"
 * instead of retrying, and nothing is read, written or created.
 */
import { ErrorCode, type ErrorCodeValue } from '../error-codes.js';
import type { HandlerContext } from './handler-context.js';
import { partitionCountOf } from './log-errors.js';

/** For the responses that carry a message next to the error code. */
export const NOT_AUTHENTICATED = 'Not authenticated: this server requires SASL/PLAIN with the platform token as password';

/** TOPIC_AUTHORIZATION_FAILED before authentication, UNKNOWN_TOPIC_OR_PARTITION for a partition the log lacks, else NONE. */
export async function partitionAccessError(context: HandlerContext, topic: string, partition: number): Promise<ErrorCodeValue> {
  if (!context.authenticated) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  const partitions = await partitionCountOf(context, topic);
  if (partitions === undefined || partition < 0 || partition >= partitions) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  return ErrorCode.NONE;
}

/** GROUP_AUTHORIZATION_FAILED before authentication, NOT_COORDINATOR while the server shuts down, else NONE. */
export function groupAccessError(context: HandlerContext): ErrorCodeValue {
  if (!context.authenticated) return ErrorCode.GROUP_AUTHORIZATION_FAILED;
  return context.coordinator.active ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR;
}
