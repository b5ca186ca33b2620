import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Metrics, type Ports, seededRandom } from '@lambda/core';
import { apiSchemas, type IngestReport, type RunningServer } from '../src/index.js';
import { client, conforms, parseMetrics, samplesOf, serve } from './api-helpers.js';
import { BASE, VIEW, generateRecords, newestOf, openTestPorts, publishBatch, putSlice, testCatalog } from './helpers.js';

const catalog = testCatalog();
const TOPIC = 'pageviews';
const PARTITIONS = 3;
const SPEED_LAYER = 'speed-layer';

describe('GET /status and GET /metrics', () => {
  let ports: Ports;
  let metrics: Metrics;
  let closePorts: () => Promise<void>;
  let server: RunningServer;
  let api: ReturnType<typeof client>;
  /** What the test appended, per partition: the end offsets the log must report. */
  const appended = Array.from({ length: PARTITIONS }, () => 0);
  /** What the test committed for the speed layer. */
  const committed = new Map<number, number>();

  const append = async (partition: number, count: number) => {
    await ports.eventLog.append(
      TOPIC,
      Array.from({ length: count }, (_, i) => ({ key: null, value: JSON.stringify({ user: 'u', url: '/a', ts: BASE + i }), partition })),
    );
    appended[partition]! += count;
  };

  const commit = async (offsets: [number, number][], group = SPEED_LAYER) => {
    await ports.eventLog.commitOffsets(group, TOPIC, new Map(offsets));
    if (group === SPEED_LAYER) for (const [partition, offset] of offsets) committed.set(partition, offset);
  };

  const status = async () => {
    const { status: code, body } = await api.get('/status');
    expect(code).toBe(200);
    return conforms(apiSchemas.platformStatus, body);
  };

  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    return parseMetrics(await response.text());
  };

  const expectedPartitions = () =>
    appended.map((endOffset, partition) => ({
      partition,
      endOffset,
      committed: committed.get(partition) ?? null,
      lag: endOffset - (committed.get(partition) ?? 0),
    }));

  beforeAll(async () => {
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    await ports.eventLog.createTopic(TOPIC, { partitions: PARTITIONS });
    // The other source, clicks, has no topic yet.
    server = await serve({ ports, catalog, metrics });
    api = client(server.url);
  });

  afterAll(async () => {
    await server.close();
    await closePorts();
  });

  describe('/status', () => {
    it('should report each partition of each created source topic, uncommitted ones with no committed offset', async () => {
      expect((await status()).topics).toEqual([{ topic: TOPIC, partitions: [0, 1, 2].map((partition) => ({ partition, endOffset: 0, committed: null, lag: 0 })) }]);

      await append(0, 5);
      await append(2, 3);
      await commit([[0, 3], [2, 3]]);
      await commit([[0, 5], [1, 9]], 'another-group'); // not the speed layer's: ignored
      expect((await status()).topics).toEqual([{ topic: TOPIC, partitions: expectedPartitions() }]);
      expect(expectedPartitions().map((p) => p.lag)).toEqual([2, 0, 0]);
    });

    it('should follow appends through the ingest API and the speed layer committing', async () => {
      const events = [
        ...['alice', 'bob', 'carol'].map((user, i) => ({ user, url: '/a', latency: i, ts: BASE + i })),
        { user: 'dave', url: '/b', ts: 'late' },
        { user: 'erin', url: 7, ts: BASE },
      ];
      const { status: code, body } = await api.post(`/ingest/${TOPIC}`, events);
      expect(code).toBe(200);
      const report = conforms(apiSchemas.ingestReport, body) as IngestReport;
      expect([report.accepted, report.deadLettered]).toEqual([3, 2]);
      for (const record of report.records) appended[record.partition]! += 1;

      let answer = await status();
      expect(answer.topics[0]!.partitions).toEqual(expectedPartitions());
      expect(answer.topics[0]!.partitions.map((p) => p.endOffset)).toEqual(await ports.eventLog.endOffsets(TOPIC));

      await commit(appended.map((end, partition): [number, number] => [partition, end]));
      answer = await status();
      expect(answer.topics[0]!.partitions).toEqual(expectedPartitions());
      expect(answer.topics[0]!.partitions.every((p) => p.lag === 0)).toBe(true);
    });
  });

  describe('/metrics', () => {
    it('should gauge each partition of each source topic: end offset and speed-layer lag', async () => {
      await append(1, 4);
      await commit([[0, 1]]);
      const samples = await scrape();
      const ends = await ports.eventLog.endOffsets(TOPIC);
      expect(ends).toEqual(appended);
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const labels = { topic: TOPIC, partition: String(partition) };
        expect(samplesOf(samples, 'lambda_log_end_offset', labels).map((s) => s.value)).toEqual([ends[partition]]);
        expect(samplesOf(samples, 'lambda_speed_lag_records', labels).map((s) => s.value)).toEqual([ends[partition]! - committed.get(partition)!]);
      }
      expect(samplesOf(samples, 'lambda_speed_lag_records', { partition: '0' })[0]!.value).toBeGreaterThan(0);
      // Only the topics the log has.
      expect(samplesOf(samples, 'lambda_log_end_offset').map((s) => s.labels.topic)).toEqual([TOPIC, TOPIC, TOPIC]);
    });

    it('should count ingested records by what the speed layer will do with them', async () => {
      const before = await scrape();
      const count = (samples: ReturnType<typeof parseMetrics>, status: string) =>
        samplesOf(samples, 'lambda_ingest_records_total', { topic: TOPIC, status })[0]?.value ?? 0;
      const lines = ['{"user":"zoe","url":"/c","ts":1}', 'not JSON', '{"user":"zoe","url":"/c","ts":2}', '{"user":"zoe","url":"/c","ts":3}'];
      const { status: code } = await api.post(`/ingest/${TOPIC}`, lines.join('\n'), { 'content-type': 'application/x-ndjson' });
      expect(code).toBe(200);
      const after = await scrape();
      expect([count(after, 'accepted') - count(before, 'accepted'), count(after, 'dead-letter') - count(before, 'dead-letter')]).toEqual([3, 1]);
      for (const partition of [0, 1, 2]) appended[partition] = (await ports.eventLog.endOffsets(TOPIC))[partition]!;
    });

    it('should gauge the freshness of each view with data: the age of the newest record it counts', async () => {
      const records = generateRecords(seededRandom(5), [20, 10]);
      await publishBatch(ports.viewStore, records, 1, [10, 5]);
      await putSlice(ports.viewStore, records, { partition: 0, start: 10, end: 20, closed: false });
      const newest = newestOf(records.filter((r) => r.partition === 1 ? r.offset < 5 : r.offset < 20))!;
      const before = Date.now();
      const samples = await scrape();
      const after = Date.now();
      const freshness = samplesOf(samples, 'lambda_view_freshness_seconds');
      expect(freshness.map((s) => s.labels)).toEqual([{ view: VIEW }]); // the other views hold nothing
      expect(freshness[0]!.value).toBeGreaterThanOrEqual((before - newest) / 1000);
      expect(freshness[0]!.value).toBeLessThanOrEqual((after - newest) / 1000);
    });

    it('should time each request under its route pattern, never its concrete path', async () => {
      const requests: [string, string, number][] = [
        ['POST', `/ingest/${TOPIC}`, 200],
        ['GET', `/views/${VIEW}?key=/a`, 200],
        ['GET', `/views/${VIEW}?key=/b`, 200],
        ['GET', '/views/site_totals?key=*', 200],
        ['GET', `/views/${VIEW}?colour=red`, 400],
        ['GET', '/views/no_such_view?key=a', 404],
        ['GET', `/views/${VIEW}/keys?prefix=/a`, 200],
        ['GET', `/views/${VIEW}/top?n=2`, 200],
        ['GET', '/views', 200],
        ['GET', '/status', 200],
        ['GET', '/health', 200],
        ['GET', '/no/such/path', 404],
      ];
      const before = await scrape();
      for (const [method, path, expected] of requests) {
        const body = method === 'POST' ? JSON.stringify({ user: 'yan', url: '/d', ts: BASE }) : undefined;
        const response = await fetch(`${server.url}${path}`, { method, body });
        expect(response.status, path).toBe(expected);
        await response.arrayBuffer();
      }
      const count = (samples: ReturnType<typeof parseMetrics>, route: string, status: string, method = 'GET') =>
        (samplesOf(samples, 'lambda_http_request_duration_seconds_count', { method, route, status })[0]?.value ?? 0) -
        (samplesOf(before, 'lambda_http_request_duration_seconds_count', { method, route, status })[0]?.value ?? 0);

      await expect
        .poll(async () => {
          const samples = await scrape();
          return {
            views200: count(samples, '/views/:name', '200'),
            views400: count(samples, '/views/:name', '400'),
            views404: count(samples, '/views/:name', '404'),
            keys: count(samples, '/views/:name/keys', '200'),
            top: count(samples, '/views/:name/top', '200'),
            list: count(samples, '/views', '200'),
            status: count(samples, '/status', '200'),
            health: count(samples, '/health', '200'),
            ingest: count(samples, '/ingest/:topic', '200', 'POST'),
            unmatched: count(samples, 'unmatched', '404'),
          };
        })
        .toEqual({ views200: 3, views400: 1, views404: 1, keys: 1, top: 1, list: 1, status: 1, health: 1, ingest: 1, unmatched: 1 });

      const samples = await scrape();
      const series = samplesOf(samples, 'lambda_http_request_duration_seconds_count');
      const routes = new Set(series.map((s) => s.labels.route));
      for (const route of routes) expect(route === 'unmatched' || route!.startsWith('/'), route).toBe(true);
      for (const route of routes) expect(route, 'a concrete path became a label').not.toMatch(/pageviews|site_totals|no_such|\/no\//);
      // Every series is a whole histogram: its +Inf bucket holds every request, and the sum is a time.
      for (const { labels, value } of series) {
        expect(samplesOf(samples, 'lambda_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })[0]!.value).toBe(value);
        const sum = samplesOf(samples, 'lambda_http_request_duration_seconds_sum', labels)[0]!.value;
        expect(sum).toBeGreaterThan(0);
        expect(sum).toBeLessThan(value * 5);
      }
    });
  });
});
