import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessScheduler } from '@lambda/core';
import { Gates, WAIT_MS, describeSchedulerContract, waitUntil } from '../src/scheduler-contract.js';

describeSchedulerContract({
  name: 'the in-process scheduler',
  async prepare() {
    return { open: async () => new InProcessScheduler(), cleanUp: async () => undefined };
  },
});

describe('InProcessScheduler', () => {
  let scheduler: InProcessScheduler | undefined;
  let job: string;
  let other: string;

  beforeEach(() => {
    const id = randomUUID().slice(0, 8);
    job = `in-process-${id}`;
    other = `in-process-${id}-other`;
  });

  afterEach(async () => {
    await scheduler?.close();
    scheduler = undefined;
  });

  describe('when history grows past historyLimit', () => {
    it('should keep only the newest finished runs of each job', async () => {
      const historyLimit = 3;
      scheduler = new InProcessScheduler({ historyLimit });
      for (const name of [job, other]) await scheduler.register(name, async ({ data }) => data);
      const ids: string[] = [];
      for (let i = 0; i < historyLimit + 2; i++) {
        const run = await scheduler.trigger(job, i);
        await scheduler.waitForRun(run.id, WAIT_MS);
        ids.push(run.id);
      }
      const otherRun = await scheduler.trigger(other, 'kept');
      await scheduler.waitForRun(otherRun.id, WAIT_MS);

      const kept = ids.slice(-historyLimit);
      const dropped = ids.slice(0, -historyLimit);
      expect((await scheduler.listRuns({ name: job })).map((run) => run.id)).toEqual([...kept].reverse());
      for (const id of dropped) expect(await scheduler.getRun(id)).toBeUndefined();
      for (const id of kept) expect((await scheduler.getRun(id))?.state).toBe('completed');
      // The bound is per job: the other job's run stays.
      expect((await scheduler.listRuns()).map((run) => run.id)).toEqual([otherRun.id, ...[...kept].reverse()]);
      expect((await scheduler.status(job)).lastFinished?.id).toBe(ids.at(-1));
    });
  });

  describe('when closing', () => {
    it('should fail a waiting run as cancelled, without running it', async () => {
      scheduler = new InProcessScheduler();
      const gates = new Gates();
      const started: string[] = [];
      await scheduler.register(job, async ({ runId, signal }) => {
        started.push(runId);
        await gates.for(runId).pass(signal);
        return 'returned';
      });
      const running = await scheduler.trigger(job);
      await waitUntil('the first run started', () => started.includes(running.id));
      const waiting = await scheduler.trigger(job);
      expect(waiting.state).toBe('waiting');
      const waitedRunning = scheduler.waitForRun(running.id, WAIT_MS);
      const waitedWaiting = scheduler.waitForRun(waiting.id, WAIT_MS);

      await scheduler.close();

      const cancelled = await waitedWaiting;
      expect(cancelled).toMatchObject({ id: waiting.id, state: 'failed', attempts: 0, startedAt: null, result: null });
      expect(cancelled.error).toMatch(/cancelled/);
      expect(cancelled.finishedAt).not.toBeNull();
      // The running handler saw the abort and returned normally.
      expect(await waitedRunning).toMatchObject({ id: running.id, state: 'completed', result: 'returned' });
      expect(started).toEqual([running.id]);
    });

    it('should fail a run waiting to retry with its last error, without another attempt', async () => {
      scheduler = new InProcessScheduler();
      let calls = 0;
      await scheduler.register(
        job,
        async () => {
          calls++;
          throw new Error(`attempt ${calls} failed`);
        },
        { attempts: 3, backoffMs: 60_000 },
      );
      const run = await scheduler.trigger(job);
      await waitUntil('the first attempt failed', () => calls === 1);
      const waited = scheduler.waitForRun(run.id, WAIT_MS);

      await scheduler.close();

      const failed = await waited;
      expect(failed).toMatchObject({ id: run.id, state: 'failed', attempts: 1, result: null });
      expect(failed.error).toContain('attempt 1 failed');
      expect(calls).toBe(1);
    });
  });
});
