/**
 * One mode of the comparative demo in its own process: the all-in-one platform configured by the
 * environment the driver set (Lambda or Kappa), fed and questioned over the IPC channel. Answers are
 * read over HTTP by the driver, as any client would; this process only appends, reports its CPU time
 * and what it started, and runs reprocesses.
 */
import { readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Server } from 'node:net';
import { join } from 'node:path';
import {
  Metrics,
  UnknownJobError,
  archiveJobName,
  createLogger,
  loadConfig,
  recomputeJobName,
} from '@lambda/core';
import { createAllInOne, type AllInOne } from '../../all-in-one.js';
import type { AppendReply, CpuReply, ModeReady, ModeReply, ModeRequest, MovingParts } from './mode-protocol.js';

/** What the Kappa work adds to the all-in-one platform, as far as the demo uses it. */
type Platform = AllInOne & {
  kappaViews?: ReadonlySet<string>;
  compactor?: unknown;
};

const config = loadConfig();
const logger = createLogger({ level: config.logger.level, format: config.logger.format });
const platform: Platform = await createAllInOne(config, { logger, metrics: new Metrics() });

const send = (message: ModeReply | ModeReady) => process.send!(message);

async function movingParts(): Promise<MovingParts> {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const listening = handles
    .filter((handle): handle is Server => handle instanceof Server && handle.listening)
    .map((server) => server.address())
    .map((address) => (address && typeof address === 'object' ? `${address.address}:${address.port}` : String(address)));
  const scheduledJobs: string[] = [];
  const archivedTopics = platform.batchLayer.archivedTopics();
  for (const name of [...[...platform.catalog.views.keys()].map(recomputeJobName), ...archivedTopics.map(archiveJobName)]) {
    const status = await platform.ports.scheduler.status(name).catch((error: unknown) => {
      if (error instanceof UnknownJobError) return undefined;
      throw error;
    });
    if (status) scheduledJobs.push(`${name} (${status.repeat ? JSON.stringify(status.repeat) : 'on demand'})`);
  }
  for (const run of await platform.ports.scheduler.listRuns()) {
    if (!scheduledJobs.some((job) => job.startsWith(`${run.name} `))) scheduledJobs.push(`${run.name} (ran)`);
  }
  const kappaViews = [...(platform.kappaViews ?? [])];
  const layers = ['serving layer (HTTP API)', 'speed layer'];
  if (kappaViews.length < platform.catalog.views.size) layers.push('batch layer (archiver, DuckDB recompute)');
  // Topics read only by Kappa views are still archived, for a reprocess past the log's retention.
  else if (archivedTopics.length > 0) layers.push('lake archiver (no recompute)');
  if (platform.compactor) layers.push('Kappa compactor');
  const dataDir = config.dataDir;
  const stores = (await readdir(dataDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  return {
    listening,
    layers,
    scheduledJobs,
    kappaViews,
    osThreads: osThreads(),
    stores,
    lakeObjects: await countFiles(join(dataDir, 'lake')),
  };
}

/** The process's threads as the kernel counts them (Linux); 0 where /proc is absent. */
function osThreads(): number {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Bytes read through system calls so far (Linux's `rchar`, page cache hits included); 0 where /proc is absent. */
function bytesRead(): number {
  try {
    return Number(/^rchar:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function countFiles(directory: string): Promise<number> {
  let count = 0;
  const entries = await readdir(directory, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const entry of entries) if (entry.isFile() && !entry.parentPath.includes('.lake')) count++;
  return count;
}

async function handle(request: ModeRequest): Promise<unknown> {
  switch (request.type) {
    case 'append': {
      const appendedAt = Date.now();
      const records = await platform.ports.eventLog.append(request.topic, request.messages);
      return { records, appendedAt } satisfies AppendReply;
    }
    case 'cpu': {
      const { user, system } = process.cpuUsage();
      return { user, system, maxRssBytes: process.resourceUsage().maxRSS * 1024, readBytes: bytesRead() } satisfies CpuReply;
    }
    case 'moving-parts':
      return movingParts();
    case 'close':
      await platform.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (request: ModeRequest) => {
  handle(request).then(
    (result) => send({ id: request.id, ok: true, result }),
    (error: unknown) => send({ id: request.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
// The driver gone (it crashed or was killed): nothing may keep this platform running on its own.
process.on('disconnect', () => void platform.close().finally(() => process.exit(0)));
send({ type: 'ready', url: platform.url });
