/**
 * The load generator of figure 4, always in a process of its own so that it does not share the servers'
 * event loop: wrk when it is installed (written in C, it leaves the servers most of the CPU), autocannon
 * (from npm, always there) otherwise. Both report the same fields.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PlatformError } from '@lambda/core';

export interface LoadOptions {
  /** The server's base URL. */
  url: string;
  /** Request paths, each connection going round them in turn. */
  paths: string[];
  connections: number;
  seconds: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  /** Latency percentiles, in milliseconds. */
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export type LoadGenerator = 'wrk' | 'autocannon';

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));
const AUTOCANNON_CHILD = fileURLToPath(new URL('./autocannon-child.ts', import.meta.url));
const INFRA_DIRECTORY = fileURLToPath(new URL('../', import.meta.url));

/** wrk when it runs here, else autocannon. */
export function loadGenerator(): LoadGenerator {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined ? 'wrk' : 'autocannon';
}

/** Loads one target for `seconds` and reads the generator's report; any failed request is an error. */
export function load(generator: LoadGenerator, options: LoadOptions): Promise<LoadResult> {
  const [command, args] =
    generator === 'wrk'
      ? ['wrk', ['--threads', '1', '--connections', String(options.connections), '--duration', `${options.seconds}s`, '--script', WRK_SCRIPT, options.url, '--', ...options.paths]]
      : [process.execPath, ['--import', 'tsx', AUTOCANNON_CHILD, JSON.stringify(options)]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: INFRA_DIRECTORY, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').at(-1);
      if (code !== 0 || !line?.startsWith('{')) return reject(new PlatformError(`${generator} exited with ${code}: ${stderr.trim() || stdout.trim()}`));
      const result = JSON.parse(line) as LoadResult;
      const target = `${options.url}${options.paths[0]}`;
      if (result.non2xx !== 0 || result.errors !== 0 || result.timeouts !== 0) {
        return reject(new PlatformError(`load on ${target}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`));
      }
      if (result.requests === 0) return reject(new PlatformError(`load on ${target}: no request answered`));
      resolve(result);
    });
  });
}
