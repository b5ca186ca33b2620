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
        adapter: z.enum(['embedded']).default('embedded'),
        fsync: fsyncPolicy.default('always'),
        fsyncIntervalMs: integer(1, 60_000).default(1000),
        segmentBytes: integer(1 * MiB, 1024 * MiB).default(64 * MiB),
        /** Partitions of topics the platform creates itself. */
        defaultPartitions: integer(1, 1024).default(4),
      })
      .strict()
      .prefault({}),
    viewStore: z
      .object({
        adapter: z.enum(['embedded']).default('embedded'),
        fsync: fsyncPolicy.default('always'),
        fsyncIntervalMs: integer(1, 60_000).default(1000),
      })
      .strict()
      .prefault({}),
    lake: z
      .object({
        adapter: z.enum(['local']).default('local'),
        /** The local lake's folder; `<dataDir>/lake` when unset. */
        dir: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    scheduler: z
      .object({
        adapter: z.enum(['in-process']).default('in-process'),
        /** Finished runs kept per job for status and history. */
        historyLimit: integer(1, 10_000).default(100),
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
      })
      .strict()
      .prefault({}),
    batchLayer: z
      .object({
        /** Recompute every view this often... */
        recomputeEvery: duration.default(60_000),
        /** ...or on this cron expression instead. */
        recomputeCron: z.string().min(1).optional(),
        /** How long covered slices and superseded versions stay after a publish. */
        cleanupGrace: duration.default(30_000),
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
  })
  .strict();

export type PlatformConfig = z.output<typeof configSchema>;
/** What a config file or a test may set: every field optional. */
export type PlatformConfigInput = z.input<typeof configSchema>;
