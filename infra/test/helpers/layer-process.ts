/**
 * One layer's built entrypoint (`infra/dist/bin/<name>.js`) as a child process, as an operator runs it:
 * JSON logs kept (the last lines, for failure messages), ready once it logs so, killable with any signal
 * and startable again with the same environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const KEPT_LINES = 300;

export class LayerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private lines: string[] = [];
  /** Completed starts, so a test can tell a restart happened. */
  starts = 0;

  constructor(
    /** The entrypoint's file name without extension: `start-speed`, `start-serving`... */
    readonly entrypoint: string,
    /** What it logs once started: `speed layer`, `batch worker`... */
    private readonly readyName: string,
    private readonly env: Record<string, string>,
    /** Its working directory (relative paths in its config, the serving layer's `reports/`); the test's when absent. */
    private readonly cwd?: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Every message it logged (stdout, JSON lines), since the first start. */
  messages(): { msg: string; [field: string]: unknown }[] {
    return this.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string });
  }

  /** Its last log lines, for a failure message. */
  tail(lines = 40): string {
    return `--- the last lines of ${this.entrypoint} ---\n${this.lines.slice(-lines).join('\n')}`;
  }

  /** Starts it and resolves once it logs that it is ready; rejects (with its output) when it exits first. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.entrypoint} is already running`);
    const file = fileURLToPath(new URL(`../../dist/bin/${this.entrypoint}.js`, import.meta.url));
    const child = spawn(process.execPath, [file], { cwd: this.cwd, env: { PATH: process.env.PATH, LOG_FORMAT: 'json', ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let ready: () => void;
    const readyPromise = new Promise<void>((resolve) => (ready = resolve));
    let partial = '';
    const collect = (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const complete = text.split('\n');
      partial = complete.pop()!;
      for (const line of complete) {
        this.lines.push(line);
        if (line.includes(`"${this.readyName} ready`)) ready();
      }
      if (this.lines.length > KEPT_LINES * 2) this.lines = this.lines.slice(-KEPT_LINES);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        readyPromise,
        this.exited.then((code) => Promise.reject(new Error(`${this.entrypoint} exited with code ${code} before it was ready\n${this.tail()}`))),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.entrypoint} was not ready within ${timeoutMs / 1000} s\n${this.tail()}`)), timeoutMs))),
      ]);
    } catch (error) {
      child.kill('SIGKILL');
      await this.exited;
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.starts++;
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`); resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child!.kill(signal);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
