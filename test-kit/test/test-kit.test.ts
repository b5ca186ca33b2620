/** The kit's own promises: what every package's tests lean on must hold. */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir, snapshotTree, startFaultProxy } from '../src/index.js';

describe('makeTempDir', () => {
  it('should give a fresh directory each time, and remove it with everything in it', async () => {
    const [a, b] = await Promise.all([makeTempDir('kit'), makeTempDir('kit')]);
    expect(a.path).not.toBe(b.path);
    await writeFile(join(a.path, 'file'), 'content');
    await a.remove();
    await b.remove();
    expect(existsSync(a.path)).toBe(false);
    expect(existsSync(b.path)).toBe(false);
  });
});

describe('snapshotTree', () => {
  it('should map every file under a directory to its content, and see a change', async () => {
    const dir = await makeTempDir('kit-tree');
    try {
      await writeFile(join(dir.path, 'a'), 'one');
      const before = await snapshotTree(dir.path);
      await writeFile(join(dir.path, 'a'), 'two');
      expect(await snapshotTree(dir.path)).not.toEqual(before);
      expect(await readFile(join(dir.path, 'a'), 'utf8')).toBe('two');
    } finally {
      await dir.remove();
    }
  });
});

describe('startFaultProxy', () => {
  it('should forward to its target, fail the requests it is told to, and count them all', async () => {
    const server = createServer((_request, response) => response.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const proxy = await startFaultProxy(`http://127.0.0.1:${port}`);
    try {
      expect(await (await fetch(`${proxy.endpoint}/a`)).text()).toBe('hello');
      proxy.failNext(1, 503);
      const failed = await fetch(`${proxy.endpoint}/b`);
      expect(failed.status).toBe(503);
      expect(await failed.text()).toContain('<Code>ServiceUnavailable</Code>');
      expect(await (await fetch(`${proxy.endpoint}/c`)).text()).toBe('hello');
      expect(proxy.requests.map((request) => `${request.url} ${request.outcome}`)).toEqual(['/a forwarded', '/b failed', '/c forwarded']);
    } finally {
      await proxy.close();
      server.close();
    }
  });
});
