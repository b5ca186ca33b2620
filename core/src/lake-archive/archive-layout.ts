/**
 * Where the archive lives in the lake: one immutable Parquet file per archived offset range,
 *
 *   master/<topic>/<partition>/<from>-<to>.parquet     (offsets zero-padded to 20 digits)
 *
 * holding the valid records of that partition with `from <= offset < to`. The files themselves record how
 * far archiving got, so a re-run resumes after the last whole file and never archives a record twice.
 */
import { CorruptDataError } from '../errors/errors.js';
import type { Lake, LakeObjectInfo } from '../ports/lake/lake.js';

export const MASTER_PREFIX = 'master';

export interface ArchiveFile {
  key: string;
  partition: number;
  from: number;
  to: number;
  size: number;
  etag: string;
}

const pad = (offset: number) => String(offset).padStart(20, '0');

export function archiveKey(topic: string, partition: number, from: number, to: number): string {
  return `${MASTER_PREFIX}/${topic}/${partition}/${pad(from)}-${pad(to)}.parquet`;
}

export function parseArchiveKey(info: LakeObjectInfo): ArchiveFile | undefined {
  const match = /\/(\d+)\/(\d{20})-(\d{20})\.parquet$/.exec(info.key);
  if (!match) return undefined;
  return { key: info.key, partition: Number(match[1]), from: Number(match[2]), to: Number(match[3]), size: info.size, etag: info.etag };
}

/**
 * The archive files of one partition, in offset order. They must chain (each starts where the previous
 * ended): a gap means a file was deleted by hand, and a recompute over it would silently miss records.
 */
export async function listArchiveFiles(lake: Lake, topic: string, partition: number): Promise<ArchiveFile[]> {
  const files: ArchiveFile[] = [];
  for await (const info of lake.list(`${MASTER_PREFIX}/${topic}/${partition}/`)) {
    const file = parseArchiveKey(info);
    if (file) files.push(file);
  }
  files.sort((a, b) => a.from - b.from);
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.from !== files[i - 1]!.to) {
      throw new CorruptDataError(
        `The archive of ${topic}/${partition} has a gap or overlap: ${files[i - 1]!.key} ends at ${files[i - 1]!.to}, ${files[i]!.key} starts at ${files[i]!.from}`,
        { topic, partition },
      );
    }
  }
  return files;
}
