/** Writes a block of results into a Markdown file, between its `<!-- NAME:start -->` and `<!-- NAME:end -->` markers. */
import { cpus } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlatformError } from '@lambda/core';

/** The machine a block was measured on: its first line. */
export const machineLine = () => `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}.`;

/**
 * `file` is relative to the repository's root, wherever npm runs this package's script from. A file that
 * does not exist yet starts as a page of its own, with the markers to write between.
 */
export async function writeMarkdownBlock(file: string, name: string, command: string, block: string): Promise<string> {
  const path = fileURLToPath(new URL(file, new URL('../../', import.meta.url)));
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return `# Benchmark results\n\nWritten by \`${command}\`.\n\n${start}\n${end}\n`;
    throw error;
  });
  if (!text.includes(start) || !text.includes(end)) throw new PlatformError(`${path} has no ${start} ... ${end} markers`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${text.slice(0, text.indexOf(start) + start.length)}\n${machineLine()}\n\n${block}\n${text.slice(text.indexOf(end))}`);
  return path;
}
