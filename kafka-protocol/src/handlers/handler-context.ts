/** What every API handler gets: the log it fronts, the in-memory group and producer state, and who is asking. */
import type { Logger, EventLog } from '@lambda/core';
import type { GroupCoordinator } from '../group-coordinator.js';
import type { NegativeCommits } from '../negative-commits.js';
import type { ProducerState } from '../producer-state.js';
import type { ProtocolReader } from '../protocol-reader.js';
import type { ProtocolWriter } from '../protocol-writer.js';
import type { AppendSignal } from '../append-signal.js';

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

/** The SASL/PLAIN credentials every connection must present (KafkaProtocolServerOptions.auth). */
export interface SaslPlainCredentials {
  secret: string;
  username?: string;
}

export interface HandlerContext {
  eventLog: EventLog;
  coordinator: GroupCoordinator;
  /** Committed offsets below 0 ("reset to earliest/latest"), which the log cannot hold. */
  negativeCommits: NegativeCommits;
  producerState: ProducerState;
  appendSignal: AppendSignal;
  logger: Logger;
  broker: BrokerAddress;
  clusterId: string;
  /** Partitions of topics created on first mention, or false when unknown topics stay unknown. */
  autoCreateTopics: { partitions: number } | false;
  /** What a connection must authenticate with, or undefined when the server is open. */
  auth: SaslPlainCredentials | undefined;
  clientId: string | null;
  clientHost: string;
  /**
   * Whether this connection may use topics and groups: from the start when `auth` is unset, else once
   * it authenticated. Handlers answer the others with the authorization errors a broker gives a
   * principal without ACLs.
   */
  authenticated: boolean;
  /** The SASL step this connection owes next; 'raw-token' after a v0 handshake, whose token comes without a request header. */
  saslStep: 'handshake' | 'authenticate' | 'raw-token';
  /** Set when the response being written must be the connection's last (failed authentication, as Kafka closes then). */
  closeAfterResponse: boolean;
  /** Whether this connection's first refused request was logged: one line per connection, not per request. */
  refusalLogged: boolean;
}

/**
 * Reads one request body of `version` and writes its response body; resolves with false when the
 * request wants no response (Produce with acks=0).
 */
export type ApiHandler = (request: ProtocolReader, version: number, response: ProtocolWriter, context: HandlerContext) => Promise<boolean>;
