/**
 * The output-mode rules, checked when a query starts: `start()` throws an UnsupportedOperationError
 * naming the operation and the mode, synchronously, before the source is even opened.
 */
import { describe, expect, it } from 'vitest';
import {
  F,
  MemoryTables,
  readStream,
  type OutputMode,
  type SourceBatch,
  type StreamSource,
  type StreamingDataFrame,
} from '../src/index.js';
import { InvalidArgumentError, UnsupportedOperationError, type JsonValue } from '@lambda/core';
import { TICK_SCHEMA } from './structured-helpers.js';

const { count, window } = F;

/** A source that records whether anything touched it. */
class WatchedSource implements StreamSource<string> {
  readonly description = 'watched';
  calls: string[] = [];
  async start(_from?: JsonValue): Promise<void> {
    this.calls.push('start');
  }
  async poll(): Promise<SourceBatch<string>> {
    this.calls.push('poll');
    return { records: [], position: 0 };
  }
  async commit(): Promise<void> {
    this.calls.push('commit');
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
  }
}

function ticks(source = new WatchedSource()): { frame: StreamingDataFrame; source: WatchedSource } {
  return { frame: readStream.source(source, { format: 'json', schema: TICK_SCHEMA }), source };
}

const perMinute = (frame: StreamingDataFrame) => frame.groupBy(window('ts', '1 minute'), 'symbol').agg(count().as('n'));

function expectRejected(frame: StreamingDataFrame, mode: OutputMode, operation: string, source: WatchedSource): UnsupportedOperationError {
  const writer = frame.writeStream.outputMode(mode).format('memory', { tables: new MemoryTables() }).queryName('rules');
  let thrown: unknown;
  try {
    void writer.start();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(UnsupportedOperationError);
  expect(thrown).toBeInstanceOf(InvalidArgumentError);
  const error = thrown as UnsupportedOperationError;
  expect(error.code).toBe('UNSUPPORTED_OPERATION');
  expect(error.operation).toBe(operation);
  expect(error.outputMode).toBe(mode);
  expect(error.message).toContain(`${mode} output mode`);
  expect(error.context).toEqual({ operation, outputMode: mode });
  // Thrown before anything ran: the source was never opened.
  expect(source.calls).toEqual([]);
  return error;
}

describe('structured output-mode rules', () => {
  describe('when append mode meets an aggregation without a watermark', () => {
    it('should refuse to start, naming the aggregation and append mode', () => {
      const { frame, source } = ticks();
      const error = expectRejected(perMinute(frame), 'append', 'streaming aggregation', source);
      expect(error.message).toMatch(/watermark/);
    });

    it('should also refuse a watermark without an event-time window, which never closes anything', () => {
      const { frame, source } = ticks();
      expectRejected(frame.withWatermark('ts', '1 minute').groupBy('symbol').agg(count().as('n')), 'append', 'streaming aggregation', source);
    });
  });

  describe('when complete mode has no aggregation', () => {
    it('should refuse to start, naming complete mode', () => {
      const { frame, source } = ticks();
      expectRejected(frame.where('price > 1'), 'complete', 'complete output mode', source);
    });
  });

  describe.each(['append', 'update', 'complete'] as const)('when a query uses an operation that needs the whole table, in %s mode', (mode) => {
    it('should refuse limit', () => {
      const { frame, source } = ticks();
      const query = mode === 'complete' ? perMinute(frame).limit(5) : frame.limit(5);
      expectRejected(query, mode, 'limit', source);
    });

    it('should refuse distinct', () => {
      const { frame, source } = ticks();
      const query = mode === 'complete' ? perMinute(frame.distinct()) : frame.select('symbol').distinct();
      expectRejected(query, mode, 'distinct', source);
    });

    it('should refuse a chained aggregation', () => {
      const { frame, source } = ticks();
      const chained = perMinute(frame.withWatermark('ts', '1 minute')).groupBy('symbol').agg(count().as('windows'));
      expectRejected(chained, mode, 'chained aggregation', source);
    });
  });

  describe.each(['append', 'update'] as const)('when a query sorts in %s mode', (mode) => {
    it('should refuse a sort before any aggregation', () => {
      const { frame, source } = ticks();
      expectRejected(frame.orderBy('price'), mode, 'sort', source);
    });

    it('should refuse a sort after an aggregation outside complete mode', () => {
      const { frame, source } = ticks();
      expectRejected(perMinute(frame.withWatermark('ts', '1 minute')).orderBy('n'), mode, 'sort', source);
    });
  });

  describe('when a query sorts after an aggregation in complete mode', () => {
    it('should start', async () => {
      const { frame, source } = ticks();
      const query = await perMinute(frame).orderBy('n').writeStream.outputMode('complete').format('memory', { tables: new MemoryTables() }).queryName('sorted').start();
      await query.stop();
      expect(source.calls[0]).toBe('start');
    });
  });

  describe('when a sink cannot take the output mode', () => {
    it('should refuse files in complete mode', () => {
      const { frame, source } = ticks();
      const writer = perMinute(frame).writeStream.outputMode('complete').format('json', { path: '/nonexistent/never-written' });
      expect(() => writer.start()).toThrow(UnsupportedOperationError);
      expect(() => writer.start()).toThrow(/files:.* sink does not support complete output mode/);
      expect(() => writer.start()).toThrow(expect.objectContaining({ operation: 'files sink', outputMode: 'complete' }));
      expect(source.calls).toEqual([]);
    });

    it('should refuse a view sink without an aggregation', () => {
      const { frame, source } = ticks();
      const writer = frame.writeStream.outputMode('update').format('view', { eventLog: undefined as never, viewName: 'v', topic: 'ticks' });
      expect(() => writer.start()).toThrow(/view sink needs an aggregation: a view is a groupBy\(\)\.agg\(\) \(update output mode\)/);
      expect(source.calls).toEqual([]);
    });
  });

  describe('when a step does not type-check', () => {
    it('should fail at the call, not at start', () => {
      const { frame } = ticks();
      expect(() => frame.where('price + 1')).toThrow(/boolean/);
      expect(() => frame.select('nope')).toThrow(/unknown field "nope"/);
      expect(() => frame.groupBy('symbol').agg(F.sum('symbol').as('s'))).toThrow(/must be a number/);
      expect(() => frame.groupBy(window('price', '1 minute'))).toThrow(/event-time column "ts"/);
      expect(() => frame.withWatermark('price', '1 minute')).toThrow(/event-time column "ts"/);
    });
  });
});
