/**
 * `/health` with the lake on S3 (s3rver) behind a proxy that can make S3 answer 503: the lake is reported
 * down with its last error while S3 keeps failing (after the lake's own retries), and up again once S3
 * answers, with that error kept for the operator to see.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog, Metrics, loadConfig, silentLogger, type Ports } from '@lambda/core';
import { openPorts } from '@lambda/adapters';
import { startFaultProxy, type FaultProxy, startS3Server, type S3TestServer } from '@lambda/test-kit';
import type { DependencyHealth, RunningServer } from '../src/index.js';
import { serve } from './api-helpers.js';

interface Health {
  status: 'up' | 'down';
  dependencies: Record<string, DependencyHealth>;
}

const MAX_ATTEMPTS = 3;

describe('the health of a lake on S3', () => {
  let dataDir: string;
  let s3: S3TestServer;
  let proxy: FaultProxy;
  let ports: Ports;
  let server: RunningServer;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lambda-health-s3-'));
    s3 = await startS3Server();
    proxy = await startFaultProxy(s3.endpoint);
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir,
        lake: {
          adapter: 's3',
          s3: { bucket: s3.bucket, endpoint: proxy.endpoint, ...s3.credentials, maxAttempts: MAX_ATTEMPTS },
        },
      },
    });
    ports = await openPorts(config, { logger: silentLogger() });
    server = await serve({ ports, catalog: Catalog.compile({ sources: [], views: [] }), metrics: new Metrics() });
  });

  afterEach(async () => {
    await server.close();
    await ports.close();
    await proxy.close();
    await s3.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function health(): Promise<{ status: number; body: Health }> {
    const response = await fetch(`${server.url}/health`);
    return { status: response.status, body: (await response.json()) as Health };
  }

  describe('when S3 keeps answering 503', () => {
    it('should report the lake down with its last error, after retrying, and up again once S3 answers', async () => {
      const healthy = await health();
      expect(healthy.status).toBe(200);
      expect(healthy.body.dependencies.lake).toMatchObject({ status: 'up', lastError: null });

      proxy.failAlways(503);
      proxy.resetCount();
      for (let check = 1; check <= 2; check++) {
        const failing = await health();
        expect(failing.status).toBe(503);
        expect(failing.body.status).toBe('down');
        expect(failing.body.dependencies.lake!.status).toBe('down');
        expect(failing.body.dependencies.lake!.lastError).toContain('503');
        expect(failing.body.dependencies.lake!.lastErrorAt).not.toBeNull();
        // Only the lake is failing.
        for (const name of ['eventLog', 'viewStore', 'scheduler']) expect(failing.body.dependencies[name]!.status).toBe('up');
        // Each check's probe was tried as many times as the lake retries.
        expect(proxy.requests).toHaveLength(check * MAX_ATTEMPTS);
      }
      const failedAt = (await health()).body.dependencies.lake!.lastErrorAt;

      proxy.heal();
      const recovered = await health();
      expect(recovered.status).toBe(200);
      expect(recovered.body.status).toBe('up');
      expect(recovered.body.dependencies.lake!.status).toBe('up');
      // The last error stays visible after recovery, with when it happened.
      expect(recovered.body.dependencies.lake!.lastError).toContain('503');
      expect(recovered.body.dependencies.lake!.lastErrorAt).toBe(failedAt);
    });
  });

  describe('when S3 fails a few times and then answers', () => {
    it('should report the lake up: the retries absorb the failures', async () => {
      proxy.resetCount();
      proxy.failNext(MAX_ATTEMPTS - 1, 503);
      const checked = await health();
      expect(checked.status).toBe(200);
      expect(checked.body.dependencies.lake).toMatchObject({ status: 'up', lastError: null });
      expect(proxy.requests.map((request) => request.outcome)).toEqual([...Array<string>(MAX_ATTEMPTS - 1).fill('failed'), 'forwarded']);
    });
  });
});
