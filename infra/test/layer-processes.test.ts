import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logMessages, runEntrypoint, type EntrypointRun } from './helpers/run-entrypoint.js';

/** Runs a layer's entrypoint until it reports ready, lets `whileReady` look at it, then sends SIGTERM. */
function runUntilReady(name: string, env: Record<string, string>, whileReady: (stdout: string) => Promise<void> = async () => {}): Promise<EntrypointRun> {
  let signalled = false;
  return runEntrypoint(name, env, (stdout, child) => {
    if (signalled || !/ layer ready/.test(stdout)) return;
    signalled = true;
    void whileReady(stdout).finally(() => child.kill('SIGTERM'));
  });
}

describe('the per-layer processes', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lambda-layers-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  describe('when the speed layer runs alone', () => {
    it('should open only the log and the view store, and stop cleanly on SIGTERM', async () => {
      const run = await runUntilReady('start-speed', { DATA_DIR: dataDir });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const messages = logMessages(run.stdout);
      expect(messages).toContain('speed layer ready; press Ctrl-C to stop');
      expect(messages).toContain('stopped cleanly');
      expect((await readdir(dataDir)).sort()).toEqual(['log', 'views']);
    });
  });

  describe('when the batch layer runs alone', () => {
    it('should open every port it archives and recomputes with, and stop cleanly', async () => {
      const run = await runUntilReady('start-batch', { DATA_DIR: dataDir });
      expect(run.code).toBe(0);
      expect(logMessages(run.stdout)).toEqual(expect.arrayContaining(['batch layer ready; press Ctrl-C to stop', 'stopped cleanly']));
      expect((await readdir(dataDir)).sort()).toEqual(['batch-work', 'lake', 'log', 'views']);
    });
  });

  describe('when the serving layer runs alone', () => {
    it('should answer its API on the printed URL until stopped', async () => {
      const statuses: number[] = [];
      const run = await runUntilReady('start-serving', { DATA_DIR: dataDir, HTTP_PORT: '0' }, async (stdout) => {
        const base = /views: +(http:\/\/[^/"]+)\/views/.exec(stdout)![1]!;
        for (const path of ['/health', '/views', '/views/pageviews_by_url?key=%2F']) statuses.push((await fetch(base + path)).status);
      });
      expect(statuses).toEqual([200, 200, 200]);
      expect(run.code).toBe(0);
      expect(logMessages(run.stdout)).toContain('stopped cleanly');
      // Not the batch layer's work directory: this process runs no recompute.
      expect(await readdir(dataDir)).not.toContain('batch-work');
    });
  });

  describe('when two layers share an embedded store', () => {
    it('should refuse to start the second with exit code 1, naming the lock', async () => {
      const second: EntrypointRun[] = [];
      await runUntilReady('start-speed', { DATA_DIR: dataDir }, async () => {
        second.push(await runEntrypoint('start-batch', { DATA_DIR: dataDir }));
      });
      expect(second[0]!.code).toBe(1);
      expect(second[0]!.stdout).toMatch(/batch layer could not start: the embedded event log at .* is in use by process/);
    });
  });
});
