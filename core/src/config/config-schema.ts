/**
 * The platform's one configuration object. Every setting has a default that runs the platform on the
 * embedded adapters; environment variables (see environment.ts) and an optional JSON file override them.
 */
import { z } from 'zod';
import { LOG_LEVELS } from '../logging/logger.js';
import { parseDuration } from '../views/window.js';

const MiB = 1024 * 1024;

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const fsyncPolicy = z.enum(['always', 'interval', 'never']);
const boolean = z.union([z.boolean(), z.stringbool()], { error: 'must be true or false' });
/** A list, or text with its items separated by commas (as environment variables give it). */
const list = z.union([
  z.array(z.string().trim().min(1)),
  z.string().transform((text) => text.split(',').map((item) => item.trim()).filter((item) => item.length > 0)),
]);
const port = integer(0, 65_535);
/** A size as DuckDB takes it, such as '512MB' or '2GiB'. */
const memorySize = z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, "must be a size such as '512MB' or '2GiB'");
/** Milliseconds, or a duration such as '30s', '1m'. */
const duration = z.union([z.number(), z.string()]).transform((value, context) => {
  try {
    return parseDuration(/^\d+$/.test(String(value)) ? Number(value) : value, 'duration');
  } catch {
    context.addIssue({ code: 'custom', message: `must be milliseconds or a duration such as '30s' or '1m', not ${JSON.stringify(value)}` });
    return z.NEVER;
  }
});

export const configSchema = z
  .object({
    /** Where the embedded adapters keep their files. */
    dataDir: z.string().min(1).default('./data'),
    logger: z
      .object({
        level: z.enum(LOG_LEVELS).default('info'),
        format: z.enum(['pretty', 'json']).default('pretty'),
      })
      .strict()
      .prefault({}),
    eventLog: z
      .object({
        adapter: z.enum(['embedded', 'kafka']).default('embedded'),
        fsync: fsyncPolicy.default('always'),
        fsyncIntervalMs: integer(1, 60_000).default(1000),
        segmentBytes: integer(1 * MiB, 1024 * MiB).default(64 * MiB),
        /** Partitions of topics the platform creates itself. */
        defaultPartitions: integer(1, 1024).default(4),
        /** The Kafka adapter's cluster (when `adapter` is 'kafka'). */
        kafka: z
          .object({
            /** Bootstrap brokers, `host:port`. */
            brokers: list.default([]),
            clientId: z.string().min(1).default('lambda-platform'),
            ssl: boolean.default(false),
            sasl: z
              .object({
                mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
                username: z.string().min(1),
                password: z.string().min(1),
              })
              .strict()
              .optional(),
            /** Replication factor of topics the platform creates. */
            replicationFactor: integer(1, 16).default(1),
            connectionTimeoutMs: integer(100, 120_000).default(3000),
            requestTimeoutMs: integer(100, 300_000).default(30_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .refine((log) => log.adapter !== 'kafka' || log.kafka.brokers.length > 0, {
        message: "needs at least one broker when the event log's adapter is 'kafka' (KAFKA_BROKERS=host:9092,...)",
        path: ['kafka', 'brokers'],
      })
      .prefault({}),
    kafkaServer: z
      .object({
        /** Serve the embedded event log over the Kafka protocol, so Kafka clients can produce and consume. */
        enabled: boolean.default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(9092),
        /** The largest request frame accepted; a larger one closes the connection. */
        maxFrameBytes: integer(1024, 1024 * MiB).default(100 * MiB),
        /**
         * Create topics that clients name in Metadata (with `eventLog.defaultPartitions` partitions). Off,
         * as `auto.create.topics.enable=false` on a secured broker: a producer's typo must not make a topic.
         */
        autoCreateTopics: boolean.default(false),
      })
      .strict()
      .prefault({}),
    viewStore: z
      .object({
        adapter: z.enum(['embedded', 'cassandra']).default('embedded'),
        fsync: fsyncPolicy.default('always'),
        fsyncIntervalMs: integer(1, 60_000).default(1000),
        /** The Cassandra adapter's cluster (when `adapter` is 'cassandra'). */
        cassandra: z
          .object({
            contactPoints: list.default([]),
            localDataCenter: z.string().min(1).default('datacenter1'),
            keyspace: z
              .string()
              .regex(/^[a-z][a-z0-9_]{0,47}$/, 'must be a lower-case CQL identifier (letters, digits, _; 48 at most)')
              .default('lambda'),
            /** Consistency of every read and write. */
            consistency: z.enum(['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM', 'ALL']).default('LOCAL_QUORUM'),
            /** Create the keyspace and tables (infra/cassandra/schema.cql) at start. */
            applySchema: boolean.default(true),
            /** Replication factor of a keyspace the platform creates. */
            replicationFactor: integer(1, 16).default(1),
            username: z.string().min(1).optional(),
            password: z.string().min(1).optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .refine((store) => store.adapter !== 'cassandra' || store.cassandra.contactPoints.length > 0, {
        message: "needs at least one contact point when the view store's adapter is 'cassandra' (CASSANDRA_CONTACT_POINTS=host,...)",
        path: ['cassandra', 'contactPoints'],
      })
      .prefault({}),
    lake: z
      .object({
        adapter: z.enum(['local', 's3']).default('local'),
        /** The local lake's folder; `<dataDir>/lake` when unset. */
        dir: z.string().min(1).optional(),
        /** The S3 adapter's bucket (when `adapter` is 's3'). */
        s3: z
          .object({
            bucket: z.string().min(3).max(63).optional(),
            /** A key prefix inside the bucket, so several platforms can share one. */
            prefix: z.string().default(''),
            region: z.string().min(1).default('us-east-1'),
            /** A non-AWS endpoint such as MinIO's (`http://host:9000`); AWS's own when unset. */
            endpoint: z.url().optional(),
            /** Path-style URLs (`endpoint/bucket/key`), as MinIO and s3rver need. */
            forcePathStyle: boolean.default(true),
            /** Credentials; the AWS SDK's own chain (environment, profile, instance role) when unset. */
            accessKeyId: z.string().min(1).optional(),
            secretAccessKey: z.string().min(1).optional(),
            /** Objects larger than this are uploaded in parts. */
            multipartThresholdBytes: integer(5 * MiB, 5 * 1024 * MiB).default(16 * MiB),
            /** Attempts per request, with exponential backoff and jitter between them. */
            maxAttempts: integer(1, 20).default(5),
            /** Where the batch layer keeps downloaded objects for DuckDB; `<dataDir>/lake-cache` when unset. */
            cacheDir: z.string().min(1).optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .refine((lake) => lake.adapter !== 's3' || lake.s3.bucket !== undefined, {
        message: "needs a bucket when the lake's adapter is 's3' (S3_BUCKET)",
        path: ['s3', 'bucket'],
      })
      .prefault({}),
    scheduler: z
      .object({
        adapter: z.enum(['in-process', 'bullmq']).default('in-process'),
        /** Finished runs kept per job for status and history. */
        historyLimit: integer(1, 10_000).default(100),
        /** The BullMQ adapter's Redis (when `adapter` is 'bullmq'). */
        bullmq: z
          .object({
            redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
            /** Prefix of every Redis key, so several platforms can share one Redis. */
            prefix: z.string().min(1).default('lambda'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    speedLayer: z
      .object({
        /** Time between micro-batches. */
        batchIntervalMs: integer(10, 60_000).default(1000),
        /** Cut a slice after this many micro-batches with records... */
        sliceMicroBatches: integer(1, 100_000).default(10),
        /** ...or once it is this old. */
        sliceMaxAge: duration.default(60_000),
        /** Worker threads folding partitions in parallel: a number (0: fold in the main thread), or 'auto' for one per core. */
        workers: z.union([z.literal('auto'), integer(0, 64)], { error: "must be 'auto' or a number of threads from 0 to 64" }).default('auto'),
        /** How many speed-layer processes share the work: each folds the partitions p with p mod instances = its instance. */
        instances: integer(1, 1024).default(1),
        /** This process's place among them, from 0. */
        instance: integer(0, 1023).default(0),
      })
      .strict()
      .refine((speed) => speed.instance < speed.instances, {
        message: 'must be below speedLayer.instances (instances are numbered from 0)',
        path: ['instance'],
      })
      .prefault({}),
    batchLayer: z
      .object({
        /** Recompute every view this often... */
        recomputeEvery: duration.default(60_000),
        /** ...or on this cron expression instead. */
        recomputeCron: z.string().min(1).optional(),
        /** How long covered slices and superseded versions stay after a publish. */
        cleanupGrace: duration.default(30_000),
        /**
         * 'none': one DuckDB query per recompute, in the batch-layer process. 'bullmq': one BullMQ job per
         * lake partition, run by partition workers on any number of machines, merged by the views' monoids.
         */
        fanOut: z.enum(['none', 'bullmq']).default('none'),
        /** Partition jobs each process runs at once (batch-layer and batch-worker processes); 0: none in the batch layer. */
        partitionConcurrency: integer(0, 64).default(1),
        /**
         * DuckDB's memory limit for a recompute (and a batch worker's partition jobs): past it DuckDB spills
         * to disk under the data directory, so a growing lake costs time, not memory. Unset: DuckDB's own
         * limit, 80% of the machine's memory.
         */
        memoryLimit: memorySize.optional(),
        /**
         * DuckDB's threads for a recompute. Unset: one per core. Fewer leaves cores to a speed layer in the
         * same process, whose live answers would otherwise wait while a large lake is scanned.
         */
        threads: integer(1, 64).optional(),
      })
      .strict()
      .prefault({}),
    kappa: z
      .object({
        /**
         * Views run in Kappa mode: no batch layer, one stream pipeline from offset 0 maintains them, and a
         * compactor folds their closed slices into a new version. `*` names every view.
         */
        views: list.default([]),
        /** How often the compactor folds each Kappa view's closed slices into a new version. */
        compactEvery: duration.default(30_000),
      })
      .strict()
      .prefault({}),
    catalog: z
      .object({
        /** A JSON file with the sources and views to run; the built-in web-analytics demo when unset. */
        file: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** What every record must stay within before any layer counts it (see RecordLimits); unset: the catalog's, else the defaults. */
    records: z
      .object({
        maxEventBytes: integer(1, 256 * 1024 * 1024).optional(),
        maxStringLength: integer(1, 1024 * 1024).optional(),
        maxNumberMagnitude: z.coerce.number().positive().max(Number.MAX_VALUE).optional(),
      })
      .strict()
      .prefault({}),
    demo: z
      .object({
        /** Generate the web-analytics demo stream. */
        enabled: boolean.default(true),
        eventsPerSecond: integer(1, 100_000).default(50),
        /** Share of events whose event time is minutes late. */
        lateShare: z.coerce.number().min(0).max(1).default(0.05),
        /** Share of events that are malformed, to show the dead-letter topic at work. */
        invalidShare: z.coerce.number().min(0).max(1).default(0.002),
        seed: integer(0, 2 ** 31 - 1).default(42),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: integer(0, 65_535).default(8080),
        /** When set, ingest and admin requests need `Authorization: Bearer <token>`. */
        apiToken: z.string().min(16, 'must be at least 16 characters').optional(),
        /** The largest ingest body accepted, in bytes. */
        maxIngestBytes: integer(1024, 1024 * 1024 * 1024).default(10 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** Ad-hoc SQL over the merged views (`POST /query`). */
    query: z
      .object({
        /** How long one query may run before it is stopped. */
        timeout: duration.default(10_000),
        /** DuckDB's memory limit for the loaded views and the query together, e.g. '1GB'. */
        memoryLimit: memorySize.default('1GB'),
        /** The most rows one answer holds; past it the answer is cut and says so. */
        maxRows: integer(1, 1_000_000).default(10_000),
        /** Queries per minute per token (per client address without a token). */
        perMinute: integer(1, 1_000_000).default(120),
      })
      .strict()
      .prefault({}),
    health: z
      .object({
        /**
         * A view is stalled (and /health degraded) when the log holds records beyond its position on a
         * partition and that position has not moved for this long.
         */
        stallAfterMs: integer(1, 24 * 60 * 60 * 1000).default(30_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((config) => config.batchLayer.fanOut !== 'bullmq' || config.scheduler.adapter === 'bullmq', {
    message: "needs the BullMQ scheduler (SCHEDULER=bullmq): partition jobs go through its Redis",
    path: ['batchLayer', 'fanOut'],
  });

export type PlatformConfig = z.output<typeof configSchema>;
/** What a config file or a test may set: every field optional. */
export type PlatformConfigInput = z.input<typeof configSchema>;
