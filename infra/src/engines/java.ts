/** The `java` the engines run on: `$JAVA_HOME/bin/java` when JAVA_HOME is set, else the one on PATH. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PlatformError } from '@lambda/core';

export const JAVA = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';

/** The major version of that java (8 for "1.8.0", 17 for "17.0.15"). */
export async function javaMajorVersion(): Promise<number> {
  const { stderr } = await promisify(execFile)(JAVA, ['-version']).catch((error: NodeJS.ErrnoException) => {
    throw new PlatformError(`cannot run ${JAVA} (${error.code ?? error.message}): install Java 17, or set JAVA_HOME to one`, { cause: error });
  });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr);
  if (!match) throw new PlatformError(`cannot tell the version of ${JAVA} from: ${stderr.trim()}`);
  return match[1] === '1' ? Number(match[2]) : Number(match[1]);
}
