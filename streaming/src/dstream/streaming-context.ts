/**
 * The entry point of the DStream API (Spark's StreamingContext): define inputs, transformations and
 * outputs, then `start()`. Batches run on the platform's one micro-batch loop, so they never overlap.
 *
 * Each batch: poll every input, run every output, then commit. Committing makes the batch's window and
 * updateStateByKey changes the state, writes the checkpoint (when a directory is given: the batch index,
 * every input's position and every state, in one atomic file), and only then commits the inputs' positions
 * (e.g. a log consumer group's offsets). A failed batch is tried again with the same input, index and
 * time, from the state before it; a context restarted from its checkpoint resumes after the last committed
 * batch, so nothing is lost and nothing is output twice. (A crash after a batch's outputs and before its
 * checkpoint runs that batch again on restart: file outputs are replaced, as they are named by the batch
 * time; appends to a log topic or view are repeated, as in Spark.)
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConflictError,
  InvalidArgumentError,
  silentLogger,
  type Logger,
  type EventLog,
  type LogRecord,
  type JsonValue,
  writeFileAtomic,
  MicroBatchLoop,
} from '@lambda/core';
import { DirectorySource, type DirectorySourceOptions } from '../sources/directory-source.js';
import { LogTopicSource, type LogTopicSourceOptions } from '../sources/log-topic-source.js';
import { QueueSource } from '../sources/queue-source.js';
import { SocketTextSource, type SocketTextSourceOptions } from '../sources/socket-text-source.js';
import type { SourceBatch, StreamSource } from '../sources/stream-source.js';
import type { BatchTime } from './batch-time.js';
import { DStream } from './dstream.js';
import type { OutputOperation, StatefulNode, StreamGraph } from './stream-graph.js';

export interface StreamingContextOptions {
  /** The length of one micro-batch, in ms. Window lengths and slides must be multiples of it. */
  batchIntervalMs: number;
  /**
   * Where the context checkpoints after every batch (created if missing). A context created on a
   * directory holding a checkpoint resumes from it; define the same inputs and operations, in the same
   * order, as the run that wrote it.
   */
  checkpointDir?: string;
  logger?: Logger;
  /** Where pprint writes. Default: standard output. */
  write?: (text: string) => void;
  /**
   * Batches run only when `runBatch()` is called, never on a timer: for tests and step-by-step demos,
   * where time must not depend on the machine's speed.
   */
  manualBatches?: boolean;
  /** The time batch 0 ends at; batch n ends n intervals later. Default: now, rounded down to the interval (or the checkpoint's). */
  zeroTime?: number;
  /** Attempts at one batch before the context stops and `awaitTermination` rejects with its error. Default 3. */
  maxBatchAttempts?: number;
  /** The wait before a failed batch is tried again. Default 1000 ms. */
  retryDelayMs?: number;
}

export interface StopOptions {
  /**
   * True (the default): the batch in flight finishes its outputs and commits. False: the batch in flight
   * stops after the output it is running and does not commit, so a restart does it again.
   */
  graceful?: boolean;
}

/** A log source's options, but the log and topic, which logTopicStream takes as arguments. */
export type LogTopicStreamOptions = Omit<LogTopicSourceOptions, 'eventLog' | 'topic'>;

/** The checkpoint file: everything a restarted context needs to resume after its last committed batch. */
interface Checkpoint {
  version: 1;
  batchIntervalMs: number;
  zeroTime: number;
  lastIndex: number;
  inputs: Record<string, JsonValue>;
  state: Record<string, JsonValue>;
}

interface Input {
  id: string;
  source: StreamSource<unknown>;
  /** The batch polled for the batch in flight; kept until it commits, so a retry sees the same records. */
  pending: SourceBatch<unknown> | undefined;
}

const CHECKPOINT_FILE = 'dstream-checkpoint.json';

class AbandonedBatch extends Error {}

export class StreamingContext {
  readonly batchIntervalMs: number;
  private readonly logger: Logger;
  private readonly inputs: Input[] = [];
  private readonly outputs: OutputOperation[] = [];
  private readonly states: StatefulNode[] = [];
  private readonly graph: StreamGraph;
  private readonly loop: MicroBatchLoop;
  private status: 'defining' | 'started' | 'stopped' = 'defining';
  private zeroTime: number | undefined;
  private lastIndex = 0;
  private inFlight: { index: number; time: number } | undefined;
  private attempts = 0;
  private failedAttempts = 0;
  private abandon = false;
  private stopping: Promise<void> | undefined;
  private failure: unknown;
  private readonly terminated: Promise<void>;
  private resolveTerminated!: () => void;

  private constructor(
    private readonly options: StreamingContextOptions,
    private readonly checkpoint: Checkpoint | undefined,
  ) {
    this.batchIntervalMs = options.batchIntervalMs;
    this.logger = (options.logger ?? silentLogger()).child({ ns: 'dstream' });
    const write = options.write ?? ((text: string) => void process.stdout.write(text));
    this.graph = {
      batchIntervalMs: this.batchIntervalMs,
      write,
      assertDefinable: (operation) => {
        if (this.status !== 'defining') throw new ConflictError(`${operation}: streams cannot be defined once the context has started`, { operation });
      },
      addOutput: (output) => this.outputs.push(output),
      addState: (node) => this.states.push(node),
    };
    // By hand, a failed batch rejects runBatch(); on the timer, it is retried and then stops the context.
    const run = options.manualBatches ? async () => ({ backlog: false, batch: await this.batch() }) : () => this.timedBatch();
    this.loop = new MicroBatchLoop(run, { intervalMs: this.batchIntervalMs, logger: this.logger, retryDelayMs: options.retryDelayMs });
    this.terminated = new Promise((resolve) => (this.resolveTerminated = resolve));
  }

  static async create(options: StreamingContextOptions): Promise<StreamingContext> {
    const interval = options.batchIntervalMs;
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new InvalidArgumentError(`batchIntervalMs must be a positive whole number of ms, got ${JSON.stringify(interval)}`, { batchIntervalMs: interval });
    }
    let checkpoint: Checkpoint | undefined;
    if (options.checkpointDir !== undefined) {
      await mkdir(options.checkpointDir, { recursive: true });
      checkpoint = await readCheckpoint(join(options.checkpointDir, CHECKPOINT_FILE));
      if (checkpoint && checkpoint.batchIntervalMs !== interval) {
        throw new InvalidArgumentError(
          `The checkpoint in ${options.checkpointDir} was written with a batch interval of ${checkpoint.batchIntervalMs} ms, not ${interval} ms: windows would not line up`,
          { checkpointDir: options.checkpointDir, checkpointed: checkpoint.batchIntervalMs, batchIntervalMs: interval },
        );
      }
    }
    return new StreamingContext(options, checkpoint);
  }

  // ---- inputs -------------------------------------------------------------------------------------

  /** Any stream source as an input; the sources below are shortcuts for the built-in ones. */
  inputStream<T>(source: StreamSource<T>): DStream<T> {
    this.graph.assertDefinable('inputStream');
    const input: Input = { id: `input-${this.inputs.length}`, source, pending: undefined };
    this.inputs.push(input);
    return new DStream<T>(this.graph, async () => input.pending!.records as T[]);
  }

  /** Lines of text from a TCP server; reconnects when the peer goes away. Not replayable: see SocketTextSource. */
  socketTextStream(host: string, port: number, options: Omit<SocketTextSourceOptions, 'host' | 'port'> = {}): DStream<string> {
    return this.inputStream(new SocketTextSource({ logger: this.logger, ...options, host, port }));
  }

  /** Lines of each new file in a directory, each file once, also across restarts. See DirectorySource for when a file counts as complete. */
  textFileStream(directory: string, options: Omit<DirectorySourceOptions, 'directory'> = {}): DStream<string> {
    return this.inputStream(new DirectorySource({ ...options, directory }));
  }

  /**
   * The records of a log topic, read through the log port (the embedded log or Kafka): LogRecords, or
   * with `decode` their values as UTF-8 text or parsed JSON. A value that is not JSON is skipped with a
   * warning naming its partition and offset (it cannot be processed, and retrying would not help).
   */
  logTopicStream(eventLog: EventLog, topic: string, options?: LogTopicStreamOptions & { decode?: 'record' }): DStream<LogRecord>;
  logTopicStream(eventLog: EventLog, topic: string, options: LogTopicStreamOptions & { decode: 'string' }): DStream<string>;
  logTopicStream<T = JsonValue>(eventLog: EventLog, topic: string, options: LogTopicStreamOptions & { decode: 'json' }): DStream<T>;
  logTopicStream(eventLog: EventLog, topic: string, options: LogTopicStreamOptions & { decode?: 'record' | 'string' | 'json' } = {}): DStream<unknown> {
    const { decode, ...sourceOptions } = options;
    const records = this.inputStream(new LogTopicSource({ ...sourceOptions, eventLog, topic }));
    if (decode === 'string') return records.map((record) => record.value.toString('utf8'));
    if (decode !== 'json') return records;
    return records.flatMap((record) => {
      try {
        return [JSON.parse(record.value.toString('utf8')) as unknown];
      } catch (error) {
        this.logger.warn({ topic, partition: record.partition, offset: record.offset, err: error }, 'logTopicStream: skipping a value that is not JSON');
        return [];
      }
    });
  }

  /** Each batch takes the next array (Spark's queueStream with oneAtATime); pass a QueueSource to push more later. */
  queueStream<T>(queue: readonly (readonly T[])[] | QueueSource<T>): DStream<T> {
    return this.inputStream(queue instanceof QueueSource ? queue : new QueueSource(queue));
  }

  // ---- running ------------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.status !== 'defining') throw new ConflictError(`The streaming context has already ${this.status}`, { status: this.status });
    if (this.outputs.length === 0) {
      throw new InvalidArgumentError('No output operations are defined: add pprint, foreachBatch, saveAsTextFiles… before start()', {});
    }
    const checkpoint = this.checkpoint;
    this.zeroTime = checkpoint?.zeroTime ?? this.options.zeroTime ?? Math.floor(Date.now() / this.batchIntervalMs) * this.batchIntervalMs;
    this.lastIndex = checkpoint?.lastIndex ?? 0;
    this.states.forEach((node, i) => {
      const snapshot = checkpoint?.state[`state-${i}`];
      if (snapshot !== undefined) node.restore(snapshot);
    });
    this.status = 'started';
    const started: StreamSource<unknown>[] = [];
    try {
      for (const input of this.inputs) {
        await input.source.start(checkpoint?.inputs[input.id]);
        started.push(input.source);
      }
    } catch (error) {
      for (const source of started) await source.stop().catch(() => undefined);
      this.status = 'stopped';
      this.resolveTerminated();
      throw error;
    }
    if (checkpoint) this.logger.info({ lastIndex: checkpoint.lastIndex }, 'resuming from checkpoint');
    if (!this.options.manualBatches) this.loop.start();
  }

  /**
   * Runs one batch now (after any in flight) and resolves when it has committed; rejects with its error,
   * and the next call tries the same batch again. The way tests and demos drive time.
   */
  async runBatch(): Promise<BatchTime> {
    if (!this.options.manualBatches) throw new ConflictError('runBatch: only a context created with manualBatches runs batches by hand', {});
    if (this.status !== 'started') throw new ConflictError(`runBatch: the streaming context is ${this.status}, not started`, { status: this.status });
    const result = (await this.loop.runOnce()) as { backlog: boolean; batch: BatchTime };
    return result.batch;
  }

  /** Resolves when the context stops; rejects with the error of a batch that failed every attempt. */
  async awaitTermination(): Promise<void> {
    await this.terminated;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stops the batches, then the sources. See StopOptions for what happens to the batch in flight. */
  stop(options: StopOptions = {}): Promise<void> {
    if (this.stopping) return this.stopping;
    this.abandon = options.graceful === false;
    this.stopping = (async () => {
      try {
        await this.loop.stop();
      } finally {
        for (const input of this.inputs) await input.source.stop().catch((error) => this.logger.warn({ err: error, source: input.source.description }, 'source failed to stop'));
        this.status = 'stopped';
        this.resolveTerminated();
      }
    })();
    return this.stopping;
  }

  /** The index of the last committed batch (0 before the first). */
  get lastCommittedBatch(): number {
    return this.lastIndex;
  }

  // ---- one batch ----------------------------------------------------------------------------------

  private async timedBatch(): Promise<{ backlog: boolean }> {
    try {
      await this.batch();
      this.failedAttempts = 0;
    } catch (error) {
      if (error instanceof AbandonedBatch) return { backlog: false };
      this.failedAttempts++;
      if (this.failedAttempts < (this.options.maxBatchAttempts ?? 3)) throw error; // the loop logs it and tries again
      this.logger.error({ err: error, attempts: this.failedAttempts }, 'micro-batch failed every attempt; stopping');
      this.failure = error;
      void this.stop({ graceful: false });
    }
    return { backlog: false };
  }

  private async batch(): Promise<BatchTime> {
    if (this.stopping && this.abandon) throw new AbandonedBatch('stopping');
    this.inFlight ??= this.nextBatch();
    const batch: BatchTime = { ...this.inFlight, attempt: ++this.attempts };
    try {
      for (const input of this.inputs) input.pending ??= await input.source.poll();
      for (const output of this.outputs) {
        if (this.abandon) throw new AbandonedBatch('stopping');
        await output.run(batch);
      }
    } catch (error) {
      for (const node of this.states) node.abort();
      throw error;
    }
    await this.commit(batch);
    return batch;
  }

  private nextBatch(): { index: number; time: number } {
    const zero = this.zeroTime!;
    let index = this.lastIndex + 1;
    // On a timer, a batch is named by the interval it ends; after a pause (or a restart) skipped intervals are empty.
    if (!this.options.manualBatches) index = Math.max(index, Math.floor((Date.now() - zero) / this.batchIntervalMs));
    return { index, time: zero + index * this.batchIntervalMs };
  }

  private async commit(batch: BatchTime): Promise<void> {
    for (const node of this.states) node.commit();
    this.lastIndex = batch.index;
    this.inFlight = undefined;
    if (this.options.checkpointDir !== undefined) {
      const checkpoint: Checkpoint = {
        version: 1,
        batchIntervalMs: this.batchIntervalMs,
        zeroTime: this.zeroTime!,
        lastIndex: batch.index,
        inputs: Object.fromEntries(this.inputs.map((input) => [input.id, input.pending!.position])),
        state: Object.fromEntries(this.states.map((node, i) => [`state-${i}`, node.snapshot()])),
      };
      await writeFileAtomic(join(this.options.checkpointDir, CHECKPOINT_FILE), JSON.stringify(checkpoint));
    }
    for (const input of this.inputs) {
      await input.source.commit(input.pending!.position);
      input.pending = undefined;
    }
    this.logger.debug({ index: batch.index, time: batch.time }, 'batch committed');
  }
}

async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const checkpoint = JSON.parse(text) as Checkpoint;
  if (checkpoint.version !== 1) throw new InvalidArgumentError(`Unknown DStream checkpoint version ${JSON.stringify(checkpoint.version)} in ${path}`, { path });
  return checkpoint;
}
