import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a whole file so that a reader, or a restart after a crash, sees either the old content or the
 * new, never a mix: write a temporary file beside it, flush it, then rename it into place.
 */
export async function writeFileAtomic(path: string, data: Buffer | string, options: { fsync?: boolean } = {}): Promise<void> {
  const fsync = options.fsync ?? true;
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(data);
      if (fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  if (fsync) await syncDirectory(dirname(path));
}

/** Makes a directory's entries (a rename, a new file) durable. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
