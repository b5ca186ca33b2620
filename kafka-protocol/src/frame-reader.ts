/**
 * Splits a connection's byte stream into Kafka request frames (int32 size + payload), refusing negative
 * or oversized sizes before buffering them.
 */
import { MalformedFrameError } from './protocol-reader.js';

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds bytes from the socket and returns every frame now complete; throws MalformedFrameError on a bad size. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.concat();
      const size = head.readInt32BE(0);
      if (size < 0) throw new MalformedFrameError(`Negative frame size ${size}`, { size });
      if (size > this.maxFrameBytes) throw new MalformedFrameError(`Frame of ${size} bytes exceeds the ${this.maxFrameBytes}-byte limit`, { size });
      if (this.buffered < 4 + size) break;
      const all = this.concat();
      frames.push(Buffer.from(all.subarray(4, 4 + size)));
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return frames;
  }

  private concat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }
}
