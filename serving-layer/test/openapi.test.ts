import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConflictError, InProcessScheduler, ensureTopic, recomputeJobName, type Ports, seededRandom } from '@lambda/core';
import { makeTempDir } from '@lambda/test-kit';
import {
  SQL_QUERY_DEFAULTS,
  apiSchemas,
  openApiDocument,
  querySchemas,
  reportsSchemas,
  reprocessSchemas,
  type ReprocessJobAnswer,
  type ReprocessService,
  type RunningServer,
} from '../src/index.js';
import { client, conforms, serve, type Answer } from './api-helpers.js';
import { BASE, VIEW, generateRecords, openTestPorts, publishBatch, putSlice, testCatalog } from './helpers.js';

const catalog = testCatalog();
const TOKEN = 'openapi-test-token-0123456789';
const TOPIC = 'pageviews';
const MAX_INGEST_BYTES = 2048;
const records = generateRecords(seededRandom(3), [30, 20]);

interface Parameter {
  name: string;
  in: 'query' | 'path';
  required: boolean;
  description?: string;
  schema: { type?: string; enum?: string[]; examples?: string[]; default?: unknown; minimum?: number; anyOf?: unknown[] };
}
interface Operation {
  summary: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: unknown; examples?: Record<string, { summary: string; value: unknown }> }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  components: { securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
}

const ENDPOINTS = [
  'GET /views',
  'GET /views/{name}',
  'GET /views/{name}/keys',
  'GET /views/{name}/top',
  'POST /ingest/{topic}',
  'POST /batch/run',
  'GET /batch/jobs',
  'GET /batch/jobs/{id}',
  'GET /status',
  'GET /health',
  'GET /metrics',
  'GET /openapi.json',
  'POST /views/{name}/reprocess',
  'GET /views/{name}/reprocess',
  'GET /reports',
  'GET /reports/latest',
  'GET /reports/latest/{file}',
  'POST /query',
  'GET /query',
];

/** The schema each documented JSON response must be: the success one per endpoint, errors all alike. */
const SUCCESS: Record<string, [string, z.ZodType]> = {
  'GET /views': ['200', apiSchemas.viewList],
  'GET /views/{name}': ['200', apiSchemas.mergedAnswer],
  'GET /views/{name}/keys': ['200', apiSchemas.keysPage],
  'GET /views/{name}/top': ['200', apiSchemas.topAnswer],
  'POST /ingest/{topic}': ['200', apiSchemas.ingestReport],
  'POST /batch/run': ['202', apiSchemas.batchRunAnswer],
  'GET /batch/jobs': ['200', apiSchemas.jobsList],
  'GET /batch/jobs/{id}': ['200', apiSchemas.jobRun],
  'GET /status': ['200', apiSchemas.platformStatus],
  'GET /health': ['200', apiSchemas.health],
  'POST /views/{name}/reprocess': ['202', reprocessSchemas.reprocessAnswer],
  'GET /views/{name}/reprocess': ['200', reprocessSchemas.reprocessAnswer],
  'GET /reports': ['200', reportsSchemas.reportsIndex],
  'GET /reports/latest': ['200', reportsSchemas.latestReport],
  'POST /query': ['200', querySchemas.sqlAnswer],
  'GET /query': ['200', querySchemas.sqlAnswer],
};

/**
 * Reprocess runs as the speed layer's ReprocessJobs keeps them, each finished at once: this test is about
 * the document; reprocess-api.test.ts runs real ones.
 */
class InstantReprocessRuns implements ReprocessService {
  readonly runs = new Map<string, ReprocessJobAnswer>();
  start(view: string): ReprocessJobAnswer {
    if (this.runs.get(view)?.state === 'running') throw new ConflictError(`View "${view}" is already being reprocessed`, { view });
    const now = Date.now();
    const run: ReprocessJobAnswer = {
      id: `run-${this.runs.size + 1}`,
      view,
      state: 'completed',
      progress: { phase: 'done', percent: 100, recordsReplayed: 1, recordsTotal: 1 },
      startedAt: now,
      finishedAt: now,
      result: { view, generation: 2, storage: `${view}@g2`, startedAt: now, switchedAt: now, durationMs: 0, recordsReplayed: 1, recordsFromArchive: 0, position: [1] },
      error: null,
    };
    this.runs.set(view, run);
    return run;
  }
  status(view: string): ReprocessJobAnswer | undefined {
    return this.runs.get(view);
  }
}

/** The query schema behind each endpoint with query parameters. */
const QUERIES: Record<string, z.ZodObject> = {
  'GET /views/{name}': apiSchemas.viewQuery,
  'GET /views/{name}/keys': apiSchemas.keysQuery,
  'GET /views/{name}/top': apiSchemas.topQuery,
  'GET /batch/jobs': apiSchemas.jobsQuery,
  'GET /query': querySchemas.queryQuery(SQL_QUERY_DEFAULTS.maxRows),
};

const outputSchema = (schema: z.ZodType) => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** Sends `request` as raw bytes over a socket and returns everything the server sent back until it closed. */
function rawExchange(base: string, request: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

/** The status and JSON body of a raw HTTP/1.1 answer, which must say its type and length. */
function parseRawAnswer(raw: string): { status: number; headers: string; body: unknown } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  expect(head).toMatch(/^content-type: application\/json; charset=utf-8$/im);
  expect(head).toMatch(new RegExp(`^content-length: ${Buffer.byteLength(body)}$`, 'im'));
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]), headers: head, body: JSON.parse(body) as unknown };
}

const operations = (document: Document) =>
  Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ endpoint: `${method.toUpperCase()} ${path}`, path, method, operation })));

describe('the OpenAPI document', () => {
  let ports: Ports;
  let closePorts: () => Promise<void>;
  let scheduler: InProcessScheduler;
  let server: RunningServer;
  let api: ReturnType<typeof client>;
  let admin: ReturnType<typeof client>;
  let document: Document;
  let runId: string;
  let reports: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    reports = await makeTempDir('openapi-reports');
    await writeFile(join(reports.path, 'report.json'), JSON.stringify({ scenario: 'web' }));
    await writeFile(join(reports.path, 'report.md'), '# A report\n');
    await writeFile(join(reports.path, 'freshness.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    let metrics;
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    await ports.eventLog.createTopic(TOPIC, { partitions: 2 });
    await publishBatch(ports.viewStore, records, 1, [10, 10]);
    await putSlice(ports.viewStore, records, { partition: 0, start: 10, end: 30, closed: false });
    scheduler = new InProcessScheduler();
    for (const view of catalog.views.keys()) await scheduler.register(recomputeJobName(view), async () => ({ version: 2, horizon: [30, 10] }));
    runId = (await scheduler.trigger(recomputeJobName(VIEW))).id;
    await scheduler.waitForRun(runId, 5000);
    server = await serve({
      ports: { ...ports, scheduler },
      catalog,
      metrics,
      apiToken: TOKEN,
      maxIngestBytes: MAX_INGEST_BYTES,
      reprocess: new InstantReprocessRuns(),
      reportsDirectory: reports.path,
      query: { timeoutMs: 3000 },
    });
    api = client(server.url);
    admin = client(server.url, TOKEN);
    const { status, type, body } = await api.get('/openapi.json');
    expect(status).toBe(200);
    expect(type).toMatch(/^application\/json/);
    document = body as Document;
  });

  afterAll(async () => {
    await server.close();
    await scheduler.close();
    await closePorts();
    await reports.remove();
  });

  /** Sends a documented operation with valid values: path parameters, required query parameters, a body. */
  const send = (endpoint: string, path: string, operation: Operation, query: [string, string][] = [], token = true): Promise<Answer> => {
    const values: Record<string, string> = { name: VIEW, topic: TOPIC, id: runId, file: 'report.md' };
    const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name]!));
    const required = (operation.parameters ?? []).filter((p) => p.in === 'query' && p.required && !query.some(([name]) => name === p.name));
    const requiredValue = (name: string) => (name === 'key' ? '/a' : name === 'sql' ? `SELECT count(*) FROM ${VIEW}` : 'x');
    const fullQuery: [string, string][] = [...required.map((p): [string, string] => [p.name, requiredValue(p.name)]), ...query];
    const caller = token && operation.security ? admin : api;
    if (endpoint === 'POST /ingest/{topic}') return caller.post(concrete, [{ user: 'alice', url: '/a', latency: 1, ts: BASE }]);
    if (endpoint === 'POST /batch/run') return caller.post(concrete, { view: VIEW });
    if (endpoint === 'POST /views/{name}/reprocess') return caller.post(concrete, {});
    if (endpoint === 'POST /query') return caller.post(concrete, { sql: `SELECT url, sum(views) FROM ${VIEW} WHERE url = ? GROUP BY url`, params: ['/a'] });
    return caller.get(concrete, fullQuery);
  };

  /** Checks an answer against the document: its status is documented, and its body is that response's schema. */
  const expectDocumented = (endpoint: string, answer: Answer) => {
    const operation = operations(document).find((o) => o.endpoint === endpoint)!.operation;
    const status = String(answer.status);
    expect(Object.keys(operation.responses), `${endpoint} answered ${status}: ${JSON.stringify(answer.body).slice(0, 300)}`).toContain(status);
    const documented = operation.responses[status]!.content?.['application/json']?.schema;
    if (answer.status >= 400) {
      expect(documented).toEqual(outputSchema(apiSchemas.errorBody));
      conforms(apiSchemas.errorBody, answer.body);
    } else if (SUCCESS[endpoint]) {
      expect(documented, `${endpoint} documents the schema the test checks against`).toEqual(outputSchema(SUCCESS[endpoint][1]));
      conforms(SUCCESS[endpoint][1], answer.body);
    }
  };

  it('should be an OpenAPI 3.1.0 document, served as it is generated', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(document).toEqual(JSON.parse(JSON.stringify(openApiDocument({ catalog }))));
    expect(document.components.securitySchemes).toEqual({ bearerToken: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    for (const { endpoint, operation } of operations(document)) {
      expect(operation.summary, endpoint).toEqual(expect.any(String));
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(response.description, `${endpoint} ${status}`).toEqual(expect.any(String));
        expect(response.content, `${endpoint} ${status}`).toBeDefined();
      }
    }
  });

  it('should document every endpoint, and no other', () => {
    expect(operations(document).map((o) => o.endpoint).sort()).toEqual([...ENDPOINTS].sort());
  });

  it('should answer every documented operation with a documented status, and a body of the documented schema', async () => {
    for (const { endpoint, path, operation } of operations(document)) {
      const answer = await send(endpoint, path, operation);
      expectDocumented(endpoint, answer);
      expect(answer.status, endpoint).toBeLessThan(300);
      expect(answer.status, endpoint).toBe(Number(SUCCESS[endpoint]?.[0] ?? 200));
    }
  });

  it('should guard exactly the operations it marks with security, and document their 401 and 403', async () => {
    const guarded = operations(document).filter((o) => o.operation.security);
    expect(guarded.map((o) => o.endpoint).sort()).toEqual([
      'GET /batch/jobs',
      'GET /batch/jobs/{id}',
      'GET /query',
      'GET /views/{name}/reprocess',
      'POST /batch/run',
      'POST /ingest/{topic}',
      'POST /query',
      'POST /views/{name}/reprocess',
    ]);
    for (const { endpoint, path, operation } of operations(document)) {
      const answer = await send(endpoint, path, operation, [], false);
      if (operation.security) {
        expect(operation.security).toEqual([{ bearerToken: [] }]);
        expect(answer.status, endpoint).toBe(401);
        expectDocumented(endpoint, answer);
        const concrete = path.replace('{topic}', TOPIC).replace('{id}', runId).replace('{name}', VIEW);
        const wrong = await (endpoint.startsWith('POST') ? client(server.url, 'x'.repeat(TOKEN.length)).post(concrete, '[1]') : client(server.url, 'x'.repeat(TOKEN.length)).get(concrete));
        expect(wrong.status, endpoint).toBe(403);
        expectDocumented(endpoint, wrong);
      } else {
        expect(answer.status, endpoint).toBeLessThan(300);
      }
    }
  });

  describe('query parameters', () => {
    it('should document exactly the query parameters each endpoint accepts, and which are required', () => {
      for (const { endpoint, operation } of operations(document)) {
        const documented = (operation.parameters ?? []).filter((p) => p.in === 'query');
        const schema = QUERIES[endpoint];
        if (!schema) {
          expect(documented, endpoint).toEqual([]);
          continue;
        }
        expect(documented.map((p) => p.name).sort(), endpoint).toEqual(Object.keys(schema.shape).sort());
        for (const parameter of documented) {
          const optional = (schema.shape[parameter.name] as z.ZodType).safeParse(undefined).success;
          expect(parameter.required, `${endpoint} ${parameter.name}`).toBe(!optional);
          expect(parameter.description, `${endpoint} ${parameter.name}`).toEqual(expect.any(String));
        }
      }
      expect(Object.keys(QUERIES).every((endpoint) => ENDPOINTS.includes(endpoint))).toBe(true);
    });

    it('should document the path parameters in the path', () => {
      for (const { endpoint, path, operation } of operations(document)) {
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
        expect((operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => [p.name, p.required]), endpoint).toEqual(inPath.map((name) => [name, true]));
      }
    });

    it('should accept each documented query parameter with a valid value', async () => {
      // A real cursor of each kind, from a first page.
      const windowsPage = conforms(apiSchemas.mergedAnswer, (await api.get(`/views/${VIEW}`, [['key', '/a'], ['key', '/b'], ['limit', '1']])).body);
      const keysPage = conforms(apiSchemas.keysPage, (await api.get(`/views/${VIEW}/keys`, [['limit', '1']])).body);
      expect(windowsPage.next).not.toBeNull();
      expect(keysPage.next).not.toBeNull();
      const valueOf = (endpoint: string, parameter: Parameter): string => {
        if (parameter.name === 'cursor') return endpoint === 'GET /views/{name}' ? windowsPage.next! : keysPage.next!;
        if (parameter.name === 'key') return '/a';
        if (parameter.name === 'by') return 'latency';
        if (parameter.name === 'view') return VIEW;
        if (parameter.name === 'prefix') return '/';
        if (parameter.schema.examples) return parameter.schema.examples[0]!;
        if (parameter.schema.enum) return parameter.schema.enum[0]!;
        if (parameter.schema.type === 'integer') return String(parameter.schema.minimum ?? 1);
        throw new Error(`no example for ${endpoint} ${parameter.name}`);
      };
      let checked = 0;
      for (const { endpoint, path, operation } of operations(document)) {
        for (const parameter of (operation.parameters ?? []).filter((p) => p.in === 'query')) {
          const answer = await send(endpoint, path, operation, [[parameter.name, valueOf(endpoint, parameter)]]);
          expect(answer.status, `${endpoint} ?${parameter.name}: ${JSON.stringify(answer.body).slice(0, 300)}`).toBe(200);
          expectDocumented(endpoint, answer);
          checked++;
        }
      }
      expect(checked).toBe(Object.values(QUERIES).reduce((sum, schema) => sum + Object.keys(schema.shape).length, 0));
    });

    it('should refuse a parameter it does not document, naming it', async () => {
      for (const endpoint of Object.keys(QUERIES)) {
        const { path, operation } = operations(document).find((o) => o.endpoint === endpoint)!;
        const answer = await send(endpoint, path, operation, [['undocumented', '1']]);
        expect(answer.status, endpoint).toBe(400);
        expectDocumented(endpoint, answer);
        expect((answer.body as { error: { message: string } }).error.message).toContain('"undocumented"');
      }
    });
  });

  it('should document the request body /batch/run takes', () => {
    const { $schema: _dialect, ...body } = z.toJSONSchema(apiSchemas.batchRunBody, { io: 'input' }) as Record<string, unknown>;
    expect(document.paths['/batch/run']!.post!.requestBody).toEqual({ required: false, content: { 'application/json': { schema: body } } });
  });

  it('should document each error status the endpoints give', async () => {
    const big = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ user: `u${i}`, url: '/a', ts: BASE })));
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX_INGEST_BYTES);
    const cases: [string, () => Promise<Answer>, number][] = [
      ['GET /views/{name}', () => api.get(`/views/${VIEW}`), 400],
      ['GET /views/{name}', () => api.get('/views/nope', [['key', 'a']]), 404],
      ['GET /views/{name}/keys', () => api.get(`/views/${VIEW}/keys`, [['limit', '0']]), 400],
      ['GET /views/{name}/keys', () => api.get('/views/nope/keys'), 404],
      ['GET /views/{name}/top', () => api.get(`/views/${VIEW}/top`, [['by', 'referrers']]), 400],
      ['GET /views/{name}/top', () => api.get('/views/nope/top'), 404],
      ['POST /ingest/{topic}', () => admin.post(`/ingest/${TOPIC}`, '[]'), 400],
      ['POST /ingest/{topic}', () => admin.post('/ingest/nope', '[{}]'), 404],
      ['POST /ingest/{topic}', () => admin.post(`/ingest/${TOPIC}`, big), 413],
      ['POST /batch/run', () => admin.post('/batch/run', { view: 1 }), 400],
      ['POST /batch/run', () => admin.post('/batch/run', { view: 'nope' }), 404],
      ['POST /batch/run', () => admin.post('/batch/run', { view: 'x'.repeat(11 * 1024) }), 413],
      ['GET /batch/jobs', () => admin.get('/batch/jobs', [['limit', 'many']]), 400],
      ['GET /batch/jobs', () => admin.get('/batch/jobs', [['view', 'nope']]), 404],
      ['GET /batch/jobs/{id}', () => admin.get('/batch/jobs/nope.1'), 404],
      ['POST /views/{name}/reprocess', () => admin.post(`/views/${VIEW}/reprocess`, { definition: { name: VIEW } }), 400],
      ['POST /views/{name}/reprocess', () => admin.post('/views/nope/reprocess', {}), 404],
      ['POST /views/{name}/reprocess', () => admin.post(`/views/${VIEW}/reprocess`, { definition: { name: VIEW, description: 'x'.repeat(110 * 1024) } }), 413],
      ['GET /views/{name}/reprocess', () => admin.get('/views/nope/reprocess'), 404],
      ['GET /reports/latest/{file}', () => api.get('/reports/latest/..%2Fcatalog.json'), 400],
      ['GET /reports/latest/{file}', () => api.get('/reports/latest/absent.svg'), 404],
      ['POST /query', () => admin.post('/query', { sql: "ATTACH '/tmp/other.db'" }), 400],
      ['POST /query', () => admin.post('/query', { sql: `SELECT '${'x'.repeat(1100 * 1024)}'` }), 413],
      ['POST /query', () => admin.post('/query', { sql: `SELECT count(*) FROM range(1000000000000) AS a, ${VIEW}` }), 422],
      ['GET /query', () => admin.get('/query', [['sql', 'SELEC 1']]), 400],
    ];
    for (const [endpoint, request, status] of cases) {
      const answer = await request();
      expect(answer.status, `${endpoint}: ${JSON.stringify(answer.body).slice(0, 200)}`).toBe(status);
      expectDocumented(endpoint, answer);
    }
  });

  describe('a URL over the header limit (16 KiB of request line and headers)', () => {
    it('should be answered 431 HEADERS_TOO_LARGE with the JSON error body, by every operation with parameters, which documents it', async () => {
      const long = 'x'.repeat(20_000);
      const cases: [string, () => Promise<Answer>][] = [
        ['GET /views/{name}', () => api.get(`/views/${VIEW}`, [['key', long]])],
        ['GET /views/{name}/keys', () => api.get(`/views/${VIEW}/keys`, [['prefix', long]])],
        ['GET /views/{name}/top', () => api.get(`/views/${long}/top`)],
        ['GET /query', () => admin.get('/query', [['sql', `SELECT '${long}'`]])],
        ['POST /ingest/{topic}', () => admin.post(`/ingest/${long}`, '[{}]')],
        ['GET /batch/jobs', () => admin.get('/batch/jobs', [['view', long]])],
        ['GET /batch/jobs/{id}', () => admin.get(`/batch/jobs/${long}`)],
        ['POST /views/{name}/reprocess', () => admin.post(`/views/${long}/reprocess`, {})],
        ['GET /views/{name}/reprocess', () => admin.get(`/views/${long}/reprocess`)],
        ['GET /reports/latest/{file}', () => api.get(`/reports/latest/${long}.md`)],
      ];
      for (const [endpoint, request] of cases) {
        const answer = await request();
        expect(answer.status, endpoint).toBe(431);
        expectDocumented(endpoint, answer);
        expect((answer.body as { error: { code: string } }).error.code, endpoint).toBe('HEADERS_TOO_LARGE');
      }
      for (const { endpoint, operation } of operations(document)) {
        expect('431' in operation.responses, endpoint).toBe((operation.parameters ?? []).length > 0);
      }
      expect(cases.map(([endpoint]) => endpoint).sort()).toEqual(operations(document).filter((o) => o.operation.parameters?.length).map((o) => o.endpoint).sort());
    });

    it('should reach a client that sends far more than the limit before it reads, instead of resetting the connection', async () => {
      const raw = await rawExchange(server.url, `GET /views/${VIEW}?key=${'a'.repeat(200_000)} HTTP/1.1\r\nHost: test\r\n\r\n`);
      const answer = parseRawAnswer(raw);
      expect(answer.status).toBe(431);
      expect(answer.headers).toMatch(/^connection: close$/im);
      expect(conforms(apiSchemas.errorBody, answer.body).error.code).toBe('HEADERS_TOO_LARGE');
    });
  });

  it('should answer a request that is not valid HTTP/1.1 400 BAD_REQUEST with the JSON error body', async () => {
    for (const request of [`GET /views HTTP/1.1\r\nHost: test\r\nBad\u0001Header: 1\r\n\r\n`, 'GET /vi ews HTTP/1.1\r\nHost: test\r\n\r\n']) {
      const answer = parseRawAnswer(await rawExchange(server.url, request));
      expect(answer.status, JSON.stringify(request)).toBe(400);
      expect(conforms(apiSchemas.errorBody, answer.body).error).toEqual({ code: 'BAD_REQUEST', message: expect.stringMatching(/^The request is not valid HTTP\/1\.1: ./) });
    }
    // The server goes on answering.
    expect((await api.get('/views')).status).toBe(200);
  });

  describe('examples', () => {
    it("should name the catalog's views and topics as examples of the path parameters", () => {
      const views = [...catalog.views.keys()];
      for (const { endpoint, operation } of operations(document)) {
        for (const parameter of operation.parameters ?? []) {
          if (parameter.name === 'name' || (parameter.name === 'view' && parameter.in === 'query')) expect(parameter.schema.examples, endpoint).toEqual(views);
          if (parameter.name === 'topic') expect(parameter.schema.examples, endpoint).toEqual([...catalog.sources.keys()]);
        }
      }
    });

    it("should give, as examples of an ingest body, one per source, events its views accept", async () => {
      const { content } = document.paths['/ingest/{topic}']!.post!.requestBody!;
      const examples = content['application/json']!.examples!;
      expect(Object.keys(examples).sort()).toEqual([...catalog.sources.keys()].sort());
      for (const [topic, { value }] of Object.entries(examples)) {
        await ensureTopic(ports.eventLog, topic, { partitions: 1 });
        const answer = await admin.post(`/ingest/${topic}`, value);
        expectDocumented('POST /ingest/{topic}', answer);
        expect(conforms(apiSchemas.ingestReport, answer.body), topic).toMatchObject({ accepted: (value as unknown[]).length, deadLettered: 0 });
      }
    });

    it('should document that an ingest body holds at least one event, as the API requires', async () => {
      const { content } = document.paths['/ingest/{topic}']!.post!.requestBody!;
      expect(content['application/json']!.schema).toEqual({ type: 'array', items: {}, minItems: 1 });
      const { pattern } = content['application/x-ndjson']!.schema as { pattern: string };
      for (const [body, type] of [['[]', 'application/json'], ['\n  \r\n', 'application/x-ndjson']] as const) {
        const answer = await admin.post(`/ingest/${TOPIC}`, body, { 'content-type': type });
        expect(answer.status, type).toBe(400);
        expectDocumented('POST /ingest/{topic}', answer);
      }
      expect(new RegExp(pattern).test('\n  \r\n')).toBe(false);
      expect(new RegExp(pattern).test('{}')).toBe(true);
    });

    it('should give from and to examples that make a valid window range in any pairing', async () => {
      for (const endpoint of ['GET /views/{name}', 'GET /views/{name}/top']) {
        const { path, operation } = operations(document).find((o) => o.endpoint === endpoint)!;
        const examplesOf = (name: string) => operation.parameters!.find((p) => p.name === name)!.schema.examples!;
        expect(examplesOf('from').length).toBeGreaterThan(0);
        for (const from of examplesOf('from')) {
          for (const to of examplesOf('to')) {
            const answer = await send(endpoint, path, operation, [['from', from], ['to', to]]);
            expect(answer.status, `${endpoint} from=${from} to=${to}: ${JSON.stringify(answer.body).slice(0, 200)}`).toBe(200);
            expectDocumented(endpoint, answer);
          }
        }
      }
    });
  });

  it('should answer a body over the ingest limit 413 PAYLOAD_TOO_LARGE, and append nothing', async () => {
    const before = await ports.eventLog.endOffsets(TOPIC);
    const big = Array.from({ length: 60 }, (_, i) => JSON.stringify({ user: `u${i}`, url: '/a', ts: BASE })).join('\n');
    const { status, body } = await admin.post(`/ingest/${TOPIC}`, big, { 'content-type': 'application/x-ndjson' });
    expect(status).toBe(413);
    expect(conforms(apiSchemas.errorBody, body).error).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/too large/i) });
    expect(await ports.eventLog.endOffsets(TOPIC)).toEqual(before);
  });
});
