import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { BullmqScheduler } from '../src/index.js';
import { PlatformError, type JobRun } from '@lambda/core';
import { WAIT_MS, waitUntil } from '@lambda/port-contracts';
import { describeWhenAvailable, RedisServer, redisServerSkipReason } from '@lambda/test-kit';

const skipReason = redisServerSkipReason();

describeWhenAvailable('BullmqScheduler when Redis goes away and comes back', skipReason, () => {
  let redis: RedisServer;
  let scheduler: BullmqScheduler;
  let job: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  beforeEach(async () => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    await redis.resume();
    job = `recompute:outage-${randomUUID().slice(0, 8)}`;
    scheduler = await BullmqScheduler.open({ redisUrl: redis.url, prefix: `lambda-outage-${randomUUID()}`, pollIntervalMs: 20 });
  });

  afterEach(async () => {
    await scheduler.close();
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  async function completedScheduledRuns(): Promise<JobRun[]> {
    return (await scheduler.listRuns({ name: job })).filter((run) => run.trigger === 'schedule' && run.state === 'completed');
  }

  it('should fail calls with a retriable error while it is away, then resume the schedule and triggers', async () => {
    const handled: string[] = [];
    await scheduler.register(job, async ({ runId }) => {
      handled.push(runId);
      return 'done';
    });
    await scheduler.setRepeat(job, { everyMs: 200 });
    await waitUntil('a scheduled run completed', async () => (await completedScheduledRuns()).length >= 1);

    await redis.stop();
    for (const [what, call] of Object.entries({
      trigger: () => scheduler.trigger(job),
      status: () => scheduler.status(job),
      listRuns: () => scheduler.listRuns(),
    })) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, what).toBeInstanceOf(PlatformError);
      expect((error as PlatformError).retriable, what).toBe(true);
      expect((error as Error).message, what).toContain(redis.url);
    }
    // The workers keep retrying in the background meanwhile: nothing may crash or reject unhandled.
    const handledDuringOutage = handled.length;
    await sleep(1000);
    expect(handled).toHaveLength(handledDuringOutage);

    // It comes back empty (nothing was saved): this process puts its job and schedule back.
    await redis.resume();
    await waitUntil('a scheduled run completed after the outage', async () => {
      const runs = await completedScheduledRuns().catch(() => []);
      return runs.length >= 1;
    }, WAIT_MS);
    expect(handled.length).toBeGreaterThan(handledDuringOutage);
    expect((await scheduler.status(job)).repeat).toEqual({ everyMs: 200 });

    await scheduler.removeRepeat(job);
    // A scheduled run queued before the repeat went may still wait (on a busy machine it does), and a
    // trigger then returns that run (triggers are deduplicated): the manual run comes once none waits.
    await waitUntil('no scheduled run is waiting', async () => (await scheduler.status(job)).waiting === null, WAIT_MS);
    const manual = await scheduler.trigger(job, { after: 'outage' });
    const finished = await scheduler.waitForRun(manual.id, WAIT_MS);
    expect(finished).toMatchObject({ trigger: 'manual', state: 'completed', result: 'done', data: { after: 'outage' } });
    expect(handled).toContain(manual.id);
    expect(unhandled).toEqual([]);
  });

  it('should keep taking runs, under new ids, after Redis lost the run that was running', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    await scheduler.register(job, async ({ reportProgress }) => {
      started = true;
      await released;
      // Progress during the outage is dropped, not an error for the handler.
      await reportProgress(50);
      return 'finished';
    });
    const run = await scheduler.trigger(job);
    await waitUntil('the handler started', () => started);
    await redis.stop();
    release();
    await sleep(300);
    await redis.resume();
    // Redis came back empty, so the run's record is gone with it; the scheduler still takes new runs.
    let next: JobRun | undefined;
    await waitUntil('a trigger is taken again', async () => {
      next = await scheduler.trigger(job).catch(() => undefined);
      return next !== undefined;
    });
    if (!next) throw new Error('unreachable');
    expect(['waiting', 'running', 'completed']).toContain(next.state);
    expect(next.id).not.toBe(run.id);
    expect(await scheduler.waitForRun(next.id, WAIT_MS)).toMatchObject({ state: 'completed', result: 'finished' });
    expect(unhandled).toEqual([]);
  });
});
