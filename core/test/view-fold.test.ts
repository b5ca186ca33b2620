/**
 * A view's JS fold: derived fields are computed once per record into slots (the record is not copied),
 * and hopping windows are walked without an array per record; the fold must agree with `evaluate` and
 * with the expressions' meaning, derived fields chained, filtered and keyed on.
 */
import { describe, expect, it } from 'vitest';
import { Catalog, type LogRecord, type RowState, type SourceRow, type ViewDefinition } from '../src/index.js';

const TS = Date.UTC(2026, 0, 1);
const SOURCE = { topic: 'clicks', eventTimeField: 'ts', fields: { url: 'string', user: 'string', latency: 'number' } } as const;

function viewOf(definition: Omit<ViewDefinition, 'source' | 'name'>) {
  const catalog = Catalog.compile({ sources: [{ ...SOURCE, fields: { ...SOURCE.fields } }], views: [{ ...definition, name: 'v', source: 'clicks' }] });
  return { view: catalog.views.get('v')!, source: catalog.sources.get('clicks')! };
}

function rowOf(source: ReturnType<typeof viewOf>['source'], value: Record<string, unknown>, offset = 0): SourceRow {
  const record: LogRecord = { topic: 'clicks', partition: 0, offset, timestamp: TS, key: null, value: Buffer.from(JSON.stringify(value)), headers: {} };
  const decoded = source.decode(record);
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.row;
}

function foldAll(view: ReturnType<typeof viewOf>['view'], rows: SourceRow[]) {
  const states = new Map<string, { key: string; windowStart: number; state: RowState }>();
  for (const row of rows) {
    view.fold(row, (key, windowStart) => {
      const id = `${windowStart}/${key}`;
      let entry = states.get(id);
      if (!entry) states.set(id, (entry = { key, windowStart, state: view.createState() }));
      return entry.state;
    });
  }
  return [...states.values()].map(({ key, windowStart, state }) => ({ key, windowStart, result: view.result(state) }));
}

describe('a view fold', () => {
  describe('when the view derives fields', () => {
    const { view, source } = viewOf({
      derive: { seconds: 'latency / 1000', slow: 'seconds >= 1', label: "CASE WHEN slow THEN 'slow ' || url ELSE 'fast' END" },
      filter: 'seconds > 0.1',
      key: 'label',
      aggregates: { n: 'count()', worst: 'max(seconds)', avg: 'avg(seconds)' },
    });
    const rows = [
      { url: '/a', user: 'u1', latency: 1500, ts: TS },
      { url: '/a', user: 'u2', latency: 2500, ts: TS },
      { url: '/b', user: 'u1', latency: 500, ts: TS },
      { url: '/b', user: 'u3', latency: 50, ts: TS },
      { url: '/b', user: 'u3', ts: TS },
    ].map((value, i) => rowOf(source, value, i));

    it('should fold each record with its own derived values, earlier ones feeding later ones', () => {
      expect(foldAll(view, rows)).toEqual([
        { key: 'slow /a', windowStart: 0, result: { n: 2, worst: 2.5, avg: 2 } },
        { key: 'fast', windowStart: 0, result: { n: 1, worst: 0.5, avg: 0.5 } },
      ]);
    });

    it('should agree with evaluate, and leave the record as it was decoded', () => {
      expect(rows.map((row) => view.evaluate(row))).toEqual([
        { key: 'slow /a', windowStarts: [0], inputs: [true, 1.5, 1.5] },
        { key: 'slow /a', windowStarts: [0], inputs: [true, 2.5, 2.5] },
        { key: 'fast', windowStarts: [0], inputs: [true, 0.5, 0.5] },
        undefined,
        undefined,
      ]);
      expect(Object.keys(rows[0]!.fields)).toEqual(['url', 'user', 'latency', 'ts', 'event_time']);
    });
  });

  describe('when the windows hop', () => {
    it('should fold a record into every window holding it, as `starts` lists them', () => {
      const { view, source } = viewOf({ key: 'url', window: { type: 'hopping', size: '3m', slide: '1m' }, aggregates: { n: 'count()', users: 'approx_distinct(user)' } });
      const times = [TS, TS + 59_999, TS + 60_000, TS + 150_000];
      const folded = foldAll(
        view,
        times.map((ts, i) => rowOf(source, { url: '/a', user: `u${i}`, ts }, i)),
      );
      const expected = new Map<number, number>();
      for (const ts of times) for (const start of view.window.starts(ts)) expected.set(start, (expected.get(start) ?? 0) + 1);
      expect(folded.map(({ windowStart, result }): [number, unknown] => [windowStart, result.n]).sort((a, b) => a[0] - b[0])).toEqual([...expected].sort((a, b) => a[0] - b[0]));
      expect(folded.find(({ windowStart }) => windowStart === TS)!.result.users).toBe(4);
    });
  });
});
