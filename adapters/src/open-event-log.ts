/** Opens the event-log adapter the config names. */
import { InvalidArgumentError, type PlatformConfig, EmbeddedEventLog, type EventLog } from '@lambda/core';
import { join, resolve } from 'node:path';
import type { PortDependencies } from './port-dependencies.js';
import { KafkaEventLog } from './kafka/kafka-event-log.js';

export async function openEventLog(config: PlatformConfig, dependencies: PortDependencies): Promise<{ eventLog: EventLog; location: string }> {
  switch (config.eventLog.adapter) {
    case 'embedded': {
      const directory = join(resolve(config.dataDir), 'log');
      const eventLog = await EmbeddedEventLog.open({
        directory,
        fsync: config.eventLog.fsync,
        fsyncIntervalMs: config.eventLog.fsyncIntervalMs,
        segmentBytes: config.eventLog.segmentBytes,
        logger: dependencies.logger,
        metrics: dependencies.metrics,
      });
      return { eventLog, location: directory };
    }
    case 'kafka': {
      const kafka = config.eventLog.kafka;
      const eventLog = await KafkaEventLog.open({
        brokers: kafka.brokers,
        clientId: kafka.clientId,
        ssl: kafka.ssl,
        sasl: kafka.sasl,
        replicationFactor: kafka.replicationFactor,
        connectionTimeoutMs: kafka.connectionTimeoutMs,
        requestTimeoutMs: kafka.requestTimeoutMs,
        logger: dependencies.logger,
        metrics: dependencies.metrics,
      });
      return { eventLog, location: `kafka://${kafka.brokers.join(',')}` };
    }
    default:
      throw new InvalidArgumentError(`The event-log adapter "${config.eventLog.adapter}" is not available yet`, {});
  }
}
