/**
 * No single record can stall the platform. Random page views with oversized and odd values (long strings
 * in every field, huge numbers, deep objects, many distinct top-k values) arrive through REST and through
 * the Kafka port, on the platform `npm start` runs with a token set. Every view keeps advancing to the
 * log's end, every record is either counted or dead-lettered with a reason, and every merged answer
 * equals DuckDB's recompute of the counted records.
 */
import fc from 'fast-check';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '@lambda/batch-layer';
import { Metrics, loadConfig, silentLogger } from '@lambda/core';
import { MergedViewReader, type IngestReport } from '@lambda/serving-layer';
import { DEAD_LETTER_HEADERS, deadLetterTopicOf } from '@lambda/speed-layer';
import { createAllInOne, type AllInOne } from '../src/all-in-one.js';
import { PAGEVIEWS } from '../src/demo/web-analytics.js';
import { makeTempDir } from '@lambda/test-kit';
import { TruthTable, differences, readAllRecords } from './helpers/truth.js';

const TOKEN = 'odd-records-test-token-0123456789';
const BASE_TIME = Date.UTC(2026, 0, 1, 12, 0, 0);
const VIEWS = ['pageviews_by_url', 'visitors_by_referrer', 'slow_pages'];

/** A string of any length around the limit, sometimes of characters JSON escapes. */
const oddString = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/', '/docs', '/pricing', 'google', 'direct', 'u1', 'u2', 'mobile') },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4100 }).map((length) => 'x'.repeat(length)) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 4097 }).map((length) => '"\\\n'.repeat(Math.ceil(length / 3)).slice(0, length)) },
);
const oddNumber = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5000 }) },
  { weight: 1, arbitrary: fc.integer({ min: -1e12, max: 1e12 }) },
  { weight: 1, arbitrary: fc.constantFrom(1e16, -1e300, 1e308, 2 ** 60) },
);
/** A deep object in a field no view reads: it must pass through untouched, or be refused as too big. */
const deepObject = fc.integer({ min: 1, max: 400 }).map((depth) => {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { nested: value };
  return value;
});
const pageView = fc.record(
  {
    url: oddString,
    user: oddString,
    referrer: fc.oneof(oddString, fc.integer({ min: 0, max: 1_000_000 }).map((n) => `ref-${n}`)), // many distinct top-k values
    latency: fc.oneof(oddNumber, fc.constant(null)),
    device: fc.oneof(oddString, fc.constant(7)),
    ts: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 20 }).map((minute) => BASE_TIME + minute * 60_000) }, { weight: 1, arbitrary: fc.constant(-5) }),
    // Now and then an event over the 1 MiB limit.
    extra: fc.oneof({ weight: 15, arbitrary: deepObject }, { weight: 1, arbitrary: fc.constant('x'.repeat(1_100_000)) }),
  },
  { requiredKeys: ['url', 'ts'] },
);

describe('when odd and oversized records arrive through REST and the Kafka port', () => {
  let platform: AllInOne;
  let remove: () => Promise<void>;
  let engine: DuckDbEngine;
  let producer: Producer;

  beforeAll(async () => {
    const dataDir = await makeTempDir('odd-records');
    remove = dataDir.remove;
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dataDir.path,
        http: { port: 0, apiToken: TOKEN, maxIngestBytes: 64 * 1024 * 1024 },
        kafkaServer: { enabled: true, port: 0 },
        demo: { enabled: false },
        speedLayer: { batchIntervalMs: 50, workers: 0, sliceMicroBatches: 3 },
        batchLayer: { recomputeEvery: '1h' },
      },
    });
    platform = await createAllInOne(config, { logger: silentLogger(), metrics: new Metrics() });
    engine = await DuckDbEngine.create({ threads: 1 });
    const kafka = new Kafka({
      brokers: [platform.kafkaAddress!],
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'plain', username: 'tests', password: TOKEN },
    });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  }, 60_000);

  afterAll(async () => {
    await producer?.disconnect();
    engine?.close();
    await platform?.close();
    await remove?.();
  });

  const ingest = async (values: string[]): Promise<IngestReport> => {
    const response = await fetch(`${platform.url}/ingest/${PAGEVIEWS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: values.join('\n'),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as IngestReport;
  };

  /** Waits until every view has counted (or skipped) every record the log holds: it never stalls. */
  const caughtUp = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ends = await platform.ports.eventLog.endOffsets(PAGEVIEWS);
      if (VIEWS.every((view) => platform.speedLayer.positions(view).every((position, partition) => position === ends[partition]))) return ends;
      if (Date.now() > deadline) {
        throw new Error(`the views stalled: ends ${JSON.stringify(ends)}, health ${JSON.stringify(platform.speedLayer.health())}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('should refuse a Kafka producer without the token, appending nothing', async () => {
    const before = await platform.ports.eventLog.endOffsets(PAGEVIEWS);
    const anonymous = new Kafka({ brokers: [platform.kafkaAddress!], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).producer();
    await anonymous.connect();
    try {
      await expect(anonymous.send({ topic: PAGEVIEWS, messages: [{ value: JSON.stringify({ url: '/', ts: BASE_TIME }) }] })).rejects.toThrow(/authoriz/i);
    } finally {
      await anonymous.disconnect();
    }
    expect(await platform.ports.eventLog.endOffsets(PAGEVIEWS)).toEqual(before);
  });

  it('should dead-letter the 4,097-character referrer at ingest, and move every view past it', async () => {
    const event = (referrer: string) => JSON.stringify({ url: '/docs', user: 'u1', referrer, latency: 120, device: 'mobile', ts: BASE_TIME });
    const report = await ingest([event('google'), event('r'.repeat(4097)), event('direct')]);
    expect(report.records.map((record) => record.status)).toEqual(['accepted', 'dead-letter', 'accepted']);
    expect(report.records[1]!.reason).toBe('field "referrer" is 4097 characters long; a string field is at most 4096 (limits.maxStringLength)');

    const ends = await caughtUp();
    const poisoned = report.records[1]!;
    expect(ends[poisoned.partition]).toBeGreaterThan(poisoned.offset);
    const letters = await readAllRecords(platform.ports.eventLog, deadLetterTopicOf(PAGEVIEWS));
    const letter = letters.find((record) => record.headers[DEAD_LETTER_HEADERS.offset]?.toString() === String(poisoned.offset) && record.partition === poisoned.partition);
    expect(letter?.headers[DEAD_LETTER_HEADERS.reason]?.toString()).toBe(poisoned.reason);
    expect(platform.speedLayer.health().topics.every((topic) => topic.state === 'ok' && topic.quarantined === 0)).toBe(true);
  });

  it('should count or dead-letter every record, never stall, and answer exactly', async () => {
    let run = 0;
    const paths = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(pageView, { minLength: 5, maxLength: 30 }), fc.boolean(), async (events, viaKafka) => {
        run++;
        const values = events.map((event) => JSON.stringify(event));
        paths.add(viaKafka ? 'kafka' : 'rest');
        if (viaKafka) {
          // The Kafka port takes what kafkajs can send; the batch as a whole stays below its frame limit.
          await producer.send({ topic: PAGEVIEWS, messages: values.map((value) => ({ key: `run-${run}`, value })) });
        } else {
          const report = await ingest(values);
          expect(report.accepted + report.deadLettered).toBe(values.length);
          for (const record of report.records) if (record.status === 'dead-letter') expect(record.reason).toMatch(/\w/);
        }
        await caughtUp();
      }),
      { numRuns: 12 },
    );
    expect([...paths].sort()).toEqual(['kafka', 'rest']);

    // Every record the decoder refuses is in the dead-letter topic once, with its reason; no other is.
    const catalog = platform.catalog;
    const source = catalog.sources.get(PAGEVIEWS)!;
    const records = await readAllRecords(platform.ports.eventLog, PAGEVIEWS);
    const refused = records.filter((record) => !source.decode(record).ok).map((record) => `${record.partition}:${record.offset}`);
    const letters = await readAllRecords(platform.ports.eventLog, deadLetterTopicOf(PAGEVIEWS));
    expect(letters.map((letter) => `${letter.headers[DEAD_LETTER_HEADERS.partition]}:${letter.headers[DEAD_LETTER_HEADERS.offset]}`).sort()).toEqual(refused.sort());
    expect(refused.length).toBeGreaterThan(0);
    expect(records.length - refused.length).toBeGreaterThan(0);

    const reader = new MergedViewReader(platform.ports.viewStore, catalog, { cacheAnswers: false });
    for (const name of VIEWS) {
      const view = catalog.views.get(name)!;
      const answer = await reader.read(name);
      const truth = new TruthTable(engine, view.source);
      await truth.create();
      await truth.add(records);
      const expected = await truth.windows(view, answer.provenance.position);
      expect(expected.size).toBeGreaterThan(0);
      const keys = new Set([...expected.values()].map((window) => window.key));
      expect(differences(answer.windows, expected, keys)).toEqual([]);
      expect(answer.windows).toHaveLength(expected.size);
    }
    expect(platform.speedLayer.health().topics.every((topic) => topic.state === 'ok')).toBe(true);
  }, 240_000);
});
