/** What `engines:up` needs to know of an engine; kafka-engine.ts and cassandra-engine.ts each give one. */
import type { EngineJars } from './classpath.js';
import type { EngineName, EnginePaths } from './engine-paths.js';

export interface EngineLaunch {
  jars: EngineJars;
  paths: EnginePaths;
  /** The port clients connect to. */
  port: number;
}

export interface Engine {
  name: EngineName;
  /** The environment variable that fixes the client port (a free port otherwise). */
  portVariable: string;
  /** How long it may take to answer after its JVM starts, on a busy 2-core machine. */
  startupTimeoutMs: number;
  /** Why it cannot run on that Java major version, or undefined when it can. */
  javaProblem(major: number): string | undefined;
  /** The version it runs, read from its jars. */
  version(jars: EngineJars): string;
  /** Everything before its server starts: config files rendered into the state directory, storage formatted. */
  prepare(launch: EngineLaunch): Promise<void>;
  /** The server's `java` arguments. */
  javaArgs(launch: EngineLaunch): string[];
  /** The client port of the config `prepare` rendered into the state directory: where a restart listens again. */
  renderedPort(paths: EnginePaths): Promise<number>;
  /** Resolves once the server answers a client at `port`. */
  probe(port: number): Promise<void>;
  /** The environment settings that point the platform (and the contract tests) at it. */
  settings(port: number): Record<string, string>;
}
