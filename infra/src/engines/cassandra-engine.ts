/**
 * Apache Cassandra 5.0 as one node on loopback, run by `CassandraDaemon` on our
 * `infra/engines/cassandra/cassandra.yaml`, with the JVM options Cassandra's own launcher would give it
 * on Java 17 and the settings that skip what a single node need not wait for.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from 'cassandra-driver';
import { versionFromJars } from './classpath.js';
import { portInRenderedConfig, renderConfig } from './config-template.js';
import type { Engine, EngineLaunch } from './engine.js';
import { freePort } from './free-port.js';

/** The data centre SimpleSnitch (our cassandra.yaml's snitch) puts the node in. */
const DATA_CENTER = 'datacenter1';

/**
 * From Cassandra 5.0's conf/jvm17-server.options: the JDK internals Cassandra reaches into (exports and
 * opens for the unnamed module), and the Netty settings it expects.
 */
const JAVA_17_OPTIONS = [
  '-Djdk.attach.allowAttachSelf=true',
  ...[
    'java.base/jdk.internal.misc',
    'java.management.rmi/com.sun.jmx.remote.internal.rmi',
    'java.rmi/sun.rmi.registry',
    'java.rmi/sun.rmi.server',
    'java.sql/java.sql',
    'java.base/java.lang.ref',
    'jdk.unsupported/sun.misc',
    'jdk.compiler/com.sun.tools.javac.file',
    'jdk.attach/sun.tools.attach',
  ].flatMap((pkg) => ['--add-exports', `${pkg}=ALL-UNNAMED`]),
  ...[
    'java.base/java.lang.module',
    'java.base/jdk.internal.loader',
    'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect',
    'java.base/jdk.internal.math',
    'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar',
    'jdk.management/com.sun.management.internal',
    'java.base/sun.nio.ch',
    'java.base/java.io',
    'java.base/java.lang.reflect',
    'jdk.compiler/com.sun.tools.javac',
    'java.base/java.lang',
    'java.base/java.util',
  ].flatMap((pkg) => ['--add-opens', `${pkg}=ALL-UNNAMED`]),
  '-Dio.netty.tryReflectionSetAccessible=true',
  '-Dio.netty.allocator.useCacheForAllThreads=true',
  '-Dio.netty.allocator.maxOrder=11',
];

const yamlFile = (launch: Pick<EngineLaunch, 'paths'>) => join(launch.paths.stateDir, 'cassandra.yaml');

export const cassandraEngine: Engine = {
  name: 'cassandra',
  portVariable: 'CASSANDRA_PORT',
  startupTimeoutMs: 180_000,

  // 5.0 supports Java 11 and 17; on 18 and later its security manager is refused at start.
  javaProblem: (major) => (major === 11 || major === 17 ? undefined : `Cassandra 5.0 runs on Java 11 or 17, and this java is ${major}`),

  version: ({ jars }) => versionFromJars(jars, /^cassandra-all-(.+)\.jar$/),

  async prepare(launch) {
    const { paths, port } = launch;
    await renderConfig(join(paths.configDir, 'cassandra.yaml'), yamlFile(launch), { port, storage_port: await freePort(), data_dir: paths.dataDir });
  },

  javaArgs(launch) {
    const { paths, jars } = launch;
    const jamm = jars.jars.find((jar) => /^jamm-.*\.jar$/.test(jar));
    return [
      '-Xms1g',
      '-Xmx1g',
      '-XX:+UseG1GC',
      '-XX:+ParallelRefProcEnabled',
      '-XX:MaxTenuringThreshold=1',
      '-XX:+ExitOnOutOfMemoryError',
      ...JAVA_17_OPTIONS,
      // Cassandra measures objects' sizes with jamm, loaded as an agent as its launcher does.
      ...(jamm ? [`-javaagent:${join(paths.libDir, jamm)}`] : []),
      `-Dcassandra.config=${pathToFileURL(yamlFile(launch)).href}`,
      `-Dcassandra.storagedir=${paths.dataDir}`,
      `-Dlogback.configurationFile=${join(paths.configDir, 'logback.xml')}`,
      '-Dcassandra-foreground=yes',
      // One node: no ring to wait for, no gossip to settle.
      '-Dcassandra.ring_delay_ms=0',
      '-Dcassandra.skip_wait_for_gossip_to_settle=0',
      '-Djava.net.preferIPv4Stack=true',
      '-cp',
      jars.classpath,
      'org.apache.cassandra.service.CassandraDaemon',
    ];
  },

  renderedPort: (paths) => portInRenderedConfig(yamlFile({ paths }), /^native_transport_port:\s*(\d+)/m),

  async probe(port) {
    const client = new Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: DATA_CENTER, socketOptions: { connectTimeout: 1000 } });
    try {
      await client.execute('SELECT release_version FROM system.local');
    } finally {
      await client.shutdown().catch(() => undefined);
    }
  },

  settings: (port) => ({ CASSANDRA_CONTACT_POINTS: `127.0.0.1:${port}`, CASSANDRA_LOCAL_DC: DATA_CENTER }),
};
