/**
 * `GET /health`: one entry per dependency (each port), with the latency of a cheap call to it and the
 * last error it gave; whether each view keeps up with its log (see ViewProgressMonitor); and the speed
 * layer's own report when it runs in this process. 503 `down` when any dependency does not answer;
 * otherwise 200, `degraded` when a view is stalled or a speed-layer topic keeps failing (reads still
 * work, so a load balancer should keep sending them), else `up`.
 */
import { Router } from 'express';
import { TimeoutError, type Ports, type SpeedLayerHealth } from '@lambda/core';
import type { DependencyHealth, HealthAnswer, ViewHealth } from '../api/schemas.js';
import { judgeSpeedLayer } from '../health/speed-layer-verdict.js';
import type { ViewProgress, ViewProgressMonitor } from '../health/view-progress-monitor.js';

const CHECK_TIMEOUT_MS = 2000;

export interface HealthRouterOptions {
  monitor: ViewProgressMonitor;
  /** The speed layer's own report, when it runs in this process. */
  speedLayerHealth?: () => SpeedLayerHealth;
}

export function healthRouter(ports: Ports, options: HealthRouterOptions): Router {
  const checks: Record<string, () => Promise<unknown>> = {
    eventLog: () => ports.eventLog.listTopics(),
    viewStore: () => ports.viewStore.listViews(),
    lake: () => ports.lake.head('health/probe'),
    scheduler: () => ports.scheduler.listRuns({ limit: 1 }),
  };
  const lastErrors = new Map<string, { message: string; at: string }>();

  const check = async (name: string, probe: () => Promise<unknown>): Promise<DependencyHealth> => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
        }),
      ]);
      const last = lastErrors.get(name);
      return { status: 'up', latencyMs: elapsed(started), lastError: last?.message ?? null, lastErrorAt: last?.at ?? null };
    } catch (error) {
      const last = { message: (error as Error).message, at: new Date().toISOString() };
      lastErrors.set(name, last);
      return { status: 'down', latencyMs: elapsed(started), lastError: last.message, lastErrorAt: last.at };
    } finally {
      clearTimeout(timer);
    }
  };

  return Router().get('/health', async (_request, response) => {
    const [entries, progress] = await Promise.all([
      Promise.all(Object.entries(checks).map(async ([name, probe]) => [name, await check(name, probe)] as const)),
      options.monitor.sample(),
    ]);
    const speedLayer = judgeSpeedLayer(options.speedLayerHealth);
    const down = entries.filter(([, health]) => health.status === 'down').map(([name, health]) => `dependency ${name} is down: ${health.lastError}`);
    const degraded = [
      ...[...progress.views.values()].filter((view) => view.status === 'degraded').map((view) => view.reason!),
      ...(speedLayer?.topics ?? []).filter((topic) => topic.status === 'degraded').map((topic) => topic.reason!),
    ];
    const answer: HealthAnswer = {
      status: down.length > 0 ? 'down' : degraded.length > 0 ? 'degraded' : 'up',
      reasons: [...down, ...degraded],
      dependencies: Object.fromEntries(entries),
      views: Object.fromEntries([...progress.views.values()].map((view) => [view.view, viewHealth(view)])),
      speedLayer,
    };
    response.status(answer.status === 'down' ? 503 : 200).json(answer);
  });
}

function viewHealth(view: ViewProgress): ViewHealth {
  return {
    status: view.status,
    reason: view.reason,
    lag: view.lag,
    stalledPartitions: view.partitions
      .filter((partition) => partition.stalled)
      .map(({ partition, position, endOffset, stuckForMs }) => ({ partition, position, endOffset, stalledForMs: stuckForMs })),
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
