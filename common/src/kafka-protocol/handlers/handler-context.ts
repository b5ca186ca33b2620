/** What every API handler gets: the log it fronts, the in-memory group and producer state, and who is asking. */
import type { Logger } from '../../logging/logger.js';
import type { EventLog } from '../../ports/event-log/event-log.js';
import type { GroupCoordinator } from '../group-coordinator.js';
import type { ProducerState } from '../producer-state.js';
import type { ProtocolReader } from '../protocol-reader.js';
import type { ProtocolWriter } from '../protocol-writer.js';
import type { AppendSignal } from '../append-signal.js';

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface HandlerContext {
  eventLog: EventLog;
  coordinator: GroupCoordinator;
  producerState: ProducerState;
  appendSignal: AppendSignal;
  logger: Logger;
  broker: BrokerAddress;
  clusterId: string;
  /** Partitions of topics created on first mention, or false when unknown topics stay unknown. */
  autoCreateTopics: { partitions: number } | false;
  clientId: string | null;
  clientHost: string;
}

/**
 * Reads one request body of `version` and writes its response body; resolves with false when the
 * request wants no response (Produce with acks=0).
 */
export type ApiHandler = (request: ProtocolReader, version: number, response: ProtocolWriter, context: HandlerContext) => Promise<boolean>;
