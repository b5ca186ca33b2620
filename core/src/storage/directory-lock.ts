import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LockedError } from '../errors/errors.js';

/**
 * Claims a data directory for this process, so two processes never write the same files. The lock file
 * holds the owner's pid; a lock left by a process that died (kill -9) is taken over.
 */
export async function lockDirectory(directory: string, owner: string): Promise<() => Promise<void>> {
  const path = join(directory, '.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      return async () => {
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
      throw new LockedError(`${owner} at ${directory} is in use by process ${pid}`, { directory, pid });
    }
    if (pid === process.pid) {
      throw new LockedError(`${owner} at ${directory} is already open in this process`, { directory, pid });
    }
    await rm(path, { force: true });
  }
  throw new LockedError(`Could not lock ${directory} for ${owner}`, { directory });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
