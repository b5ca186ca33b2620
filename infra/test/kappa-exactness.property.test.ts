/**
 * Kappa mode's exactness, as a property: a Kappa view (no batch layer; the speed layer from offset 0 and
 * the compactor folding closed slices into versions) answers, under any interleaving of appends,
 * micro-batches and compactions, what DuckDB computes from scratch over every valid record below the
 * answer's position; and the batch layer registers nothing for it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '@lambda/batch-layer';
import { Catalog, EmbeddedEventLog, EmbeddedViewStore, isKappaView } from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { KappaCompactor, SpeedLayer } from '@lambda/speed-layer';
import { makeTempDir } from '@lambda/test-kit';
import { TruthTable, differences, readAllRecords } from './helpers/truth.js';

const TOPIC = 'kappa_clicks';
const PARTITIONS = 2;
const BASE_TIME = Date.UTC(2026, 0, 1, 12, 0, 0);
const URLS = ['/', '/a', '/b', '/c'];

const catalog = Catalog.compile({
  sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', latency: 'number' } }],
  views: [
    { name: 'kappa_by_url', source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { n: 'count()', total: 'sum(latency)', worst: 'max(latency)' } },
    { name: 'kappa_total', source: TOPIC, key: [], aggregates: { n: 'count()', total: 'sum(latency)' } },
  ],
});

type Step = { kind: 'append'; events: { partition: number; url: number; minute: number; latency: number | null; invalid: boolean }[] } | { kind: 'micro' } | { kind: 'compact' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('append' as const),
    events: fc.array(
      fc.record({ partition: fc.nat(PARTITIONS - 1), url: fc.nat(URLS.length - 1), minute: fc.nat(4), latency: fc.option(fc.integer({ min: 0, max: 500 })), invalid: fc.integer({ min: 0, max: 7 }).map((n) => n === 0) }),
      { minLength: 1, maxLength: 6 },
    ),
  }),
  fc.constant({ kind: 'micro' as const }),
  fc.constant({ kind: 'compact' as const }),
);

describe('when a view runs in Kappa mode', () => {
  let engine: DuckDbEngine;
  beforeAll(async () => {
    engine = await DuckDbEngine.create();
  });
  afterAll(() => engine.close());

  it('should answer exactly what DuckDB computes over every record below its position, across micro-batches and compactions', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 14 }), async (steps) => {
        const dir = await makeTempDir(`kappa-${run++}`);
        const log = await EmbeddedEventLog.open({ directory: `${dir.path}/log`, fsync: 'never' });
        const store = await EmbeddedViewStore.open({ directory: `${dir.path}/views`, fsync: 'never' });
        try {
          await log.createTopic(TOPIC, { partitions: PARTITIONS });
          // A slice is cut at every micro-batch with records, so compactions always have closed slices to fold.
          const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, slicePolicy: { microBatches: 1 } });
          const compactor = KappaCompactor.create({ viewStore: store, catalog, views: [...catalog.views.keys()], everyMs: null });
          const reader = new MergedViewReader(store, catalog, { cacheAnswers: false });
          const truth = new TruthTable(engine, catalog.sources.get(TOPIC)!);
          await truth.create();
          
          for (const current of [...steps, { kind: 'micro' } as Step, { kind: 'compact' } as Step]) {
            if (current.kind === 'append') {
              await log.append(
                TOPIC,
                current.events.map((event) => ({
                  partition: event.partition,
                  value: event.invalid ? '{"url": 7' : JSON.stringify({ url: URLS[event.url], latency: event.latency, ts: BASE_TIME + event.minute * 60_000 }),
                })),
              );
            } else if (current.kind === 'micro') {
              await speed.runOnce();
            } else {
              await compactor.compactAll();
            }
            for (const view of catalog.views.values()) {
              const answer = await reader.read(view.name);
              expect(answer.provenance.position).toEqual(speed.positions(view.name).slice(0, answer.provenance.position.length));
              const records = await readAllRecords(log, TOPIC);
              const table = new TruthTable(engine, view.source);
              await table.create();
              await table.add(records);
              const expected = await table.windows(view, answer.provenance.position);
              const problems = differences(answer.windows, expected, new Set([...expected.values()].map((window) => window.key)));
              expect(problems, `${view.name} after ${JSON.stringify(current)}`).toEqual([]);
              // A compaction leaves no closed slice below the serving version's horizon.
              const manifest = await store.readManifest(view.name);
              const slices = await store.listSlices(view.name);
              expect(slices.filter((slice) => slice.closed && slice.end <= (manifest?.horizon[slice.partition] ?? 0))).toEqual([]);
            }
          }
          await speed.stop();
        } finally {
          await log.close();
          await store.close();
          await dir.remove();
        }
      }),
      { numRuns: 8, seed: 7 },
    );
  }, 120_000);

  it('should have compacted closed slices into a version whose horizon is their end edges', async () => {
    const dir = await makeTempDir('kappa-compact');
    const log = await EmbeddedEventLog.open({ directory: `${dir.path}/log`, fsync: 'never' });
    const store = await EmbeddedViewStore.open({ directory: `${dir.path}/views`, fsync: 'never' });
    try {
      await log.createTopic(TOPIC, { partitions: PARTITIONS });
      const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, slicePolicy: { microBatches: 1 } });
      const compactor = KappaCompactor.create({ viewStore: store, catalog, views: ['kappa_total'], everyMs: null });
      for (let batch = 0; batch < 3; batch++) {
        await log.append(TOPIC, [0, 1].map((partition) => ({ partition, value: JSON.stringify({ url: '/', latency: 10, ts: BASE_TIME }) })));
        await speed.runOnce();
        await speed.runOnce(); // cuts the slice the first one wrote
      }
      const closed = (await store.listSlices('kappa_total')).filter((slice) => slice.closed);
      const result = await compactor.compact('kappa_total');
      const ends = [0, 1].map((partition) => Math.max(...closed.filter((slice) => slice.partition === partition).map((slice) => slice.end)));
      expect(result?.horizon).toEqual(ends);
      expect((await store.readManifest('kappa_total'))?.horizon).toEqual(ends);
      expect((await store.listSlices('kappa_total')).filter((slice) => slice.closed)).toEqual([]);
      const answer = await new MergedViewReader(store, catalog).read('kappa_total');
      expect(answer.windows[0]?.values.n).toBe(6);
      await speed.stop();
    } finally {
      await log.close();
      await store.close();
      await dir.remove();
    }
  });

  it('should tell Kappa views from Lambda ones, by name and by "*" (the batch layer\'s own checks are in batch-layer/test/kappa-views.test.ts)', () => {
    expect([...catalog.views.keys()].filter((view) => !isKappaView(['kappa_total'], view))).toEqual(['kappa_by_url']);
    expect([...catalog.views.keys()].filter((view) => !isKappaView(['*'], view))).toEqual([]);
  });
});

