/**
 * An engine's jars, brought from Maven Central by Maven: `infra/engines/pom.xml` has one profile per
 * engine, and `dependency:copy-dependencies` copies that profile's jars into the engine's lib folder.
 * Maven keeps what it downloaded in its local repository (~/.m2); the copy is made again only when the
 * pom changes (a version bump), which a stamp of the pom's hash beside the jars tells.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { enginePaths, POM_FILE, type EngineName } from './engine-paths.js';
import { PlatformError } from '@lambda/core';

export interface EngineJars {
  /** The jars as a java `-cp` value. */
  classpath: string;
  /** File names of the jars, to find one (a java agent, the engine's own jar for its version). */
  jars: string[];
}

export async function resolveJars(engine: EngineName, report: (line: string) => void): Promise<EngineJars> {
  const { libDir } = enginePaths(engine);
  const stampFile = join(libDir, '.pom-sha256');
  const stamp = createHash('sha256').update(await readFile(POM_FILE)).digest('hex');
  if ((await readFile(stampFile, 'utf8').catch(() => '')) !== stamp) {
    report(`${engine}: resolving its jars with Maven (downloads are cached in ~/.m2)`);
    await rm(libDir, { recursive: true, force: true });
    const args = ['-q', '-B', '-f', POM_FILE, `-P${engine}`, 'dependency:copy-dependencies', `-DoutputDirectory=${libDir}`, '-DincludeScope=runtime'];
    await promisify(execFile)('mvn', args, { maxBuffer: 64 * 1024 * 1024 }).catch((error: Error & { stdout?: string; stderr?: string }) => {
      // -q leaves only Maven's errors, on stdout.
      const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
      throw new PlatformError(`Maven could not bring ${engine}'s jars (mvn ${args.join(' ')}):\n${output || error.message}`, { cause: error });
    });
    await writeFile(stampFile, stamp);
  }
  const jars = (await readdir(libDir)).filter((name) => name.endsWith('.jar'));
  return { classpath: join(libDir, '*'), jars };
}

/** The version in the name of the jar matching `pattern` (its first group), e.g. kafka_2.13-4.1.1.jar. */
export function versionFromJars(jars: readonly string[], pattern: RegExp): string {
  for (const jar of jars) {
    const match = pattern.exec(jar);
    if (match?.[1]) return match[1];
  }
  return 'unknown';
}
