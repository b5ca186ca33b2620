/**
 * The zod schemas of the SQL endpoint (`POST /query`, `GET /query`): they validate the requests, type the
 * answer and make their part of the OpenAPI document.
 */
import type { JsonValue } from '@lambda/core';
import { z } from 'zod';
import { provenance } from './schemas.js';

/** The longest statement accepted: an ad-hoc query, not a program. */
export const MAX_SQL_LENGTH = 100_000;
export const MAX_PARAMS = 1000;

const sql = z
  .string()
  .min(1)
  .max(MAX_SQL_LENGTH)
  .meta({
    description: 'One SELECT or WITH statement over the views; each view is a table of its name. Values go in `params`, as `?` or `$1`',
    examples: ['SELECT url, sum(views) AS views FROM pageviews_by_url GROUP BY url ORDER BY views DESC LIMIT 10'],
  });
const param = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const limit = (max: number) => z.coerce.number().int().min(1).max(max).meta({ description: `The most rows to answer, 1 to ${max} (default ${max})` });

export const queryBody = (maxRows: number) =>
  z
    .object({
      sql,
      params: z.array(param).max(MAX_PARAMS).default([]).meta({ description: "The statement's parameter values, in order" }),
      limit: limit(maxRows).optional(),
    })
    .strict();

/**
 * GET's statement and parameters ride in the URL, which Node takes up to 16 KiB with the headers: each
 * gets a share that fits; a longer statement goes by POST.
 */
export const MAX_GET_SQL_LENGTH = 8 * 1024;
const MAX_GET_PARAMS_LENGTH = 4 * 1024;

/** GET's `params` is a JSON array in one query parameter. */
export const queryQuery = (maxRows: number) =>
  z
    .object({
      sql: sql.max(MAX_GET_SQL_LENGTH).meta({ description: `As for POST, up to ${MAX_GET_SQL_LENGTH} characters: a longer statement goes by POST /query` }),
      params: z
        .string()
        .max(MAX_GET_PARAMS_LENGTH)
        .meta({ description: 'The parameter values as a JSON array, e.g. ["/home", 100]', examples: ['[]'] })
        .transform((text, context) => {
          const parsed = z.array(param).max(MAX_PARAMS).safeParse(parseJson(text));
          if (parsed.success) return parsed.data;
          context.addIssue({ code: 'custom', message: 'must be a JSON array of strings, numbers, booleans or nulls' });
          return z.NEVER;
        })
        .optional(),
      limit: limit(maxRows).optional(),
    })
    .strict();

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const cell = z.custom<JsonValue>().meta({ description: 'A value: BIGINT as a number (as text past 2^53), TIMESTAMP as ISO 8601, a list as an array, a struct as an object' });

export const sqlAnswer = z.object({
  columns: z.array(z.object({ name: z.string(), type: z.string().meta({ description: "DuckDB's name of the column's type" }) })),
  rows: z.array(z.array(cell)).meta({ description: "Each row's values, in column order" }),
  truncated: z.boolean().meta({ description: 'Whether the query had more rows than the answer holds (see `limit`)' }),
  views: z.record(z.string(), provenance).meta({ description: 'Per view the query read: the one consistent snapshot it read' }),
  pushedDown: z
    .record(
      z.string(),
      z.object({
        keys: z.array(z.string()).optional().meta({ description: 'Only the windows of these keys were read' }),
        windowFrom: z.number().int().optional().meta({ description: 'Only windows starting at or after this (epoch ms)' }),
        windowTo: z.number().int().optional().meta({ description: 'Only windows starting before this (epoch ms)' }),
      }),
    )
    .meta({ description: "Per view read only in part: the key and window filters of the query's WHERE that reached the store" }),
  elapsedMs: z.number().meta({ description: 'How long the query ran, without loading the views' }),
});
export type SqlAnswerBody = z.output<typeof sqlAnswer>;
