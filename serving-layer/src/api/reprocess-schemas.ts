/**
 * The zod schemas of the reprocess endpoints (`POST` and `GET /views/:name/reprocess`): they validate the
 * requests and make their part of the OpenAPI document.
 */
import { z } from 'zod';

/** A view definition, as in the catalog file (see docs/views.md); the catalog compiles and checks it further. */
export const viewDefinition = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    source: z.string().min(1),
    derive: z.record(z.string(), z.string()).optional(),
    filter: z.string().optional(),
    key: z.union([z.string(), z.array(z.string())]),
    window: z
      .object({ type: z.enum(['tumbling', 'hopping']), size: z.union([z.string(), z.number()]), slide: z.union([z.string(), z.number()]).optional() })
      .strict()
      .optional(),
    aggregates: z.record(z.string(), z.string()),
  })
  .strict();

export const reprocessBody = z
  .object({
    definition: viewDefinition
      .optional()
      .meta({ description: "The view's new definition (its name must be the view's); the catalog file's, read again, when absent" }),
  })
  .strict();

export const reprocessProgress = z.object({
  phase: z.enum(['archive', 'replay', 'switch', 'cleanup', 'done']),
  percent: z.number().meta({ description: "Share of the records up to the log's end when the run started that the new generation covers; 100 once it caught up with the live log" }),
  recordsReplayed: z.number().int(),
  recordsTotal: z.number().int().meta({ description: "Records up to the log's end now" }),
});

export const reprocessJob = z.object({
  id: z.string(),
  view: z.string(),
  state: z.enum(['running', 'completed', 'failed']),
  progress: reprocessProgress,
  startedAt: z.number().int(),
  finishedAt: z.number().int().nullable(),
  result: z
    .object({
      view: z.string(),
      generation: z.number().int(),
      storage: z.string(),
      startedAt: z.number().int(),
      switchedAt: z.number().int().meta({ description: 'When readers switched to the new generation' }),
      durationMs: z.number(),
      recordsReplayed: z.number().int(),
      recordsFromArchive: z.number().int(),
      position: z.array(z.number().int()),
    })
    .nullable(),
  error: z.string().nullable(),
});
export type ReprocessJobAnswer = z.output<typeof reprocessJob>;

export const reprocessAnswer = z.object({ job: reprocessJob });
