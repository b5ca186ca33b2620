import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT_VARIABLES, loadConfig } from '@lambda/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine runs here, so the compose file is checked for what would break it: every layer's
// settings must be ones the platform knows and accepts, and every command must name a real entrypoint.

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  deploy?: { replicas?: number };
}

const COMPOSE_FILE = fileURLToPath(new URL('../docker-compose.yml', import.meta.url));
const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const LAYERS = ['speed-layer', 'batch-layer', 'batch-worker', 'serving-layer'];

/** Compose's `${NAME:-default}` and `${NAME:?message}`, resolved as compose would with `NAME` unset or set. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_match, name: string, kind?: string, rest?: string) => {
    if (env[name] !== undefined) return env[name];
    if (kind === '-') return rest ?? '';
    throw new Error(`${name} must be set: ${rest}`);
  });
}

describe('infra/docker-compose.yml', () => {
  describe('when it starts the engines', () => {
    it('should run Kafka in KRaft mode, Cassandra, MinIO with its bucket created, and Redis, each with a health check', () => {
      const { services } = compose;
      expect(services.kafka!.environment!.KAFKA_PROCESS_ROLES).toBe('broker,controller');
      for (const engine of ['kafka', 'cassandra', 'minio', 'redis']) expect(services[engine]!.healthcheck, engine).toBeDefined();
      expect(services['minio-bucket']!.depends_on!.minio!.condition).toBe('service_healthy');
    });
  });

  describe('when it starts the layers', () => {
    it.each(LAYERS)('should run %s from the one Dockerfile with an entrypoint that exists', (layer) => {
      const service = compose.services[layer]!;
      expect(service.build!.dockerfile).toBe('infra/Dockerfile');
      const entry = service.command!.at(-1)!;
      expect(entry).toMatch(/^infra\/dist\/bin\/start-[\w-]+\.js$/);
      expect(existsSync(fileURLToPath(new URL(`../${entry.replace('infra/dist/', 'src/').replace(/\.js$/, '.ts')}`, import.meta.url)))).toBe(true);
      // Every engine is healthy before a layer starts.
      expect(Object.keys(service.depends_on!).sort()).toEqual(['cassandra', 'kafka', 'minio-bucket', 'redis']);
    });

    it.each(LAYERS)('should configure %s only with settings the platform knows, which it accepts', (layer) => {
      const raw = compose.services[layer]!.environment!;
      for (const name of Object.keys(raw)) expect(Object.keys(ENVIRONMENT_VARIABLES), name).toContain(name);
      const env = Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, interpolate(String(value), { MINIO_ROOT_PASSWORD: 'test-only' })]));
      const config = loadConfig({ env });
      expect([config.eventLog.adapter, config.viewStore.adapter, config.lake.adapter, config.scheduler.adapter]).toEqual(['kafka', 'cassandra', 's3', 'bullmq']);
      expect(config.kafkaServer.enabled).toBe(false);
      // Recomputes fan out over lake partitions, to the batch workers.
      expect(config.batchLayer.fanOut).toBe('bullmq');
    });

    it('should run batch workers on more than one replica, taking the partition jobs', () => {
      const worker = compose.services['batch-worker']!;
      expect(worker.command!.at(-1)).toBe('infra/dist/bin/start-batch-worker.js');
      expect(worker.deploy?.replicas).toBeGreaterThan(1);
    });

    it('should refuse to start without a MinIO password rather than use a default one', () => {
      const secret = compose.services['serving-layer']!.environment!.S3_SECRET_ACCESS_KEY!;
      expect(() => interpolate(secret, {})).toThrow(/MINIO_ROOT_PASSWORD must be set/);
    });
  });

  describe('when the image is built', () => {
    it("should copy every workspace's package.json before npm ci, so that npm can link them all", () => {
      const dockerfile = readFileSync(fileURLToPath(new URL('../Dockerfile', import.meta.url)), 'utf8');
      const { workspaces } = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { workspaces: string[] };
      const beforeInstall = dockerfile.slice(0, dockerfile.indexOf('RUN npm ci'));
      for (const workspace of workspaces) expect(beforeInstall, workspace).toContain(`COPY ${workspace}/package.json ${workspace}/`);
    });
  });
});
