/** Ports for the engines: the configured one, checked to be free, or one the OS picks. */
import { createServer } from 'node:net';
import { PlatformError } from '@lambda/core';

/** Resolves to `port` (or, for 0, a port the OS chose) once it was free on 127.0.0.1; rejects when it is taken. */
export function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/** The port named by environment variable `name`, when set and free; else a free one. */
export async function configuredPort(name: string): Promise<number> {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return freePort();
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PlatformError(`${name}=${raw} is not a port`);
  return freePort(port).catch((error: NodeJS.ErrnoException) => {
    throw new PlatformError(`${name}=${port} cannot be used: ${error.code === 'EADDRINUSE' ? 'something already listens there' : error.message}`);
  });
}
