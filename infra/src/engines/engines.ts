/**
 * `engines:up` and `engines:down`: the real engines the production adapters run against, as local
 * processes. Up resolves their jars with Maven, starts every engine at once on free (or configured)
 * ports, waits until each answers a client, and says how to point the platform at them. Down stops them
 * and deletes their data; their logs stay until the next up.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cassandraEngine } from './cassandra-engine.js';
import { resolveJars, type EngineJars } from './classpath.js';
import type { Engine } from './engine.js';
import { enginePaths, type EngineName } from './engine-paths.js';
import { isEngineProcess, readPid, startDetached, stopProcess } from './engine-process.js';
import { configuredPort } from './free-port.js';
import { JAVA, javaMajorVersion } from './java.js';
import { kafkaEngine } from './kafka-engine.js';
import { logTail } from './log-tail.js';
import { waitUntil } from './wait-until.js';

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
    if (pid !== undefined && isEngineProcess(pid, stateDir)) throw new Error(`${name} is already running (pid ${pid}): run engines:down first`);
  }
  const javaVersion = await javaMajorVersion();
  const problems = names.map((name) => ENGINES[name].javaProblem(javaVersion)).filter((problem) => problem !== undefined);
  if (problems.length > 0) throw new Error(`${problems.join('; ')}: set JAVA_HOME to a Java 17`);
  // One at a time: two Maven runs writing the same local repository can corrupt it.
  const jars = new Map<EngineName, EngineJars>();
  for (const name of names) jars.set(name, await resolveJars(name, report));

  const results = await Promise.allSettled(names.map((name) => startEngine(ENGINES[name], jars.get(name)!, report)));
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
  if (failures.length > 0) {
    // All or nothing: the engines that did start are stopped too.
    await Promise.all(started.map((engine) => stopEngine(engine.name, report)));
    throw new Error(failures.map((failure) => failure.message).join('\n\n'));
  }
  await writeFile(SETTINGS_FILE, exportLines(started).join('\n') + '\n');
  return started;
}

export async function enginesDown(names: readonly EngineName[], report: Report): Promise<void> {
  await Promise.all(names.map((name) => stopEngine(name, report)));
  if (ENGINE_NAMES.every((name) => names.includes(name))) await rm(SETTINGS_FILE, { force: true });
}

/** `export NAME=value` for each setting of `engines`. */
export function exportLines(engines: readonly StartedEngine[]): string[] {
  return engines.flatMap((engine) => Object.entries(engine.settings).map(([name, value]) => `export ${name}=${value}`));
}

async function startEngine(engine: Engine, jars: EngineJars, report: Report): Promise<StartedEngine> {
  const paths = enginePaths(engine.name);
  await rm(paths.stateDir, { recursive: true, force: true });
  await mkdir(paths.dataDir, { recursive: true });
  const port = await configuredPort(engine.portVariable);
  const launch = { jars, paths, port };
  const version = engine.version(jars);
  report(`${engine.name} ${version}: starting on 127.0.0.1:${port} (log: ${paths.logFile})`);
  const started = performance.now();
  let pid: number | undefined;
  try {
    await engine.prepare(launch);
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
    throw new Error(`${engine.name} did not start: ${(error as Error).message}\n--- the last lines of ${paths.logFile} ---\n${tail}`, { cause: error });
  }
  const startupMs = performance.now() - started;
  report(`${engine.name} ${version}: answers on 127.0.0.1:${port} after ${(startupMs / 1000).toFixed(1)} s (pid ${pid})`);
  return { name: engine.name, version, pid, port, startupMs, settings: engine.settings(port), logFile: paths.logFile };
}

async function stopEngine(name: EngineName, report: Report): Promise<void> {
  const { pidFile, stateDir, dataDir } = enginePaths(name);
  const pid = await readPid(pidFile);
  if (pid !== undefined) {
    const started = performance.now();
    const outcome = await stopProcess(pid, stateDir);
    if (outcome !== 'not running') report(`${name}: ${outcome} (pid ${pid}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  await rm(pidFile, { force: true });
  await rm(dataDir, { recursive: true, force: true });
}
