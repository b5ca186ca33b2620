/**
 * An HTTP proxy in front of a server (s3rver) that injects faults on demand: it can answer the next N
 * requests with a server error (an S3-style XML error body), or hold them without an answer, past any
 * client timeout, or cut their answers off partway through the body. Every request is counted and logged,
 * answered by the server or not.
 */
import { createServer, request as forward, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** The path and query, e.g. `/bucket/key?partNumber=2&uploadId=...`. */
  url: string;
  /** What the proxy did with it. */
  outcome: 'forwarded' | 'failed' | 'hung' | 'cut';
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Every request received so far, in order. */
  readonly requests: readonly ProxiedRequest[];
  /**
   * Answers the next `count` requests with `status` and S3 error `code` (by default S3's code for the
   * status: InternalError for 500, ServiceUnavailable for 503...), without forwarding them.
   */
  failNext(count: number, status?: number, code?: string): void;
  /** Answers every request with `status` until `heal()`. */
  failAlways(status?: number): void;
  /** Holds the next `count` requests without ever answering them. */
  hangNext(count: number): void;
  /** Forwards the next `count` requests, but drops the connection after `afterBytes` bytes of each answer's body. */
  cutNext(count: number, afterBytes: number): void;
  /** Forwards every request again. */
  heal(): void;
  /** Forgets the requests received so far. */
  resetCount(): void;
  close(): Promise<void>;
}

const S3_CODES: Record<number, string> = { 500: 'InternalError', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout' };

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let failures = 0;
  let failStatus = 503;
  let failCode: string | undefined;
  let failForever = false;
  let hangs = 0;
  let cuts = 0;
  let cutAfterBytes = 0;

  const answerWithError = (request: IncomingMessage, response: ServerResponse, status: number): void => {
    // Read the body first, as a server would, so the client is not cut off mid-upload.
    request.resume();
    request.on('end', () => {
      const code = failCode ?? S3_CODES[status] ?? 'ServiceUnavailable';
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected fault</Message><RequestId>fault-proxy</RequestId></Error>`;
      response.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    });
  };

  const server: Server = createServer((request, response) => {
    const entry: ProxiedRequest = { method: request.method ?? 'GET', url: request.url ?? '/', outcome: 'forwarded' };
    requests.push(entry);
    if (hangs > 0) {
      hangs--;
      entry.outcome = 'hung';
      request.resume(); // swallow the body and never answer
      return;
    }
    if (failForever || failures > 0) {
      if (!failForever) failures--;
      entry.outcome = 'failed';
      answerWithError(request, response, failStatus);
      return;
    }
    const cutAfter = cuts > 0 ? cutAfterBytes : undefined;
    if (cutAfter !== undefined) {
      cuts--;
      entry.outcome = 'cut';
    }
    const outgoing = forward(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        if (cutAfter === undefined) {
          answer.pipe(response);
          return;
        }
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          const part = chunk.subarray(0, Math.max(0, cutAfter - sent));
          sent += part.length;
          if (part.length > 0) response.write(part);
          if (sent >= cutAfter) {
            answer.destroy();
            // Flush what was written, then drop the connection mid-body.
            response.socket?.end(() => response.socket?.destroy());
          }
        });
      },
    );
    outgoing.on('error', () => response.destroy());
    request.pipe(outgoing);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    failNext(count, status = 503, code) {
      failures = count;
      failStatus = status;
      failCode = code;
    },
    failAlways(status = 503) {
      failForever = true;
      failStatus = status;
      failCode = undefined;
    },
    hangNext(count) {
      hangs = count;
    },
    cutNext(count, afterBytes) {
      cuts = count;
      cutAfterBytes = afterBytes;
    },
    heal() {
      failures = 0;
      hangs = 0;
      cuts = 0;
      failForever = false;
    },
    resetCount() {
      requests.length = 0;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
