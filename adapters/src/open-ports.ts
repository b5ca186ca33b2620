/**
 * Opens the adapter of every port that the config names: the one place where configuration becomes
 * running adapters, so services never choose adapters themselves. Each port's own `open*` function
 * (next to its adapters) knows its adapters.
 */
import type { PlatformConfig, PortAdapters, PortName, Ports, SomePorts } from '@lambda/core';
import { openEventLog } from './open-event-log.js';
import { openLake } from './open-lake.js';
import type { PortDependencies } from './port-dependencies.js';
import { openScheduler } from './open-scheduler.js';
import { openViewStore } from './open-view-store.js';

/** In opening order: the scheduler last, so it closes first and no job runs against a closed store. */
const ALL_PORTS: readonly PortName[] = ['eventLog', 'viewStore', 'lake', 'scheduler'];

const OPENERS: { [K in PortName]: (config: PlatformConfig, dependencies: PortDependencies) => Promise<{ adapter: PortAdapters[K]; location: string }> } = {
  eventLog: async (config, dependencies) => {
    const { eventLog, location } = await openEventLog(config, dependencies);
    return { adapter: eventLog, location };
  },
  viewStore: async (config, dependencies) => {
    const { viewStore, location } = await openViewStore(config, dependencies);
    return { adapter: viewStore, location };
  },
  lake: async (config, dependencies) => {
    const { lake, location } = await openLake(config, dependencies);
    return { adapter: lake, location };
  },
  scheduler: async (config, dependencies) => {
    const { scheduler, location } = await openScheduler(config, dependencies);
    return { adapter: scheduler, location };
  },
};

export function openPorts(config: PlatformConfig, dependencies: PortDependencies): Promise<Ports> {
  return openSomePorts(config, dependencies, ALL_PORTS);
}

/**
 * Opens only the ports named: a speed-layer process has no business with the lake or the scheduler, and
 * with embedded adapters opening one would lock a directory that another process needs.
 */
export async function openSomePorts<K extends PortName>(config: PlatformConfig, dependencies: PortDependencies, names: readonly K[]): Promise<SomePorts<K>> {
  const opened: Array<{ close(): Promise<void> }> = [];
  const close = async () => {
    for (const adapter of opened.splice(0).reverse()) await adapter.close();
  };
  const adapters: Partial<Record<PortName, unknown>> = {};
  const locations: Partial<Record<PortName, string>> = {};
  try {
    for (const name of ALL_PORTS.filter((port) => (names as readonly PortName[]).includes(port))) {
      const { adapter, location } = await OPENERS[name](config, dependencies);
      opened.push(adapter);
      adapters[name] = adapter;
      locations[name] = location;
    }
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { ...(adapters as Pick<PortAdapters, K>), locations: locations as Pick<Record<PortName, string>, K>, close };
}
