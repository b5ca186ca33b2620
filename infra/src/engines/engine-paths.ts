/**
 * Where each engine's files live: our config templates beside `infra/engines/pom.xml`, and, outside git
 * (`infra/engines/.engines/`), the jars Maven copies and the running engine's state: its rendered
 * config, data, log and pid file.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type EngineName = 'kafka' | 'cassandra';

/** `infra/engines/`, found from `src/engines/` (tsx) and `dist/engines/` alike. */
export const ENGINES_DIR = fileURLToPath(new URL('../../engines/', import.meta.url));
export const POM_FILE = join(ENGINES_DIR, 'pom.xml');
const WORK_DIR = join(ENGINES_DIR, '.engines');

export interface EnginePaths {
  /** Our config files for the engine (templates and logging config). */
  configDir: string;
  /** The engine's jars. */
  libDir: string;
  /** What one run of the engine owns; made anew by each `engines:up`. */
  stateDir: string;
  dataDir: string;
  logFile: string;
  pidFile: string;
}

export function enginePaths(engine: EngineName): EnginePaths {
  const stateDir = join(WORK_DIR, 'run', engine);
  return {
    configDir: join(ENGINES_DIR, engine),
    libDir: join(WORK_DIR, 'lib', engine),
    stateDir,
    dataDir: join(stateDir, 'data'),
    logFile: join(stateDir, `${engine}.log`),
    pidFile: join(stateDir, `${engine}.pid`),
  };
}
