import { appendFile, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EmbeddedEventLog,
  InvalidArgumentError,
  LockedError,
  PlatformError,
  createLogger,
  type EmbeddedEventLogOptions,
} from '@lambda/core';
import { readAll } from '../src/event-log-contract.js';
import { makeTempDir, snapshotTree } from '@lambda/test-kit';

describe('EmbeddedEventLog on disk', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let warnings: string[];
  const open = (options: Partial<EmbeddedEventLogOptions> = {}) =>
    EmbeddedEventLog.open({
      directory: dir.path,
      logger: createLogger({ level: 'warn', format: 'json', destination: { write: (line: string) => warnings.push(line) } }),
      ...options,
    });
  const partitionDir = (partition = 0) => join(dir.path, 'topics', 'events', String(partition));
  const segmentFiles = async (partition = 0) => (await readdir(partitionDir(partition))).filter((f) => f.endsWith('.log')).sort();

  beforeEach(async () => {
    dir = await makeTempDir('log-disk');
    warnings = [];
  });
  afterEach(() => dir.remove());

  async function writeRecords(count: number, options: Partial<EmbeddedEventLogOptions> = {}): Promise<void> {
    const log = await open(options);
    await log.createTopic('events', { partitions: 1 }).catch(() => undefined);
    for (let i = 0; i < count; i += 10) {
      await log.append('events', Array.from({ length: Math.min(10, count - i) }, (_, j) => ({ value: `record-${i + j}` })));
    }
    await log.close();
  }

  async function expectRecords(count: number, options: Partial<EmbeddedEventLogOptions> = {}): Promise<void> {
    const log = await open(options);
    try {
      expect(await log.endOffsets('events')).toEqual([count]);
      const values = (await readAll(log, 'events', 0)).map((r) => r.value.toString());
      expect(values).toEqual(Array.from({ length: count }, (_, i) => `record-${i}`));
    } finally {
      await log.close();
    }
  }

  describe('when the last write was torn', () => {
    it.each([
      ['a half-written frame header', Buffer.from([0x20, 0x00, 0x00])],
      ['a frame whose payload is cut short', Buffer.concat([Buffer.from([0xff, 0x00, 0x00, 0x00, 1, 2, 3, 4]), Buffer.alloc(20, 7)])],
      ['zeros from an extended but unwritten file', Buffer.alloc(4096)],
      ['garbage', Buffer.from('this is not a frame at all, just noise on the disk')],
    ])('should cut %s and keep every whole record', async (_label, tail) => {
      await writeRecords(95);
      const [segment] = await segmentFiles();
      const path = join(partitionDir(), segment!);
      const sizeBefore = (await stat(path)).size;
      await appendFile(path, tail);
      await expectRecords(95);
      expect((await stat(path)).size).toBe(sizeBefore);
      expect(warnings.join('')).toContain('torn tail');
    });

    it('should drop a whole batch whose frame is cut, never part of it', async () => {
      await writeRecords(30);
      const [segment] = await segmentFiles();
      const path = join(partitionDir(), segment!);
      const size = (await stat(path)).size;
      await truncate(path, size - 5); // the last append (records 20-29) is now torn
      await expectRecords(20);
    });

    it('should continue appending at the first offset after the cut', async () => {
      await writeRecords(50);
      const [segment] = await segmentFiles();
      await appendFile(join(partitionDir(), segment!), Buffer.alloc(100, 1));
      const log = await open();
      const [appended] = await log.append('events', [{ value: 'record-50' }]);
      expect(appended!.offset).toBe(50);
      await log.close();
      await expectRecords(51);
    });
  });

  describe('when segments roll', () => {
    const small = { segmentBytes: 2048, indexIntervalBytes: 256 };

    it('should start a new segment file past segmentBytes and read across them', async () => {
      await writeRecords(400, small);
      const files = await segmentFiles();
      expect(files.length).toBeGreaterThan(5);
      for (const file of files) expect((await stat(join(partitionDir(), file))).size).toBeLessThanOrEqual(2048);
      await expectRecords(400, small);
    });

    it('should find every offset through the sparse index', async () => {
      await writeRecords(400, small);
      const log = await open(small);
      for (const offset of [0, 1, 99, 100, 201, 255, 399]) {
        const { records } = await log.read('events', 0, offset, { maxRecords: 1 });
        expect(records[0]!.value.toString()).toBe(`record-${offset}`);
      }
      await log.close();
    });

    it.each([
      ['deleted', (path: string) => rm(path)],
      ['filled with garbage', (path: string) => writeFile(path, Buffer.alloc(64, 0xab))],
      ['cut mid-entry', async (path: string) => truncate(path, Math.max(0, (await stat(path)).size - 3))],
    ])('should rebuild an index that was %s', async (_label, damage) => {
      await writeRecords(400, small);
      for (const file of (await readdir(partitionDir())).filter((f) => f.endsWith('.index'))) await damage(join(partitionDir(), file));
      await expectRecords(400, small);
    });
  });

  describe('when invalid input arrives', () => {
    it('should change nothing on disk', async () => {
      await writeRecords(20);
      const log = await open();
      await log.commitOffsets('group', 'events', new Map([[0, 5]]));
      const before = await snapshotTree(dir.path);
      const attempts: Array<() => Promise<unknown>> = [
        () => log.createTopic('bad name', { partitions: 1 }),
        () => log.createTopic('../escape', { partitions: 1 }),
        () => log.createTopic('fine', { partitions: 0 }),
        () => log.createTopic('fine', { partitions: 2.5 }),
        () => log.append('events', [{ value: 'ok' }, { value: 5 as unknown as string }]),
        () => log.append('events', [{ value: 'ok', partition: 3 }]),
        () => log.append('../events', [{ value: 'ok' }]),
        () => log.read('events', 0, -1),
        () => log.read('events', 9, 0),
        () => log.commitOffsets('group', 'events', new Map([[0, -1]])),
        () => log.commitOffsets('group', 'events', new Map([[4, 1]])),
      ];
      for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(PlatformError);
      expect(await snapshotTree(dir.path)).toEqual(before);
      await log.close();
    });

    it('should refuse an append too large for one batch, naming the limit', async () => {
      const log = await open({ maxBatchBytes: 1000 });
      await log.createTopic('events', { partitions: 1 });
      await expect(log.append('events', [{ value: 'x'.repeat(2000) }])).rejects.toThrow(/1000-byte limit/);
      await expect(log.append('events', [{ value: 'x'.repeat(2000) }])).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(await log.endOffsets('events')).toEqual([0]);
      await log.close();
    });
  });

  describe('when two owners compete for the directory', () => {
    it('should refuse a second open while the first is live', async () => {
      const log = await open();
      await expect(open()).rejects.toBeInstanceOf(LockedError);
      await log.close();
      const again = await open();
      await again.close();
    });

    it('should take over the lock of a process that died', async () => {
      await writeFile(join(dir.path, '.lock'), '999999999\n'); // no such pid
      const log = await open();
      await log.close();
    });
  });

  describe('when a topic creation was interrupted', () => {
    it('should forget the half-created topic', async () => {
      await writeRecords(5);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(dir.path, 'topics', '.creating-ghost-1234'));
      const log = await open();
      expect((await log.listTopics()).map((t) => t.name)).toEqual(['events']);
      await log.close();
      expect(await readdir(join(dir.path, 'topics'))).toEqual(['events']);
    });
  });

  describe('when fsync runs on an interval', () => {
    it('should acknowledge appends and keep them across a reopen', async () => {
      await writeRecords(40, { fsync: 'interval', fsyncIntervalMs: 5 });
      await expectRecords(40, { fsync: 'interval', fsyncIntervalMs: 5 });
    });
  });

  it('should keep consumer offsets across a compaction of their journal', async () => {
    const log = await open({ fsync: 'never' });
    await log.createTopic('events', { partitions: 2 });
    // ~5 MB of commits: past the 4 MiB compaction threshold.
    const bigGroup = 'g'.repeat(200);
    for (let i = 0; i < 12_000; i++) await log.commitOffsets(i % 2 ? bigGroup : 'small', 'events', new Map([[i % 2, i]]));
    await log.close();
    const journal = await readFile(join(dir.path, 'consumer-offsets.journal'));
    expect(journal.length).toBeLessThan(4 * 1024 * 1024);
    const reopened = await open();
    expect(await reopened.committedOffsets('small', 'events')).toEqual(new Map([[0, 11_998]]));
    expect(await reopened.committedOffsets(bigGroup, 'events')).toEqual(new Map([[1, 11_999]]));
    await reopened.close();
  });
});
