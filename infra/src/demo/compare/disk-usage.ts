/** Bytes on disk of a data directory, per top-level folder (log, views, lake...). */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskUsage {
  totalBytes: number;
  /** By top-level entry of the directory. */
  byPart: Record<string, number>;
}

export async function diskUsage(directory: string): Promise<DiskUsage> {
  const byPart: Record<string, number> = {};
  let totalBytes = 0;
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const bytes = await bytesUnder(join(directory, entry.name));
    byPart[entry.name] = bytes;
    totalBytes += bytes;
  }
  return { totalBytes, byPart };
}

async function bytesUnder(path: string): Promise<number> {
  // Files come and go while the platform runs (temporary files, compacted journals): a vanished one counts 0.
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  const entries = await readdir(path).catch(() => [] as string[]);
  let total = 0;
  for (const name of entries) total += await bytesUnder(join(path, name));
  return total;
}
