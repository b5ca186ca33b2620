/**
 * Lines of text from a TCP server (the classic `nc -lk 9999`): the source connects as a client and keeps
 * every complete line that arrives until the next poll. When the peer is not up yet, or goes away, it
 * reconnects with exponential backoff, for as long as the source runs.
 *
 * Not replayable, like Spark's socket source: what the peer sent cannot be asked for again, so lines
 * received but not yet processed when the process dies are lost, and a checkpointed position (the count
 * of lines handed out) is kept only for the record. Use a log topic when input must survive a restart.
 */
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionError, type Logger, silentLogger, type JsonValue, retry } from '@lambda/core';
import type { SourceBatch, StreamSource } from './stream-source.js';

export interface SocketTextSourceOptions {
  host: string;
  port: number;
  /** First wait before reconnecting; each later wait doubles up to `maxReconnectDelayMs`. Default 100 ms. */
  initialReconnectDelayMs?: number;
  /** Default 5 s. */
  maxReconnectDelayMs?: number;
  /** Most lines one poll takes; the rest wait for the next. Default 100,000. */
  maxLinesPerPoll?: number;
  logger?: Logger;
}

export class SocketTextSource implements StreamSource<string> {
  readonly description: string;
  private readonly logger: Logger;
  private lines: string[] = [];
  private delivered = 0;
  private stopping: AbortController | undefined;
  private running: Promise<void> | undefined;
  private socket: Socket | undefined;
  private connections = 0;

  constructor(private readonly options: SocketTextSourceOptions) {
    this.description = `socket:${options.host}:${options.port}`;
    this.logger = (options.logger ?? silentLogger()).child({ ns: 'socket-source' });
  }

  /** How many times a connection was made: 1 after the first, +1 after each reconnect. */
  get connectionCount(): number {
    return this.connections;
  }

  /** Starts connecting in the background and resolves at once: the peer may come up later. */
  async start(from?: JsonValue): Promise<void> {
    if (this.running) return;
    if (typeof from === 'number') this.delivered = from;
    this.stopping = new AbortController();
    this.running = this.connectLoop(this.stopping.signal);
  }

  async poll(): Promise<SourceBatch<string>> {
    const records = this.lines.splice(0, this.options.maxLinesPerPoll ?? 100_000);
    this.delivered += records.length;
    return { records, position: this.delivered };
  }

  async commit(): Promise<void> {
    // Nothing to acknowledge: a socket has no way to say what was processed.
  }

  async stop(): Promise<void> {
    this.stopping?.abort();
    this.socket?.destroy();
    await this.running;
    this.running = undefined;
  }

  private async connectLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const socket = await retry(() => this.connectOnce(signal), {
          attempts: Number.POSITIVE_INFINITY,
          initialDelayMs: this.options.initialReconnectDelayMs ?? 100,
          maxDelayMs: this.options.maxReconnectDelayMs ?? 5000,
          signal,
        });
        await this.readUntilClosed(socket);
      } catch (error) {
        if (signal.aborted) return;
        this.logger.warn({ err: error, source: this.description }, 'socket source stopped reconnecting');
        return;
      }
      if (signal.aborted) return;
      this.logger.info({ source: this.description }, 'peer closed the connection; reconnecting');
      // A peer that accepts and hangs up at once must not make this a busy loop.
      await sleep(this.options.initialReconnectDelayMs ?? 100, undefined, { signal }).catch(() => undefined);
    }
  }

  private connectOnce(signal: AbortSignal): Promise<Socket> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new ConnectionError(`${this.description}: stopped`));
      const socket = connect({ host: this.options.host, port: this.options.port });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        this.connections++;
        this.logger.info({ source: this.description }, 'connected');
        resolve(socket);
      });
      socket.once('error', (error) => {
        socket.destroy();
        reject(new ConnectionError(`${this.description}: ${error.message}`, { cause: error }));
      });
    });
  }

  /** Splits the byte stream into lines; a line cut across chunks (or a UTF-8 character) is joined again. */
  private readUntilClosed(socket: Socket): Promise<void> {
    this.socket = socket;
    const decoder = new StringDecoder('utf8');
    let partial = '';
    return new Promise((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        const parts = (partial + decoder.write(chunk)).split('\n');
        partial = parts.pop()!;
        for (const line of parts) this.lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      });
      socket.on('error', (error) => this.logger.debug({ err: error, source: this.description }, 'socket error'));
      socket.once('close', () => {
        // The peer ended the stream: its last line is complete even without a final newline.
        const rest = partial + decoder.end();
        if (rest !== '') this.lines.push(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
        this.socket = undefined;
        resolve();
      });
    });
  }
}
