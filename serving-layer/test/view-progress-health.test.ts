/**
 * Health tells the truth: a view that cannot advance on one partition while the log grows turns /health
 * degraded once `stallAfterMs` passes, shows in /status and /metrics, and its freshness grows with the
 * clock, although the other partitions advancing keep its newest record recent. Real embedded ports and a
 * real socket; slices are written as the speed layer writes them, and the clock is injected, so nothing
 * sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compileGeneration,
  publishViewGeneration,
  type Metrics,
  type Ports,
  type SpeedLayerHealth,
  type TopicPipelineHealth,
  type ViewStore,
  seededRandom,
} from '@lambda/core';
import { apiSchemas, type RunningServer } from '../src/index.js';
import { client, conforms, parseMetrics, samplesOf, serve } from './api-helpers.js';
import { BASE, MINUTE, VIEW, generateRecords, newestOf, openTestPorts, putSlice, testCatalog, type PageView } from './helpers.js';

const catalog = testCatalog();
const TOPIC = 'pageviews';
const VIEWS = [...catalog.views.keys()];
const OTHER_VIEWS = VIEWS.filter((view) => view !== VIEW);
const STALL_AFTER_MS = 30_000;
/** Past the monitor's 1 s cache: the next request samples the stores again. */
const NEXT_SAMPLE = 1500;

describe('view progress', () => {
  let ports: Ports;
  let metrics: Metrics;
  let closePorts: () => Promise<void>;
  let server: RunningServer;
  let api: ReturnType<typeof client>;
  let now: number;
  /** What the speed layer would report, when a test gives one. */
  let speedLayer: SpeedLayerHealth | Error;
  /** The records the slices count; the log itself holds placeholders at the same offsets. */
  const records: PageView[] = generateRecords(seededRandom(19), [100, 100]);
  let appended: number[];

  beforeEach(async () => {
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    await ports.eventLog.createTopic(TOPIC, { partitions: 2 });
    appended = [0, 0];
    now = BASE + 60 * MINUTE;
    speedLayer = { topics: [] };
    const speedLayerHealth = () => {
      if (speedLayer instanceof Error) throw speedLayer;
      return speedLayer;
    };
    server = await serve({ ports, catalog, metrics, stallAfterMs: STALL_AFTER_MS, now: () => now, speedLayerHealth });
    api = client(server.url);
  });

  afterEach(async () => {
    await server.close();
    await closePorts();
  });

  const advance = (ms: number) => {
    now += ms;
  };

  const grow = async (partition: number, count: number) => {
    await ports.eventLog.append(TOPIC, Array.from({ length: count }, () => ({ key: null, value: '{}', partition })));
    appended[partition]! += count;
  };

  /** The view's open slice of `partition` now reaches `end`, as a micro-batch that landed would leave it. */
  const reach = async (view: string, partition: number, end: number, storage = view) => {
    if (view === VIEW) {
      await putSlice(ports.viewStore, records, { partition, start: 0, end, closed: false }, storage);
    } else {
      const counted = records.filter((record) => record.partition === partition && record.offset < end);
      await ports.viewStore.putSlice({ view: storage, partition, start: 0, end, closed: false, newestRecordAt: newestOf(counted) }, []);
    }
  };

  /** Every view reaches the log's end on every partition, but for `stuck`. */
  const keepUp = async (stuck?: { view: string; partition: number }) => {
    for (const view of VIEWS) {
      for (const partition of [0, 1]) if (view !== stuck?.view || partition !== stuck.partition) await reach(view, partition, appended[partition]!);
    }
  };

  const health = async () => {
    const answer = await api.get('/health');
    return { code: answer.status, body: conforms(apiSchemas.health, answer.body) };
  };

  const status = async () => {
    const answer = await api.get('/status');
    expect(answer.status).toBe(200);
    return conforms(apiSchemas.platformStatus, answer.body);
  };

  const newestCounted = (partition: number, end: number) => newestOf(records.filter((record) => record.partition === partition && record.offset < end))!;

  /**
   * Partition 1 of VIEW stops at offset 20 while the log and every other view move on; answers when it
   * was first seen stuck. The stall is due STALL_AFTER_MS after that.
   */
  const stallPartitionOne = async (): Promise<number> => {
    await grow(0, 20);
    await grow(1, 20);
    await keepUp();
    expect((await health()).body.status).toBe('up');

    advance(NEXT_SAMPLE);
    await grow(0, 10);
    await grow(1, 10);
    await keepUp({ view: VIEW, partition: 1 });
    const first = await health();
    expect(first.body.status).toBe('up');
    expect(first.body.views[VIEW]).toEqual({ status: 'ok', reason: null, lag: 10, stalledPartitions: [] });
    const stuckSince = now;

    advance(STALL_AFTER_MS - 1000);
    await grow(0, 5);
    await keepUp({ view: VIEW, partition: 1 });
    expect((await health()).body.status, 'one second before the stall is due').toBe('up');
    advance(1000);
    return stuckSince;
  };

  describe("when a view's slices stop on one partition while the log grows", () => {
    it('should turn /health degraded once stallAfterMs passes, naming the view, partition, offsets and how long', async () => {
      await stallPartitionOne();
      const { code, body } = await health();
      const reason = 'view pageviews_by_url has not advanced past offset 20 of partition 1 for 30 s while the log holds 10 more records';
      expect(code).toBe(200); // reads still work: a load balancer keeps sending them
      expect(body.status).toBe('degraded');
      expect(body.reasons).toEqual([reason]);
      expect(body.views[VIEW]).toEqual({
        status: 'degraded',
        reason,
        lag: 10,
        stalledPartitions: [{ partition: 1, position: 20, endOffset: 30, stalledForMs: STALL_AFTER_MS }],
      });
      for (const view of OTHER_VIEWS) expect(body.views[view]).toEqual({ status: 'ok', reason: null, lag: 0, stalledPartitions: [] });
      expect(Object.values(body.dependencies).every((dependency) => dependency.status === 'up')).toBe(true);
    });

    it('should show the positions and the stall in /status, beside the log', async () => {
      const stuckSince = await stallPartitionOne();
      const answer = await status();
      expect(answer.topics).toEqual([{ topic: TOPIC, partitions: [0, 1].map((partition) => ({ partition, endOffset: appended[partition], committed: null, lag: appended[partition] })) }]);
      expect(answer.views.map((view) => view.view)).toEqual(VIEWS);
      expect(answer.views[0]).toEqual({
        view: VIEW,
        topic: TOPIC,
        status: 'degraded',
        reason: expect.stringContaining('partition 1 for 30 s'),
        lag: 10,
        partitions: [
          { partition: 0, position: 35, endOffset: 35, lag: 0, stalled: false, stuckForMs: 0, newestRecordAt: newestCounted(0, 35) },
          { partition: 1, position: 20, endOffset: 30, lag: 10, stalled: true, stuckForMs: now - stuckSince, newestRecordAt: newestCounted(1, 20) },
        ],
      });
      expect(answer.speedLayer).toEqual({ topics: [], error: null });
    });

    it('should count the stalled partitions in lambda_view_stalled_partitions', async () => {
      await stallPartitionOne();
      expect((await health()).body.status).toBe('degraded');
      const samples = parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
      expect(samplesOf(samples, 'lambda_view_stalled_partitions').map(({ labels, value }) => [labels.view, value])).toEqual([
        [VIEW, 1],
        ...OTHER_VIEWS.map((view) => [view, 0]),
      ]);
      expect(samplesOf(samples, 'lambda_view_freshness_seconds', { view: VIEW })[0]!.value).toBe((now - newestCounted(1, 20)) / 1000);
    });

    it('should turn up again once the position moves, even while it still lags', async () => {
      await stallPartitionOne();
      expect((await health()).body.status).toBe('degraded');
      await reach(VIEW, 1, 25);
      advance(NEXT_SAMPLE);
      const { code, body } = await health();
      expect([code, body.status, body.reasons]).toEqual([200, 'up', []]);
      expect(body.views[VIEW]).toEqual({ status: 'ok', reason: null, lag: 5, stalledPartitions: [] });

      // Stuck again at the new position: stalled again once stallAfterMs passes from there.
      advance(STALL_AFTER_MS);
      expect((await health()).body.views[VIEW]!.stalledPartitions).toEqual([{ partition: 1, position: 25, endOffset: 30, stalledForMs: STALL_AFTER_MS }]);
    });

    it('should give freshness from the worst stalled partition, growing with the clock', async () => {
      const read = async () => {
        const answer = await api.get(`/views/${VIEW}`, [['key', '/a']]);
        expect(answer.status).toBe(200);
        return conforms(apiSchemas.mergedAnswer, answer.body).provenance;
      };
      const listed = async () => {
        const answer = conforms(apiSchemas.viewList, (await api.get('/views')).body);
        return answer.views.find((view) => view.name === VIEW)!.status.freshnessMs;
      };
      await stallPartitionOne();
      expect((await health()).body.status).toBe('degraded');
      const stalledFrom = newestCounted(1, 20);
      const provenance = await read();
      expect(provenance.position).toEqual([35, 20]);
      expect(provenance.newestRecordAt).toBe(newestCounted(0, 35)); // partition 0 keeps bringing new records...
      expect(provenance.freshnessMs).toBe(now - stalledFrom); // ...but the answer is as stale as partition 1
      expect(await listed()).toBe(now - stalledFrom);

      advance(7000);
      expect((await read()).freshnessMs).toBe(now - stalledFrom); // a cached answer too
      expect(await listed()).toBe(now - stalledFrom);

      // Moving again: the age of the newest record it counts, as always, once the monitor sees it.
      await keepUp();
      advance(NEXT_SAMPLE);
      expect((await health()).body.status).toBe('up');
      expect((await read()).freshnessMs).toBe(now - newestCounted(0, 35));
    });
  });

  describe('when a view is caught up and idle', () => {
    it('should never be degraded, however long nothing arrives, nor the moment a record does', async () => {
      await grow(0, 20);
      await grow(1, 20);
      await keepUp();
      expect((await health()).body.status).toBe('up');
      advance(60 * MINUTE);
      expect((await health()).body.status).toBe('up');

      // Its position has not moved for an hour, but it had nothing to count until now.
      await grow(1, 1);
      advance(NEXT_SAMPLE);
      const { body } = await health();
      expect(body.status).toBe('up');
      expect(body.views[VIEW]).toEqual({ status: 'ok', reason: null, lag: 1, stalledPartitions: [] });

      await keepUp();
      advance(STALL_AFTER_MS);
      expect((await health()).body).toMatchObject({ status: 'up', reasons: [], views: { [VIEW]: { status: 'ok', lag: 0 } } });
    });
  });

  describe('when a view was reprocessed', () => {
    it("should follow its serving generation's slices", async () => {
      await grow(0, 10);
      await grow(1, 10);
      await keepUp({ view: VIEW, partition: 0 });
      // Generation 2 serves now, under its own storage name; generation 1 stays behind on partition 0.
      const generation = compileGeneration(catalog, catalog.views.get(VIEW)!.definition, 2);
      await publishViewGeneration(ports.viewStore, generation);
      for (const partition of [0, 1]) await reach(VIEW, partition, 10, generation.storage);
      const view = (await status()).views.find((candidate) => candidate.view === VIEW)!;
      expect(view.partitions.map((partition) => [partition.position, partition.lag])).toEqual([
        [10, 0],
        [10, 0],
      ]);
    });
  });

  describe('when the speed layer runs in the same process', () => {
    const pipeline = (state: TopicPipelineHealth['state'], consecutiveFailures: number): TopicPipelineHealth => ({
      topic: TOPIC,
      state,
      consecutiveFailures,
      lastError: consecutiveFailures === 0 ? null : 'Row 3: key "mallory" is refused by this store',
      lastErrorAt: consecutiveFailures === 0 ? null : now - 500,
      lastSuccessAt: now - 9000,
      quarantined: 0,
    });

    it('should stay up through two failures, and turn degraded when a topic is isolating after three', async () => {
      speedLayer = { topics: [pipeline('retrying', 2)] };
      let { body } = await health();
      expect(body.status).toBe('up');
      expect(body.speedLayer).toEqual({ topics: [{ ...pipeline('retrying', 2), status: 'ok', reason: null }], error: null });

      speedLayer = { topics: [pipeline('isolating', 3)] };
      ({ body } = await health());
      const reason =
        'speed layer topic pageviews has failed 3 micro-batches in a row and is narrowing them down to the record that fails them; ' +
        'last error: Row 3: key "mallory" is refused by this store';
      expect([body.status, body.reasons]).toEqual(['degraded', [reason]]);
      expect(body.speedLayer!.topics).toEqual([{ ...pipeline('isolating', 3), status: 'degraded', reason }]);
      expect((await status()).speedLayer!.topics[0]!.status).toBe('degraded');

      speedLayer = { topics: [pipeline('retrying', 4)] };
      expect((await health()).body.reasons).toEqual([expect.stringMatching(/^speed layer topic pageviews has failed 4 micro-batches in a row and is retrying; last error: Row 3/)]);

      speedLayer = { topics: [pipeline('ok', 0)] };
      expect((await health()).body.status).toBe('up');
    });

    it('should say so when it cannot report, without failing the request', async () => {
      speedLayer = new Error('not started');
      const { code, body } = await health();
      expect([code, body.status]).toEqual([200, 'up']);
      expect(body.speedLayer).toEqual({ topics: [], error: 'the speed layer could not report its health: not started' });
    });

    it('should give no report in a split deployment, judging progress from the stores alone', async () => {
      const split = await serve({ ports, catalog, metrics });
      try {
        const body = conforms(apiSchemas.health, (await client(split.url).get('/health')).body);
        expect(body.speedLayer).toBeNull();
        expect(Object.keys(body.views)).toEqual(VIEWS);
      } finally {
        await split.close();
      }
    });
  });

  describe('when a dependency is down', () => {
    it('should answer 503 down, even with a view stalled, and call the views it cannot read unknown', async () => {
      await stallPartitionOne();
      await ports.eventLog.close();
      advance(NEXT_SAMPLE);
      const { code, body } = await health();
      expect([code, body.status]).toEqual([503, 'down']);
      expect(body.reasons).toEqual([expect.stringMatching(/^dependency eventLog is down: .*closed/)]);
      expect(body.views[VIEW]).toEqual({
        status: 'unknown',
        reason: expect.stringMatching(/^progress of view pageviews_by_url is unknown: the end offsets of topic pageviews could not be read: .*closed/),
        lag: null,
        stalledPartitions: [],
      });
    });
  });

  describe("when the view store fails for one view's slices", () => {
    it('should call that view unknown, saying why, and judge the others', async () => {
      await grow(0, 3);
      await keepUp();
      const failing = new Proxy(ports.viewStore, {
        get(target, property) {
          if (property === 'listSlices') {
            return (view: string) => (view === VIEW ? Promise.reject(new Error('read timeout on 10.0.0.7')) : target.listSlices(view));
          }
          const value = Reflect.get(target, property, target) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      }) as ViewStore;
      const flaky = await serve({ ports: { ...ports, viewStore: failing }, catalog, metrics });
      try {
        const answer = await client(flaky.url).get('/health');
        const body = conforms(apiSchemas.health, answer.body);
        expect([answer.status, body.status]).toEqual([200, 'up']);
        expect(body.views[VIEW]).toEqual({
          status: 'unknown',
          reason: 'progress of view pageviews_by_url is unknown: its slices and batch version could not be read: read timeout on 10.0.0.7',
          lag: null,
          stalledPartitions: [],
        });
        for (const view of OTHER_VIEWS) expect(body.views[view]!.status).toBe('ok');
      } finally {
        await flaky.close();
      }
    });
  });
});
