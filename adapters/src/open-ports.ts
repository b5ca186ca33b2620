/**
 * Opens the adapter of every port that the config names: the one place where configuration becomes
 * running adapters, so services never choose adapters themselves. Each port's own `open*` function
 * (next to its adapters) knows its adapters.
 */
import type { PlatformConfig } from '../config/config-schema.js';
import type { EventLog } from './event-log/event-log.js';
import { openEventLog } from './event-log/open-event-log.js';
import type { Lake } from './lake/lake.js';
import { openLake } from './lake/open-lake.js';
import type { PortDependencies } from './port-dependencies.js';
import { openScheduler } from './scheduler/open-scheduler.js';
import type { Scheduler } from './scheduler/scheduler.js';
import { openViewStore } from './view-store/open-view-store.js';
import type { ViewStore } from './view-store/view-store.js';

interface PortAdapters {
  eventLog: EventLog;
  viewStore: ViewStore;
  lake: Lake;
  scheduler: Scheduler;
}
export type PortName = keyof PortAdapters;

/** Some of the ports, opened: what a single layer's process needs. */
export type SomePorts<K extends PortName> = Pick<PortAdapters, K> & {
  /** Where each opened port lives, for people: a directory or a server address. */
  locations: Pick<Record<PortName, string>, K>;
  /** Closes every opened adapter, in the reverse order of opening. */
  close(): Promise<void>;
};

/** Every port, opened. */
export type Ports = SomePorts<PortName>;

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
