import { readFile } from 'node:fs/promises';

/** The last `lines` lines of a log file, or a note that there is none. */
export async function logTail(file: string, lines = 40): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return `(no log at ${file})`;
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
