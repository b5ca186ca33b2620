import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketTextSource } from '../src/index.js';

/** Polls until `count` lines have arrived or the time is up. */
async function pollLines(source: SocketTextSource, count: number, timeoutMs = 5000): Promise<string[]> {
  const lines: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (lines.length < count && Date.now() < deadline) {
    lines.push(...(await source.poll()).records);
    if (lines.length < count) await sleep(10);
  }
  return lines;
}

async function listen(port = 0): Promise<{ server: Server; port: number; clients: Socket[] }> {
  const clients: Socket[] = [];
  const server = createServer((socket) => clients.push(socket));
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, clients };
}

/** Closes a server, hanging up on its clients first (close waits for open connections). */
function closeServer({ server, clients }: { server: Server; clients: Socket[] }): Promise<void> {
  for (const client of clients) client.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('when a socket source reads lines from a TCP peer', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('should join lines split across chunks, including a multi-byte character', async () => {
    const listening = await listen();
    const { port, clients } = listening;
    cleanups.push(() => closeServer(listening));
    const source = new SocketTextSource({ host: '127.0.0.1', port });
    await source.start();
    cleanups.push(() => source.stop());
    await waitFor(() => clients.length === 1);
    const text = 'héllo world\r\nsecond line\nthird';
    const bytes = Buffer.from(text + '\n');
    // Cut inside the two-byte 'é' and inside words, one chunk at a time.
    for (const [from, to] of [[0, 2], [2, 9], [9, 20], [20, bytes.length]]) {
      clients[0]!.write(bytes.subarray(from, to));
      await sleep(5);
    }
    const expected = text.split('\n').map((line) => line.replace(/\r$/, ''));
    expect(await pollLines(source, expected.length)).toEqual(expected);
  });

  it('should survive its peer closing and listening again, and wait for a peer not up yet', async () => {
    const first = await listen();
    const port = first.port;
    const source = new SocketTextSource({ host: '127.0.0.1', port, initialReconnectDelayMs: 20, maxReconnectDelayMs: 100 });
    await source.start();
    cleanups.push(() => source.stop());
    await waitFor(() => first.clients.length === 1);
    first.clients[0]!.end('before\n');
    expect(await pollLines(source, 1)).toEqual(['before']);
    await closeServer(first);

    await sleep(150); // a few failed reconnects while nobody listens
        const second = await listen(port);
    cleanups.push(() => closeServer(second));
    await waitFor(() => second.clients.length === 1);
    second.clients[0]!.write('after 1\nafter 2\n');
    expect(await pollLines(source, 2)).toEqual(['after 1', 'after 2']);
    expect(source.connectionCount).toBe(2);
  });

  it('should connect once a peer that was not up at start begins listening', async () => {
    const probe = await listen();
    const port = probe.port;
    await closeServer(probe); // the port is free again: nobody listens there yet
    const source = new SocketTextSource({ host: '127.0.0.1', port, initialReconnectDelayMs: 20, maxReconnectDelayMs: 50 });
    await source.start();
    cleanups.push(() => source.stop());
    await sleep(100);
    expect((await source.poll()).records).toEqual([]);
    const late = await listen(port);
    cleanups.push(() => closeServer(late));
    await waitFor(() => late.clients.length === 1);
    late.clients[0]!.write('finally\n');
    expect(await pollLines(source, 1)).toEqual(['finally']);
    expect(source.connectionCount).toBe(1);
  });
});
