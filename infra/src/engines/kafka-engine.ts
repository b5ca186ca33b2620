/**
 * Apache Kafka 4 as one KRaft node (broker and controller in one JVM, no ZooKeeper) on loopback: its
 * storage is formatted with a fresh cluster id at each start, then `kafka.Kafka` runs our
 * `infra/engines/kafka/server.properties`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { versionFromJars } from './classpath.js';
import type { Engine, EngineLaunch } from './engine.js';
import { portInRenderedConfig, renderConfig } from './config-template.js';
import { runLogged } from './engine-process.js';
import { freePort } from './free-port.js';
import { JAVA } from './java.js';

const propertiesFile = (launch: Pick<EngineLaunch, 'paths'>) => join(launch.paths.stateDir, 'server.properties');
const loggingOption = (launch: EngineLaunch) => `-Dlog4j2.configurationFile=${join(launch.paths.configDir, 'log4j2.properties')}`;

/**
 * A cluster id as Kafka writes one (its Uuid: 16 random bytes, base64url without padding), never one
 * starting with '-', which the storage tool's argument parser would take for an option.
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export const kafkaEngine: Engine = {
  name: 'kafka',
  portVariable: 'KAFKA_PORT',
  startupTimeoutMs: 120_000,

  javaProblem: (major) => (major < 17 ? `Kafka 4 needs Java 17 or newer, and this java is ${major}` : undefined),

  version: ({ jars }) => versionFromJars(jars, /^kafka_2\.13-(.+)\.jar$/),

  async prepare(launch) {
    const { paths, port, jars } = launch;
    await renderConfig(join(paths.configDir, 'server.properties'), propertiesFile(launch), {
      port,
      controller_port: await freePort(),
      data_dir: paths.dataDir,
    });
    // A short-lived JVM: C1 only and the serial collector start it faster.
    const format = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', loggingOption(launch), '-cp', jars.classpath, 'kafka.tools.StorageTool'];
    await runLogged(JAVA, [...format, 'format', '--cluster-id', clusterId(), '--config', propertiesFile(launch)], paths.logFile, 'formatting the KRaft storage');
  },

  javaArgs: (launch) => [
    '-Xms256m',
    '-Xmx1g',
    // Kafka's own launcher's collector settings (kafka-run-class.sh).
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    loggingOption(launch),
    '-cp',
    launch.jars.classpath,
    'kafka.Kafka',
    propertiesFile(launch),
  ],

  renderedPort: (paths) => portInRenderedConfig(propertiesFile({ paths }), /^listeners=PLAINTEXT:\/\/[^:\s]+:(\d+)/m),

  async probe(port) {
    // A metadata request: the broker has joined its controller's quorum and serves clients.
    const admin = new kafkajs.Kafka({
      brokers: [`127.0.0.1:${port}`],
      clientId: 'engines-up',
      connectionTimeout: 1000,
      retry: { retries: 0 },
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  },

  settings: (port) => ({ KAFKA_BROKERS: `127.0.0.1:${port}` }),
};
