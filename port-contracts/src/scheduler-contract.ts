/**
 * The Scheduler port's contract: repeats (interval and cron), triggers, one run at a time per name,
 * attempts, progress, status and history, closing, run unchanged against the in-process scheduler and
 * BullMQ. One file although long: a contract split over files would let an adapter pass half of it.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  InvalidArgumentError,
  TimeoutError,
  UnknownJobError,
  type JobContext,
  type JobRun,
  type JsonValue,
  type Scheduler,
} from '@lambda/core';
import { suiteTitle, type ContractFixture, type ContractTarget } from './contract-target.js';
import { describeWhenAvailable } from '@lambda/test-kit';

/** Bound on every wait for something to happen: generous, for real I/O on a loaded 2-core machine. */
export const WAIT_MS = 10_000;
/** How long a test watches for something that must not happen. */
export const PAUSE_MS = 500;
/** Tolerance when comparing timestamps taken by the adapter (maybe on another host) with the test's clock. */
const CLOCK_SLACK_MS = 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Polls `check` until it holds, failing after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(10);
  }
}

/** Where a handler waits until the test opens it, or until the scheduler aborts the run. */
export class Gate {
  private release: () => void = () => undefined;
  private readonly opened = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  open(): void {
    this.release();
  }

  async pass(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    let onAbort = (): void => undefined;
    const aborted = new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener('abort', onAbort, { once: true });
    });
    await Promise.race([this.opened, aborted]);
    signal.removeEventListener('abort', onAbort);
  }
}

/** One gate per run id, made on first use, so a test holds and releases each run on its own. */
export class Gates {
  private readonly gates = new Map<string, Gate>();

  for(id: string): Gate {
    let gate = this.gates.get(id);
    if (!gate) {
      gate = new Gate();
      this.gates.set(id, gate);
    }
    return gate;
  }
}

/** Calls `call` and returns what it threw or rejected with (undefined when it succeeded). */
async function failure(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return error;
  }
}

async function state(scheduler: Scheduler, id: string): Promise<JobRun['state'] | undefined> {
  return (await scheduler.getRun(id))?.state;
}

export function describeSchedulerContract(target: ContractTarget<Scheduler>): void {
  describeWhenAvailable(suiteTitle('Scheduler', target), target.skipReason, () => {
    let fixture: ContractFixture<Scheduler>;
    let scheduler: Scheduler;
    let job: string;
    let other: string;

    beforeEach(async () => {
      fixture = await target.prepare();
      scheduler = await fixture.open();
      const id = randomUUID().slice(0, 8);
      job = `contract-${id}`;
      other = `contract-${id}-other`;
    });

    afterEach(async () => {
      await scheduler.close();
      await fixture.cleanUp();
    });

    async function scheduledRuns(name: string): Promise<JobRun[]> {
      return (await scheduler.listRuns({ name })).filter((run) => run.trigger === 'schedule');
    }

    /** Waits until `name` has no run running or waiting, so what follows sees it at rest. */
    async function settle(name: string): Promise<void> {
      await waitUntil(`${name} is idle`, async () => {
        const status = await scheduler.status(name);
        return status.running === null && status.waiting === null;
      });
    }

    describe('when triggering a job', () => {
      it('should run the registered handler with the given data', async () => {
        const contexts: Array<Omit<JobContext, 'signal' | 'reportProgress'>> = [];
        await scheduler.register(job, async ({ runId, name, data, trigger }) => {
          contexts.push({ runId, name, data: structuredClone(data), trigger });
          const { n } = data as { n: number };
          return { doubled: n * 2 };
        });
        const before = Date.now();
        const triggered = await scheduler.trigger(job, { n: 21, tags: ['a', 'b'] });
        expect(triggered).toMatchObject({ name: job, trigger: 'manual', data: { n: 21, tags: ['a', 'b'] } });
        expect(['waiting', 'running', 'completed']).toContain(triggered.state);

        const finished = await scheduler.waitForRun(triggered.id, WAIT_MS);
        const after = Date.now();
        expect(finished).toMatchObject({
          id: triggered.id,
          name: job,
          trigger: 'manual',
          state: 'completed',
          data: { n: 21, tags: ['a', 'b'] },
          result: { doubled: 42 },
          error: null,
          attempts: 1,
          progress: { percent: 100 },
        });
        expect(finished.createdAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect(finished.startedAt).toBeGreaterThanOrEqual(finished.createdAt);
        expect(finished.finishedAt).toBeGreaterThanOrEqual(finished.startedAt!);
        expect(finished.finishedAt).toBeLessThanOrEqual(after + CLOCK_SLACK_MS);
        expect(contexts).toEqual([{ runId: triggered.id, name: job, data: { n: 21, tags: ['a', 'b'] }, trigger: 'manual' }]);
        expect(await scheduler.getRun(triggered.id)).toEqual(finished);
      });

      it('should run the handler registered last, and store nothing returned as a null result', async () => {
        let firstCalls = 0;
        let secondCalls = 0;
        await scheduler.register(job, async () => {
          firstCalls++;
          return 'first';
        });
        await scheduler.register(job, async () => {
          secondCalls++;
        });
        const run = await scheduler.waitForRun((await scheduler.trigger(job)).id, WAIT_MS);
        expect(run.state).toBe('completed');
        expect(run.result).toBeNull();
        expect([firstCalls, secondCalls]).toEqual([0, 1]);
      });

      it('should keep the data given at trigger time, whatever the caller or the handler later does to it', async () => {
        const gate = new Gate();
        const received: JsonValue[] = [];
        await scheduler.register(job, async ({ data, signal }) => {
          await gate.pass(signal);
          received.push(structuredClone(data));
          (data as { list: number[] }).list.push(99);
        });
        const data = { list: [1, 2] };
        const triggered = await scheduler.trigger(job, data);
        data.list.push(3);
        (triggered.data as { list: number[] }).list.push(4);
        gate.open();
        const finished = await scheduler.waitForRun(triggered.id, WAIT_MS);
        expect(finished.state).toBe('completed');
        expect(received).toEqual([{ list: [1, 2] }]);
        expect(finished.data).toEqual({ list: [1, 2] });
        expect((await scheduler.getRun(triggered.id))!.data).toEqual({ list: [1, 2] });
      });

      it('should know nothing of a run id it never gave', async () => {
        await scheduler.register(job, async () => 'ok');
        expect(await scheduler.getRun(`${job}-no-such-run`)).toBeUndefined();
      });
    });

    describe('when a handler fails', () => {
      it('should mark the run failed with the error message', async () => {
        await scheduler.register(job, async () => {
          throw new Error(`broken ${job}`);
        });
        const run = await scheduler.trigger(job, { n: 1 });
        const finished = await scheduler.waitForRun(run.id, WAIT_MS);
        expect(finished).toMatchObject({ id: run.id, state: 'failed', attempts: 1, result: null, data: { n: 1 } });
        expect(finished.error).toContain(`broken ${job}`);
        expect(finished.finishedAt).not.toBeNull();
        expect(await scheduler.getRun(run.id)).toEqual(finished);
      });

      it('should retry a failed attempt while attempts remain', async () => {
        let calls = 0;
        await scheduler.register(
          job,
          async () => {
            calls++;
            if (calls < 3) throw new Error(`attempt ${calls} failed`);
            return { succeededOnCall: calls };
          },
          { attempts: 3, backoffMs: 10 },
        );
        const finished = await scheduler.waitForRun((await scheduler.trigger(job)).id, WAIT_MS);
        expect(finished).toMatchObject({ state: 'completed', attempts: 3, result: { succeededOnCall: 3 }, error: null });
        expect(calls).toBe(3);
      });

      it('should fail the run with the last attempt’s error once attempts run out', async () => {
        let calls = 0;
        await scheduler.register(
          job,
          async () => {
            calls++;
            throw new Error(`attempt ${calls} failed`);
          },
          { attempts: 3, backoffMs: 10 },
        );
        const finished = await scheduler.waitForRun((await scheduler.trigger(job)).id, WAIT_MS);
        expect(finished).toMatchObject({ state: 'failed', attempts: 3, result: null });
        expect(finished.error).toContain('attempt 3 failed');
        await sleep(100);
        expect(calls).toBe(3);
      });
    });

    describe('when a handler reports progress', () => {
      it('should show the progress while the run is running', async () => {
        const halfway = new Gate();
        const end = new Gate();
        await scheduler.register(job, async ({ reportProgress, signal }) => {
          await reportProgress(30);
          await halfway.pass(signal);
          await reportProgress({ percent: 60, message: 'half' });
          await end.pass(signal);
          return 'done';
        });
        const run = await scheduler.trigger(job);

        await waitUntil('progress 30 is seen', async () => (await scheduler.getRun(run.id))?.progress.percent === 30);
        expect(await scheduler.getRun(run.id)).toMatchObject({ state: 'running', progress: { percent: 30 } });
        expect((await scheduler.status(job)).running).toMatchObject({ id: run.id, progress: { percent: 30 } });

        halfway.open();
        await waitUntil('progress 60 is seen', async () => (await scheduler.getRun(run.id))?.progress.percent === 60);
        const running = await scheduler.getRun(run.id);
        expect(running!.state).toBe('running');
        expect(running!.progress).toEqual({ percent: 60, message: 'half' });
        expect((await scheduler.status(job)).running!.progress).toEqual({ percent: 60, message: 'half' });

        end.open();
        const finished = await scheduler.waitForRun(run.id, WAIT_MS);
        expect(finished.state).toBe('completed');
        expect(finished.progress.percent).toBe(100);
      });
    });

    describe('when triggered while a run is running', () => {
      let events: string[];
      let gates: Gates;

      beforeEach(async () => {
        events = [];
        gates = new Gates();
        for (const name of [job, other]) {
          await scheduler.register(name, async ({ runId, signal, data }) => {
            events.push(`start ${runId}`);
            await gates.for(runId).pass(signal);
            events.push(`end ${runId}`);
            return data;
          });
        }
      });

      it('should queue one run behind it and start that run only after it finishes', async () => {
        const first = await scheduler.trigger(job, 1);
        await waitUntil('the first run started', () => events.includes(`start ${first.id}`));
        const second = await scheduler.trigger(job, 2);
        expect(second.id).not.toBe(first.id);
        expect(second.state).toBe('waiting');

        // Give a scheduler that ignores the one-at-a-time rule the time to break it.
        await sleep(PAUSE_MS);
        expect(await scheduler.getRun(second.id)).toMatchObject({ state: 'waiting', startedAt: null, attempts: 0 });
        expect(await state(scheduler, first.id)).toBe('running');
        expect(events).toEqual([`start ${first.id}`]);

        gates.for(first.id).open();
        await waitUntil('the second run started', () => events.includes(`start ${second.id}`));
        expect(events).toEqual([`start ${first.id}`, `end ${first.id}`, `start ${second.id}`]);
        const firstDone = await scheduler.getRun(first.id);
        expect(firstDone).toMatchObject({ state: 'completed', result: 1 });
        await waitUntil('the second run is running', async () => (await state(scheduler, second.id)) === 'running');
        expect((await scheduler.getRun(second.id))!.startedAt).toBeGreaterThanOrEqual(firstDone!.finishedAt!);

        gates.for(second.id).open();
        expect(await scheduler.waitForRun(second.id, WAIT_MS)).toMatchObject({ state: 'completed', data: 2, result: 2 });
        expect(events).toEqual([`start ${first.id}`, `end ${first.id}`, `start ${second.id}`, `end ${second.id}`]);
      });

      it('should return the waiting run to every trigger while it waits', async () => {
        const first = await scheduler.trigger(job, { n: 1 });
        await waitUntil('the first run started', () => events.includes(`start ${first.id}`));
        const second = await scheduler.trigger(job, { n: 2 });
        const third = await scheduler.trigger(job, { n: 3 });
        expect(third.id).toBe(second.id);
        expect(third).toMatchObject({ state: 'waiting', data: { n: 2 } });
        expect((await scheduler.listRuns({ name: job })).map((run) => run.id)).toEqual([second.id, first.id]);

        gates.for(first.id).open();
        gates.for(second.id).open();
        expect(await scheduler.waitForRun(second.id, WAIT_MS)).toMatchObject({ state: 'completed', data: { n: 2 } });
        expect((await scheduler.listRuns({ name: job })).map((run) => run.id)).toEqual([second.id, first.id]);
        expect(events.filter((event) => event.startsWith('start'))).toHaveLength(2);

        // Once nothing waits, a trigger makes a new run again.
        const fourth = await scheduler.trigger(job, { n: 4 });
        expect([first.id, second.id]).not.toContain(fourth.id);
        gates.for(fourth.id).open();
        expect(await scheduler.waitForRun(fourth.id, WAIT_MS)).toMatchObject({ state: 'completed', data: { n: 4 } });
      });

      it('should run different jobs at the same time', async () => {
        const one = await scheduler.trigger(job);
        const two = await scheduler.trigger(other);
        await waitUntil('both runs started', () => events.includes(`start ${one.id}`) && events.includes(`start ${two.id}`));
        expect(events.filter((event) => event.startsWith('end'))).toEqual([]);
        expect((await scheduler.status(job)).running?.id).toBe(one.id);
        expect((await scheduler.status(other)).running?.id).toBe(two.id);
        gates.for(two.id).open();
        gates.for(one.id).open();
        expect((await scheduler.waitForRun(one.id, WAIT_MS)).state).toBe('completed');
        expect((await scheduler.waitForRun(two.id, WAIT_MS)).state).toBe('completed');
      });

      it('should show the running, waiting and last finished runs in the status', async () => {
        expect(await scheduler.status(job)).toEqual({
          name: job,
          repeat: null,
          nextRunAt: null,
          running: null,
          waiting: null,
          lastFinished: null,
        });
        const first = await scheduler.trigger(job, 'a');
        await waitUntil('the first run started', () => events.includes(`start ${first.id}`));
        const second = await scheduler.trigger(job, 'b');
        const busy = await scheduler.status(job);
        expect(busy.running).toMatchObject({ id: first.id, state: 'running', data: 'a' });
        expect(busy.waiting).toMatchObject({ id: second.id, state: 'waiting', data: 'b' });
        expect(busy.lastFinished).toBeNull();

        gates.for(first.id).open();
        await waitUntil('the second run started', () => events.includes(`start ${second.id}`));
        await waitUntil('the status shows the second run running', async () => (await scheduler.status(job)).running?.id === second.id);
        const half = await scheduler.status(job);
        expect(half.waiting).toBeNull();
        expect(half.lastFinished).toMatchObject({ id: first.id, state: 'completed', result: 'a' });

        gates.for(second.id).open();
        await scheduler.waitForRun(second.id, WAIT_MS);
        await settle(job);
        const idle = await scheduler.status(job);
        expect(idle).toMatchObject({ running: null, waiting: null, repeat: null, nextRunAt: null });
        expect(idle.lastFinished).toMatchObject({ id: second.id, state: 'completed', result: 'b' });
      });
    });

    describe('when repeating', () => {
      let contexts: Array<Pick<JobContext, 'runId' | 'trigger'>>;

      beforeEach(async () => {
        contexts = [];
        await scheduler.register(job, async ({ runId, trigger }) => {
          contexts.push({ runId, trigger });
          return 'tick';
        });
      });

      it('should run the job every interval', async () => {
        await scheduler.setRepeat(job, { everyMs: 100 });
        await waitUntil('two scheduled runs completed', async () => {
          return (await scheduledRuns(job)).filter((run) => run.state === 'completed').length >= 2;
        });
        await scheduler.removeRepeat(job);
        const runs = await scheduler.listRuns({ name: job });
        expect(runs.every((run) => run.trigger === 'schedule')).toBe(true);
        expect(contexts.length).toBeGreaterThanOrEqual(2);
        expect(contexts.every((context) => context.trigger === 'schedule')).toBe(true);
        expect(runs.map((run) => run.id)).toEqual(expect.arrayContaining(contexts.map((context) => context.runId)));
      });

      it('should stop repeating once the repeat is removed', async () => {
        await scheduler.setRepeat(job, { everyMs: 50 });
        await waitUntil('a scheduled run', async () => (await scheduledRuns(job)).length >= 1);
        await scheduler.removeRepeat(job);
        await settle(job);
        const count = (await scheduler.listRuns({ name: job })).length;
        await sleep(PAUSE_MS);
        expect(await scheduler.listRuns({ name: job })).toHaveLength(count);
        expect(await scheduler.status(job)).toMatchObject({ repeat: null, nextRunAt: null, running: null, waiting: null });
      });

      it('should run a cron expression with seconds', async () => {
        await scheduler.setRepeat(job, { cron: '* * * * * *' });
        await waitUntil('a scheduled run completed', async () => {
          return (await scheduledRuns(job)).some((run) => run.state === 'completed');
        });
        await scheduler.removeRepeat(job);
        expect(contexts.length).toBeGreaterThanOrEqual(1);
        expect(contexts[0]!.trigger).toBe('schedule');
      });

      it('should replace the previous schedule', async () => {
        await scheduler.setRepeat(job, { everyMs: 50 });
        await waitUntil('a scheduled run', async () => (await scheduledRuns(job)).length >= 1);
        await scheduler.setRepeat(job, { everyMs: DAY_MS });
        await settle(job);
        const count = (await scheduler.listRuns({ name: job })).length;
        await sleep(PAUSE_MS);
        expect(await scheduler.listRuns({ name: job })).toHaveLength(count);
        const status = await scheduler.status(job);
        expect(status.repeat).toEqual({ everyMs: DAY_MS });
        expect(status.nextRunAt).toBeGreaterThan(Date.now());
      });

      it('should not run an interval longer than a timer can hold early', async () => {
        const thirtyDays = 30 * DAY_MS;
        await scheduler.setRepeat(job, { everyMs: thirtyDays });
        await sleep(PAUSE_MS);
        expect(await scheduler.listRuns({ name: job })).toEqual([]);
        expect(contexts).toEqual([]);
        const status = await scheduler.status(job);
        expect(status.repeat).toEqual({ everyMs: thirtyDays });
        expect(status.nextRunAt).toBeGreaterThan(Date.now());
      });

      it('should show the schedule and its next run in the status', async () => {
        const before = Date.now();
        await scheduler.setRepeat(job, { everyMs: DAY_MS });
        let status = await scheduler.status(job);
        expect(status.repeat).toEqual({ everyMs: DAY_MS });
        expect(status.nextRunAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect(status.nextRunAt).toBeLessThanOrEqual(Date.now() + DAY_MS + CLOCK_SLACK_MS);

        // Five fields: minutes first, so the next run is on a whole minute within the next one.
        await scheduler.setRepeat(job, { cron: '* * * * *', timezone: 'UTC' });
        status = await scheduler.status(job);
        expect(status.repeat).toEqual({ cron: '* * * * *', timezone: 'UTC' });
        expect(status.nextRunAt! % 60_000).toBe(0);
        expect(status.nextRunAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect(status.nextRunAt).toBeLessThanOrEqual(Date.now() + 60_000 + CLOCK_SLACK_MS);

        // Six fields: seconds first, so the next run is on a whole second within the next one.
        const beforeSeconds = Date.now();
        await scheduler.setRepeat(job, { cron: '* * * * * *' });
        status = await scheduler.status(job);
        expect(status.repeat).toEqual({ cron: '* * * * * *' });
        expect(status.nextRunAt! % 1000).toBe(0);
        expect(status.nextRunAt).toBeGreaterThanOrEqual(beforeSeconds - CLOCK_SLACK_MS);
        expect(status.nextRunAt).toBeLessThanOrEqual(Date.now() + 1000 + CLOCK_SLACK_MS);

        await scheduler.removeRepeat(job);
        status = await scheduler.status(job);
        expect(status.repeat).toBeNull();
        expect(status.nextRunAt).toBeNull();
      });
    });

    describe('when listing runs', () => {
      beforeEach(async () => {
        for (const name of [job, other]) await scheduler.register(name, async ({ data }) => data);
      });

      async function runToEnd(name: string, data: JsonValue): Promise<string> {
        const run = await scheduler.trigger(name, data);
        expect((await scheduler.waitForRun(run.id, WAIT_MS)).state).toBe('completed');
        return run.id;
      }

      it("should list one job's runs newest first, up to the limit", async () => {
        const ids = [];
        for (let i = 0; i < 4; i++) ids.push(await runToEnd(job, i));
        await runToEnd(other, 'elsewhere');
        const runs = await scheduler.listRuns({ name: job });
        expect(runs.map((run) => run.id)).toEqual([...ids].reverse());
        expect(runs.map((run) => run.data)).toEqual([3, 2, 1, 0]);
        expect(runs.every((run) => run.name === job && run.state === 'completed')).toBe(true);
        expect((await scheduler.listRuns({ name: job, limit: 2 })).map((run) => run.id)).toEqual([ids[3], ids[2]]);
      });

      it('should list the runs of every job newest first', async () => {
        const ids = [await runToEnd(job, 'a1'), await runToEnd(other, 'b1'), await runToEnd(job, 'a2')];
        const ours = new Set(ids);
        const all = (await scheduler.listRuns()).filter((run) => ours.has(run.id));
        expect(all.map((run) => run.id)).toEqual([...ids].reverse());
        expect(all.map((run) => run.name)).toEqual([job, other, job]);
        expect((await scheduler.listRuns({ limit: 1 })).map((run) => run.id)).toEqual([ids[2]]);
      });
    });

    describe('when given bad input', () => {
      it.each(['', 'has space', 'x'.repeat(200)])('should refuse the job name %j', async (name) => {
        const calls: Record<string, () => Promise<unknown>> = {
          register: () => scheduler.register(name, async () => 'never'),
          trigger: () => scheduler.trigger(name),
          setRepeat: () => scheduler.setRepeat(name, { everyMs: 1000 }),
          status: () => scheduler.status(name),
        };
        for (const [what, call] of Object.entries(calls)) {
          const error = await failure(call);
          expect(error, what).toBeInstanceOf(InvalidArgumentError);
          expect((error as Error).message, what).toContain(JSON.stringify(name));
        }
      });

      it('should refuse to trigger a job that is not registered', async () => {
        const error = await failure(() => scheduler.trigger(job));
        expect(error).toBeInstanceOf(UnknownJobError);
        expect((error as Error).message).toContain(job);
      });

      it.each(['not a cron', '61 * * * *'])('should refuse the cron expression %j and keep the previous schedule', async (cron) => {
        await scheduler.register(job, async () => 'ok');
        await scheduler.setRepeat(job, { everyMs: DAY_MS });
        const error = await failure(() => scheduler.setRepeat(job, { cron }));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toContain(cron);
        expect((await scheduler.status(job)).repeat).toEqual({ everyMs: DAY_MS });
      });

      it('should refuse an unknown timezone and keep the previous schedule', async () => {
        await scheduler.register(job, async () => 'ok');
        await scheduler.setRepeat(job, { everyMs: DAY_MS });
        const error = await failure(() => scheduler.setRepeat(job, { cron: '* * * * *', timezone: 'Not/A_Zone' }));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toContain('Not/A_Zone');
        expect((await scheduler.status(job)).repeat).toEqual({ everyMs: DAY_MS });
      });

      it.each([0, -5, 1.5])('should refuse an interval of %j ms', async (everyMs) => {
        await scheduler.register(job, async () => 'ok');
        const error = await failure(() => scheduler.setRepeat(job, { everyMs }));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toContain('everyMs');
        expect((error as Error).message).toContain(String(everyMs));
        expect(await scheduler.status(job)).toMatchObject({ repeat: null, nextRunAt: null });
      });

      it.each([
        ['attempts', { attempts: 0 }],
        ['attempts', { attempts: 1.5 }],
        ['backoffMs', { backoffMs: -1 }],
      ] as const)('should refuse the option %s in %j', async (option, options) => {
        const error = await failure(() => scheduler.register(job, async () => 'ok', options));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toContain(option);
        expect((error as Error).message).toContain(String(Object.values(options)[0]));
        await expect(scheduler.trigger(job)).rejects.toThrow(UnknownJobError);
      });

      it('should say when a run id is unknown', async () => {
        const id = `${job}-no-such-run`;
        const error = await failure(() => scheduler.waitForRun(id, 1000));
        expect(error).toBeInstanceOf(UnknownJobError);
        expect((error as Error).message).toContain(id);
      });

      it('should time out waiting for a run that does not finish', async () => {
        const gate = new Gate();
        await scheduler.register(job, async ({ signal }) => {
          await gate.pass(signal);
          return 'late';
        });
        const run = await scheduler.trigger(job);
        const error = await failure(() => scheduler.waitForRun(run.id, 100));
        expect(error).toBeInstanceOf(TimeoutError);
        expect((error as Error).message).toContain(run.id);
        expect(['waiting', 'running']).toContain(await state(scheduler, run.id));
        gate.open();
        expect(await scheduler.waitForRun(run.id, WAIT_MS)).toMatchObject({ state: 'completed', result: 'late' });
      });
    });

    describe('when closing', () => {
      /** Registers a handler that waits for the abort, then takes a while to stop. */
      async function registerSlowToStop(): Promise<{ started: () => boolean; sawAbort: () => boolean; returned: () => boolean }> {
        let started = false;
        let sawAbort = false;
        let returned = false;
        await scheduler.register(job, async ({ signal }) => {
          started = true;
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          sawAbort = signal.aborted;
          await sleep(100);
          returned = true;
          return 'stopped';
        });
        return { started: () => started, sawAbort: () => sawAbort, returned: () => returned };
      }

      it('should abort running handlers and resolve once they return', async () => {
        const handler = await registerSlowToStop();
        await scheduler.trigger(job);
        await waitUntil('the handler started', handler.started);
        await sleep(50);
        expect(handler.sawAbort()).toBe(false);
        await scheduler.close();
        expect(handler.sawAbort()).toBe(true);
        expect(handler.returned()).toBe(true);
      });

      it('should make every close call wait for the running handlers', async () => {
        const handler = await registerSlowToStop();
        await scheduler.trigger(job);
        await waitUntil('the handler started', handler.started);
        const closes = [scheduler.close(), scheduler.close()].map((closing) => closing.then(() => handler.returned()));
        expect(await Promise.all(closes)).toEqual([true, true]);
      });

      it('should not start another attempt once closed', async () => {
        let calls = 0;
        await scheduler.register(
          job,
          async () => {
            calls++;
            throw new Error(`attempt ${calls} failed`);
          },
          { attempts: 3, backoffMs: 60_000 },
        );
        await scheduler.trigger(job);
        await waitUntil('the first attempt ran', () => calls === 1);
        await sleep(100);
        await scheduler.close();
        await sleep(PAUSE_MS);
        expect(calls).toBe(1);
      });

      it('should refuse every call once closed', async () => {
        await scheduler.register(job, async () => 'ok');
        const run = await scheduler.trigger(job);
        await scheduler.waitForRun(run.id, WAIT_MS);
        await scheduler.close();
        const calls: Record<string, () => Promise<unknown>> = {
          register: () => scheduler.register(other, async () => 'never'),
          setRepeat: () => scheduler.setRepeat(job, { everyMs: 1000 }),
          removeRepeat: () => scheduler.removeRepeat(job),
          trigger: () => scheduler.trigger(job),
          getRun: () => scheduler.getRun(run.id),
          listRuns: () => scheduler.listRuns(),
          listRunsOfJob: () => scheduler.listRuns({ name: job }),
          status: () => scheduler.status(job),
          waitForRun: () => scheduler.waitForRun(run.id, 1000),
        };
        for (const [what, call] of Object.entries(calls)) {
          expect(await failure(call), what).toBeInstanceOf(ClosedError);
        }
      });
    });
  });
}
