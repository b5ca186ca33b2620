/**
 * `POST /views/:name/reprocess` and `GET /views/:name/reprocess` over a real socket, driving a real
 * reprocess (the speed layer's Reprocessor and ReprocessJobs, on real embedded ports): 202 with the job,
 * progress to 100 %, then the view answers the new logic; and the refusals, each with its status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, type Ports, type ViewDefinition, seededRandom } from '@lambda/core';
import { ReprocessJobs, Reprocessor, SpeedLayer } from '@lambda/speed-layer';
import { apiSchemas, reprocessSchemas, type RunningServer } from '@lambda/serving-layer';
import {
  URLS,
  VIEW,
  client,
  conforms,
  serve,
  generateRecords,
  naiveAnswer,
  openTestPorts,
  testCatalog,
  type PageView,
} from './helpers/serving-fixtures.js';

const catalog = testCatalog();
const TOKEN = 'reprocess-api-test-token-0123456';
const records = generateRecords(seededRandom(77), [180, 140]);
const OLD_LOGIC = catalog.views.get(VIEW)!.definition;
const NEW_LOGIC: ViewDefinition = { ...OLD_LOGIC, filter: 'latency > 500' };
const slow = (record: PageView) => record.latency !== null && record.latency > 500;

describe('the reprocess endpoints', () => {
  let ports: Ports;
  let closePorts: () => Promise<void>;
  let speed: SpeedLayer;
  let jobs: ReprocessJobs;
  let server: RunningServer;
  let withoutSpeedLayer: RunningServer;
  let admin: ReturnType<typeof client>;

  beforeAll(async () => {
    ({ ports, close: closePorts } = await openTestPorts());
    await ports.eventLog.createTopic('pageviews', { partitions: 2 });
    await ports.eventLog.createTopic('clicks', { partitions: 1 });
    await ports.eventLog.append(
      'pageviews',
      records.map((r) => ({ partition: r.partition, value: JSON.stringify({ url: r.url, latency: r.latency, referrer: r.referrer, user: 'u', ts: r.eventTime }) })),
    );
    speed = await SpeedLayer.create({ eventLog: ports.eventLog, viewStore: ports.viewStore, catalog, slicePolicy: { microBatches: 2 } });
    while ((await speed.runOnce()).backlog);
    // Small replay batches, so the run is seen running and its progress climbs in steps.
    jobs = new ReprocessJobs(new Reprocessor({ eventLog: ports.eventLog, viewStore: ports.viewStore, catalog, speedLayer: speed, maxRecordsPerPartition: 20 }));
    const metrics = new Metrics();
    server = await serve({ ports, catalog, metrics, apiToken: TOKEN, reprocess: jobs });
    withoutSpeedLayer = await serve({ ports, catalog, metrics, apiToken: TOKEN });
    admin = client(server.url, TOKEN);
  });

  afterAll(async () => {
    await jobs.settled();
    await server.close();
    await withoutSpeedLayer.close();
    await speed.stop();
    await closePorts();
  });

  const read = async () => conforms(apiSchemas.mergedAnswer, (await admin.get(`/views/${VIEW}`, URLS.map((url) => ['key', url]))).body);

  it('should start a run (202), report its progress up to 100 %, then answer the new logic over all history', async () => {
    expect((await read()).windows).toEqual(naiveAnswer(records));
    expect(naiveAnswer(records.filter(slow))).not.toEqual(naiveAnswer(records));

    const started = await admin.post(`/views/${VIEW}/reprocess`, { definition: NEW_LOGIC });
    expect(started.status).toBe(202);
    const { job } = conforms(reprocessSchemas.reprocessAnswer, started.body);
    expect(job).toMatchObject({ view: VIEW, state: 'running', result: null, error: null });

    // A second run while this one runs is a conflict.
    const again = await admin.post(`/views/${VIEW}/reprocess`, {});
    expect(again.status).toBe(409);
    expect(conforms(apiSchemas.errorBody, again.body).error.message).toContain('already being reprocessed');

    const seen: { phase: string; percent: number }[] = [];
    let current = job;
    while (current.state === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const answer = await admin.get(`/views/${VIEW}/reprocess`);
      expect(answer.status).toBe(200);
      current = conforms(reprocessSchemas.reprocessAnswer, answer.body).job;
      expect(current.id).toBe(job.id);
      seen.push(current.progress);
    }
    expect(current.state, current.error ?? '').toBe('completed');
    expect(current.progress).toEqual({ phase: 'done', percent: 100, recordsReplayed: records.length, recordsTotal: records.length });
    const percents = seen.map((progress) => progress.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(current.result).toMatchObject({ view: VIEW, generation: 2, storage: `${VIEW}@g2`, recordsReplayed: records.length, recordsFromArchive: 0, position: [180, 140] });
    expect(current.finishedAt).toBeGreaterThanOrEqual(current.startedAt);

    expect((await read()).windows).toEqual(naiveAnswer(records.filter(slow)));

    // `/views` describes what serves now: generation 2, its definition, and its own status.
    const described = conforms(apiSchemas.viewList, (await admin.get('/views')).body).views.find((view) => view.name === VIEW)!;
    expect(described.generation).toBe(2);
    expect(described.definition.filter).toBe(NEW_LOGIC.filter ?? null);
    expect(described.status.position).toEqual([180, 140]);
  });

  it('should answer 404 for an unknown view, on both methods', async () => {
    for (const answer of [await admin.post('/views/nope/reprocess', {}), await admin.get('/views/nope/reprocess')]) {
      expect(answer.status).toBe(404);
      expect(conforms(apiSchemas.errorBody, answer.body).error).toMatchObject({ code: 'UNKNOWN_VIEW', message: expect.stringContaining('"nope"') });
    }
  });

  it('should answer 404 to GET for a view not reprocessed since the process started', async () => {
    const answer = await admin.get('/views/site_totals/reprocess');
    expect(answer.status).toBe(404);
    expect(conforms(apiSchemas.errorBody, answer.body).error.message).toContain('site_totals');
  });

  it('should answer 400 naming the problem for a bad definition, and start nothing', async () => {
    const before = jobs.status('site_totals');
    const totals = catalog.views.get('site_totals')!.definition;
    const cases: [unknown, RegExp][] = [
      [{ definition: { ...totals, name: 'other' } }, /"definition\.name" must be "site_totals"/],
      [{ definition: { ...totals, aggregates: { views: 'median(latency)' } } }, /median/],
      [{ definition: { ...totals, source: 'nowhere' } }, /"nowhere"/],
      [{ definition: { ...totals, key: undefined } }, /definition\.key/],
      [{ definition: totals, force: true }, /"force"/],
    ];
    for (const [body, problem] of cases) {
      const answer = await admin.post('/views/site_totals/reprocess', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(conforms(apiSchemas.errorBody, answer.body).error.message).toMatch(problem);
    }
    expect(jobs.status('site_totals')).toEqual(before);
  });

  it('should answer 409 from a serving process that does not run the speed layer', async () => {
    const other = client(withoutSpeedLayer.url, TOKEN);
    for (const answer of [await other.post(`/views/${VIEW}/reprocess`, {}), await other.get(`/views/${VIEW}/reprocess`)]) {
      expect(answer.status).toBe(409);
      expect(conforms(apiSchemas.errorBody, answer.body).error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('speed layer') });
    }
  });

  it('should need the API token, like the other admin routes', async () => {
    const requests = (caller: ReturnType<typeof client>) => [caller.post('/views/site_totals/reprocess', {}), caller.get(`/views/${VIEW}/reprocess`)];
    for (const answer of await Promise.all(requests(client(server.url)))) {
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    for (const answer of await Promise.all(requests(client(server.url, 'y'.repeat(TOKEN.length))))) expect(answer.status).toBe(403);
    expect(jobs.status('site_totals')).toBeUndefined();
  });
});
