/**
 * `start-batch-worker` as its own process, against the real Redis (a key prefix of its own, removed
 * afterwards): a recompute in this process, fanned out with no partition worker here, completes because
 * the child ran every partition; the child then stops cleanly on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BullmqTaskFanOut } from '@lambda/adapters';
import {
  Archiver,
  DuckDbEngine,
  PARTITION_QUEUE,
  Recomputer,
  describePartitionTask,
  type PartitionResult,
  type PartitionTask,
  type PreparedVersion,
} from '@lambda/batch-layer';
import {
  Catalog,
  EmbeddedEventLog,
  EmbeddedViewStore,
  LocalLake,
  silentLogger,
  loadConfig,
  type CatalogDefinition,
  type ViewRow,
} from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWhenAvailable, keysUnder, makeTempDir, REDIS_URL, redisSkipReason, removeKeysUnder } from '@lambda/test-kit';
import { logMessages, runEntrypoint, type EntrypointRun } from './helpers/run-entrypoint.js';

const TOPIC = 'clicks';
const VIEW = 'clicks_by_page';
const PARTITIONS = 3;
const CATALOG: CatalogDefinition = {
  sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { page: 'string', ms: 'number' } }],
  views: [{ name: VIEW, source: TOPIC, key: 'page', window: { type: 'tumbling', size: '1m' }, aggregates: { clicks: 'count()', time: 'sum(ms)' } }],
};
const BASE_TIME = Date.UTC(2024, 5, 11, 12, 0, 0);

const skipReason = await redisSkipReason(REDIS_URL);

describeWhenAvailable('the batch worker process', skipReason, () => {
  let dir: { path: string; remove: () => Promise<void> };
  let prefix: string;

  beforeEach(async () => {
    dir = await makeTempDir('batch-worker');
    prefix = `lambda-test-${randomUUID()}`;
  });

  afterEach(async () => {
    await removeKeysUnder(prefix);
    expect(await keysUnder(prefix)).toEqual([]);
    await dir.remove();
  });

  describe('when a recompute fans out and no partition worker runs in the recomputing process', () => {
    it('should run every partition task, so the recompute completes, then stop cleanly on SIGTERM', async () => {
      const lakeDir = join(dir.path, 'lake');
      const catalogFile = join(dir.path, 'catalog.json');
      await writeFile(catalogFile, JSON.stringify(CATALOG));
      const catalog = Catalog.compile(CATALOG);
      const eventLog = await EmbeddedEventLog.open({ directory: join(dir.path, 'log'), fsync: 'never' });
      const viewStore = await EmbeddedViewStore.open({ directory: join(dir.path, 'views'), fsync: 'never' });
      const lake = await LocalLake.open({ directory: lakeDir, fsync: false });
      const engine = await DuckDbEngine.create({ threads: 1 });
      const fanOut = await BullmqTaskFanOut.open<PartitionTask, PartitionResult>({ redisUrl: REDIS_URL, prefix, queue: PARTITION_QUEUE, describe: describePartitionTask, attempts: 1, timeoutMs: 15_000 });

      try {
        // Per partition: 10 clicks, pages and times counted here as they are appended.
        const expected = new Map<string, ViewRow & { state: { clicks: number; time: number } }>();
        await eventLog.createTopic(TOPIC, { partitions: PARTITIONS });
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const clicks = Array.from({ length: 10 }, (_, i) => ({ ts: BASE_TIME + ((i * 37 + partition * 11) % 180) * 1000, page: `/p${(i + partition) % 4}`, ms: i * 10 + partition }));
          await eventLog.append(
            TOPIC,
            clicks.map((click, i) => ({ partition, key: null, timestamp: BASE_TIME + 600_000 + i, value: JSON.stringify(click) })),
          );
          await viewStore.putSlice({ view: VIEW, partition, start: 0, end: 10, closed: true, newestRecordAt: null }, []);
          for (const click of clicks) {
            const windowStart = click.ts - (click.ts % 60_000);
            const row = expected.get(`${click.page} ${windowStart}`) ?? { key: click.page, windowStart, state: { clicks: 0, time: 0 } };
            row.state.clicks += 1;
            row.state.time += click.ms;
            expected.set(`${click.page} ${windowStart}`, row);
          }
        }
        const archiver = new Archiver({ eventLog, lake, engine, workDirectory: join(dir.path, 'work'), logger: silentLogger() });
        const recomputer = new Recomputer({ viewStore, lake, engine, archiver, catalog, logger: silentLogger(), fanOut });

        let prepared: PreparedVersion | undefined;
        let failure: unknown;
        let childPid: number | undefined;
        let signalled = false;
        const run: EntrypointRun = await runEntrypoint(
          'start-batch-worker',
          {
            DATA_DIR: join(dir.path, 'worker-data'),
            LAKE_DIR: lakeDir,
            CATALOG_FILE: catalogFile,
            SCHEDULER: 'bullmq',
            REDIS_URL,
            BULLMQ_PREFIX: prefix,
            RECOMPUTE_FAN_OUT: 'bullmq',
            PARTITION_WORKERS: '2',
          },
          (stdout, child) => {
            if (signalled || !/batch worker ready/.test(stdout)) return;
            signalled = true;
            childPid = child.pid;
            void recomputer
              .prepare(VIEW)
              .then((version) => (prepared = version))
              .catch((error: unknown) => (failure = error))
              .finally(() => child.kill('SIGTERM'));
          },
          30_000,
        );

        expect(failure).toBeUndefined();
        expect(prepared).toMatchObject({ version: 1, horizon: [10, 10, 10] });
        // Every partition ran in the child, named after its process.
        expect(prepared!.partitions!.map((result) => result.partition)).toEqual([0, 1, 2]);
        for (const result of prepared!.partitions!) expect(result.worker).toMatch(new RegExp(`-${childPid}$`));
        const sortRows = (rows: readonly ViewRow[]) => [...rows].sort((a, b) => a.windowStart - b.windowStart || a.key.localeCompare(b.key));
        expect(sortRows(await viewStore.readBatchRows(VIEW, 1))).toEqual(sortRows([...expected.values()]));

        expect(run.code).toBe(0);
        const messages = logMessages(run.stdout);
        expect(messages).toEqual(expect.arrayContaining(['taking tasks', 'batch worker ready; press Ctrl-C to stop', 'stopped cleanly']));
      } finally {
        await fanOut.close();
        engine.close();
        await Promise.allSettled([eventLog.close(), viewStore.close(), lake.close()]);
      }
    }, 40_000);
  });

  describe('when the scheduler is not BullMQ', () => {
    it('should refuse to start, saying why', async () => {
      const run = await runEntrypoint('start-batch-worker', { DATA_DIR: join(dir.path, 'data') });
      expect(run.code).toBe(1);
      expect(run.stdout + run.stderr).toMatch(/scheduler\.adapter.*must be 'bullmq'/);
    });
  });
});

describe('the fan-out setting', () => {
  describe('when it asks for BullMQ without the BullMQ scheduler', () => {
    it('should be refused, naming the setting and what it needs', () => {
      expect(() => loadConfig({ env: { RECOMPUTE_FAN_OUT: 'bullmq' } })).toThrow(/batchLayer\.fanOut \(env RECOMPUTE_FAN_OUT="bullmq"\): needs the BullMQ scheduler/);
      expect(loadConfig({ env: { RECOMPUTE_FAN_OUT: 'bullmq', SCHEDULER: 'bullmq', PARTITION_WORKERS: '0' } }).batchLayer).toMatchObject({
        fanOut: 'bullmq',
        partitionConcurrency: 0,
      });
      expect(loadConfig({ env: {} }).batchLayer).toMatchObject({ fanOut: 'none', partitionConcurrency: 1 });
    });
  });
});
