/**
 * PySpark as the reference (the parity suites) and the peer (`npm run bench -- --peers spark`): runs a
 * program of infra/spark/ in the virtual environment that `infra/spark/setup.sh` makes (outside git),
 * feeding it JSON on stdin and reading JSON from its last line.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PlatformError } from '@lambda/core';

// From src/spark/ and dist/spark/ alike.
export const SPARK_DIR = fileURLToPath(new URL('../../spark/', import.meta.url));
export const SPARK_PYTHON = `${SPARK_DIR}.venv/bin/python`;

/** Why the Spark parity tests cannot run here: never in CI, which sets the environment up (.ci/run). */
export const sparkSkipReason = existsSync(SPARK_PYTHON) || process.env.CI ? undefined : 'no PySpark environment: run infra/spark/setup.sh';

/** Runs `program` (a file of infra/spark/) with `input` as JSON on stdin; resolves with its last stdout line, parsed. */
export function runSpark<T>(program: string, input: unknown, timeoutMs = 600_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(SPARK_PYTHON, [`${SPARK_DIR}${program}`], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYSPARK_PYTHON: SPARK_PYTHON } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new PlatformError(`${program} exited with ${code}:\n${stderr.split('\n').slice(-30).join('\n')}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new PlatformError(`${program} printed no JSON result:\n${stdout.slice(-2000)}\n${stderr.split('\n').slice(-30).join('\n')}`));
      }
    });
    // A program that dies before reading its input is reported by its exit code and stderr above, not by
    // an uncaught EPIPE on the closed pipe.
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(input));
  });
}
