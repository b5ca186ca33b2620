/**
 * The driver's handle on one mode's process: forks `mode-process` with the mode's environment, waits
 * until its platform is up, and sends it requests over the IPC channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PlatformError, TimeoutError } from '@lambda/core';
import type { AppendReply, CpuReply, Mode, ModeReady, ModeReply, ModeRequest, MovingParts } from './mode-protocol.js';

/** Distributes Omit over the request union, so each request is written without its id. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface ModeInstanceOptions {
  mode: Mode;
  /** The platform's configuration, as environment variables (DATA_DIR, KAPPA_VIEWS...). */
  env: Record<string, string>;
  /** Where the process's own log lines go. */
  logFile: string;
  /** How long the platform may take to start. Default 60 s. */
  startTimeoutMs?: number;
}

// Run from the TypeScript sources (tests, tsx) the child needs tsx too; from dist/ it is plain JS.
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './mode-process.ts' : './mode-process.js', import.meta.url);

export class ModeInstance {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private exited = false;

  private constructor(
    readonly mode: Mode,
    private readonly child: ChildProcess,
    /** The serving layer's base URL. */
    readonly url: string,
  ) {
    child.on('message', (message: ModeReply) => {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new PlatformError(`${mode} process: ${message.error}`, { context: { mode } }));
    });
    child.on('exit', (code) => {
      this.exited = true;
      for (const waiting of this.pending.values()) waiting.reject(new PlatformError(`${mode} process exited (code ${code})`, { context: { mode } }));
      this.pending.clear();
    });
  }

  static async start(options: ModeInstanceOptions): Promise<ModeInstance> {
    const log = createWriteStream(options.logFile);
    const child = fork(fileURLToPath(ENTRY), [], {
      env: { PATH: process.env.PATH, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', ...options.env },
      execArgv: ENTRY.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new TimeoutError(`the ${options.mode} platform did not start within ${timeoutMs} ms (see ${options.logFile})`));
      }, timeoutMs);
      child.once('message', (message: ModeReady) => {
        clearTimeout(timer);
        resolve(message.url);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new PlatformError(`the ${options.mode} platform exited while starting (code ${code}; see ${options.logFile})`, { context: { mode: options.mode } }));
      });
    });
    return new ModeInstance(options.mode, child, url);
  }

  append(topic: string, messages: { key: string | null; value: string }[]): Promise<AppendReply> {
    return this.request({ type: 'append', topic, messages }) as Promise<AppendReply>;
  }

  cpu(): Promise<CpuReply> {
    return this.request({ type: 'cpu' }) as Promise<CpuReply>;
  }

  movingParts(): Promise<MovingParts> {
    return this.request({ type: 'moving-parts' }) as Promise<MovingParts>;
  }

  /** Stops the platform cleanly; kills the process if it does not end within `timeoutMs`. */
  async close(timeoutMs = 20_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      await this.request({ type: 'close' }).catch(() => undefined);
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private request(request: WithoutId<ModeRequest>): Promise<unknown> {
    if (this.exited) return Promise.reject(new PlatformError(`${this.mode} process has exited`, { context: { mode: this.mode } }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...request, id } as ModeRequest);
    });
  }
}
