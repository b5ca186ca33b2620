/**
 * Opens the adapter of every port that the config names: the one place where configuration becomes
 * running adapters, so services never choose adapters themselves.
 */
import { join, resolve } from 'node:path';
import type { PlatformConfig } from '../config/config-schema.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { EmbeddedEventLog } from './event-log/embedded/embedded-event-log.js';
import type { EventLog } from './event-log/event-log.js';
import type { Lake } from './lake/lake.js';
import { LocalLake } from './lake/local/local-lake.js';
import { InProcessScheduler } from './scheduler/in-process/in-process-scheduler.js';
import type { Scheduler } from './scheduler/scheduler.js';
import { EmbeddedViewStore } from './view-store/embedded/embedded-view-store.js';
import type { ViewStore } from './view-store/view-store.js';

export interface Ports {
  eventLog: EventLog;
  viewStore: ViewStore;
  lake: Lake;
  scheduler: Scheduler;
  /** Where each port lives, for people: a directory or a server address. */
  locations: Record<'eventLog' | 'viewStore' | 'lake' | 'scheduler', string>;
  /** Closes every adapter: the scheduler first, so no job runs against a closed store. */
  close(): Promise<void>;
}

export async function openPorts(config: PlatformConfig, dependencies: { logger: Logger; metrics?: Metrics }): Promise<Ports> {
  const dataDir = resolve(config.dataDir);
  const locations = {
    eventLog: join(dataDir, 'log'),
    viewStore: join(dataDir, 'views'),
    lake: resolve(config.lake.dir ?? join(dataDir, 'lake')),
    scheduler: 'in this process',
  };
  const opened: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(adapter: T): T => {
    opened.unshift(adapter);
    return adapter;
  };
  try {
    const eventLog = track(
      await EmbeddedEventLog.open({
        directory: locations.eventLog,
        fsync: config.eventLog.fsync,
        fsyncIntervalMs: config.eventLog.fsyncIntervalMs,
        segmentBytes: config.eventLog.segmentBytes,
        logger: dependencies.logger,
        metrics: dependencies.metrics,
      }),
    );
    const viewStore = track(
      await EmbeddedViewStore.open({
        directory: locations.viewStore,
        fsync: config.viewStore.fsync,
        fsyncIntervalMs: config.viewStore.fsyncIntervalMs,
        logger: dependencies.logger,
      }),
    );
    const lake = track(await LocalLake.open({ directory: locations.lake }));
    const scheduler = track(new InProcessScheduler({ historyLimit: config.scheduler.historyLimit, logger: dependencies.logger }));
    return {
      eventLog,
      viewStore,
      lake,
      scheduler,
      locations,
      async close() {
        for (const adapter of opened) await adapter.close();
      },
    };
  } catch (error) {
    for (const adapter of opened) await adapter.close().catch(() => undefined);
    throw error;
  }
}
