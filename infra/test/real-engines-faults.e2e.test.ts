/**
 * Faults of the real engines under the platform running as separate processes (see
 * real-engines-processes.e2e.test.ts): the Cassandra node stopped mid-run, and the Kafka broker restarted
 * mid-stream, each brought back on the same port with the same data (`stopEngine` / `startEngine`). While
 * an engine is away every answer is a 503 naming the store or an exact one; once it is back, everything
 * catches up and every answer equals DuckDB's truth again.
 *
 * The engines are shared: this file takes them exclusively (engine-lease.ts), so the tests of this
 * repository that use them wait, and restarts them in a `finally` and again in afterAll, whatever fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MergedAnswer } from '@lambda/serving-layer';
import { ENGINE_NAMES, engineSettings, isEngineRunning, startEngine, stopEngine } from '../src/engines/engines.js';
import type { EngineName } from '../src/engines/engine-paths.js';
import { describeWhenAvailable, takeEnginesExclusively } from '@lambda/test-kit';
import { SplitPlatform, splitPlatformSkipReason, startStream, until, type HttpAnswer } from './helpers/split-platform.js';

/** Why the faults cannot be injected here: they stop and start only the engines `engines:up` started. */
async function faultsSkipReason(): Promise<string | undefined> {
  const reason = await splitPlatformSkipReason();
  if (reason) return reason;
  for (const name of ENGINE_NAMES) {
    const settings = await engineSettings(name);
    if (!settings) return `${name} was not started by engines:up, so it cannot be stopped and started again`;
    for (const variable of ['KAFKA_BROKERS', 'CASSANDRA_CONTACT_POINTS']) {
      const address = settings[variable];
      const named = (process.env[variable] ?? '').split(',').map((item) => item.trim());
      if (address !== undefined && !named.includes(address)) return `${variable} does not name the ${name} engines:up started, at ${address}`;
    }
  }
  return undefined;
}

const skipReason = await faultsSkipReason();

const report = (line: string) => console.log(`[engines] ${line}`);

/** Whatever a read answered, or how it failed to. */
type Read = { view: string; keys: string[]; ms: number } & ({ answer: HttpAnswer<MergedAnswer | { error: { code: string; message: string } }> } | { failure: string });

/**
 * Reads every view over HTTP back to back until stopped, keeping every outcome and how long it took:
 * what a client of the serving layer saw while an engine was away.
 */
function startReading(platform: SplitPlatform, keys: Map<string, string[]>) {
  const reads: Read[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      for (const [view, viewKeys] of keys) {
        const query = new URLSearchParams([...viewKeys.map((key): [string, string] => ['key', key]), ['limit', '10000']]);
        const started = Date.now();
        try {
          const answer = await platform.http<MergedAnswer>('GET', `/views/${view}?${query}`, undefined, undefined, 30_000);
          reads.push({ view, keys: viewKeys, ms: Date.now() - started, answer });
        } catch (error) {
          reads.push({ view, keys: viewKeys, ms: Date.now() - started, failure: (error as Error).message });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    reads,
    async stop() {
      running = false;
      await done;
      return reads;
    },
  };
}

/** Every read answered in time, and each answer is exact (checked against the truth now) or a 503 saying which store is down. */
async function expectExactOrUnavailable(platform: SplitPlatform, reads: readonly Read[], store: RegExp): Promise<{ exact: number; unavailable: number }> {
  const truth = await platform.truth();
  let exact = 0;
  let unavailable = 0;
  for (const read of reads) {
    expect('failure' in read ? read.failure : undefined, `${read.view}: an answer, not a hang`).toBeUndefined();
    if ('failure' in read) continue;
    expect(read.ms, `${read.view} answered in time`).toBeLessThan(20_000);
    const { status, body } = read.answer;
    if (status === 200) {
      expect(await truth.problems(read.view, body as MergedAnswer, read.keys), `${read.view}: a 200 is exact`).toEqual([]);
      exact++;
    } else {
      expect({ status, message: (body as { error: { message: string } }).error.message }).toEqual({ status: 503, message: expect.stringMatching(store) });
      unavailable++;
    }
  }
  return { exact, unavailable };
}

describeWhenAvailable('when an engine fails under the layers running as processes', skipReason, () => {
  let platform: SplitPlatform | undefined;
  let release: (() => Promise<void>) | undefined;

  /** Restarts whatever engine a failed test left stopped. */
  async function restoreEngines(): Promise<void> {
    for (const name of ENGINE_NAMES) if (!(await isEngineRunning(name))) await startEngine(name, report);
  }

  /** Stops `engine`, runs `whileDown`, and starts it again whatever happened. */
  async function outage(engine: EngineName, whileDown: () => Promise<void>): Promise<void> {
    try {
      expect(['stopped', 'killed']).toContain(await stopEngine(engine, report));
      await whileDown();
    } finally {
      await startEngine(engine, report);
    }
  }

  beforeAll(async () => {
    // Other tests here that use the engines finish first (and later ones wait): the wait is theirs.
    release = await takeEnginesExclusively(300_000);
    await restoreEngines();
    platform = await SplitPlatform.start();
  }, 400_000);

  afterAll(async () => {
    try {
      await platform?.close();
    } finally {
      try {
        await restoreEngines();
      } finally {
        await release?.();
      }
    }
  }, 240_000);

  describe('when the Cassandra node stops mid-run', () => {
    it('should answer a 503 naming Cassandra, never a wrong number, and be exact again once the node is back', async () => {
      const p = platform!;
      await p.ingest(p.events(300));
      await p.produce(p.events(300));
      await p.caughtUp();
      const [first] = await p.recomputeAll();
      expect(first!.state).toBe('completed');
      await p.expectExact('before the outage');

      const truth = await p.truth();
      const keys = new Map(await Promise.all([...p.catalog.views.keys()].map(async (view) => [view, await truth.keys(view)] as const)));
      const stream = startStream(p);
      const reading = startReading(p, keys);
      let health: HttpAnswer<{ status: string }> | undefined;
      try {
        try {
          await outage('cassandra', async () => {
            // Ingest goes on (the log is up) while no view can be read.
            const [sentWhenStopped, readWhenStopped] = [stream.counts.sent, reading.reads.length];
            await until(async () => stream.counts.sent >= sentWhenStopped + 100 && reading.reads.length >= readWhenStopped + 6, 'the stream and the reads go on');
            health = await p.http('GET', '/health');
          });
          const sentAtRestart = stream.counts.sent;
          await until(async () => stream.counts.sent >= sentAtRestart + 100, 'the stream goes on once the node is back');
        } finally {
          await stream.stop();
        }
        // Reads go on until the views have caught up: the answers come back.
        await p.caughtUp(120_000);
      } finally {
        await reading.stop();
      }
      expect(health?.status).toBe(503);
      expect(JSON.stringify(health?.body)).toMatch(/viewStore/);

      const { exact, unavailable } = await expectExactOrUnavailable(p, reading.reads, /cassandra/i);
      expect(unavailable, 'the outage was seen').toBeGreaterThan(0);
      expect(exact, 'answers came back').toBeGreaterThan(0);
      expect(stream.counts.failed, 'ingest needs no view store').toBe(0);

      const ends = await p.caughtUp();
      for (const [view, answer] of await p.expectExact('after Cassandra came back')) expect(answer.provenance.position, view).toEqual(ends);
      const second = await p.recomputeAll();
      expect(second.map((run) => [run.state, run.version]), JSON.stringify(second)).toEqual(second.map(() => ['completed', 2]));
      await p.expectExact('after a recompute since');
    }, 240_000);
  });

  describe('when the Kafka broker restarts mid-stream', () => {
    it('should resume from the committed offsets and count every record once', async () => {
      const p = platform!;
      const before = await p.caughtUp();
      const truth = await p.truth();
      const keys = new Map(await Promise.all([...p.catalog.views.keys()].map(async (view) => [view, await truth.keys(view)] as const)));
      const stream = startStream(p);
      const speedPid = p.layers.speed.pid;
      let reading: ReturnType<typeof startReading> | undefined;
      try {
        await until(async () => (await p.positions()).get('pageviews_by_url')!.some((offset, partition) => offset > before[partition]!), 'the speed layer folds the stream');
        // Answers come from the view store: the broker's restart must not change one.
        reading = startReading(p, keys);
        await outage('kafka', async () => {
          expect(p.layers.speed.running).toBe(true);
        });
        const sentAtRestart = stream.counts.sent;
        await until(async () => stream.counts.sent >= sentAtRestart + 200, 'the stream goes on after the restart', 120_000);
      } finally {
        await Promise.all([stream.stop(), reading?.stop()]);
      }
      // No store was away for these reads: any 503 fails (its message names none).
      const { exact, unavailable } = await expectExactOrUnavailable(p, reading!.reads, /^$/);
      expect(unavailable).toBe(0);
      expect(exact).toBeGreaterThan(0);

      const ends = await p.caughtUp(180_000);
      for (const [view, answer] of await p.expectExact('after the broker restarted')) expect(answer.provenance.position, view).toEqual(ends);
      // The same processes rode the restart out.
      expect(p.layers.speed.pid).toBe(speedPid);
      expect(Object.values(p.layers).map((layer) => layer.running)).toEqual([true, true, true, true]);
      const deadLetters = await p.deadLetters();
      expect(new Set(deadLetters).size, 'nothing dead-lettered twice').toBe(deadLetters.length);
      await until(async () => {
        const { topics } = await p.api<{ topics: { topic: string; partitions: { committed: number | null }[] }[] }>('GET', '/status');
        return topics.find((topic) => topic.topic === p.topic)!.partitions.every(({ committed }, partition) => committed === ends[partition]);
      }, 'the committed offsets reach the end');
    }, 240_000);
  });
});
