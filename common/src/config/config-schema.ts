/**
 * The platform's one configuration object. Every setting has a default that runs the platform on the
 * embedded adapters; environment variables (see environment.ts) and an optional JSON file override them.
 */
import { z } from 'zod';
import { LOG_LEVELS } from '../logging/logger.js';

const MiB = 1024 * 1024;

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const fsyncPolicy = z.enum(['always', 'interval', 'never']);

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
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: integer(0, 65_535).default(8080),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type PlatformConfig = z.output<typeof configSchema>;
/** What a config file or a test may set: every field optional. */
export type PlatformConfigInput = z.input<typeof configSchema>;
