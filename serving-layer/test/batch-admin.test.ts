import { Cron } from 'croner';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InProcessScheduler, recomputeJobName, type JobContext, type JsonObject, type Metrics, type Ports } from '@lambda/core';
import { apiSchemas, type ErrorBody, type RunningServer } from '../src/index.js';
import { client, conforms, gate, serve } from './api-helpers.js';
import { VIEW, openTestPorts, testCatalog } from './helpers.js';

const catalog = testCatalog();
const VIEWS = [...catalog.views.keys()];
const JOB = recomputeJobName(VIEW);

type Run = ReturnType<typeof apiSchemas.jobRun.parse>;
type Jobs = ReturnType<typeof apiSchemas.jobsList.parse>;

describe('the batch admin API', () => {
  let ports: Ports;
  let metrics: Metrics;
  let closePorts: () => Promise<void>;
  let scheduler: InProcessScheduler;
  let server: RunningServer;
  let api: ReturnType<typeof client>;
  /** Gates the test opens to let handlers go on, so no handler is left waiting when the scheduler closes. */
  let gates: ReturnType<typeof gate>[];

  beforeAll(async () => {
    ({ ports, metrics, close: closePorts } = await openTestPorts());
  });

  afterAll(async () => {
    await closePorts();
  });

  beforeEach(async () => {
    gates = [];
    scheduler = new InProcessScheduler();
    server = await serve({ ports: { ...ports, scheduler }, catalog, metrics });
    api = client(server.url);
  });

  afterEach(async () => {
    for (const g of gates) g.open();
    await server.close();
    await scheduler.close();
  });

  const opened = () => {
    const g = gate();
    gates.push(g);
    return g;
  };

  const trigger = async (body?: unknown) => {
    const { status, body: answer } = await api.post('/batch/run', body);
    expect(status, JSON.stringify(answer)).toBe(202);
    return conforms(apiSchemas.batchRunAnswer, answer).runs;
  };

  const run = async (id: string) => {
    const { status, body } = await api.get(`/batch/jobs/${encodeURIComponent(id)}`);
    expect(status, JSON.stringify(body)).toBe(200);
    return conforms(apiSchemas.jobRun, body) as Run;
  };

  const jobs = async (query: [string, string][] = []) => {
    const { status, body } = await api.get('/batch/jobs', query);
    expect(status, JSON.stringify(body)).toBe(200);
    return conforms(apiSchemas.jobsList, body) as Jobs;
  };

  it("should relay a run's progress while it runs, then the version and horizon it published", async () => {
    const archived = opened();
    const queried = opened();
    const toQuery = opened();
    const toPublish = opened();
    await scheduler.register(JOB, async (context: JobContext) => {
      await context.reportProgress({ percent: 20, message: 'archiving' });
      archived.open();
      await toQuery.promise;
      await context.reportProgress({ percent: 55, message: 'querying' });
      queried.open();
      await toPublish.promise;
      return { version: 4, horizon: [15, 10], rows: 12 };
    });

    const before = Date.now();
    const [triggered, ...others] = await trigger({ view: VIEW });
    expect(others).toEqual([]);
    expect(triggered).toMatchObject({ name: JOB, view: VIEW, trigger: 'manual', finishedAt: null, version: null, horizon: null, error: null, result: null });
    expect(['waiting', 'running']).toContain(triggered!.state);
    expect(triggered!.createdAt).toBeGreaterThanOrEqual(before);

    await archived.promise;
    const running = await run(triggered!.id);
    expect(running).toMatchObject({ id: triggered!.id, name: JOB, view: VIEW, state: 'running', progress: { percent: 20, message: 'archiving' }, version: null, finishedAt: null });
    expect(running.startedAt).toBeGreaterThanOrEqual(running.createdAt);
    expect(running.durationMs).toBeGreaterThanOrEqual(0);
    expect(running.durationMs).toBeLessThanOrEqual(Date.now() - running.startedAt!);

    toQuery.open();
    await queried.promise;
    expect((await run(triggered!.id)).progress).toEqual({ percent: 55, message: 'querying' });

    toPublish.open();
    await scheduler.waitForRun(triggered!.id, 5000);
    const completed = await run(triggered!.id);
    expect(completed).toMatchObject({
      id: triggered!.id,
      state: 'completed',
      attempts: 1,
      version: 4,
      horizon: [15, 10],
      result: { version: 4, horizon: [15, 10], rows: 12 },
      error: null,
    });
    expect(completed.progress.percent).toBe(100);
    expect(completed.durationMs).toBe(completed.finishedAt! - completed.startedAt!);
    // The id works in a path as it is, ':' and all.
    const raw = await api.get(`/batch/jobs/${triggered!.id}`);
    expect(raw.status).toBe(200);
    expect(raw.body).toEqual(completed);
  });

  it('should show a failed run with its error, and no version', async () => {
    await scheduler.register(JOB, async (context) => {
      await context.reportProgress({ percent: 40, message: 'querying' });
      throw new Error('DuckDB: out of memory');
    });
    const [triggered] = await trigger({ view: VIEW });
    await scheduler.waitForRun(triggered!.id, 5000);
    const failed = await run(triggered!.id);
    expect(failed).toMatchObject({ state: 'failed', error: 'DuckDB: out of memory', version: null, horizon: null, result: null, progress: { percent: 40 } });
    expect(failed.finishedAt).not.toBeNull();
    expect(failed.durationMs).toBe(failed.finishedAt! - failed.startedAt!);

    const { jobs: [job] } = await jobs([['view', VIEW]]);
    expect(job!.lastFinished).toEqual({ ...failed, durationMs: failed.durationMs });
  });

  it("should say the run is up to date when the handler published nothing", async () => {
    await scheduler.register(JOB, async () => ({ upToDate: true }));
    const [triggered] = await trigger({ view: VIEW });
    await scheduler.waitForRun(triggered!.id, 5000);
    expect(await run(triggered!.id)).toMatchObject({ state: 'completed', version: null, horizon: null, result: { upToDate: true } });
  });

  it('should run one at a time, queue one behind it, and fold further triggers into the queued one', async () => {
    const waits: ReturnType<typeof gate>[] = [];
    const started: string[] = [];
    await scheduler.register(JOB, async (context) => {
      started.push(context.runId);
      const g = opened();
      waits.push(g);
      await g.promise;
      return { version: started.length, horizon: [started.length] };
    });

    const [first] = await trigger({ view: VIEW });
    const [second] = await trigger({ view: VIEW });
    const [third] = await trigger({ view: VIEW });
    expect(second!.id).not.toBe(first!.id);
    expect(second!.state).toBe('waiting');
    expect(third!.id).toBe(second!.id); // deduplicated with the one waiting
    expect(third!.state).toBe('waiting');

    const listing = await jobs([['view', VIEW]]);
    expect(listing.jobs).toHaveLength(1);
    expect(listing.jobs[0]).toMatchObject({ view: VIEW, name: JOB, repeat: null, nextRunAt: null, lastFinished: null });
    expect(listing.jobs[0]!.running).toMatchObject({ id: first!.id, state: 'running' });
    expect(listing.jobs[0]!.waiting).toMatchObject({ id: second!.id, state: 'waiting', startedAt: null, durationMs: null });
    expect(listing.runs.map((r) => r.id)).toEqual([second!.id, first!.id]);

    waits[0]!.open();
    await scheduler.waitForRun(first!.id, 5000);
    await expect.poll(() => started.length).toBe(2);
    expect(started).toEqual([first!.id, second!.id]);
    expect((await run(second!.id)).state).toBe('running');
    waits[1]!.open();
    await scheduler.waitForRun(second!.id, 5000);

    const after = await jobs([['view', VIEW]]);
    expect(after.jobs[0]).toMatchObject({ running: null, waiting: null, lastFinished: { id: second!.id, state: 'completed', version: 2, horizon: [2] } });
    expect(after.runs.map((r) => [r.id, r.state, r.version])).toEqual([
      [second!.id, 'completed', 2],
      [first!.id, 'completed', 1],
    ]);
  });

  it('should recompute every view when no view is named', async () => {
    for (const view of VIEWS) await scheduler.register(recomputeJobName(view), async () => ({ version: 1, horizon: [0] }));
    for (const body of [{}, undefined]) {
      const runs = await trigger(body);
      expect(runs.map((r) => r.view)).toEqual(VIEWS);
      expect(runs.map((r) => r.name)).toEqual(VIEWS.map(recomputeJobName));
      for (const r of runs) await scheduler.waitForRun(r.id, 5000);
    }
    const listing = await jobs();
    expect(listing.jobs.map((job) => job.view)).toEqual(VIEWS);
    expect(listing.runs).toHaveLength(6);
  });

  it("should list each job's schedule and next run, and only the views whose job is registered", async () => {
    await scheduler.register(JOB, async () => ({}));
    await scheduler.register(recomputeJobName('site_totals'), async () => ({}));
    const before = Date.now();
    await scheduler.setRepeat(JOB, { everyMs: 3_600_000 });
    const after = Date.now();
    await scheduler.setRepeat(recomputeJobName('site_totals'), { cron: '0 3 * * *', timezone: 'UTC' });

    const listing = await jobs();
    expect(listing.jobs.map((job) => job.view)).toEqual([VIEW, 'site_totals']);
    const [hourly, nightly] = listing.jobs;
    expect(hourly!.repeat).toEqual({ everyMs: 3_600_000 });
    expect(hourly!.nextRunAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(hourly!.nextRunAt).toBeLessThanOrEqual(after + 3_600_000);
    expect(nightly!.repeat).toEqual({ cron: '0 3 * * *', timezone: 'UTC' });
    const next = new Date(nightly!.nextRunAt!);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([3, 0, 0]);
    expect(nightly!.nextRunAt! - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    expect(nightly!.nextRunAt).toBe(new Cron('0 3 * * *', { timezone: 'UTC', paused: true }).nextRun()!.getTime());

    // A view whose job is not registered here has nothing to report.
    expect((await jobs([['view', 'slow_pages']])).jobs).toEqual([]);
  });

  it("should list runs newest first, at most limit, and only the asked view's", async () => {
    const other = recomputeJobName('site_totals');
    await scheduler.register(JOB, async () => ({ version: 1, horizon: [1] }));
    await scheduler.register(other, async () => ({ version: 1, horizon: [1] }));
    await scheduler.register('archive', async () => ({})); // not a recompute job: never listed
    const order: string[] = [];
    for (const name of [JOB, JOB, JOB, other, 'archive', other, 'archive', 'archive']) {
      const triggered = await scheduler.trigger(name);
      await scheduler.waitForRun(triggered.id, 5000);
      order.unshift(triggered.id);
    }
    const recomputes = order.filter((id) => !id.startsWith('archive'));

    expect((await jobs()).runs.map((r) => r.id)).toEqual(recomputes);
    expect((await jobs([['limit', '3']])).runs.map((r) => r.id)).toEqual(recomputes.slice(0, 3));
    // The asked view's newest runs, although newer runs of other jobs exist.
    expect((await jobs([['view', VIEW], ['limit', '2']])).runs.map((r) => r.id)).toEqual(recomputes.filter((id) => id.startsWith(JOB)).slice(0, 2));
    expect((await jobs([['view', VIEW], ['limit', '1']])).runs.map((r) => r.id)).toEqual([recomputes.find((id) => id.startsWith(JOB))]);
    expect((await jobs([['view', 'site_totals']])).runs.map((r) => r.view)).toEqual(['site_totals', 'site_totals']);
  });

  describe('a request it refuses', () => {
    it('should answer 404 UNKNOWN_VIEW for a view the catalog does not have', async () => {
      for (const answer of [await api.post('/batch/run', { view: 'nope' }), await api.get('/batch/jobs', [['view', 'nope']])]) {
        expect(answer.status).toBe(404);
        const { error } = conforms(apiSchemas.errorBody, answer.body) as ErrorBody;
        expect(error).toMatchObject({ code: 'UNKNOWN_VIEW', context: { view: 'nope' } });
        expect(error.message).toContain('"nope"');
      }
      expect(await scheduler.listRuns()).toEqual([]);
    });

    it('should answer 404 UNKNOWN_JOB for a run it does not know', async () => {
      await scheduler.register(JOB, async () => ({}));
      for (const id of [`${JOB}.999`, 'nope', 'recompute:nope.1']) {
        const { status, body } = await api.get(`/batch/jobs/${encodeURIComponent(id)}`);
        expect(status).toBe(404);
        const { error } = conforms(apiSchemas.errorBody, body) as ErrorBody;
        expect(error).toEqual({ code: 'UNKNOWN_JOB', message: expect.stringContaining(`"${id}"`), context: { id } });
      }
    });

    it('should answer 404 UNKNOWN_JOB when no job is registered for the view', async () => {
      const { status, body } = await api.post('/batch/run', { view: VIEW });
      expect(status).toBe(404);
      expect(conforms(apiSchemas.errorBody, body).error).toMatchObject({ code: 'UNKNOWN_JOB', context: { name: JOB } });
    });

    it.each([
      { title: 'a view that is not a string', body: { view: 5 }, parameter: 'view' },
      { title: 'an unknown field', body: { view: VIEW, colour: 'red' }, parameter: 'colour' },
      { title: 'an array', body: [VIEW], parameter: 'body' },
    ])('should answer 400 naming the field: $title', async ({ body, parameter }) => {
      await scheduler.register(JOB, async () => ({}));
      const { status, body: answer } = await api.post('/batch/run', body);
      expect(status).toBe(400);
      const { error } = conforms(apiSchemas.errorBody, answer) as ErrorBody;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(`body parameter "${parameter}"`);
      expect(await scheduler.listRuns()).toEqual([]);
    });

    it('should answer 400 for a body that is not JSON, and run nothing', async () => {
      await scheduler.register(JOB, async () => ({}));
      const { status, body } = await api.post('/batch/run', '{"view": ');
      expect(status).toBe(400);
      expect(conforms(apiSchemas.errorBody, body).error.code).toBe('INVALID_ARGUMENT');
      expect(await scheduler.listRuns()).toEqual([]);
    });

    it.each([
      { query: [['limit', '0']], parameter: 'limit' },
      { query: [['limit', '1001']], parameter: 'limit' },
      { query: [['state', 'running']], parameter: 'state' },
    ] as { query: [string, string][]; parameter: string }[])('should answer 400 for GET /batch/jobs naming $parameter', async ({ query, parameter }) => {
      const { status, body } = await api.get('/batch/jobs', query);
      expect(status).toBe(400);
      expect((conforms(apiSchemas.errorBody, body) as ErrorBody).error.message).toContain(`"${parameter}"`);
    });
  });

  it('should report what the handler returned as it returned it', async () => {
    const result: JsonObject = { version: 9, horizon: [3, 0, 7], rows: 1234, note: 'ok' };
    await scheduler.register(JOB, async () => result);
    const [triggered] = await trigger({ view: VIEW });
    await scheduler.waitForRun(triggered!.id, 5000);
    const completed = await run(triggered!.id);
    expect(completed.result).toEqual(result);
    expect(completed.version).toBe(9);
    expect(completed.horizon).toEqual([3, 0, 7]);
  });
});
