/**
 * The all-in-one runner: every layer of the platform in one process, on the adapters the config names
 * (the embedded ones by default). Production runs each layer as its own process instead.
 */
import { openPorts, type Logger, type Metrics, type PlatformConfig, type Ports } from '@lambda/common';
import { createServer, listen } from '@lambda/serving-layer';

export interface AllInOne {
  ports: Ports;
  /** The serving layer's base URL. */
  url: string;
  /** Stops every layer, then closes every adapter. */
  close(): Promise<void>;
}

export async function createAllInOne(config: PlatformConfig, dependencies: { logger: Logger; metrics: Metrics }): Promise<AllInOne> {
  const ports = await openPorts(config, dependencies);
  try {
    const server = await listen(createServer({ ports, ...dependencies }), config.http);
    return {
      ports,
      url: server.url,
      async close() {
        await server.close();
        await ports.close();
      },
    };
  } catch (error) {
    await ports.close();
    throw error;
  }
}
