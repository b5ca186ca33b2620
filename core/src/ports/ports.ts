/**
 * The four ports as a set: what a layer receives, opened by whoever runs it (infra picks the adapters
 * from config; a test hands in embedded ones). Layers depend on this shape, never on the adapters.
 */
import type { EventLog } from './event-log/event-log.js';
import type { Lake } from './lake/lake.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { ViewStore } from './view-store/view-store.js';

export interface PortAdapters {
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
