/**
 * Every request and response shape of the REST API, as zod schemas: requests are validated with them,
 * `/openapi.json` is generated from them, and the tests check real responses against them. The answers'
 * TypeScript types are inferred from them here, so each shape is declared once and cannot drift.
 */
import type { JsonValue } from '@lambda/core';
import { z } from 'zod';

/** Epoch milliseconds, or an ISO-8601 date; `examples` for the document. */
const instantWith = (examples: string[]) =>
  z
    .string()
    .meta({ description: 'Epoch milliseconds, or an ISO-8601 date', examples })
    .transform((text, context) => {
      const value = /^\d+$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
      if (!Number.isSafeInteger(value)) {
        context.addIssue({ code: 'custom', message: `must be epoch milliseconds or an ISO-8601 date, not ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return value;
    });

/** Epoch milliseconds, or an ISO-8601 date. */
export const instant = instantWith(['1767225600000', '2026-01-01T00:00:00Z']);
/** The same, with examples an hour later: `to` must be after `from`, and the document's examples make a valid range. */
const instantAfter = instantWith(['1767229200000', '2026-01-01T01:00:00Z']);

const count = (max: number, fallback: number, what: string) =>
  z.coerce.number().int().min(1).max(max).default(fallback).meta({ description: `${what}, 1 to ${max} (default ${fallback})` });
const cursor = z.string().min(1).max(8192).meta({ description: "The `next` of the previous page" });

export const MAX_KEYS_PER_QUERY = 100;

export const viewParams = z.object({ name: z.string().meta({ description: 'A view name, as GET /views lists them' }) });

export const viewQuery = z
  .object({
    key: z
      .union([z.string(), z.array(z.string())], { error: 'is required: give one or more keys (?key=a&key=b)' })
      .transform((key) => (Array.isArray(key) ? key : [key]))
      .pipe(z.array(z.string()).min(1).max(MAX_KEYS_PER_QUERY, `takes at most ${MAX_KEYS_PER_QUERY} keys`))
      .meta({ description: `Row keys, 1 to ${MAX_KEYS_PER_QUERY} (repeat the parameter)` }),
    from: instant.optional().meta({ description: 'Windows starting at or after this' }),
    to: instantAfter.optional().meta({ description: 'Windows starting before this' }),
    limit: count(10_000, 1000, 'Windows per page'),
    cursor: cursor.optional(),
    contributions: z
      .enum(['true', 'false'])
      .transform((value) => value === 'true')
      .default(false)
      .meta({ description: "Also give each window's batch and real-time parts" }),
  })
  .strict()
  .refine((query) => query.from === undefined || query.to === undefined || query.from < query.to, { message: 'must be after from', path: ['to'] });

export const keysQuery = z
  .object({
    prefix: z.string().max(4096).optional().meta({ description: 'Only keys starting with this' }),
    limit: count(10_000, 1000, 'Keys per page'),
    cursor: cursor.optional(),
  })
  .strict();

export const topQuery = z
  .object({
    from: instant.optional().meta({ description: 'Windows starting at or after this' }),
    to: instantAfter.optional().meta({ description: 'Windows starting before this' }),
    n: count(1000, 10, 'Keys to return'),
    by: z.string().optional().meta({ description: "The numeric aggregate to rank by; the view's first numeric aggregate by default" }),
  })
  .strict()
  .refine((query) => query.from === undefined || query.to === undefined || query.from < query.to, { message: 'must be after from', path: ['to'] });

export const ingestParams = z.object({ topic: z.string().meta({ description: 'A source topic' }) });

export const batchRunBody = z
  .object({ view: z.string().optional().meta({ description: 'The view to recompute; every view when absent' }) })
  .strict();

export const jobsQuery = z
  .object({
    view: z.string().optional().meta({ description: "Only this view's recompute job" }),
    limit: count(1000, 50, 'Runs to list, newest first'),
  })
  .strict();

export const jobParams = z.object({ id: z.string().meta({ description: 'A run id, as POST /batch/run or GET /batch/jobs give it' }) });

// Responses

// Accepts anything, as z.unknown() would, but typed as JSON: the answers carry the views' results
// (core's JsonObject), and callers of the reader read them as such.
const jsonValue = z.custom<JsonValue>().meta({ description: 'Any JSON value' });

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), context: z.record(z.string(), jsonValue).optional() }),
});

export const window = z.object({
  key: z.string(),
  windowStart: z.number().int().meta({ description: 'Epoch ms; 0 for a view without windows' }),
  windowEnd: z.number().int().nullable().meta({ description: 'Epoch ms; null for a view without windows' }),
  values: z.record(z.string(), jsonValue).meta({ description: 'Each aggregate by name' }),
  batch: z.record(z.string(), jsonValue).nullable().optional().meta({ description: 'With contributions: what the batch version holds' }),
  realtime: z.record(z.string(), jsonValue).nullable().optional().meta({ description: 'With contributions: what the slices add' }),
});

export type MergedWindow = z.output<typeof window>;

export const provenance = z.object({
  batch: z.object({ version: z.number().int(), horizon: z.array(z.number().int()), publishedAt: z.number().int() }).nullable(),
  /** The slices merged on top of the batch version. */
  slices: z.array(z.object({ partition: z.number().int(), start: z.number().int(), end: z.number().int(), closed: z.boolean() })),
  position: z.array(z.number().int()).meta({ description: 'Per partition: the answer counts exactly the records below this offset' }),
  /** Log timestamp of the newest record counted. */
  newestRecordAt: z.number().int().nullable(),
  /**
   * How old that record is, now: the answer is this fresh. While the view is stalled on a partition, the
   * age of the newest record counted there instead (see ViewProgressMonitor), so it grows while stuck.
   */
  freshnessMs: z.number().nullable(),
  /** Reads it took to get a consistent answer; 0 when an answer computed earlier for the same data served. */
  attempts: z.number().int(),
});
export type Provenance = z.output<typeof provenance>;

/** `next` is the cursor of the next page; null on the last. */
export const mergedAnswer = z.object({ view: z.string(), windows: z.array(window), provenance, next: z.string().nullable() });
export type MergedAnswer = z.output<typeof mergedAnswer>;

export const keysPage = z.object({ view: z.string(), keys: z.array(z.string()), provenance, next: z.string().nullable() });
export type KeysPage = z.output<typeof keysPage>;

export const topAnswer = z.object({
  view: z.string(),
  by: z.string(),
  from: z.number().int().nullable(),
  to: z.number().int().nullable(),
  /** Keys ranked by `by`, each with its aggregates merged over the window range. */
  top: z.array(z.object({ key: z.string(), values: z.record(z.string(), jsonValue) })),
  provenance,
});
export type TopAnswer = z.output<typeof topAnswer>;

const valueType = z.object({}).catchall(jsonValue).meta({ description: 'A JSON schema' });

export const viewDescription = z.object({
  name: z.string(),
  generation: z.number().int().min(1).meta({ description: "The generation of the view's logic that serves: 1, then one more per reprocess" }),
  description: z.string().nullable(),
  source: z.string(),
  definition: z.object({
    derive: z.record(z.string(), z.string()),
    filter: z.string().nullable(),
    key: z.array(z.string()),
    window: z.object({ type: z.enum(['tumbling', 'hopping']), sizeMs: z.number().int(), slideMs: z.number().int() }).nullable(),
    aggregates: z.record(z.string(), z.string()),
  }),
  schema: z.object({
    key: z.array(z.object({ expression: z.string(), type: z.string() })).meta({ description: 'The key expressions and their types' }),
    values: z.record(z.string(), valueType).meta({ description: 'Each aggregate result, as a JSON schema' }),
  }),
  status: z.object({
    batch: z
      .object({ version: z.number().int(), horizon: z.array(z.number().int()), publishedAt: z.number().int(), stats: z.record(z.string(), jsonValue) })
      .nullable(),
    slices: z.number().int(),
    position: z.array(z.number().int()),
    newestRecordAt: z.number().int().nullable(),
    freshnessMs: z.number().nullable(),
  }),
});

export const viewList = z.object({ views: z.array(viewDescription) });

export const ingestReport = z.object({
  topic: z.string(),
  accepted: z.number().int(),
  deadLettered: z.number().int(),
  records: z.array(
    z.object({
      index: z.number().int(),
      partition: z.number().int(),
      offset: z.number().int(),
      status: z.enum(['accepted', 'dead-letter']),
      reason: z.string().optional(),
    }),
  ),
});
export type IngestReport = z.output<typeof ingestReport>;

export const jobRun = z.object({
  id: z.string(),
  name: z.string(),
  view: z.string().nullable(),
  trigger: z.enum(['schedule', 'manual']),
  state: z.enum(['waiting', 'running', 'completed', 'failed']),
  progress: z.object({ percent: z.number(), message: z.string().optional(), stage: z.string().optional() }).passthrough(),
  attempts: z.number().int(),
  createdAt: z.number().int(),
  startedAt: z.number().int().nullable(),
  finishedAt: z.number().int().nullable(),
  durationMs: z.number().nullable(),
  version: z.number().int().nullable().meta({ description: 'The batch version it published, once completed' }),
  horizon: z.array(z.number().int()).nullable(),
  result: jsonValue,
  error: z.string().nullable(),
});

export const jobSchedule = z.object({
  view: z.string(),
  name: z.string(),
  repeat: z.union([z.object({ everyMs: z.number() }), z.object({ cron: z.string(), timezone: z.string().optional() })]).nullable(),
  nextRunAt: z.number().int().nullable(),
  running: jobRun.nullable(),
  waiting: jobRun.nullable(),
  lastFinished: jobRun.nullable(),
});

export const jobsList = z.object({ jobs: z.array(jobSchedule), runs: z.array(jobRun) });
export const batchRunAnswer = z.object({ runs: z.array(jobRun) });

export const dependencyHealth = z.object({
  status: z.enum(['up', 'down']),
  latencyMs: z.number(),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
});
export type DependencyHealth = z.output<typeof dependencyHealth>;

const viewProgressStatus = z
  .enum(['ok', 'degraded', 'unknown'])
  .meta({ description: 'degraded: stalled on some partition; unknown: the stores did not answer for it (the reason says what failed)' });

export const viewHealth = z.object({
  status: viewProgressStatus,
  reason: z.string().nullable().meta({ description: 'Why it is degraded or unknown, naming the partition, offsets and for how long; null when ok' }),
  lag: z.number().int().nullable().meta({ description: "Records the log holds beyond the view's positions, over every partition; null when unknown" }),
  stalledPartitions: z.array(
    z.object({
      partition: z.number().int(),
      position: z.number().int().meta({ description: 'The view counts the records below this offset, and has not moved past it' }),
      endOffset: z.number().int(),
      stalledForMs: z.number().meta({ description: 'How long the position has stayed put while the log held records beyond it' }),
    }),
  ),
});
/** A view's progress as /health gives it: only what an operator needs to act. */
export type ViewHealth = z.output<typeof viewHealth>;

export const speedLayerReport = z
  .object({
    topics: z.array(
      z.object({
        topic: z.string(),
        state: z.enum(['ok', 'retrying', 'isolating']).meta({ description: 'retrying: the last micro-batch failed; isolating: narrowing a failing micro-batch down to its record' }),
        consecutiveFailures: z.number().int(),
        lastError: z.string().nullable(),
        lastErrorAt: z.number().int().nullable(),
        lastSuccessAt: z.number().int().nullable(),
        quarantined: z.number().int().meta({ description: 'Records quarantined (dead-lettered for a view that could not take them) since the process started' }),
        status: z.enum(['ok', 'degraded']).meta({ description: 'degraded: retrying or isolating after 3 failures or more in a row' }),
        reason: z.string().nullable(),
      }),
    ),
    error: z.string().nullable().meta({ description: 'Why the speed layer gave no report; null when it did' }),
  })
  .nullable()
  .meta({ description: "The speed layer's own report; null when it does not run in the serving layer's process" });

export const health = z.object({
  status: z
    .enum(['up', 'degraded', 'down'])
    .meta({ description: 'down (503): a dependency does not answer; degraded (200, reads still work): a view is stalled or a speed-layer topic keeps failing' }),
  reasons: z.array(z.string()).meta({ description: 'Why the status is not up, one sentence per cause' }),
  dependencies: z.record(z.string(), dependencyHealth),
  views: z.record(z.string(), viewHealth),
  speedLayer: speedLayerReport,
});
export type HealthAnswer = z.output<typeof health>;

export const platformStatus = z.object({
  topics: z.array(
    z.object({
      topic: z.string(),
      partitions: z.array(z.object({ partition: z.number().int(), endOffset: z.number().int(), committed: z.number().int().nullable(), lag: z.number().int() })),
    }),
  ),
  views: z.array(
    z.object({
      view: z.string(),
      topic: z.string(),
      status: viewProgressStatus,
      reason: z.string().nullable(),
      lag: z.number().int().nullable(),
      partitions: z.array(
        z.object({
          partition: z.number().int(),
          position: z.number().int().meta({ description: 'The view counts exactly the records below this offset: the end of its last slice, or its batch horizon when higher' }),
          endOffset: z.number().int(),
          lag: z.number().int(),
          stalled: z.boolean(),
          stuckForMs: z.number().meta({ description: 'How long the position has stayed put while the log held records beyond it; 0 while caught up' }),
          newestRecordAt: z.number().int().nullable().meta({ description: 'Log timestamp of the newest record the view counts in this partition' }),
        }),
      ),
    }),
  ),
  speedLayer: speedLayerReport,
});
