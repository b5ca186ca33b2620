/** Speaks the Kafka protocol by hand, for requests no client library sends on demand (bad CRCs, duplicates, old versions). */
import { connect, type Socket } from 'node:net';
import { ApiKey } from '../src/api-versions.js';
import { ProtocolReader } from '../src/protocol-reader.js';
import { ProtocolWriter } from '../src/protocol-writer.js';

export class RawKafkaClient {
  private buffered = Buffer.alloc(0);
  private waiting: Array<() => void> = [];
  private nextCorrelationId = 1;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawKafkaClient> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawKafkaClient(socket);
  }

  /** Sends one request (header v1) and resolves with a reader positioned after the response's correlation id. */
  async request(apiKey: number, apiVersion: number, writeBody: (writer: ProtocolWriter) => void): Promise<ProtocolReader> {
    const correlationId = this.nextCorrelationId++;
    const body = new ProtocolWriter().int16(apiKey).int16(apiVersion).int32(correlationId).nullableString('raw-test');
    writeBody(body);
    this.send(body.toBuffer());
    const frame = await this.nextFrame();
    const reader = new ProtocolReader(frame);
    const answered = reader.int32();
    if (answered !== correlationId) throw new Error(`Correlation id ${answered}, expected ${correlationId}`);
    return reader;
  }

  /** Sends a size-prefixed frame holding `payload`. */
  send(payload: Buffer): void {
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    this.socket.write(Buffer.concat([size, payload]));
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves once the server closes the connection; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('The connection stayed open');
      await this.waitForData(deadline - Date.now());
    }
  }

  close(): void {
    this.socket.destroy();
  }

  /** The next size-prefixed frame the server sends, header and all (a bare SASL answer has none). */
  async nextFrame(timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0);
        if (this.buffered.length >= 4 + size) {
          const frame = this.buffered.subarray(4, 4 + size);
          this.buffered = this.buffered.subarray(4 + size);
          return frame;
        }
      }
      if (this.closed) throw new Error('The server closed the connection');
      if (Date.now() > deadline) throw new Error('No response');
      await this.waitForData(deadline - Date.now());
    }
  }

  private waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, timeoutMs));
      this.waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}

/** Fetch v11 of one partition, as a full fetch outside any fetch session; `maxWaitMs` bounds an empty answer's wait. */
export async function fetchOnePartition(raw: RawKafkaClient, topic: string, partition: number, offset: number, options: { maxWaitMs?: number } = {}) {
  const response = await raw.request(ApiKey.Fetch, 11, (writer) =>
    writer
      .int32(-1)
      .int32(options.maxWaitMs ?? 0)
      .int32(1)
      .int32(1024 * 1024)
      .int8(0)
      .int32(0)
      .int32(-1)
      .array([topic], (t, name) => t.string(name).array([partition], (p, index) => p.int32(index).int32(-1).int64(offset).int64(-1).int32(1024 * 1024)))
      .array([], () => undefined)
      .string(''),
  );
  response.int32(); // throttle
  const topLevelError = response.int16();
  response.int32(); // session id
  const [answer] = response.array((t) => {
    t.string();
    return t.array((p) => ({
      partition: p.int32(),
      errorCode: p.int16(),
      highWatermark: p.int64(),
      lastStableOffset: p.int64(),
      logStartOffset: p.int64(),
      abortedTransactions: p.int32(), // -1: null
      preferredReadReplica: p.int32(),
      // null (-1) or the records' length: a client like librdkafka refuses a null records field.
      recordBytes: p.int32(),
    }))[0]!;
  });
  return { topLevelError, ...answer! };
}
