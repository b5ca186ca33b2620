/**
 * Spreads the speed layer's partitions over worker threads: partition p of every topic goes to worker
 * p mod N, which reads and folds it on its own core while the main thread writes slices and commits.
 * A worker that dies is started again; the batch it failed is retried after a restore from the store.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { PlatformError, type Catalog, type LogFollowerDescriptor, type Logger } from '@lambda/core';
import type { FoldWorkerData, FoldWorkerRequest, FoldWorkerResponse } from './fold-worker.js';
import type { FoldExecutor, FolderOptions } from './folder-host.js';
import type { FoldResult, RestoredSlice } from './partition-folder.js';

/** The compiled worker: from src/ (tests) and from dist/ alike, it is the built file in dist/. */
const WORKER_FILE = new URL('../dist/fold-worker.js', import.meta.url);

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

class FoldWorker {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;

  constructor(
    private readonly data: FoldWorkerData,
    private readonly logger: Logger,
  ) {}

  /** Sends a message nobody answers; dropped while the thread is not running. */
  notify(op: 'hint', args: unknown[]): void {
    this.worker?.postMessage({ id: 0, op, args } as FoldWorkerRequest);
  }

  async call(op: Exclude<FoldWorkerRequest['op'], 'hint'>, args: unknown[]): Promise<unknown> {
    const worker = await this.ready();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, args } as FoldWorkerRequest);
    });
  }

  /** Starts the thread now, so the first micro-batch does not wait for it. */
  async warmUp(): Promise<void> {
    await this.ready();
  }

  private ready(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async start(): Promise<Worker> {
    const worker = new Worker(WORKER_FILE, { workerData: this.data });
    worker.on('message', (message: FoldWorkerResponse | { ready: true }) => {
      if (!('id' in message)) return;
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if ('error' in message) {
        const error = new PlatformError(message.error.message, { retriable: message.error.retriable });
        error.stack = message.error.stack;
        pending?.reject(error);
      } else {
        pending?.resolve(message.result);
      }
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      // Not retriable: a record that kills its worker every time is narrowed down and quarantined like any
      // other poison record, rather than retried forever.
      const error = new PlatformError(`a speed-layer worker exited (code ${code})`, { context: { code } });
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
      if (!this.closing) this.logger.error({ code }, 'speed-layer worker exited; it restarts with the next micro-batch');
    });
    const [message] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([error]) => Promise.reject(error))])) as [unknown];
    if (!(message as { ready?: boolean }).ready) throw new PlatformError('a speed-layer worker did not start');
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.terminate();
  }
}

export class WorkerExecutor implements FoldExecutor {
  private constructor(private readonly workers: FoldWorker[]) {}

  static async start(count: number, catalog: Catalog, follower: LogFollowerDescriptor, options: FolderOptions, logger: Logger): Promise<WorkerExecutor> {
    const data: FoldWorkerData = {
      catalog: catalog.definition,
      follower,
      options,
    };
    const workers = Array.from({ length: count }, () => new FoldWorker(data, logger));
    await Promise.all(workers.map((worker) => worker.warmUp()));
    return new WorkerExecutor(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  async restore(topic: string, partition: number, slices: RestoredSlice[], now: number): Promise<void> {
    await this.workerOf(partition).call('restore', [topic, partition, slices, now]);
  }

  async fold(topic: string, partition: number, upTo: number, now: number): Promise<FoldResult> {
    const result = (await this.workerOf(partition).call('fold', [topic, partition, upTo, now])) as FoldResult;
    // Buffers arrive as plain Uint8Arrays from another thread.
    for (const record of result.invalid) {
      record.value = Buffer.from(record.value);
      record.key = record.key === null ? null : Buffer.from(record.key);
      record.headers = Object.fromEntries(Object.entries(record.headers).map(([name, value]) => [name, Buffer.from(value)]));
    }
    return result;
  }

  async settle(topic: string, partition: number): Promise<void> {
    await this.workerOf(partition).call('settle', [topic, partition]);
  }

  hint(topic: string, partition: number, endOffset: number): void {
    this.workerOf(partition).notify('hint', [topic, partition, endOffset]);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
  }

  private workerOf(partition: number): FoldWorker {
    return this.workers[partition % this.workers.length]!;
  }
}
