/**
 * The Kafka event log reads and commits through kafkajs's internal cluster object (kafkajs has no public
 * random-access fetch and no standalone offset commit; see kafka-internal-cluster.ts). That dependency is
 * pinned to one exact kafkajs version and checked here without a broker, so an upgrade that moves the
 * internals fails this test by name, not the adapter in production. The contract suite drives the same
 * internals against a real broker.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createInternalCluster } from '../src/kafka/kafka-internal-cluster.js';

const require = createRequire(import.meta.url);

describe('when the Kafka event log reaches into kafkajs', () => {
  it('should be pinned to the exact kafkajs version installed', () => {
    const ours = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    const installed = (require('kafkajs/package.json') as { version: string }).version;
    expect(ours.dependencies['kafkajs']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(ours.dependencies['kafkajs']);
  });

  it('should find every internal method it uses on that version', () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    const cluster = createInternalCluster(kafka) as unknown as Record<string, unknown>;
    for (const method of ['connect', 'disconnect', 'refreshMetadata', 'addTargetTopic', 'findLeaderForPartitions', 'findBroker', 'findGroupCoordinator']) {
      expect(typeof cluster[method], method).toBe('function');
    }
  });

  it('should refuse, naming kafkajs, a client whose internals moved', () => {
    expect(() => createInternalCluster({} as Kafka)).toThrow(/kafkajs version is not supported.*no cluster factory/);
  });
});
