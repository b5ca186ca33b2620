/**
 * SASL/PLAIN: SaslHandshake (v0-v1) agrees on the mechanism, then the client sends its PLAIN token
 * (authzid NUL username NUL password, RFC 4616), whose password must be the server's secret. After a
 * v1 handshake the token comes in SaslAuthenticate (v0-v2; kafkajs, librdkafka); after a v0 handshake
 * it comes as a bare size-prefixed frame with no request header and is answered with a bare empty frame
 * (clients that predate SaslAuthenticate). Any failure is answered, then the connection is closed, as
 * Kafka closes it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiKey, isFlexible } from '../api-versions.js';
import { ErrorCode, type ErrorCodeValue } from '../error-codes.js';
import type { ApiHandler, HandlerContext, SaslPlainCredentials } from './handler-context.js';

const PLAIN = 'PLAIN';
/** Kafka's own answer: which of the two was wrong is not told. */
const AUTHENTICATION_FAILED = 'Authentication failed: Invalid username or password';

export const handleSaslHandshake: ApiHandler = async (request, version, response, context) => {
  const mechanism = request.string();
  const enabledMechanisms = context.auth ? [PLAIN] : [];
  let errorCode: ErrorCodeValue = ErrorCode.NONE;
  if (enabledMechanisms.includes(mechanism)) {
    context.saslStep = version === 0 ? 'raw-token' : 'authenticate';
  } else {
    errorCode = ErrorCode.UNSUPPORTED_SASL_MECHANISM;
    refuse(context, `mechanism ${JSON.stringify(mechanism)} is not enabled`, { mechanism, enabledMechanisms });
  }
  response.int16(errorCode).array(enabledMechanisms, (writer, name) => writer.string(name));
  return true;
};

export const handleSaslAuthenticate: ApiHandler = async (request, version, response, context) => {
  const flexible = isFlexible(ApiKey.SaslAuthenticate, version);
  const token = flexible ? request.compactBytes() : request.bytes();
  if (flexible) request.skipTaggedFields();
  let errorCode: ErrorCodeValue = ErrorCode.NONE;
  let message: string | null = null;
  if (context.saslStep !== 'authenticate') {
    errorCode = ErrorCode.ILLEGAL_SASL_STATE;
    message = 'SaslAuthenticate must follow a SaslHandshake v1 with mechanism PLAIN';
    refuse(context, message);
  } else if (!authenticate(context, token)) {
    errorCode = ErrorCode.SASL_AUTHENTICATION_FAILED;
    message = AUTHENTICATION_FAILED;
  }
  response.int16(errorCode);
  if (flexible) response.compactNullableString(message).compactBytes(Buffer.alloc(0));
  else response.nullableString(message).bytes(Buffer.alloc(0));
  if (version >= 1) response.int64(0); // session_lifetime_ms: sessions never expire, so clients never re-authenticate
  if (flexible) response.noTaggedFields();
  return true;
};

/** The bare token after a v0 handshake: resolves with the bare empty answer, or null when the connection is to close. */
export function handleRawSaslToken(token: Buffer, context: HandlerContext): Buffer | null {
  return authenticate(context, token) ? Buffer.alloc(4) : null;
}

/** Checks a PLAIN token; marks the connection authenticated, or logs why not and has it closed. */
function authenticate(context: HandlerContext, token: Buffer): boolean {
  const plain = parsePlainToken(token);
  const reason = plain === null ? 'malformed PLAIN token' : context.auth ? mismatch(plain, context.auth) : 'authentication is not enabled';
  if (reason !== null) {
    refuse(context, reason, { username: plain?.username });
    return false;
  }
  context.authenticated = true;
  context.saslStep = 'handshake';
  context.logger.debug({ client: context.clientId, clientHost: context.clientHost, username: plain!.username }, 'SASL/PLAIN authenticated');
  return true;
}

interface PlainToken {
  authorizationId: string;
  username: string;
  password: Buffer;
}

/** authzid NUL authcid NUL passwd, or null when the token has another shape. */
function parsePlainToken(token: Buffer): PlainToken | null {
  const first = token.indexOf(0);
  const second = first < 0 ? -1 : token.indexOf(0, first + 1);
  if (second < 0 || token.indexOf(0, second + 1) >= 0) return null;
  return { authorizationId: token.toString('utf8', 0, first), username: token.toString('utf8', first + 1, second), password: token.subarray(second + 1) };
}

/** Why the token does not match the credentials (for the log, never for the client), or null when it does. */
function mismatch(plain: PlainToken, expected: SaslPlainCredentials): string | null {
  if (plain.username === '') return 'empty username';
  // As Kafka's PLAIN server: acting as another identity than the one authenticated is not allowed.
  if (plain.authorizationId !== '' && plain.authorizationId !== plain.username) return 'authorization id differs from the username';
  if (expected.username !== undefined && plain.username !== expected.username) return 'unknown username';
  if (!sameSecret(plain.password, Buffer.from(expected.secret, 'utf8'))) return 'wrong password';
  return null;
}

/** Compares digests rather than the secrets: timingSafeEqual needs equal lengths, and the length is not leaked either. */
function sameSecret(given: Buffer, expected: Buffer): boolean {
  const digest = (value: Buffer) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** One log line per failed authentication; the answer being written is the connection's last. */
function refuse(context: HandlerContext, reason: string, details: Record<string, unknown> = {}): void {
  context.logger.warn({ client: context.clientId, clientHost: context.clientHost, reason, ...details }, 'SASL authentication failed: closing the connection');
  context.closeAfterResponse = true;
}
