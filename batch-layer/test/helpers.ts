/**
 * Shared fixtures of the batch-layer tests: a temporary directory per test, the page-view source, and the
 * real embedded adapters (log, view store, local lake) with a DuckDB engine, opened under that directory.
 */
import { join } from 'node:path';
import {
  EmbeddedEventLog,
  EmbeddedViewStore,
  LocalLake,
  silentLogger,
  type JsonValue,
  type LogMessage,
  type Logger,
  type SourceDefinition,
} from '@lambda/core';
import { makeTempDir } from '@lambda/test-kit';
import { DuckDbEngine } from '../src/index.js';

export const TOPIC = 'pageviews';

/** The page-view source every test uses: event time in `ts`, five typed fields. */
export const PAGEVIEWS: SourceDefinition = {
  topic: TOPIC,
  eventTimeField: 'ts',
  fields: { url: 'string', user: 'string', referrer: 'string', latency: 'number', bot: 'boolean' },
};

/** 2024-06-11 12:00:00 UTC: a minute boundary. */
export const BASE_TIME = Date.UTC(2024, 5, 11, 12, 0, 0);

/** A message pinned to a partition, with a known log timestamp and the JSON text of `value`. */
export function message(partition: number, value: JsonValue | string, timestamp: number, key: string | null = null): LogMessage {
  return { partition, key, timestamp, value: typeof value === 'string' ? value : JSON.stringify(value) };
}

export interface Platform {
  directory: string;
  eventLog: EmbeddedEventLog;
  viewStore: EmbeddedViewStore;
  lake: LocalLake;
  engine: DuckDbEngine;
  logger: Logger;
  close(): Promise<void>;
}

/** The embedded log, view store and local lake (no fsync: the tests do not pull the plug), and DuckDB. */
export async function openPlatform(label: string): Promise<Platform> {
  const dir = await makeTempDir(label);
  const eventLog = await EmbeddedEventLog.open({ directory: join(dir.path, 'log'), fsync: 'never' });
  const viewStore = await EmbeddedViewStore.open({ directory: join(dir.path, 'views'), fsync: 'never' });
  const lake = await LocalLake.open({ directory: join(dir.path, 'lake'), fsync: false });
  const engine = await DuckDbEngine.create({ threads: 1 });
  let closed = false;
  return {
    directory: dir.path,
    eventLog,
    viewStore,
    lake,
    engine,
    logger: silentLogger(),
    async close() {
      if (closed) return;
      closed = true;
      engine.close();
      await Promise.allSettled([eventLog.close(), viewStore.close(), lake.close()]);
      await dir.remove();
    },
  };
}
