/** Our engine config files are templates: `${name}` stands for a value known only at start (a port, a directory). */
import { readFile, writeFile } from 'node:fs/promises';
import { PlatformError } from '@lambda/core';

/** Writes `template` to `target` with every `${name}` replaced; a placeholder without a value is an error. */
export async function renderConfig(template: string, target: string, values: Record<string, string | number>): Promise<void> {
  const text = (await readFile(template, 'utf8')).replace(/\$\{(\w+)\}/g, (placeholder, name: string) => {
    const value = values[name];
    if (value === undefined) throw new PlatformError(`${template}: no value for ${placeholder}`);
    return String(value);
  });
  await writeFile(target, text);
}

/** The port a config file rendered earlier names in `pattern`'s first group (a restart listens there again). */
export async function portInRenderedConfig(file: string, pattern: RegExp): Promise<number> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new PlatformError(`${file} cannot be read (${error.code ?? error.message}): run engines:up first`, { cause: error });
  });
  const port = Number(pattern.exec(text)?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new PlatformError(`${file} names no port (${pattern})`);
  return port;
}
