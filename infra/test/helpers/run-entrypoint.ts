import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface EntrypointRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The TypeScript source of one of infra's entrypoints (`start`, `start-speed`...), run through tsx. */
export function entrypoint(name: string): string {
  return fileURLToPath(new URL(`../../src/bin/${name}.ts`, import.meta.url));
}

/**
 * Runs an entrypoint with only `env` (and PATH) set, JSON logs on stdout; `onOutput` sees stdout so far
 * whenever it grows, and may signal the child. Killed after `timeoutMs`.
 */
export function runEntrypoint(
  name: string,
  env: Record<string, string>,
  onOutput?: (stdout: string, child: ChildProcess) => void,
  timeoutMs = 20_000,
): Promise<EntrypointRun> {
  return run(name, [], { LOG_FORMAT: 'json', ...env }, onOutput, timeoutMs);
}

/** Runs a command-line entrypoint (`recompute`, `reprocess`...) with `args`, only `env` (and PATH) set. */
export function runCommand(name: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<EntrypointRun> {
  return run(name, args, env, undefined, timeoutMs);
}

function run(
  name: string,
  args: string[],
  env: Record<string, string>,
  onOutput: ((stdout: string, child: ChildProcess) => void) | undefined,
  timeoutMs: number,
): Promise<EntrypointRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entrypoint(name), ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onOutput?.(stdout, child);
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The `msg` of each JSON log line. */
export function logMessages(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}
