/**
 * Requests Node's HTTP parser refuses before Express sees them: a request line and headers over
 * `MAX_HEADER_BYTES` (a long query string, most often), a malformed request line or header. Node answers
 * those with a bare status line and no body, then resets the connection, so a client gets neither the
 * documented JSON error nor, often, any answer at all. Here they get the API's error body (431 or 400),
 * with a length, and the connection is closed only once the client is done sending. (Node's other refusals,
 * 408 and 413, get the error body too.)
 */
import { maxHeaderSize, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from './error-handler.js';

/** The most bytes of request line and headers a request may have: Node's, 16 KiB unless `--max-http-header-size` says otherwise. */
export const MAX_HEADER_BYTES = maxHeaderSize;
/** How long a refused client may keep sending before its connection is dropped. */
const LINGER_MS = 2000;

/** The status and JSON body a refused request is answered with: Node's own statuses, with the API's error body. */
export function clientErrorAnswer(error: NodeJS.ErrnoException): { status: number; reason: string; body: ErrorBody } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': {
      const message = `The request line and headers are over ${Math.floor(MAX_HEADER_BYTES / 1024)} KiB: shorten the URL (fewer keys, a shorter value), or send a long SQL statement with POST /query`;
      return { status: 431, reason: 'Request Header Fields Too Large', body: { error: { code: 'HEADERS_TOO_LARGE', message, context: { maxHeaderBytes: MAX_HEADER_BYTES } } } };
    }
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, reason: 'Payload Too Large', body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'The chunk extensions of the body are too large' } } };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', body: { error: { code: 'REQUEST_TIMEOUT', message: 'The request was not received in time' } } };
    default:
      return { status: 400, reason: 'Bad Request', body: { error: { code: 'BAD_REQUEST', message: `The request is not valid HTTP/1.1: ${error.message.replace(/^Parse Error: /, '')}` } } };
  }
}

/** Answers the requests Node's HTTP parser refuses on `server` with the API's JSON error bodies. */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Answered at the first report: the parser reports every later chunk of the connection too.
    if (socket.writableEnded) return;
    // As Node does: a response of this connection (keep-alive) whose head is out already would be corrupted
    // by another; a connection error (ECONNRESET...) has no one left to answer.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    const refused = error.code?.startsWith('HPE_') === true || error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (!refused || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const { status, reason, body } = clientErrorAnswer(error);
    const text = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
    // Closing with unread bytes would reset the connection and could lose the answer: read the rest of
    // what the client sends, and drop the connection once it stops (or after LINGER_MS).
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
}
