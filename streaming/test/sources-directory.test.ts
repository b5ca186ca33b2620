import { rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectorySource } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';

describe('when a directory source watches a directory', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    dir = await makeTempDir('dir-source');
  });
  afterEach(() => dir.remove());

  it('should read each complete file once, in modification order, and pick up files added later', async () => {
    const files = { 'a.txt': ['one', 'two'], 'b.txt': ['three'] };
    for (const [name, lines] of Object.entries(files)) await writeFile(join(dir.path, name), lines.join('\n') + '\n');
    await utimes(join(dir.path, 'a.txt'), 1000, 1000);
    await utimes(join(dir.path, 'b.txt'), 2000, 2000);
    const source = new DirectorySource({ directory: dir.path, settleMs: 0 });
    await source.start();
    const first = await source.poll();
    expect(first.records).toEqual([...files['a.txt'], ...files['b.txt']]);
    expect((await source.poll()).records).toEqual([]);

    await writeFile(join(dir.path, 'c.txt'), 'four\r\nfive');
    expect((await source.poll()).records).toEqual(['four', 'five']);
  });

  it('should ignore in-progress names until the file is renamed into place', async () => {
    const source = new DirectorySource({ directory: dir.path, settleMs: 0 });
    await source.start();
    await writeFile(join(dir.path, '.part-1'), 'hidden\n');
    await writeFile(join(dir.path, 'data.tmp'), 'temporary\n');
    expect((await source.poll()).records).toEqual([]);
    await rename(join(dir.path, '.part-1'), join(dir.path, 'part-1'));
    expect((await source.poll()).records).toEqual(['hidden']);
  });

  it('should wait until a file has not changed for the settle time', async () => {
    let now = 1_000_000;
    const source = new DirectorySource({ directory: dir.path, settleMs: 5000, now: () => now });
    await source.start();
    const path = join(dir.path, 'slow.txt');
    await writeFile(path, 'line\n');
    await utimes(path, (now - 1000) / 1000, (now - 1000) / 1000);
    expect((await source.poll()).records).toEqual([]);
    now += 4000;
    expect((await source.poll()).records).toEqual(['line']);
  });

  it('should not read again, after a restart, the files its checkpointed position names', async () => {
    await writeFile(join(dir.path, 'first.txt'), 'x\n');
    const source = new DirectorySource({ directory: dir.path, settleMs: 0 });
    await source.start();
    const { position } = await source.poll();
    await writeFile(join(dir.path, 'second.txt'), 'y\n');
    const restarted = new DirectorySource({ directory: dir.path, settleMs: 0 });
    await restarted.start(JSON.parse(JSON.stringify(position)));
    expect((await restarted.poll()).records).toEqual(['y']);
  });
});
