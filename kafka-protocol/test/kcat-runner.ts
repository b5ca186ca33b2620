/** Runs kcat (librdkafka's command-line client), when installed, for the tests that drive the server with it. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const KCAT = '/usr/bin/kcat';
export const kcatInstalled = existsSync(KCAT);
/** Why the kcat tests cannot run here: never in CI, which installs kcat (.ci/run), so a lost install fails there. */
export const kcatSkipReason = kcatInstalled || process.env.CI ? undefined : `${KCAT} is missing (apt-get install kcat)`;

export interface KcatRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kcat with `input` on its standard input; resolves with how it ended (it is killed after 20 s). */
export function runKcat(args: string[], input = ''): Promise<KcatRun> {
  return new Promise((resolve) => {
    const child = spawn(KCAT, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // kcat may exit before it reads its input (a refused topic, a failed connection): its exit code and
    // stderr say what happened, and writing to the closed pipe must not become an uncaught EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Runs kcat and resolves with its standard output; rejects unless it exits 0. */
export async function kcat(args: string[], input = ''): Promise<string> {
  const run = await runKcat(args, input);
  if (run.code !== 0) throw new Error(`kcat ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}
