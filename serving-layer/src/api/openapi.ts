/**
 * The OpenAPI 3.1 document, generated from the zod schemas that validate the requests (and describe the
 * responses), so the document cannot drift from what the API accepts.
 */
import type { Catalog, SourceDefinition } from '@lambda/core';
import { z } from 'zod';
import * as querySchemas from './query-schemas.js';
import * as reportsSchemas from './reports-schemas.js';
import * as reprocessSchemas from './reprocess-schemas.js';
import * as schemas from './schemas.js';

type JsonSchema = Record<string, unknown>;

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/**
 * Each property of an object schema as an OpenAPI parameter; `examples` adds examples to some (the names
 * of this platform's views and topics, which a client or a fuzzer cannot guess).
 */
function parameters(schema: z.ZodType, location: 'query' | 'path', examples: Record<string, string[]> = {}): JsonSchema[] {
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    description: property.description,
    schema: examples[name]?.length ? { ...property, examples: examples[name] } : property,
    ...(name === 'key' ? { style: 'form', explode: true } : {}),
  }));
}

/**
 * An event a source takes: each declared field with a value of its type, and an event time. Ingest
 * appends any event (an invalid one is dead-lettered), so this is an example, not the body's schema.
 */
function exampleEvent(source: SourceDefinition): Record<string, string | number | boolean> {
  const value = { string: (name: string) => name, number: () => 1, boolean: () => true };
  return { ...Object.fromEntries(Object.entries(source.fields).map(([name, type]) => [name, value[type](name)])), [source.eventTimeField]: EXAMPLE_EVENT_TIME };
}
/** 2026-01-01T00:00:00Z, as docs/api.md's examples. */
const EXAMPLE_EVENT_TIME = 1_767_225_600_000;

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema: jsonSchema(schema, 'output') } } });
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [String(code), json(schemas.errorBody, ERROR_MEANINGS[code] ?? 'An error, with a code and a message naming the problem')]),
  );
const ERROR_MEANINGS: Record<number, string> = {
  400: 'A parameter is invalid: the message names it and says why',
  401: 'A token is configured and the request has none',
  403: 'The token is wrong',
  404: 'No such view, topic, job run, reprocess run or report',
  422: 'The query ran past its time limit (QUERY_TIMEOUT) or its memory limit (QUERY_OUT_OF_MEMORY) and was stopped',
  429: 'More queries a minute than the rate limit allows (RATE_LIMITED): wait for the Retry-After seconds',
  409: 'A reprocess of the view is already running, or this process does not run the speed layer (reprocessing runs there)',
  413: 'The body is larger than the limit',
  431: 'The request line and headers are over 16 KiB (HEADERS_TOO_LARGE): a URL with too many or too long parameters',
  503: 'A dependency did not answer, or the view kept changing during the read: try again',
};
const bearer = [{ bearerToken: [] }];

const QUERY_DESCRIPTION = [
  'Each view is a table of its name: a column per key expression, `window_start` and `window_end` (TIMESTAMP, UTC),',
  'and a column per aggregate (`approx_distinct` its estimate, `top_k` a list of `{value, count}`).',
  'One SELECT or WITH statement; no file, network or extension access; values only through `params`.',
  'Time, memory and row limits apply; the token is needed when the platform has one, and queries are rate-limited per token.',
].join(' ');

const QUERY_EXAMPLES = {
  slowestPages: {
    summary: 'The 20 pages with the highest average latency over the last hour, among those with at least 100 views',
    value: {
      sql: 'SELECT url, sum(views) AS views, sum(avg_latency_ms * views) / sum(views) AS avg_latency_ms FROM pageviews_by_url WHERE window_start >= now() - INTERVAL 1 HOUR GROUP BY url HAVING sum(views) >= ? ORDER BY avg_latency_ms DESC LIMIT 20',
      params: [100],
    },
  },
  referrers: {
    summary: 'Visits and visitors per referrer in the latest closed ten-minute window',
    value: { sql: 'SELECT referrer, visits, visitors FROM visitors_by_referrer WHERE window_end = (SELECT max(window_end) FROM visitors_by_referrer WHERE window_end <= now()) ORDER BY visits DESC' },
  },
};

/**
 * `maxQueryRows`: the most rows a `/query` answer holds on this server (the `limit` maximum); `catalog`:
 * the views and sources it serves, given as examples of the view and topic parameters and of ingest bodies.
 */
export function openApiDocument(options: { maxQueryRows?: number; catalog?: Pick<Catalog, 'views' | 'sources'> } = {}): JsonSchema {
  const maxRows = options.maxQueryRows ?? 10_000;
  const views = [...(options.catalog?.views.keys() ?? [])];
  const sources = [...(options.catalog?.sources.values() ?? [])].map((source) => source.definition);
  const examples = { name: views, view: views, topic: sources.map((source) => source.topic) };
  const ingestExamples = Object.fromEntries(
    sources.map((source) => [source.topic, { summary: `Two events for topic ${source.topic}: each declared field, and the event time`, value: [exampleEvent(source), exampleEvent(source)] }]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Lambda platform',
      version: '0.1.0',
      description:
        'Merged answers over all data: each view answers batch version N merged with the speed layer slices at or above its horizon, with provenance.',
    },
    components: { securitySchemes: { bearerToken: { type: 'http', scheme: 'bearer', description: 'Only when the platform is started with API_TOKEN' } } },
    paths: {
      '/views': { get: { summary: 'Every view: definition, schema and status', responses: { 200: json(schemas.viewList, 'The views') } } },
      '/views/{name}': {
        get: {
          summary: 'Merged windows of some keys, with provenance',
          parameters: [...parameters(schemas.viewParams, 'path', examples), ...parameters(schemas.viewQuery, 'query')],
          responses: { 200: json(schemas.mergedAnswer, 'The windows, a page of them, and where the answer comes from'), ...errors(400, 404, 431, 503) },
        },
      },
      '/views/{name}/keys': {
        get: {
          summary: 'The keys of a view, paged',
          parameters: [...parameters(schemas.viewParams, 'path', examples), ...parameters(schemas.keysQuery, 'query')],
          responses: { 200: json(schemas.keysPage, 'A page of keys'), ...errors(400, 404, 431, 503) },
        },
      },
      '/views/{name}/top': {
        get: {
          summary: 'The top keys over a window range, merged across both layers',
          parameters: [...parameters(schemas.viewParams, 'path', examples), ...parameters(schemas.topQuery, 'query')],
          responses: { 200: json(schemas.topAnswer, 'The ranked keys'), ...errors(400, 404, 431, 503) },
        },
      },
      '/query': {
        post: {
          summary: 'Ad-hoc SQL over the merged views: each view a table, each read at one consistent snapshot, with provenance',
          description: QUERY_DESCRIPTION,
          security: bearer,
          requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(querySchemas.queryBody(maxRows), 'input'), examples: QUERY_EXAMPLES } } },
          responses: { 200: json(querySchemas.sqlAnswer, 'Typed columns, rows, whether they were cut, and the snapshot of every view read'), ...errors(400, 401, 403, 413, 422, 429) },
        },
        get: {
          summary: 'The same, for a short query in the URL; params as a JSON array',
          description: QUERY_DESCRIPTION,
          security: bearer,
          parameters: parameters(querySchemas.queryQuery(maxRows), 'query'),
          responses: { 200: json(querySchemas.sqlAnswer, 'Typed columns, rows, whether they were cut, and the snapshot of every view read'), ...errors(400, 401, 403, 422, 429, 431) },
        },
      },
      '/ingest/{topic}': {
        post: {
          summary: 'Append events: a JSON array, or NDJSON',
          security: bearer,
          parameters: parameters(schemas.ingestParams, 'path', examples),
          requestBody: {
            required: true,
            content: {
              // At least one event: an empty array or a body of blank lines is a 400.
              'application/json': { schema: { type: 'array', items: {}, minItems: 1 }, ...(sources.length > 0 ? { examples: ingestExamples } : {}) },
              'application/x-ndjson': { schema: { type: 'string', pattern: '\\S', description: 'One JSON event per line; blank lines are skipped' } },
            },
          },
          responses: { 200: json(schemas.ingestReport, 'Where each record landed, and which will be dead-lettered and why'), ...errors(400, 401, 403, 404, 413, 431) },
        },
      },
      '/views/{name}/reprocess': {
        post: {
          summary: 'Reprocess a view after its logic changed: rebuild it as a new generation, then switch readers to it',
          security: bearer,
          parameters: parameters(schemas.viewParams, 'path', examples),
          requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(reprocessSchemas.reprocessBody, 'input') } } },
          responses: { 202: json(reprocessSchemas.reprocessAnswer, 'The run, started'), ...errors(400, 401, 403, 404, 409, 413, 431) },
        },
        get: {
          summary: "The view's latest reprocess run: phase, percent of records replayed, result or error",
          security: bearer,
          parameters: parameters(schemas.viewParams, 'path', examples),
          responses: { 200: json(reprocessSchemas.reprocessAnswer, 'The run'), ...errors(401, 403, 404, 409, 431) },
        },
      },
      '/batch/run': {
        post: {
          summary: 'Recompute a view (or every view) now',
          security: bearer,
          requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(schemas.batchRunBody, 'input') } } },
          responses: { 202: json(schemas.batchRunAnswer, 'The runs, queued or running'), ...errors(400, 401, 403, 404, 413) },
        },
      },
      '/batch/jobs': {
        get: {
          summary: 'Each view recompute job, and the run history',
          security: bearer,
          parameters: parameters(schemas.jobsQuery, 'query', examples),
          responses: { 200: json(schemas.jobsList, 'Jobs and runs'), ...errors(400, 401, 403, 404, 431) },
        },
      },
      '/batch/jobs/{id}': {
        get: {
          summary: 'One run: state, progress, duration, horizon, error',
          security: bearer,
          parameters: parameters(schemas.jobParams, 'path'),
          responses: { 200: json(schemas.jobRun, 'The run'), ...errors(401, 403, 404, 431) },
        },
      },
      '/reports': {
        get: { summary: 'Whether the comparative demo wrote a report, and the newest one', responses: { 200: json(reportsSchemas.reportsIndex, 'The newest report, or null') } },
      },
      '/reports/latest': {
        get: {
          summary: "The newest report of the comparative demo: its measurements and Markdown",
          responses: { 200: json(reportsSchemas.latestReport, 'The report'), ...errors(404) },
        },
      },
      '/reports/latest/{file}': {
        get: {
          summary: 'A file of the newest report: a chart (SVG), the Markdown or the measurements (JSON)',
          parameters: parameters(reportsSchemas.reportFileParams, 'path'),
          responses: {
            200: {
              description: 'The file',
              content: {
                'image/svg+xml': { schema: { type: 'string' } },
                'text/markdown': { schema: { type: 'string' } },
                'application/json': { schema: { type: 'object' } },
              },
            },
            ...errors(400, 404, 431),
          },
        },
      },
      '/status': {
        get: {
          summary: 'How far the log reaches, the speed layer has consumed and each view counts, and whether a view is stalled',
          responses: { 200: json(schemas.platformStatus, 'Per topic and partition, and per view and partition') },
        },
      },
      '/health': {
        get: {
          summary: "Each dependency with its latency and last error, whether each view keeps up with its log, and the speed layer's own report",
          responses: {
            200: json(schemas.health, 'Every dependency up: status up, or degraded when a view is stalled or a speed-layer topic keeps failing (reads still work)'),
            503: json(schemas.health, 'Some dependency down'),
          },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    },
  };
}
