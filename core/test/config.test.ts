import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.js';

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

async function configFile(content: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'lambda-config-')), 'config.json');
  await writeFile(path, content);
  return path;
}

describe('loadConfig', () => {
  describe('when nothing is set', () => {
    it('should run on the embedded defaults', () => {
      const config = loadConfig({ env: {} });
      expect(config.eventLog).toMatchObject({ adapter: 'embedded', fsync: 'always' });
      expect(config.viewStore.adapter).toBe('embedded');
      expect(config.lake.adapter).toBe('local');
      expect(config.scheduler.adapter).toBe('in-process');
      expect(config.http).toEqual({ host: '127.0.0.1', port: 8080, maxIngestBytes: 10 * 1024 * 1024 });
      expect(config.dataDir).toBe('./data');
    });
  });

  describe('when environment variables are set', () => {
    it('should read and coerce them', () => {
      const config = loadConfig({ env: { HTTP_PORT: '9000', EVENT_LOG_FSYNC: 'interval', DATA_DIR: '/srv/lambda', LOG_LEVEL: 'debug' } });
      expect(config.http.port).toBe(9000);
      expect(config.eventLog.fsync).toBe('interval');
      expect(config.dataDir).toBe('/srv/lambda');
      expect(config.logger.level).toBe('debug');
    });

    it('should read the API token and the ingest limit, refusing a short token', () => {
      const config = loadConfig({ env: { API_TOKEN: 'a-token-of-24-characters', MAX_INGEST_BYTES: '65536' } });
      expect(config.http).toMatchObject({ apiToken: 'a-token-of-24-characters', maxIngestBytes: 65536 });
      expect(() => loadConfig({ env: { API_TOKEN: 'short' } })).toThrow(/http\.apiToken/);
      expect(() => loadConfig({ env: { MAX_INGEST_BYTES: '10' } })).toThrow(/http\.maxIngestBytes/);
    });

    it("should bound the batch layer's DuckDB only when told to, refusing a size it cannot read", () => {
      expect(loadConfig({ env: {} }).batchLayer).not.toHaveProperty('memoryLimit');
      expect(loadConfig({ env: { BATCH_MEMORY_LIMIT: '1GB', BATCH_THREADS: '1' } }).batchLayer).toMatchObject({ memoryLimit: '1GB', threads: 1 });
      expect(() => loadConfig({ env: { BATCH_MEMORY_LIMIT: 'lots' } })).toThrow(/batchLayer\.memoryLimit/);
      expect(() => loadConfig({ env: { BATCH_THREADS: '0' } })).toThrow(/batchLayer\.threads/);
    });

    it('should keep Kafka topic auto-creation off unless KAFKA_SERVER_AUTO_CREATE_TOPICS turns it on', () => {
      expect(loadConfig({ env: {} }).kafkaServer.autoCreateTopics).toBe(false);
      expect(loadConfig({ env: { KAFKA_SERVER_AUTO_CREATE_TOPICS: 'true' } }).kafkaServer.autoCreateTopics).toBe(true);
      expect(() => loadConfig({ env: { KAFKA_SERVER_AUTO_CREATE_TOPICS: 'sometimes' } })).toThrow(/kafkaServer\.autoCreateTopics/);
    });

    it('should read the real engines\' settings, lists split at commas', () => {
      const config = loadConfig({
        env: {
          LOG: 'kafka',
          KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092',
          VIEWS: 'cassandra',
          CASSANDRA_CONTACT_POINTS: 'cassandra-1',
          LAKE: 's3',
          S3_BUCKET: 'lambda-lake',
          S3_ENDPOINT: 'http://minio:9000',
          SCHEDULER: 'bullmq',
          REDIS_URL: 'redis://redis:6379',
        },
      });
      expect(config.eventLog.kafka.brokers).toEqual(['kafka-1:9092', 'kafka-2:9092']);
      expect(config.viewStore.cassandra).toMatchObject({ contactPoints: ['cassandra-1'], consistency: 'LOCAL_QUORUM', keyspace: 'lambda' });
      expect(config.lake.s3).toMatchObject({ bucket: 'lambda-lake', endpoint: 'http://minio:9000', forcePathStyle: true });
      expect(config.scheduler.bullmq.redisUrl).toBe('redis://redis:6379');
    });

    it('should name what a chosen engine is missing', () => {
      const error = configErrorOf(() => loadConfig({ env: { LOG: 'kafka', VIEWS: 'cassandra', LAKE: 's3', SCHEDULER: 'bullmq', REDIS_URL: 'http://redis' } }));
      const paths = error.issues.map((issue) => issue.path);
      expect(paths).toEqual(expect.arrayContaining(['eventLog.kafka.brokers', 'viewStore.cassandra.contactPoints', 'lake.s3.bucket', 'scheduler.bullmq.redisUrl']));
      expect(error.message).toContain('KAFKA_BROKERS');
    });

    it('should ignore empty ones', () => {
      expect(loadConfig({ env: { HTTP_PORT: '' } }).http.port).toBe(8080);
    });
  });

  describe('when a config file is given', () => {
    it('should read it, with the environment winning over it', async () => {
      const path = await configFile(JSON.stringify({ http: { port: 7000, host: '0.0.0.0' }, eventLog: { fsync: 'never' } }));
      const config = loadConfig({ env: { CONFIG_FILE: path, HTTP_PORT: '7001' } });
      expect(config.http).toEqual({ host: '0.0.0.0', port: 7001, maxIngestBytes: 10 * 1024 * 1024 });
      expect(config.eventLog.fsync).toBe('never');
    });

    it('should let overrides win over everything', async () => {
      const path = await configFile(JSON.stringify({ http: { port: 7000 } }));
      expect(loadConfig({ configFile: path, env: { HTTP_PORT: '7001' }, overrides: { http: { port: 7002 } } }).http.port).toBe(7002);
    });
  });

  describe('when values are invalid', () => {
    it('should list every invalid field at once, with where each came from', async () => {
      const path = await configFile(JSON.stringify({ eventLog: { segmentBytes: 10 }, viewStore: { colour: 'blue' } }));
      const error = configErrorOf(() =>
        loadConfig({ env: { CONFIG_FILE: path, HTTP_PORT: 'eighty', EVENT_LOG_FSYNC: 'sometimes', LOG: 'carrier-pigeon' } }),
      );
      const byPath = new Map(error.issues.map((issue) => [issue.path, issue]));
      expect([...byPath.keys()].sort()).toEqual(['eventLog.adapter', 'eventLog.fsync', 'eventLog.segmentBytes', 'http.port', 'viewStore.colour']);
      expect(byPath.get('http.port')!.source).toBe('env HTTP_PORT="eighty"');
      expect(byPath.get('eventLog.fsync')!.source).toBe('env EVENT_LOG_FSYNC="sometimes"');
      expect(byPath.get('eventLog.adapter')!.source).toBe('env LOG="carrier-pigeon"');
      expect(byPath.get('eventLog.segmentBytes')!.source).toBe(`config file ${path}`);
      expect(byPath.get('viewStore.colour')!.message).toBe('is not a known setting');
      for (const field of byPath.keys()) expect(error.message).toContain(field);
    });

    it('should say when the config file is not JSON', async () => {
      const path = await configFile('{ port: 80 ');
      const error = configErrorOf(() => loadConfig({ env: { CONFIG_FILE: path } }));
      expect(error.issues).toHaveLength(1);
      expect(error.message).toContain('is not valid JSON');
      expect(error.message).toContain(path);
    });

    it('should refuse a speed-layer instance outside the group, naming both settings', () => {
      const error = configErrorOf(() => loadConfig({ env: { SPEED_INSTANCES: '3', SPEED_INSTANCE: '3' } }));
      expect(error.issues.map((issue) => issue.path)).toEqual(['speedLayer.instance']);
      expect(error.message).toContain('speedLayer.instances');
      expect(loadConfig({ env: { SPEED_INSTANCES: '3', SPEED_INSTANCE: '2' } }).speedLayer).toMatchObject({ instances: 3, instance: 2 });
    });

    it('should say when the config file cannot be read', () => {
      const error = configErrorOf(() => loadConfig({ env: { CONFIG_FILE: '/nonexistent/lambda.json' } }));
      expect(error.message).toContain('cannot be read');
    });
  });
});
