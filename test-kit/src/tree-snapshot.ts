import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file under `root` with a hash of its content: equal snapshots mean nothing on disk changed. */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const visit = async (directory: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        files[`${relative}/`] = 'dir';
        await visit(join(directory, entry.name), relative);
      } else {
        files[relative] = createHash('sha256').update(await readFile(join(directory, entry.name))).digest('hex');
      }
    }
  };
  await visit(root, '');
  return files;
}
