import { Catalog, type CompiledView, type LogRecord, type SourceRow } from '@lambda/core';
import { describe, expect, it } from 'vitest';
import { priceOfCode } from '../src/demo/scenarios/stock-market-scenario.js';
import type { Scenario, ScenarioEvent } from '../src/demo/scenarios/scenario.js';
import { SCENARIOS, scenarioNamed } from '../src/demo/scenarios/scenarios.js';

const START = Date.UTC(2026, 0, 5, 12, 0, 0);

/** `batches` calls of 50 events, `now` moving 100 ms per call, as the demo's driver makes them. */
function generate(scenario: Scenario, seed: number, batches: number, shares: { lateShare?: number; outOfOrderShare?: number; malformedShare?: number } = {}) {
  const generator = scenario.generator({ seed, ...shares });
  const events: (ScenarioEvent & { now: number })[] = [];
  for (let i = 0; i < batches; i++) {
    const now = START + i * 100;
    for (const event of generator.events(50, now)) events.push({ ...event, now });
  }
  return events;
}

function record(topic: string, event: ScenarioEvent, offset: number, now: number): LogRecord {
  return { topic, partition: 0, offset, timestamp: now, key: event.key === null ? null : Buffer.from(event.key), value: Buffer.from(event.value), headers: {} };
}

/** Each window's result of `view` over `rows`, by window and key. */
function fold(view: CompiledView, rows: SourceRow[]): Map<string, unknown> {
  const states = new Map<string, unknown[]>();
  for (const row of rows) {
    view.fold(row, (key, windowStart) => {
      const id = `${windowStart} ${key}`;
      if (!states.has(id)) states.set(id, view.createState());
      return states.get(id)!;
    });
  }
  return new Map([...states].map(([id, state]) => [id, view.result(state)]));
}

describe.each([...SCENARIOS.values()].map((scenario) => [scenario.name, scenario] as const))('the %s scenario', (_name, scenario) => {
  describe('when generated twice from one seed', () => {
    it('should produce the same events, and other events from another seed', () => {
      const first = generate(scenario, 42, 40);
      const second = generate(scenario, 42, 40);
      const other = generate(scenario, 43, 40);
      expect(second).toEqual(first);
      expect(other.map((event) => event.value)).not.toEqual(first.map((event) => event.value));
    });
  });

  describe('when many events are generated', () => {
    const shares = { lateShare: 0.08, outOfOrderShare: 0.12, malformedShare: 0.03 };
    const events = generate(scenario, 7, 400, shares); // 20,000 events
    const source = Catalog.compile(scenario.catalog).sources.get(scenario.topic)!;

    it('should make late, out-of-order and malformed events in the stated shares', () => {
      const count = (kind: string) => events.filter((event) => event.kind === kind).length;
      for (const [kind, share] of [['late', shares.lateShare], ['out-of-order', shares.outOfOrderShare], ['malformed', shares.malformedShare]] as const) {
        // Within five standard deviations of a binomial draw: fails only if the share is wrong.
        const tolerance = 5 * Math.sqrt(events.length * share * (1 - share));
        expect(Math.abs(count(kind) - events.length * share), kind).toBeLessThan(tolerance);
      }
    });

    it('should label each event by what it really is', () => {
      let newest = Number.NEGATIVE_INFINITY;
      events.forEach((event, offset) => {
        const decoded = source.decode(record(scenario.topic, event, offset, event.now));
        if (event.kind === 'malformed') {
          expect(decoded.ok, event.value).toBe(false);
          return;
        }
        expect(decoded.ok, event.value).toBe(true);
        if (!decoded.ok) return;
        const eventTime = decoded.row.eventTime;
        if (event.kind === 'late') expect(eventTime).toBeLessThanOrEqual(event.now - 60_000);
        if (event.kind === 'out-of-order') expect(eventTime).toBeLessThan(newest);
        if (event.kind === 'on-time') {
          expect(eventTime).toBeGreaterThan(event.now - 60_000);
          newest = Math.max(newest, eventTime);
        }
      });
    });

    it('should change the answer of its changed view with its logic change', () => {
      const rows = events.flatMap((event, offset) => {
        const decoded = source.decode(record(scenario.topic, event, offset, event.now));
        return decoded.ok ? [decoded.row] : [];
      });
      const before = Catalog.compile(scenario.catalog).views.get(scenario.change.view)!;
      const after = Catalog.compile({
        ...scenario.catalog,
        views: scenario.catalog.views.map((view) => (view.name === scenario.change.view ? scenario.change.definition : view)),
      }).views.get(scenario.change.view)!;
      expect(scenario.change.definition.name).toBe(scenario.change.view);
      expect(scenario.checkedViews[0]).toBe(scenario.change.view);
      const oldAnswer = fold(before, rows);
      const newAnswer = fold(after, rows);
      expect(oldAnswer.size).toBeGreaterThan(0);
      expect(newAnswer).not.toEqual(oldAnswer);
    });
  });
});

describe('the stock market scenario', () => {
  describe('when a minute has trades', () => {
    it('should give the first and last trade of the minute by event time as open and close', () => {
      const scenario = scenarioNamed('stocks');
      const catalog = Catalog.compile(scenario.catalog);
      const source = catalog.sources.get(scenario.topic)!;
      const view = catalog.views.get('ohlc_per_minute')!;
      const minute = START;
      // Arrival order differs from event-time order: the open is the earliest by event time, not the first to arrive.
      const trades = [
        { symbol: 'ACME', price: 10.5, qty: 100, ts: minute + 30_000 },
        { symbol: 'ACME', price: 10.25, qty: 200, ts: minute + 1000 },
        { symbol: 'ACME', price: 11, qty: 100, ts: minute + 59_000 },
        { symbol: 'ACME', price: 10.75, qty: 100, ts: minute + 45_000 },
      ];
      const rows = trades.map((trade, offset) => {
        const decoded = source.decode(record(scenario.topic, { key: 'ACME', value: JSON.stringify(trade), kind: 'on-time' }, offset, minute));
        if (!decoded.ok) throw new Error('a valid trade did not decode');
        return decoded.row;
      });
      const bar = fold(view, rows).get(`${minute} ACME`) as Record<string, number>;
      const byTime = [...trades].sort((a, b) => a.ts - b.ts);
      expect(priceOfCode(bar.open_code!)).toBe(byTime[0]!.price);
      expect(priceOfCode(bar.close_code!)).toBe(byTime.at(-1)!.price);
      expect(bar.high).toBe(Math.max(...trades.map((trade) => trade.price)));
      expect(bar.low).toBe(Math.min(...trades.map((trade) => trade.price)));
      const volume = trades.reduce((sum, trade) => sum + trade.qty, 0);
      expect(bar.volume).toBe(volume);
      expect(bar.notional! / bar.volume!).toBeCloseTo(trades.reduce((sum, trade) => sum + trade.price * trade.qty, 0) / volume, 9);
    });
  });
});
