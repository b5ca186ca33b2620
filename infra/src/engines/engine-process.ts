/**
 * Engines run as plain `java` processes, detached so that `engines:up` returns while they run: output to
 * the engine's log file, pid to its pid file. Both engines shut down cleanly on SIGTERM; one that does
 * not within the grace period is killed.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, open, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { PlatformError } from '@lambda/core';

export interface DetachedProcess {
  pid: number;
  /** False once the process exited (while this process still watches it). */
  running(): boolean;
}

/** Starts `command` in `files.stateDir` (where anything it writes to a relative path lands). */
export async function startDetached(command: string, args: readonly string[], files: { stateDir: string; logFile: string; pidFile: string }): Promise<DetachedProcess> {
  const log = await open(files.logFile, 'a');
  try {
    const child = spawn(command, args, { cwd: files.stateDir, detached: true, stdio: ['ignore', log.fd, log.fd] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    const pid = child.pid!;
    await writeFile(files.pidFile, `${pid}\n`);
    return { pid, running: () => child.exitCode === null && child.signalCode === null };
  } finally {
    await log.close();
  }
}

/** Runs a command to its end, its output appended to `logFile`; rejects when it fails. */
export async function runLogged(command: string, args: readonly string[], logFile: string, what: string): Promise<void> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { maxBuffer: 64 * 1024 * 1024 });
    await appendFile(logFile, stdout + stderr);
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    await appendFile(logFile, stdout + stderr);
    throw new PlatformError(`${what} failed: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
}

export async function readPid(pidFile: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether `pid` is still the engine started: a pid is reused once its process is gone, so where /proc
 * tells, the process's command line must contain `marker` (the engine's state directory).
 */
export function isEngineProcess(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true;
  }
}

/** SIGTERM, up to `graceMs` to exit, then SIGKILL. */
export async function stopProcess(pid: number, marker: string, graceMs = 30_000): Promise<'not running' | 'stopped' | 'killed'> {
  if (!isEngineProcess(pid, marker)) return 'not running';
  process.kill(pid, 'SIGTERM');
  for (const deadline = Date.now() + graceMs; Date.now() < deadline; await sleep(200)) {
    if (!isEngineProcess(pid, marker)) return 'stopped';
  }
  process.kill(pid, 'SIGKILL');
  while (isEngineProcess(pid, marker)) await sleep(100);
  return 'killed';
}
