/**
 * Serves an event log over the Kafka wire protocol on a TCP port, so Kafka clients (kafkajs, librdkafka,
 * kcat) produce to and consume from it. A front on the same storage: topics, partitions, offsets and
 * committed group offsets are the log's own; only group membership and idempotent-producer state are
 * kept, in memory. One broker (node 0) leads every partition and coordinates every group.
 *
 * Requests on one connection are handled one at a time, in order, as a Kafka broker does. A frame with
 * a bad size or an unparsable body closes that connection with a logged reason; an API or version not
 * implemented is answered with UNSUPPORTED_VERSION and logged. With `auth`, a connection authenticates
 * with SASL/PLAIN first; until then every API but ApiVersions and SASL's own is answered with
 * authorization errors.
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, silentLogger, type Logger, type EventLog } from '@lambda/core';
import { createServer, type Server, type Socket } from 'node:net';
import { AppendSignal } from './append-signal.js';
import { ApiKey, apiName, isFlexible, isSupported } from './api-versions.js';
import { ErrorCode } from './error-codes.js';
import { FrameReader } from './frame-reader.js';
import { GroupCoordinator } from './group-coordinator.js';
import { NegativeCommits } from './negative-commits.js';
import { handleFetch } from './handlers/fetch-handler.js';
import {
  handleDescribeGroups,
  handleFindCoordinator,
  handleHeartbeat,
  handleJoinGroup,
  handleLeaveGroup,
  handleListGroups,
  handleOffsetCommit,
  handleOffsetFetch,
  handleSyncGroup,
} from './handlers/group-handlers.js';
import type { ApiHandler, HandlerContext, SaslPlainCredentials } from './handlers/handler-context.js';
import { handleProduce } from './handlers/produce-handler.js';
import { handleRawSaslToken, handleSaslAuthenticate, handleSaslHandshake } from './handlers/sasl-handlers.js';
import {
  handleApiVersions,
  handleCreateTopics,
  handleInitProducerId,
  handleListOffsets,
  handleMetadata,
  writeApiVersions,
} from './handlers/topic-handlers.js';
import { ProducerState } from './producer-state.js';
import { MalformedFrameError, ProtocolReader } from './protocol-reader.js';
import { ProtocolWriter } from './protocol-writer.js';

export interface KafkaProtocolServerOptions {
  /** The log served; the server never closes it. */
  eventLog: EventLog;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one (see `port` on the result). Default 9092. */
  port?: number;
  /**
   * The host clients are told to connect to (Metadata, FindCoordinator). Defaults to `host`, or
   * 127.0.0.1 when listening on every interface.
   */
  advertisedHost?: string;
  /** A request frame larger than this closes its connection. Default 100 MiB. */
  maxFrameBytes?: number;
  /**
   * Topics a client mentions in Metadata (producers and consumers do) are created with this many
   * partitions, as Kafka's auto.create.topics.enable does. Default `false`: unknown topics stay unknown
   * (UNKNOWN_TOPIC_OR_PARTITION), so a typo in a topic name cannot create one. Produce never creates.
   */
  autoCreateTopics?: { partitions: number } | false;
  /**
   * Requires SASL/PLAIN: a connection must authenticate with `secret` as its password (and `username`
   * as its user name when set; any otherwise) before it may use topics and groups. Unauthenticated
   * requests are answered with TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED; a failed authentication is
   * answered with SASL_AUTHENTICATION_FAILED and closes the connection. Default: no authentication.
   */
  auth?: SaslPlainCredentials;
  /** How long the first rebalance of an empty group waits for more members. Default 100 ms. */
  initialRebalanceDelayMs?: number;
  logger?: Logger;
}

export interface RunningKafkaProtocolServer {
  host: string;
  port: number;
  /** Stops listening, answers waiting group requests with NOT_COORDINATOR and closes every connection. */
  close(): Promise<void>;
}

const HANDLERS: ReadonlyMap<number, ApiHandler> = new Map([
  [ApiKey.Produce, handleProduce],
  [ApiKey.Fetch, handleFetch],
  [ApiKey.ListOffsets, handleListOffsets],
  [ApiKey.Metadata, handleMetadata],
  [ApiKey.OffsetCommit, handleOffsetCommit],
  [ApiKey.OffsetFetch, handleOffsetFetch],
  [ApiKey.FindCoordinator, handleFindCoordinator],
  [ApiKey.JoinGroup, handleJoinGroup],
  [ApiKey.Heartbeat, handleHeartbeat],
  [ApiKey.LeaveGroup, handleLeaveGroup],
  [ApiKey.SyncGroup, handleSyncGroup],
  [ApiKey.DescribeGroups, handleDescribeGroups],
  [ApiKey.ListGroups, handleListGroups],
  [ApiKey.ApiVersions, handleApiVersions],
  [ApiKey.CreateTopics, handleCreateTopics],
  [ApiKey.InitProducerId, handleInitProducerId],
  [ApiKey.SaslHandshake, handleSaslHandshake],
  [ApiKey.SaslAuthenticate, handleSaslAuthenticate],
]);

/** What a client needs before it can authenticate: everything else waits for authentication. */
const OPEN_BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

/** api_key + api_version + correlation_id: anything shorter cannot be answered at all. */
const MIN_REQUEST_BYTES = 8;

export class KafkaProtocolServer {
  private constructor() {}

  static async start(options: KafkaProtocolServerOptions): Promise<RunningKafkaProtocolServer> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'kafka-server' });
    const host = options.host ?? '127.0.0.1';
    const maxFrameBytes = options.maxFrameBytes ?? 100 * 1024 * 1024;
    if (options.auth !== undefined && options.auth.secret === '') throw new InvalidArgumentError('auth.secret must not be empty');
    const coordinator = new GroupCoordinator({ logger, initialRebalanceDelayMs: options.initialRebalanceDelayMs });
    const sockets = new Set<Socket>();
    const base = {
      eventLog: options.eventLog,
      coordinator,
      negativeCommits: new NegativeCommits(),
      producerState: new ProducerState(),
      appendSignal: new AppendSignal(),
      logger,
      broker: { nodeId: 0, host: options.advertisedHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host), port: 0 },
      clusterId: `lambda-${randomUUID().slice(0, 8)}`,
      autoCreateTopics: options.autoCreateTopics ?? false,
      auth: options.auth,
    };
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      const connection: HandlerContext = {
        ...base,
        clientId: null,
        clientHost: socket.remoteAddress ?? '',
        authenticated: options.auth === undefined,
        saslStep: 'handshake',
        closeAfterResponse: false,
        refusalLogged: false,
      };
      serveConnection(socket, connection, maxFrameBytes);
    });
    await listen(server, host, options.port ?? 9092);
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 9092);
    base.broker.port = port;
    logger.info({ host, port, advertisedHost: base.broker.host, sasl: options.auth ? 'PLAIN' : 'off' }, 'Kafka protocol server listening');
    let closing: Promise<void> | undefined;
    return {
      host,
      port,
      close: () =>
        (closing ??= (async () => {
          coordinator.close();
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          // Give the NOT_COORDINATOR answers to waiting group requests a moment to leave before the sockets go.
          await new Promise((resolve) => setImmediate(resolve));
          for (const socket of sockets) socket.end();
          const forced = setTimeout(() => sockets.forEach((socket) => socket.destroy()), 1000);
          await closed;
          clearTimeout(forced);
          logger.info({ port }, 'Kafka protocol server closed');
        })()),
    };
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function serveConnection(socket: Socket, context: HandlerContext, maxFrameBytes: number): void {
  const frames = new FrameReader(maxFrameBytes);
  const queue: Buffer[] = [];
  let working = false;
  const drop = (reason: string, error?: unknown): void => {
    context.logger.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, client: context.clientId, reason, err: error }, 'closing connection');
    queue.length = 0;
    socket.destroy();
  };
  const work = async (): Promise<void> => {
    if (working) return;
    working = true;
    try {
      while (queue.length > 0 && !socket.destroyed) {
        const response = await handleFrame(queue.shift()!, context);
        if (response !== null && !socket.destroyed) socket.write(response);
        if (context.closeAfterResponse) {
          queue.length = 0;
          socket.end();
        }
      }
    } catch (error) {
      if (error instanceof MalformedFrameError) drop(`malformed request: ${error.message}`);
      else drop('request failed', error);
    } finally {
      working = false;
    }
  };
  socket.on('data', (chunk: Buffer) => {
    if (context.closeAfterResponse) return;
    let complete: Buffer[];
    try {
      complete = frames.push(chunk);
    } catch (error) {
      drop((error as Error).message);
      return;
    }
    if (complete.length === 0) return;
    queue.push(...complete);
    void work();
  });
  socket.on('error', (error) => context.logger.debug({ err: error }, 'connection error'));
}

/** Handles one request frame; resolves with the response frame, or null when none is due. */
async function handleFrame(frame: Buffer, connection: HandlerContext): Promise<Buffer | null> {
  if (connection.saslStep === 'raw-token') return handleRawSaslToken(frame, connection);
  if (frame.length < MIN_REQUEST_BYTES) throw new MalformedFrameError(`Request of ${frame.length} bytes has no complete header`);
  const request = new ProtocolReader(frame);
  const apiKey = request.int16();
  const apiVersion = request.int16();
  const correlationId = request.int32();
  const response = new ProtocolWriter(256).int32(0).int32(correlationId);
  if (!isSupported(apiKey, apiVersion)) {
    // Newer clients try ApiVersions above ours first and retry lower: routine negotiation, not a problem.
    const level = apiKey === ApiKey.ApiVersions ? 'debug' : 'warn';
    connection.logger[level](
      { api: apiName(apiKey), apiKey, apiVersion, client: connection.clientId },
      'unsupported API or version: answered UNSUPPORTED_VERSION',
    );
    // ApiVersions is answered in its v0 form with our ranges, so the client retries with one of them (KIP-511).
    if (apiKey === ApiKey.ApiVersions) writeApiVersions(response, 0, ErrorCode.UNSUPPORTED_VERSION);
    else response.int16(ErrorCode.UNSUPPORTED_VERSION);
    return finish(response);
  }
  connection.clientId = request.nullableString();
  if (isFlexible(apiKey, apiVersion)) {
    request.skipTaggedFields(); // request header v2
    response.noTaggedFields(); // response header v1
  }
  if (!connection.authenticated && !OPEN_BEFORE_AUTHENTICATION.has(apiKey) && !connection.refusalLogged) {
    connection.refusalLogged = true;
    connection.logger.warn(
      { api: apiName(apiKey), client: connection.clientId, clientHost: connection.clientHost },
      'unauthenticated connection: its requests are answered with authorization errors',
    );
  }
  const handler = HANDLERS.get(apiKey)!;
  const respond = await handler(request, apiVersion, response, connection);
  return respond ? finish(response) : null;
}

function finish(response: ProtocolWriter): Buffer {
  const frame = response.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  return Buffer.from(frame);
}
