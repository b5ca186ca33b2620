/**
 * `GET /health`: one entry per dependency (each port), with the latency of a cheap call to it and the
 * last error it gave. 200 when every dependency answers, 503 when any does not.
 */
import { Router } from 'express';
import type { Ports } from '@lambda/common';

export interface DependencyHealth {
  status: 'up' | 'down';
  latencyMs: number;
  lastError: string | null;
  lastErrorAt: string | null;
}

const CHECK_TIMEOUT_MS = 2000;

export function healthRouter(ports: Ports): Router {
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
          timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
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
    const entries = await Promise.all(Object.entries(checks).map(async ([name, probe]) => [name, await check(name, probe)] as const));
    const dependencies = Object.fromEntries(entries);
    const healthy = entries.every(([, health]) => health.status === 'up');
    response.status(healthy ? 200 : 503).json({ status: healthy ? 'up' : 'down', dependencies });
  });
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
