/**
 * The word-count examples' stand-in for someone typing into `nc -lk <port>`: a TCP server that sends
 * every client seeded random lines, so the examples run (and their output repeats) without nc.
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { SeededRandom } from '@lambda/core';

const WORDS = ['to', 'be', 'or', 'not', 'that', 'is', 'the', 'question', 'whether', 'tis', 'nobler', 'in', 'mind'];

/** Starts the server; resolves with the function that stops it. */
export async function startLineServer(host: string, port: number, seed: number, linesPerSecond: number): Promise<() => Promise<void>> {
  const random = new SeededRandom(seed);
  const clients = new Set<Socket>();
  const server = createServer((socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => clients.delete(socket));
  });
  server.listen(port, host);
  await once(server, 'listening');
  const timer = setInterval(() => {
    const line = Array.from({ length: random.integer(2, 6) }, () => random.pick(WORDS)).join(' ');
    for (const client of clients) client.write(`${line}\n`);
  }, 1000 / linesPerSecond);
  return async () => {
    clearInterval(timer);
    for (const client of clients) client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
