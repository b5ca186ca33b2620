/**
 * `engines:up` and `engines:down`: the real engines the production adapters run against, as local
 * processes. Up resolves their jars with Maven, starts every engine at once on free (or configured)
 * ports, waits until each answers a client, and says how to point the platform at them. Down stops them
 * and deletes their data; their logs stay until the next up. Stop and start take one engine away and
 * bring it back as it was (same port, config and data): a fault for tests to inject, or a restart.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cassandraEngine } from './cassandra-engine.js';
import { resolveJars, type EngineJars } from './classpath.js';
import type { Engine, EngineLaunch } from './engine.js';
import { enginePaths, type EngineName } from './engine-paths.js';
import { isEngineProcess, readPid, startDetached, stopProcess } from './engine-process.js';
import { configuredPort, freePort } from './free-port.js';
import { JAVA, javaMajorVersion } from './java.js';
import { kafkaEngine } from './kafka-engine.js';
import { logTail } from './log-tail.js';
import { waitUntil } from './wait-until.js';
import { PlatformError } from '@lambda/core';

export const ENGINES: Record<EngineName, Engine> = { kafka: kafkaEngine, cassandra: cassandraEngine };
export const ENGINE_NAMES = Object.keys(ENGINES) as EngineName[];

/** The settings of every engine started by the last up, as shell `export` lines (`source` it). */
export const SETTINGS_FILE = join(dirname(enginePaths('kafka').stateDir), 'engines.env');

export interface StartedEngine {
  name: EngineName;
  version: string;
  pid: number;
  port: number;
  /** From the start of its preparation (storage format included) to its first answer. */
  startupMs: number;
  settings: Record<string, string>;
  logFile: string;
}

type Report = (line: string) => void;

export async function enginesUp(names: readonly EngineName[], report: Report): Promise<StartedEngine[]> {
  for (const name of names) {
    const { pidFile, stateDir } = enginePaths(name);
    const pid = await readPid(pidFile);
    if (pid !== undefined && isEngineProcess(pid, stateDir)) throw new PlatformError(`${name} is already running (pid ${pid}): run engines:down first`);
  }
  const javaVersion = await javaMajorVersion();
  const problems = names.map((name) => ENGINES[name].javaProblem(javaVersion)).filter((problem) => problem !== undefined);
  if (problems.length > 0) throw new PlatformError(`${problems.join('; ')}: set JAVA_HOME to a Java 17`);
  // One at a time: two Maven runs writing the same local repository can corrupt it.
  const jars = new Map<EngineName, EngineJars>();
  for (const name of names) jars.set(name, await resolveJars(name, report));

  const results = await Promise.allSettled(names.map((name) => launchEngine(ENGINES[name], jars.get(name)!, report)));
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
  if (failures.length > 0) {
    // All or nothing: the engines that did start are stopped too.
    await Promise.all(started.map((engine) => removeEngine(engine.name, report)));
    throw new PlatformError(failures.map((failure) => failure.message).join('\n\n'));
  }
  await writeFile(SETTINGS_FILE, exportLines(started).join('\n') + '\n');
  return started;
}

export async function enginesDown(names: readonly EngineName[], report: Report): Promise<void> {
  await Promise.all(names.map((name) => removeEngine(name, report)));
  if (ENGINE_NAMES.every((name) => names.includes(name))) await rm(SETTINGS_FILE, { force: true });
}

/** `export NAME=value` for each setting of `engines`. */
export function exportLines(engines: readonly StartedEngine[]): string[] {
  return engines.flatMap((engine) => Object.entries(engine.settings).map(([name, value]) => `export ${name}=${value}`));
}

/** The settings of the engine `engines:up` prepared, running or stopped; undefined when there is none. */
export async function engineSettings(name: EngineName): Promise<Record<string, string> | undefined> {
  const engine = ENGINES[name];
  const port = await engine.renderedPort(enginePaths(name)).catch(() => undefined);
  return port === undefined ? undefined : engine.settings(port);
}

/** Whether the engine that `engines:up` started runs now. */
export async function isEngineRunning(name: EngineName): Promise<boolean> {
  const { pidFile, stateDir } = enginePaths(name);
  const pid = await readPid(pidFile);
  return pid !== undefined && isEngineProcess(pid, stateDir);
}

/**
 * Stops a running engine (SIGTERM, then SIGKILL after `graceMs`) and keeps its config and data for
 * `startEngine`. Clients see a node going away, as in a crash or a rolling restart.
 */
export async function stopEngine(name: EngineName, report: Report, graceMs = 30_000): Promise<'not running' | 'stopped' | 'killed'> {
  const { pidFile, stateDir } = enginePaths(name);
  const pid = await readPid(pidFile);
  if (pid === undefined) return 'not running';
  const started = performance.now();
  const outcome = await stopProcess(pid, stateDir, graceMs);
  if (outcome !== 'not running') report(`${name}: ${outcome} (pid ${pid}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return outcome;
}

/**
 * Starts again an engine that `engines:up` prepared and `stopEngine` stopped: the same port, config and
 * data (no new storage format, no new cluster id), so its clients reconnect and find what they left.
 */
export async function startEngine(name: EngineName, report: Report): Promise<StartedEngine> {
  const engine = ENGINES[name];
  const paths = enginePaths(name);
  if (await isEngineRunning(name)) throw new PlatformError(`${name} is already running (pid ${await readPid(paths.pidFile)})`);
  const port = await engine.renderedPort(paths);
  await freePort(port).catch((error: NodeJS.ErrnoException) => {
    throw new PlatformError(`${name} cannot start again on 127.0.0.1:${port}: ${error.code === 'EADDRINUSE' ? 'something else listens there' : error.message}`);
  });
  const jars = await resolveJars(name, report);
  return runEngine(engine, { jars, paths, port }, report);
}

/** A first start: fresh state directory, config rendered and storage prepared, on a free or configured port. */
async function launchEngine(engine: Engine, jars: EngineJars, report: Report): Promise<StartedEngine> {
  const paths = enginePaths(engine.name);
  await rm(paths.stateDir, { recursive: true, force: true });
  await mkdir(paths.dataDir, { recursive: true });
  const port = await configuredPort(engine.portVariable);
  return runEngine(engine, { jars, paths, port }, report, () => engine.prepare({ jars, paths, port }));
}

/** Runs the engine's JVM (after `prepare`, if given) and waits until it answers; stops it when it does not. */
async function runEngine(engine: Engine, launch: EngineLaunch, report: Report, prepare?: () => Promise<void>): Promise<StartedEngine> {
  const { paths, port, jars } = launch;
  const version = engine.version(jars);
  report(`${engine.name} ${version}: starting on 127.0.0.1:${port} (log: ${paths.logFile})`);
  const started = performance.now();
  let pid: number | undefined;
  try {
    await prepare?.();
    const server = await startDetached(JAVA, engine.javaArgs(launch), paths);
    pid = server.pid;
    await waitUntil(() => engine.probe(port), {
      what: `${engine.name} on 127.0.0.1:${port}`,
      timeoutMs: engine.startupTimeoutMs,
      stillAlive: server.running,
    });
  } catch (error) {
    if (pid !== undefined) await stopProcess(pid, paths.stateDir, 5000);
    const tail = await logTail(paths.logFile);
    throw new PlatformError(`${engine.name} did not start: ${(error as Error).message}\n--- the last lines of ${paths.logFile} ---\n${tail}`, { cause: error });
  }
  const startupMs = performance.now() - started;
  report(`${engine.name} ${version}: answers on 127.0.0.1:${port} after ${(startupMs / 1000).toFixed(1)} s (pid ${pid})`);
  return { name: engine.name, version, pid, port, startupMs, settings: engine.settings(port), logFile: paths.logFile };
}

/** Stops the engine and deletes its data (engines:down). */
async function removeEngine(name: EngineName, report: Report): Promise<void> {
  const { pidFile, dataDir } = enginePaths(name);
  await stopEngine(name, report);
  await rm(pidFile, { force: true });
  await rm(dataDir, { recursive: true, force: true });
}
