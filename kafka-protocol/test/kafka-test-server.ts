/** A Kafka protocol server on port 0 over a fresh embedded log in a temp dir, and quiet kafkajs clients for it. */
import kafkajs from 'kafkajs';
import { EmbeddedEventLog } from '@lambda/core';
import { KafkaProtocolServer, type KafkaProtocolServerOptions, type RunningKafkaProtocolServer } from '../src/kafka-protocol-server.js';
import { makeTempDir } from '@lambda/test-kit';

export interface TestServer {
  eventLog: EmbeddedEventLog;
  server: RunningKafkaProtocolServer;
  broker: string;
  /** A kafkajs client of the server; `config` adds to (or overrides) the quiet defaults, e.g. `sasl`. */
  kafka(clientId?: string, config?: Partial<kafkajs.KafkaConfig>): kafkajs.Kafka;
  stop(): Promise<void>;
}

/** kafkajs logs retries and rebalances at info/warn: silenced so test output stays readable. */
const silentLogCreator: kafkajs.logCreator = () => () => undefined;

export async function startTestServer(options: Partial<KafkaProtocolServerOptions> = {}): Promise<TestServer> {
  const dir = await makeTempDir('kafka-protocol');
  const eventLog = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never' });
  const server = await KafkaProtocolServer.start({ eventLog, host: '127.0.0.1', port: 0, initialRebalanceDelayMs: 50, ...options });
  const broker = `127.0.0.1:${server.port}`;
  return {
    eventLog,
    server,
    broker,
    kafka: (clientId = 'test', config = {}) =>
      new kafkajs.Kafka({ brokers: [broker], clientId, logCreator: silentLogCreator, retry: { retries: 3, initialRetryTime: 50 }, ...config }),
    stop: async () => {
      try {
        await server.close();
        await eventLog.close();
      } finally {
        await dir.remove();
      }
    },
  };
}

/** Every record of a topic as the log holds it, partition by partition. */
export async function readEverything(eventLog: EmbeddedEventLog, topic: string) {
  const { partitions } = await eventLog.describeTopic(topic);
  const all = [];
  for (let partition = 0; partition < partitions; partition++) {
    for (let offset = 0; ; ) {
      const read = await eventLog.read(topic, partition, offset);
      all.push(...read.records);
      if (read.records.length === 0 || read.nextOffset >= read.endOffset) break;
      offset = read.nextOffset;
    }
  }
  return all;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
