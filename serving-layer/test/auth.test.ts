import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessScheduler, recomputeJobName, type Ports } from '@lambda/core';
import { apiSchemas, type ErrorBody, type RunningServer } from '../src/index.js';
import { client, conforms, serve, type Answer } from './api-helpers.js';
import { BASE, VIEW, openTestPorts, testCatalog } from './helpers.js';

const catalog = testCatalog();
const TOKEN = 'k7Q2-secret-token-0123456789';
const SAME_LENGTH = `${TOKEN.slice(0, -1)}8`;
const TOPIC = 'pageviews';
const event = JSON.stringify([{ user: 'alice', url: '/a', latency: 5, ts: BASE }]);

interface Fixture {
  ports: Ports;
  scheduler: InProcessScheduler;
  server: RunningServer;
  close: () => Promise<void>;
}

async function open(apiToken?: string): Promise<Fixture> {
  const { ports, metrics, close } = await openTestPorts();
  await ports.eventLog.createTopic(TOPIC, { partitions: 2 });
  const scheduler = new InProcessScheduler();
  await scheduler.register(recomputeJobName(VIEW), async () => ({ version: 1, horizon: [0, 0] }));
  const server = await serve({ ports: { ...ports, scheduler }, catalog, metrics, apiToken });
  return {
    ports,
    scheduler,
    server,
    close: async () => {
      await server.close();
      await scheduler.close();
      await close();
    },
  };
}

/** Every ingest and admin request, sent with `headers`. */
const guarded: { title: string; send: (base: string, headers: Record<string, string>) => Promise<Answer> }[] = [
  { title: 'POST /ingest/:topic', send: (base, headers) => client(base).post(`/ingest/${TOPIC}`, event, headers) },
  { title: 'POST /batch/run', send: (base, headers) => client(base).post('/batch/run', { view: VIEW }, headers) },
  { title: 'GET /batch/jobs', send: (base, headers) => client(base).get('/batch/jobs', [], headers) },
  { title: 'GET /batch/jobs/:id', send: (base, headers) => client(base).get(`/batch/jobs/${recomputeJobName(VIEW)}.1`, [], headers) },
];

/** Every read, which needs no token. */
const reads: { path: string; query?: [string, string][] }[] = [
  { path: '/views' },
  { path: `/views/${VIEW}`, query: [['key', '/a']] },
  { path: `/views/${VIEW}/keys` },
  { path: `/views/${VIEW}/top` },
  { path: '/status' },
  { path: '/health' },
  { path: '/metrics' },
  { path: '/openapi.json' },
];

describe('token auth, when the platform has a token', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await open(TOKEN);
  });

  afterAll(async () => {
    await fixture.close();
  });

  const nothingHappened = async () => {
    expect(await fixture.ports.eventLog.endOffsets(TOPIC)).toEqual([0, 0]);
    expect(await fixture.scheduler.listRuns()).toEqual([]);
  };

  describe.each(guarded)('$title', ({ send }) => {
    it.each([
      { title: 'no Authorization header', headers: {} },
      { title: 'a Basic credential', headers: { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` } },
      { title: 'the token without the Bearer scheme', headers: { authorization: TOKEN } },
      { title: 'Bearer and no token', headers: { authorization: 'Bearer ' } },
      { title: 'a token with a space in it', headers: { authorization: `Bearer ${TOKEN} extra` } },
    ] as { title: string; headers: Record<string, string> }[])('should answer 401 UNAUTHENTICATED with a WWW-Authenticate header to $title', async ({ headers }) => {
      const { status, headers: answerHeaders, body } = await send(fixture.server.url, headers);
      expect(status).toBe(401);
      expect(answerHeaders.get('www-authenticate')).toBe('Bearer');
      const { error } = conforms(apiSchemas.errorBody, body) as ErrorBody;
      expect(error.code).toBe('UNAUTHENTICATED');
      expect(error.message).toContain('Authorization: Bearer');
      await nothingHappened();
    });

    it.each([
      { title: 'a wrong token of the same length', token: SAME_LENGTH },
      { title: 'a shorter token', token: TOKEN.slice(0, -1) },
      { title: 'a longer token', token: `${TOKEN}0` },
      { title: 'the token in another case', token: TOKEN.toUpperCase() },
    ])('should answer 403 FORBIDDEN to $title', async ({ token }) => {
      expect(token).not.toBe(TOKEN);
      const { status, headers, body } = await send(fixture.server.url, { authorization: `Bearer ${token}` });
      expect(status).toBe(403);
      expect(headers.get('www-authenticate')).toBeNull();
      const { error } = conforms(apiSchemas.errorBody, body) as ErrorBody;
      expect(error.code).toBe('FORBIDDEN');
      expect(error.message).not.toContain(TOKEN);
      await nothingHappened();
    });
  });

  it('should keep guarding the paths written otherwise (case, trailing slash)', async () => {
    const api = client(fixture.server.url);
    for (const path of [`/INGEST/${TOPIC}`, `/Ingest/${TOPIC}/`, '/BATCH/run', '/batch/run/']) {
      const { status } = await api.post(path, path.toLowerCase().includes('ingest') ? event : { view: VIEW });
      expect(status, path).toBe(401);
    }
    await nothingHappened();
  });

  it('should do what is asked with the right token, the scheme in any case', async () => {
    const ingest = await client(fixture.server.url, TOKEN).post(`/ingest/${TOPIC}`, event);
    expect(ingest.status).toBe(200);
    expect(conforms(apiSchemas.ingestReport, ingest.body).accepted).toBe(1);

    const lower = await client(fixture.server.url).post(`/ingest/${TOPIC}`, event, { authorization: `bearer ${TOKEN}` });
    expect(lower.status).toBe(200);
    expect((await fixture.ports.eventLog.endOffsets(TOPIC)).reduce((a, b) => a + b)).toBe(2);

    const admin = client(fixture.server.url, TOKEN);
    const triggered = await admin.post('/batch/run', { view: VIEW });
    expect(triggered.status).toBe(202);
    const [run] = conforms(apiSchemas.batchRunAnswer, triggered.body).runs;
    await fixture.scheduler.waitForRun(run!.id, 5000);
    const listed = await admin.get('/batch/jobs');
    expect(listed.status).toBe(200);
    expect(conforms(apiSchemas.jobsList, listed.body).runs.map((r) => r.id)).toEqual([run!.id]);
    const one = await admin.get(`/batch/jobs/${encodeURIComponent(run!.id)}`);
    expect(one.status).toBe(200);
    expect(conforms(apiSchemas.jobRun, one.body)).toMatchObject({ id: run!.id, state: 'completed', version: 1 });
  });

  it.each(reads)('should answer GET $path without a token, and with a wrong one', async ({ path, query }) => {
    for (const headers of [{}, { authorization: `Bearer ${SAME_LENGTH}` }] as Record<string, string>[]) {
      const { status } = await client(fixture.server.url).get(path, query, headers);
      expect(status, `${path} ${JSON.stringify(headers)}`).toBe(200);
    }
  });

  it('should serve the dashboard without a token', async () => {
    const response = await fetch(`${fixture.server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('<title>');
    const chart = await fetch(`${fixture.server.url}/assets/vendor/chart.umd.min.js`);
    expect(chart.status).toBe(200);
    expect(chart.headers.get('content-type')).toMatch(/javascript/);
    await chart.arrayBuffer();
  });
});

describe('token auth, when the platform has no token', () => {
  it('should leave ingest and admin open', async () => {
    const fixture = await open();
    try {
      const api = client(fixture.server.url);
      const ingest = await api.post(`/ingest/${TOPIC}`, event);
      expect(ingest.status).toBe(200);
      expect(conforms(apiSchemas.ingestReport, ingest.body).accepted).toBe(1);
      const triggered = await api.post('/batch/run', { view: VIEW });
      expect(triggered.status).toBe(202);
      expect((await api.get('/batch/jobs')).status).toBe(200);
      const [run] = conforms(apiSchemas.batchRunAnswer, triggered.body).runs;
      expect((await api.get(`/batch/jobs/${encodeURIComponent(run!.id)}`)).status).toBe(200);
      // A token sent anyway is ignored.
      expect((await client(fixture.server.url, 'anything-at-all').post(`/ingest/${TOPIC}`, event)).status).toBe(200);
    } finally {
      await fixture.close();
    }
  });
});
