/**
 * The platform as an operator runs it on the real engines: the speed, batch and serving layers and one
 * batch worker, each its own process (`infra/dist/bin`), on the Kafka broker and Cassandra node the
 * environment names (KAFKA_BROKERS, CASSANDRA_CONTACT_POINTS), the lake on S3 (s3rver) and the
 * scheduler on BullMQ (the shared Redis) with recomputes fanned out to the worker. Everything it creates
 * carries a name of its own (topic, keyspace, Redis prefix, bucket), so it shares the engines with other
 * tests, and is removed by close().
 *
 * The checks read what a client reads: answers over HTTP, compared with DuckDB's truth over every record
 * the broker holds, below the answer's own position.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'cassandra-driver';
import kafkajs from 'kafkajs';
import { expect } from 'vitest';
import { DuckDbEngine } from '@lambda/batch-layer';
import { Catalog, type CatalogDefinition, type LogRecord } from '@lambda/core';
import { KafkaEventLog } from '@lambda/adapters';
import type { MergedAnswer } from '@lambda/serving-layer';
import { startS3Server, type S3TestServer, REDIS_URL, redisSkipReason, removeKeysUnder, makeTempDir } from '@lambda/test-kit';
import { PageViewGenerator, webAnalyticsCatalog } from '../../src/demo/web-analytics.js';
import { LayerProcess } from './layer-process.js';
import { TruthTable, differences, readAllRecords } from './truth.js';

export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '').split(',').map((broker) => broker.trim()).filter(Boolean);
export const CASSANDRA_CONTACT_POINTS = (process.env.CASSANDRA_CONTACT_POINTS ?? '').split(',').map((point) => point.trim()).filter(Boolean);
export const CASSANDRA_LOCAL_DC = process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1';
const PARTITIONS = 4;

/** Why the split platform cannot run here, or undefined when it can. */
export async function splitPlatformSkipReason(): Promise<string | undefined> {
  const missing = [KAFKA_BROKERS.length === 0 && 'KAFKA_BROKERS', CASSANDRA_CONTACT_POINTS.length === 0 && 'CASSANDRA_CONTACT_POINTS'].filter(Boolean);
  if (missing.length > 0) return `${missing.join(' and ')} not set: npm run engines:up prints them`;
  return redisSkipReason(REDIS_URL);
}

export type LayerName = 'speed' | 'batch' | 'serving' | 'worker';

export interface RecomputeRun {
  id: string;
  view: string | null;
  state: string;
  version: number | null;
  horizon: number[] | null;
  error: string | null;
}

export interface HttpAnswer<T> {
  status: number;
  body: T;
}

export interface Truth {
  /** Per partition, how many records the truth was made from. */
  ends: number[];
  /** Every key of the view in those records. */
  keys(view: string): Promise<string[]>;
  /** How the answer differs from the truth over the valid records below its position, for `keys`. */
  problems(view: string, answer: MergedAnswer, keys: readonly string[]): Promise<string[]>;
}

export class SplitPlatform {
  readonly engine: DuckDbEngine;
  readonly catalog: Catalog;
  /** Page views, each with its event time from the generator's clock. */
  readonly generator = new PageViewGenerator({ eventsPerSecond: 100, lateShare: 0.2, invalidShare: 0.03, seed: 12 });
  /** The generator's clock: event times move forward 10 ms per event, from a fixed instant. */
  private clock = Date.UTC(2026, 2, 2, 9, 0, 0);
  private producer: kafkajs.Producer | undefined;
  url = '';

  private constructor(
    readonly topic: string,
    readonly keyspace: string,
    readonly prefix: string,
    readonly token: string,
    readonly layers: Record<LayerName, LayerProcess>,
    /** The test's own reader of the broker: the truth is what it holds. */
    readonly log: KafkaEventLog,
    private readonly s3: S3TestServer,
    private readonly dir: { path: string; remove(): Promise<void> },
    engine: DuckDbEngine,
    catalog: Catalog,
  ) {
    this.engine = engine;
    this.catalog = catalog;
  }

  /** Creates the topic, then starts the speed layer (it applies the Cassandra schema), then the other three. */
  static async start(): Promise<SplitPlatform> {
    const id = randomBytes(4).toString('hex');
    const topic = `pageviews-e2e-${id}`;
    const keyspace = `lambda_e2e_${id}`;
    const prefix = `lambda-e2e-${id}`;
    const token = randomBytes(16).toString('hex');
    const dir = await makeTempDir('split-platform');
    const s3 = await startS3Server();
    // The demo's views over a topic of this run's own.
    const definition: CatalogDefinition = {
      ...webAnalyticsCatalog,
      sources: webAnalyticsCatalog.sources.map((source) => ({ ...source, topic })),
      views: webAnalyticsCatalog.views.map((view) => ({ ...view, source: topic })),
    };
    const catalogFile = join(dir.path, 'catalog.json');
    await writeFile(catalogFile, JSON.stringify(definition));
    const log = await KafkaEventLog.open({ brokers: KAFKA_BROKERS, clientId: 'split-platform-test' });
    await log.createTopic(topic, { partitions: PARTITIONS });
    const env = (layer: LayerName): Record<string, string> => ({
      DATA_DIR: join(dir.path, layer),
      LOG_LEVEL: 'info',
      LOG: 'kafka',
      KAFKA_BROKERS: KAFKA_BROKERS.join(','),
      KAFKA_SERVER: 'false',
      EVENT_LOG_PARTITIONS: String(PARTITIONS),
      VIEWS: 'cassandra',
      CASSANDRA_CONTACT_POINTS: CASSANDRA_CONTACT_POINTS.join(','),
      CASSANDRA_LOCAL_DC,
      CASSANDRA_KEYSPACE: keyspace,
      LAKE: 's3',
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      SCHEDULER: 'bullmq',
      REDIS_URL,
      BULLMQ_PREFIX: prefix,
      RECOMPUTE_FAN_OUT: 'bullmq',
      // Every partition task goes to the batch worker: the fan-out is not done by the coordinator alone.
      PARTITION_WORKERS: layer === 'worker' ? '2' : '0',
      // Recomputes only when a test asks for one.
      RECOMPUTE_EVERY: '1h',
      CATALOG_FILE: catalogFile,
      DEMO: 'false',
      API_TOKEN: token,
      HTTP_PORT: '0',
      // Short micro-batches, each with records cutting a slice: every recompute has fresh edges to reach.
      BATCH_INTERVAL_MS: '200',
      SLICE_MICRO_BATCHES: '1',
      // Kafka cannot be followed from worker threads: the speed layer folds in its main thread.
      SPEED_WORKERS: '0',
    });
    const layers: Record<LayerName, LayerProcess> = {
      speed: new LayerProcess('start-speed', 'speed layer', env('speed')),
      batch: new LayerProcess('start-batch', 'batch layer', env('batch')),
      serving: new LayerProcess('start-serving', 'serving layer', env('serving')),
      worker: new LayerProcess('start-batch-worker', 'batch worker', env('worker')),
    };
    const engine = await DuckDbEngine.create({ threads: 1 });
    const platform = new SplitPlatform(topic, keyspace, prefix, token, layers, log, s3, dir, engine, Catalog.compile(definition));
    try {
      await layers.speed.start();
      await Promise.all([layers.batch.start(), layers.serving.start(), layers.worker.start()]);
      const url = /views: +(http:\/\/[^/"]+)\/views/.exec(layers.serving.messages().map((m) => m.msg).join('\n'))?.[1];
      if (!url) throw new Error(`the serving layer printed no URL\n${layers.serving.tail()}`);
      platform.url = url;
      return platform;
    } catch (error) {
      await platform.close();
      throw error;
    }
  }

  /** Stops every process (SIGTERM), then removes the topics, keyspace, Redis keys, bucket and files. */
  async close(): Promise<void> {
    await Promise.all(Object.values(this.layers).map((layer) => layer.stop('SIGTERM')));
    await this.producer?.disconnect().catch(() => undefined);
    await this.log.close().catch(() => undefined);
    this.engine.close();
    await Promise.allSettled([this.dropTopics(), this.dropKeyspace(), removeKeysUnder(this.prefix), this.s3.close()]);
    await this.dir.remove();
  }

  private async dropTopics(): Promise<void> {
    const admin = new kafkajs.Kafka({ brokers: KAFKA_BROKERS, clientId: 'split-platform-cleanup', logLevel: kafkajs.logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      // The source topic, its dead-letter and quarantine topics.
      const topics = (await admin.listTopics()).filter((name) => name.startsWith(this.topic));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private async dropKeyspace(): Promise<void> {
    const client = new Client({ contactPoints: CASSANDRA_CONTACT_POINTS, localDataCenter: CASSANDRA_LOCAL_DC });
    try {
      // A generated identifier: the only text in the statement.
      await client.execute(`DROP KEYSPACE IF EXISTS "${this.keyspace}"`);
    } finally {
      await client.shutdown();
    }
  }

  /** A request to the serving layer (with the token), answered within `timeoutMs`. */
  async http<T>(method: 'GET' | 'POST', path: string, body?: string, contentType = 'application/json', timeoutMs = 30_000): Promise<HttpAnswer<T>> {
    const response = await fetch(this.url + path, {
      method,
      body,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: (await response.json()) as T };
  }

  /** A request that must succeed. */
  async api<T>(method: 'GET' | 'POST', path: string, body?: string, contentType = 'application/json'): Promise<T> {
    const answer = await this.http<T>(method, path, body, contentType);
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    return answer.body;
  }

  /** The next `count` generated events (late, out-of-order and malformed ones among them). */
  events(count: number): { key: string | null; value: string }[] {
    return Array.from({ length: count }, () => this.generator.event((this.clock += 10)));
  }

  /** Ingests events through the REST API, as NDJSON; resolves with how many the API accepted as valid. */
  async ingest(events: { value: string }[]): Promise<number> {
    const report = await this.api<{ accepted: number; deadLettered: number }>(
      'POST',
      `/ingest/${this.topic}`,
      events.map((event) => event.value).join('\n'),
      'application/x-ndjson',
    );
    expect(report.accepted + report.deadLettered).toBe(events.length);
    return report.accepted;
  }

  /** Produces events straight to the broker with a plain kafkajs producer, keyed by user. */
  async produce(events: { key: string | null; value: string }[]): Promise<void> {
    if (!this.producer) {
      const kafka = new kafkajs.Kafka({ brokers: KAFKA_BROKERS, clientId: 'split-platform-producer', logLevel: kafkajs.logLevel.NOTHING });
      // Java's default partitioner (murmur2), as the platform's own producer places keys.
      this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
      await this.producer.connect();
    }
    await this.producer.send({ topic: this.topic, acks: -1, messages: events.map(({ key, value }) => ({ key, value })) });
  }

  /** The answer of `view` for `keys`, all windows on one page. */
  async answer(view: string, keys: readonly string[]): Promise<MergedAnswer> {
    const query = new URLSearchParams([...keys.map((key): [string, string] => ['key', key]), ['limit', '10000']]);
    const answer = await this.api<MergedAnswer>('GET', `/views/${view}?${query}`);
    expect(answer.next, `${view}: one page holds every window`).toBeNull();
    return answer;
  }

  /** Each view's position (per partition: it counts exactly the records below). */
  async positions(): Promise<Map<string, number[]>> {
    const positions = new Map<string, number[]>();
    for (const view of this.catalog.views.keys()) positions.set(view, (await this.answer(view, ['-'])).provenance.position);
    return positions;
  }

  /** Waits until every view counts every record the broker holds (polled, with a deadline). */
  async caughtUp(timeoutMs = 90_000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ends = await this.log.endOffsets(this.topic);
      let seen: string;
      try {
        const positions = await this.positions();
        if ([...positions.values()].every((position) => ends.every((end, p) => (position[p] ?? 0) === end))) return ends;
        seen = JSON.stringify(Object.fromEntries(positions));
      } catch (error) {
        seen = `no answer: ${(error as Error).message}`;
      }
      if (Date.now() > deadline) {
        throw new Error(`the views did not reach the log's end ${JSON.stringify(ends)}: ${seen}\n${this.layers.serving.tail(10)}\n${this.layers.speed.tail(10)}`);
      }
      await sleep(200);
    }
  }

  /**
   * DuckDB's truth over every record the broker holds now: the keys each view has, and how an answer of
   * a view differs from the truth below the answer's own position.
   */
  async truth(): Promise<Truth> {
    const source = this.catalog.sources.get(this.topic)!;
    const records = await readAllRecords(this.log, this.topic);
    const ends = endsOf(records, PARTITIONS);
    const table = new TruthTable(this.engine, source);
    await table.create();
    expect(await table.add(records), 'valid records').toBeGreaterThan(0);
    const view = (name: string) => this.catalog.views.get(name)!;
    return {
      ends,
      keys: async (name) => [...new Set([...(await table.windows(view(name), ends)).values()].map((window) => window.key))],
      problems: async (name, answer, keys) => {
        const position = answer.provenance.position;
        if (position.some((offset, p) => offset > (ends[p] ?? 0))) return [`${name} counts records past those read: ${JSON.stringify(position)}`];
        return differences(answer.windows, await table.windows(view(name), position), new Set(keys));
      },
    };
  }

  /**
   * Every view's answer over HTTP, for every key the broker's records have, equals DuckDB's truth over
   * the valid records below the answer's position. Returns each view's answer.
   */
  async expectExact(label: string): Promise<Map<string, MergedAnswer>> {
    const answers = new Map<string, MergedAnswer>();
    for (const view of this.catalog.views.keys()) {
      for (let attempt = 1; ; attempt++) {
        // Records first, so that every key is asked for; then the answer. The truth at its position needs
        // every record below it, which records read before a micro-batch landed may lack: then read again.
        const truth = await this.truth();
        const keys = await truth.keys(view);
        const answer = await this.answer(view, keys);
        if (attempt < 5 && answer.provenance.position.some((offset, p) => offset > (truth.ends[p] ?? 0))) continue;
        expect(await truth.problems(view, answer, keys), `${label}: ${view} at ${JSON.stringify(answer.provenance.position)}`).toEqual([]);
        expect(answer.windows.length, `${label}: ${view} has data`).toBeGreaterThan(0);
        answers.set(view, answer);
        break;
      }
    }
    return answers;
  }

  /** Triggers every view's recompute through the admin API and waits for each run to finish. */
  async recomputeAll(timeoutMs = 120_000): Promise<RecomputeRun[]> {
    const { runs } = await this.api<{ runs: RecomputeRun[] }>('POST', '/batch/run', '{}');
    expect(runs.map((run) => run.view).sort()).toEqual([...this.catalog.views.keys()].sort());
    const deadline = Date.now() + timeoutMs;
    const finished: RecomputeRun[] = [];
    for (const { id } of runs) {
      for (;;) {
        const run = await this.api<RecomputeRun>('GET', `/batch/jobs/${encodeURIComponent(id)}`);
        if (run.state === 'completed' || run.state === 'failed') {
          finished.push(run);
          break;
        }
        if (Date.now() > deadline) throw new Error(`run ${id} did not finish: ${JSON.stringify(run)}\n${this.layers.batch.tail()}\n${this.layers.worker.tail()}`);
        await sleep(200);
      }
    }
    return finished;
  }

  /** Every record of the topic's dead-letter topic: the source partition and offset each names. */
  async deadLetters(): Promise<string[]> {
    const records = await readAllRecords(this.log, `${this.topic}.dead-letter`);
    return records.map((record) => `${record.headers['dead-letter.partition']}/${record.headers['dead-letter.offset']}`);
  }

  /** The source records the views cannot take, as `partition/offset`. */
  invalidRecords(records: readonly LogRecord[]): string[] {
    const source = this.catalog.sources.get(this.topic)!;
    return records.filter((record) => !source.decode(record).ok).map((record) => `${record.partition}/${record.offset}`);
  }
}

/** Polls `condition` until it holds (an error counts as not yet), failing after `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await condition().catch(() => false)); await sleep(200)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}

/** Per partition, one past the highest offset among `records`. */
function endsOf(records: readonly LogRecord[], partitions: number): number[] {
  const ends = new Array<number>(partitions).fill(0);
  for (const record of records) ends[record.partition] = Math.max(ends[record.partition]!, record.offset + 1);
  return ends;
}

/**
 * Sends generated events while it runs, alternately through the REST API and straight to the broker, a
 * batch every `everyMs`; a batch that fails (an engine is down) is counted and the stream goes on.
 */
export function startStream(platform: SplitPlatform, { batch = 20, everyMs = 100 } = {}) {
  let running = true;
  const counts = { sent: 0, failed: 0 };
  const done = (async () => {
    for (let i = 0; running; i++) {
      const events = platform.events(batch);
      try {
        if (i % 2 === 0) await platform.ingest(events);
        else await platform.produce(events);
        counts.sent += events.length;
      } catch {
        counts.failed += events.length;
      }
      await sleep(everyMs);
    }
  })();
  return {
    counts,
    async stop() {
      running = false;
      await done;
      return counts;
    },
  };
}
