import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog, Metrics, loadConfig, silentLogger, type Ports } from '@lambda/core';
import { openPorts } from '@lambda/adapters';
import { createServer, listen, type DependencyHealth, type RunningServer } from '../src/index.js';

describe('the serving layer', () => {
  let dataDir: string;
  let ports: Ports;
  let metrics: Metrics;
  let server: RunningServer;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lambda-serving-'));
    const config = loadConfig({ env: {}, overrides: { dataDir } });
    metrics = new Metrics();
    ports = await openPorts(config, { logger: silentLogger(), metrics });
    const catalog = Catalog.compile({ sources: [], views: [] });
    server = await listen(createServer({ ports, catalog, metrics, logger: silentLogger() }), { host: '127.0.0.1', port: 0 });
  });

  afterEach(async () => {
    await server.close();
    await ports.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('when every dependency answers', () => {
    it('should report each one up, with its latency', async () => {
      const response = await fetch(`${server.url}/health`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { status: string; dependencies: Record<string, DependencyHealth> };
      expect(body.status).toBe('up');
      expect(Object.keys(body.dependencies).sort()).toEqual(['eventLog', 'lake', 'scheduler', 'viewStore']);
      for (const health of Object.values(body.dependencies)) {
        expect(health.status).toBe('up');
        expect(health.latencyMs).toBeGreaterThanOrEqual(0);
        expect(health.lastError).toBeNull();
      }
    });
  });

  describe('when a dependency fails', () => {
    it('should answer 503, name it and keep its last error', async () => {
      await ports.eventLog.close();
      const response = await fetch(`${server.url}/health`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as { status: string; dependencies: Record<string, DependencyHealth> };
      expect(body.status).toBe('down');
      expect(body.dependencies.eventLog!.status).toBe('down');
      expect(body.dependencies.eventLog!.lastError).toContain('closed');
      expect(body.dependencies.viewStore!.status).toBe('up');
    });
  });

  it('should serve metrics in Prometheus format', async () => {
    await ports.eventLog.createTopic('clicks', { partitions: 1 });
    await ports.eventLog.append('clicks', [{ value: '{}' }, { value: '{}' }]);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toContain('lambda_log_appended_records_total{topic="clicks"} 2');
  });

  it('should answer an unknown route with a JSON 404 naming it', async () => {
    const response = await fetch(`${server.url}/no/such/thing`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route GET /no/such/thing' } });
  });
});
