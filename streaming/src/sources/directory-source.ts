/**
 * New files in a directory, as lines of text (Spark's `textFileStream`). Each file is processed exactly
 * once, also across restarts: the position is the sorted list of file names already taken, which the
 * checkpoint stores, so a restarted stream skips them and picks up only files it has not seen.
 *
 * When a file counts as complete (the rule writers must follow):
 * - names starting with `.` or `_`, or ending with `.tmp`, `.partial` or `.crdownload`, are never read:
 *   write a file under such a name and rename it into place when it is whole (a rename is atomic);
 * - any other file is read once its modification time is at least `settleMs` old (default 1 s), so a file
 *   copied in place slowly is not read half-written while it keeps growing.
 * Only regular files directly in the directory are read (no subdirectories). Files are taken in order of
 * modification time, then name. The list of taken names grows with every file: move processed files away
 * (and they stay remembered) or start a new checkpoint when it grows too large.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, type JsonValue } from '@lambda/core';
import type { SourceBatch, StreamSource } from './stream-source.js';

export interface DirectorySourceOptions {
  directory: string;
  /** A file is read once its modification time is at least this old. Default 1000 ms; 0 trusts renames alone. */
  settleMs?: number;
  /** Most files one poll takes; the rest wait for the next. Default 1000. */
  maxFilesPerPoll?: number;
  /** The clock the settle time is measured against; for tests. Default `Date.now`. */
  now?: () => number;
}

/** The names of files already taken. */
export interface DirectoryPosition {
  files: string[];
}

const IN_PROGRESS = /^[._]|\.(tmp|partial|crdownload)$/;

/** Whether a file name is one a writer is still filling, by the naming rule above. */
export function isInProgressFileName(name: string): boolean {
  return IN_PROGRESS.test(name);
}

export class DirectorySource implements StreamSource<string> {
  readonly description: string;
  private taken = new Set<string>();
  private lastFiles: string[] = [];

  constructor(private readonly options: DirectorySourceOptions) {
    this.description = `directory:${options.directory}`;
  }

  /** The files the last poll took, in the order their lines were handed out. */
  get lastPolledFiles(): readonly string[] {
    return this.lastFiles;
  }

  async start(from?: JsonValue): Promise<void> {
    this.taken = new Set(from === undefined || from === null ? [] : parsePosition(from).files);
  }

  async poll(): Promise<SourceBatch<string>> {
    const settleMs = this.options.settleMs ?? 1000;
    const now = (this.options.now ?? Date.now)();
    const candidates: { name: string; mtimeMs: number }[] = [];
    for (const entry of await readdir(this.options.directory, { withFileTypes: true })) {
      if (!entry.isFile() || this.taken.has(entry.name) || isInProgressFileName(entry.name)) continue;
      const info = await stat(join(this.options.directory, entry.name)).catch(ignoreMissing);
      // File times may run a little ahead of the clock, so a settle time of 0 trusts renames alone.
      if (info && (settleMs === 0 || now - info.mtimeMs >= settleMs)) candidates.push({ name: entry.name, mtimeMs: info.mtimeMs });
    }
    candidates.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const records: string[] = [];
    this.lastFiles = [];
    for (const { name } of candidates.slice(0, this.options.maxFilesPerPoll ?? 1000)) {
      const text = await readFile(join(this.options.directory, name), 'utf8').catch(ignoreMissing);
      if (text === undefined) continue; // removed since it was listed
      records.push(...splitLines(text));
      this.taken.add(name);
      this.lastFiles.push(name);
    }
    return { records, position: { files: [...this.taken].sort() } };
  }

  async commit(): Promise<void> {
    // The checkpoint holds the position; files are left where they are.
  }

  async stop(): Promise<void> {}
}

function splitLines(text: string): string[] {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}

function parsePosition(position: JsonValue): DirectoryPosition {
  const files = (position as { files?: unknown } | null)?.files;
  if (!Array.isArray(files) || !files.every((name) => typeof name === 'string')) {
    throw new InvalidArgumentError(`A directory position must be { files: [names] }, got ${JSON.stringify(position)}`, { position });
  }
  return { files: files as string[] };
}
