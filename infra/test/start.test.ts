import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ENTRYPOINT = fileURLToPath(new URL('../src/bin/start.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the entrypoint; `onOutput` may send it signals once it prints something. */
function start(env: Record<string, string>, onOutput?: (stdout: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRYPOINT], {
      env: { PATH: process.env.PATH, LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onOutput?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm start', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lambda-start-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  describe('when the configuration is invalid', () => {
    it('should exit non-zero and name every invalid field', async () => {
      const run = await start({ DATA_DIR: dataDir, HTTP_PORT: 'eighty', EVENT_LOG_FSYNC: 'sometimes', LOG: 'carrier-pigeon' });
      expect(run.code).toBe(1);
      for (const field of ['http.port', 'eventLog.fsync', 'eventLog.adapter']) expect(run.stderr).toContain(field);
      expect(run.stderr).toContain('HTTP_PORT="eighty"');
      // Nothing was opened, so nothing was written.
      expect(await readdir(dataDir)).toEqual([]);
    });
  });

  describe('when the configuration is valid', () => {
    it('should serve on the printed URL and stop cleanly on SIGINT', async () => {
      let signalled = false;
      let health: number | undefined;
      const run = await start({ DATA_DIR: dataDir, HTTP_PORT: '0' }, (stdout, child) => {
        if (!signalled && stdout.includes('platform ready')) {
          signalled = true;
          // The printed URL answers: the platform really is up before it is stopped.
          const url = /health: +(http:\/\/\S+)"/.exec(stdout)![1]!;
          void fetch(url).then((response) => {
            health = response.status;
            child.kill('SIGINT');
          });
        }
      });
      expect(health).toBe(200);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const messages = run.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect(messages).toContain('stopped cleanly');
      expect((await readdir(dataDir)).sort()).toEqual(['batch-work', 'lake', 'log', 'views']);
      // The locks were released: the directories can be opened again.
      expect(await readdir(join(dataDir, 'log'))).not.toContain('.lock');
      expect(await readdir(join(dataDir, 'views'))).not.toContain('.lock');
    });
  });
});
