import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BullmqScheduler } from '../src/index.js';
import { ConnectionError, InvalidArgumentError, UnknownJobError } from '@lambda/core';
import { describeWhenAvailable, keysUnder, REDIS_URL, redisSkipReason, removeKeysUnder } from '@lambda/test-kit';
import { Gates, WAIT_MS, describeSchedulerContract, waitUntil } from '@lambda/port-contracts';


const skipReason = await redisSkipReason(REDIS_URL);

describeSchedulerContract({
  name: 'BullMQ on Redis',
  skipReason,
  async prepare() {
    const prefix = `lambda-test-${randomUUID()}`;
    return {
      open: () => BullmqScheduler.open({ redisUrl: REDIS_URL, prefix, pollIntervalMs: 20 }),
      cleanUp: async () => {
        await removeKeysUnder(prefix);
      },
    };
  },
});

describeWhenAvailable('BullmqScheduler', skipReason, () => {
  let prefix: string;
  let job: string;
  const opened: BullmqScheduler[] = [];

  async function open(historyLimit?: number): Promise<BullmqScheduler> {
    const scheduler = await BullmqScheduler.open({ redisUrl: REDIS_URL, prefix, pollIntervalMs: 20, ...(historyLimit ? { historyLimit } : {}) });
    opened.push(scheduler);
    return scheduler;
  }

  beforeEach(() => {
    prefix = `lambda-test-${randomUUID()}`;
    job = `recompute:bullmq-${randomUUID().slice(0, 8)}`;
  });

  afterEach(async () => {
    for (const scheduler of opened.splice(0)) await scheduler.close();
    await removeKeysUnder(prefix);
    expect(await keysUnder(prefix)).toEqual([]);
  });

  describe('when one process triggers and another has the handler', () => {
    it('should run the job where the handler is, and show the run to both', async () => {
      const batch = await open();
      const serving = await open();
      const ran: string[] = [];
      await batch.register(job, async ({ runId, data }) => {
        ran.push(runId);
        return { echoed: data };
      });
      const run = await serving.trigger(job, { view: 'pages' });
      expect(run).toMatchObject({ name: job, trigger: 'manual', data: { view: 'pages' } });
      const finished = await serving.waitForRun(run.id, WAIT_MS);
      expect(finished).toMatchObject({ state: 'completed', result: { echoed: { view: 'pages' } }, attempts: 1 });
      expect(ran).toEqual([run.id]);
      expect(await batch.getRun(run.id)).toEqual(finished);
      expect((await serving.status(job)).lastFinished).toEqual(finished);
      expect((await serving.listRuns()).map((listed) => listed.id)).toEqual([run.id]);
    });

    it('should keep a run waiting until a process with the handler opens', async () => {
      const serving = await open();
      const batch = await open();
      await batch.register(job, async () => 'first');
      await batch.close();
      const run = await serving.trigger(job, 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await serving.getRun(run.id)).toMatchObject({ state: 'waiting', attempts: 0 });

      const later = await open();
      await later.register(job, async ({ data }) => ({ took: data }));
      expect(await serving.waitForRun(run.id, WAIT_MS)).toMatchObject({ state: 'completed', result: { took: 1 } });
    });

    it('should run one run at a time across processes', async () => {
      const one = await open();
      const two = await open();
      let running = 0;
      let most = 0;
      const gates = new Gates();
      const started: string[] = [];
      for (const scheduler of [one, two]) {
        await scheduler.register(job, async ({ runId, signal }) => {
          running++;
          most = Math.max(most, running);
          started.push(runId);
          await gates.for(runId).pass(signal);
          running--;
        });
      }
      const first = await one.trigger(job);
      await waitUntil('the first run started', () => started.includes(first.id));
      const second = await two.trigger(job);
      expect(await one.trigger(job)).toMatchObject({ id: second.id, state: 'waiting' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(started).toEqual([first.id]);
      gates.for(first.id).open();
      gates.for(second.id).open();
      expect(await two.waitForRun(second.id, WAIT_MS)).toMatchObject({ state: 'completed' });
      expect(most).toBe(1);
    });
  });

  describe('when history grows past historyLimit', () => {
    it('should keep only the newest finished runs', async () => {
      const historyLimit = 2;
      const scheduler = await open(historyLimit);
      await scheduler.register(job, async ({ data }) => data);
      const ids: string[] = [];
      for (let i = 0; i < historyLimit + 2; i++) {
        const run = await scheduler.trigger(job, i);
        await scheduler.waitForRun(run.id, WAIT_MS);
        ids.push(run.id);
      }
      expect((await scheduler.listRuns({ name: job })).map((run) => run.id)).toEqual(ids.slice(-historyLimit).reverse());
      expect(await scheduler.getRun(ids[0]!)).toBeUndefined();
      expect(new Set(ids).size).toBe(ids.length);
    });
  });

  describe('when opened with bad settings', () => {
    it('should refuse an empty prefix and a URL that is not redis://', async () => {
      await expect(BullmqScheduler.open({ redisUrl: REDIS_URL, prefix: '' })).rejects.toThrow(InvalidArgumentError);
      const error = await BullmqScheduler.open({ redisUrl: 'http://127.0.0.1:6379', prefix }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain('http://127.0.0.1:6379');
    });

    it('should fail with a retriable ConnectionError when Redis does not answer', async () => {
      const error = await BullmqScheduler.open({ redisUrl: 'redis://127.0.0.1:1', prefix, connectTimeoutMs: 300 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).retriable).toBe(true);
      expect((error as Error).message).toContain('127.0.0.1:1');
    });

    it('should not know a job no process registered', async () => {
      const scheduler = await open();
      await expect(scheduler.status(job)).rejects.toThrow(UnknownJobError);
      await expect(scheduler.listRuns({ name: job })).rejects.toThrow(UnknownJobError);
    });
  });
});
