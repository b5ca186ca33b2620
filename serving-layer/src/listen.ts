import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { answerClientErrors } from './http/client-error.js';

export interface RunningServer {
  /** The base URL, with the port actually bound (useful with port 0). */
  url: string;
  /** Stops accepting connections and ends idle keep-alive ones. */
  close(): Promise<void>;
}

export async function listen(app: Express, options: { host: string; port: number }): Promise<RunningServer> {
  const server = app.listen(options.port, options.host);
  // A request Node's parser refuses (a URL over the header limit...) gets the API's JSON error too.
  answerClientErrors(server);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
