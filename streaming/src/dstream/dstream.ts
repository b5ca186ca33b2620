/**
 * A discretized stream: a sequence of micro-batches of plain records, transformed like collections
 * (Spark's DStream). Transformations define new streams; nothing runs until an output operation is
 * defined and the context starts. Each batch, every output asks its stream for the batch's records, which
 * asks its parents, and so on back to the inputs; each stream computes once per batch.
 *
 * Window operations produce a batch only at slide batches; at other batches they (and the streams derived
 * from them) have no batch, and outputs on them do nothing, as in Spark. Pair operations (reduceByKey,
 * join, updateStateByKey…) work on streams of `[key, value]` tuples; keys compare by value.
 *
 * With a checkpoint directory, the state of windows and updateStateByKey is saved as JSON after every
 * batch, so records that reach such state must be JSON values.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  UnknownViewError,
  type Logger,
  type EventLog,
  type LogMessage,
  type JsonValue,
  writeFileAtomic,
  type Catalog,
  type Duration,
} from '@lambda/core';
import type { BatchTime } from './batch-time.js';
import { BatchHistory } from './batch-history.js';
import { formatElement, formatPrint } from './format-element.js';
import { KeyedMap } from './keyed-map.js';
import { KeyedWindowReducer } from './keyed-window-reducer.js';
import { StateByKey, type UpdateStateFunction } from './state-by-key.js';
import type { StreamGraph } from './stream-graph.js';
import { isSlideBatch, windowSpec } from './window-spec.js';

/** How a batch's records are produced; undefined when the stream has no batch at this time. */
export type BatchGenerator<T> = (batch: BatchTime) => Promise<T[] | undefined>;

export interface ToViewOptions<T> {
  /** The event to append for a record: a JSON value, or text sent as it is. Default: strings as they are, anything else as JSON. */
  toEvent?: (record: T) => JsonValue;
  /** Called after each batch with what was appended and which records the view's source will reject. */
  onBatch?: (report: ViewFeedReport) => void;
  logger?: Logger;
}

/** What one batch fed to a view's source topic. */
export interface ViewFeedReport {
  topic: string;
  time: number;
  appended: number;
  /** Records that fail the source's schema: the speed layer sends them to the dead-letter topic with this reason. */
  rejected: { index: number; partition: number; offset: number; reason: string }[];
}

export class DStream<T> {
  private memo: { attempt: number; result: Promise<T[] | undefined> } | undefined;

  constructor(
    protected readonly graph: StreamGraph,
    private readonly generate: BatchGenerator<T>,
  ) {}

  /** This stream's records in a batch (computed once per batch attempt). For the context and output operations. */
  compute(batch: BatchTime): Promise<T[] | undefined> {
    if (this.memo?.attempt !== batch.attempt) this.memo = { attempt: batch.attempt, result: this.generate(batch) };
    return this.memo.result;
  }

  // ---- transformations of each batch --------------------------------------------------------------

  map<U>(fn: (record: T) => U): DStream<U> {
    return this.derive('map', (records) => records.map((record) => fn(record)));
  }

  flatMap<U>(fn: (record: T) => Iterable<U>): DStream<U> {
    return this.derive('flatMap', (records) => records.flatMap((record) => [...fn(record)]));
  }

  filter(predicate: (record: T) => boolean): DStream<T> {
    return this.derive('filter', (records) => records.filter((record) => predicate(record)));
  }

  /** One record per batch: all of the batch's records reduced with `fn`; no record for an empty batch. */
  reduce(fn: (a: T, b: T) => T): DStream<T> {
    return this.derive('reduce', (records) => (records.length === 0 ? [] : [records.reduce((a, b) => fn(a, b))]));
  }

  /** One record per batch: how many records it has. */
  count(): DStream<number> {
    return this.derive('count', (records) => [records.length]);
  }

  /** `[value, count]` for each distinct value of the batch. */
  countByValue(): DStream<[T, number]> {
    return this.derive('countByValue', (records) => {
      const counts = new KeyedMap<T, number>();
      for (const record of records) counts.merge(record, 1, (a, b) => a + b);
      return counts.toPairs();
    });
  }

  /** Any function of a whole batch: the escape hatch for what the other operations do not offer. */
  transform<U>(fn: (records: T[], time: number) => U[] | Promise<U[]>): DStream<U> {
    this.graph.assertDefinable('transform');
    return new DStream(this.graph, async (batch) => {
      const records = await this.compute(batch);
      return records === undefined ? undefined : fn(records, batch.time);
    });
  }

  /** The records of this stream and the others, batch by batch. */
  union(...others: DStream<T>[]): DStream<T> {
    this.graph.assertDefinable('union');
    const streams = [this, ...others];
    return new DStream(this.graph, async (batch) => {
      const batches = await Promise.all(streams.map((stream) => stream.compute(batch)));
      if (batches.every((records) => records === undefined)) return undefined;
      return batches.flatMap((records) => records ?? []);
    });
  }

  // ---- pair streams -------------------------------------------------------------------------------

  mapValues<K, V, W>(this: DStream<[K, V]>, fn: (value: V) => W): DStream<[K, W]> {
    return this.derive('mapValues', (records) => records.map(([key, value]): [K, W] => [key, fn(value)]));
  }

  /** `[key, value]` per key of the batch, its values reduced with `fn` (which should be associative). */
  reduceByKey<K, V>(this: DStream<[K, V]>, fn: (a: V, b: V) => V): DStream<[K, V]> {
    return this.derive('reduceByKey', (records) => {
      const reduced = new KeyedMap<K, V>();
      for (const [key, value] of records) reduced.merge(key, value, fn);
      return reduced.toPairs();
    });
  }

  /** Inner join of two pair streams, batch by batch: `[key, [v, w]]` for every pair of values sharing a key. */
  join<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>): DStream<[K, [V, W]]> {
    this.graph.assertDefinable('join');
    return new DStream(this.graph, async (batch) => {
      const [left, right] = await Promise.all([this.compute(batch), other.compute(batch)]);
      if (left === undefined || right === undefined) return undefined;
      const byKey = new KeyedMap<K, W[]>();
      for (const [key, value] of right) {
        const values = byKey.get(key);
        if (values) values.push(value);
        else byKey.set(key, [value]);
      }
      const joined: [K, [V, W]][] = [];
      for (const [key, value] of left) for (const match of byKey.get(key) ?? []) joined.push([key, [value, match]]);
      return joined;
    });
  }

  /**
   * Keeps a state per key across batches: each batch, `update(newValues, state)` runs for every key with
   * state or new values, and returning undefined deletes the key. The stream holds every key's state.
   */
  updateStateByKey<K, V, S>(this: DStream<[K, V]>, update: UpdateStateFunction<V, S>): DStream<[K, S]> {
    this.graph.assertDefinable('updateStateByKey');
    const state = new StateByKey<K, V, S>(update);
    this.graph.addState(state);
    return new DStream(this.graph, async (batch) => {
      const records = await this.compute(batch);
      return records === undefined ? undefined : state.addBatch(records);
    });
  }

  // ---- windows ------------------------------------------------------------------------------------

  /**
   * Every record of the last `length` of batches, produced every `slide` (default: every batch). Both are
   * durations (ms or '10s') and must be multiples of the batch interval.
   */
  window(length: Duration, slide?: Duration): DStream<T> {
    this.graph.assertDefinable('window');
    const spec = windowSpec('window', length, slide, this.graph.batchIntervalMs);
    const history = new BatchHistory<T[]>(spec.lengthBatches);
    this.graph.addState(history);
    return new DStream(this.graph, async (batch) => {
      history.stage(batch.index, (await this.compute(batch)) ?? []);
      if (!isSlideBatch(spec, batch.index)) return undefined;
      return history.range(batch.index - spec.lengthBatches, batch.index).flat();
    });
  }

  /**
   * `[key, value]` per key over the window, values reduced with `reduce`. With `inverse` (undoing `reduce`:
   * `inverse(reduce(a, b), b) = a`), each window is derived from the previous one instead of recomputed.
   */
  reduceByKeyAndWindow<K, V>(
    this: DStream<[K, V]>,
    reduce: (a: V, b: V) => V,
    inverse: ((a: V, b: V) => V) | undefined,
    length: Duration,
    slide?: Duration,
  ): DStream<[K, V]> {
    this.graph.assertDefinable('reduceByKeyAndWindow');
    const spec = windowSpec('reduceByKeyAndWindow', length, slide, this.graph.batchIntervalMs);
    const reducer = new KeyedWindowReducer<K, V>(spec, reduce, inverse);
    this.graph.addState(reducer);
    return new DStream(this.graph, async (batch) => reducer.addBatch(batch.index, (await this.compute(batch)) ?? [], isSlideBatch(spec, batch.index)));
  }

  /** One record per window (none for an empty window): its records reduced; `inverse` as for reduceByKeyAndWindow. */
  reduceByWindow(reduce: (a: T, b: T) => T, inverse: ((a: T, b: T) => T) | undefined, length: Duration, slide?: Duration): DStream<T> {
    this.graph.assertDefinable('reduceByWindow');
    windowSpec('reduceByWindow', length, slide, this.graph.batchIntervalMs); // names this operation in the error
    return this.map((record): [0, T] => [0, record])
      .reduceByKeyAndWindow(reduce, inverse, length, slide)
      .map(([, value]) => value);
  }

  /** One record per window: how many records it holds (0 included). */
  countByWindow(length: Duration, slide?: Duration): DStream<number> {
    this.graph.assertDefinable('countByWindow');
    windowSpec('countByWindow', length, slide, this.graph.batchIntervalMs);
    return this.map(() => 1)
      .reduceByWindow((a, b) => a + b, (a, b) => a - b, length, slide)
      .transform((counts) => (counts.length === 0 ? [0] : counts));
  }

  // ---- outputs ------------------------------------------------------------------------------------

  /** Prints each batch as Spark does: a header with the batch time, the first `count` records, `...` if more. */
  pprint(count = 10): void {
    this.output('pprint', async (records, batch) => this.graph.write(formatPrint(batch.time, records, count)));
  }

  /**
   * Writes each batch to one file, `<prefix>-<batch time in ms>[.<suffix>]`, a record per line. A batch
   * tried again (after a failure or a restart) has the same time, so it replaces its file.
   */
  saveAsTextFiles(prefix: string, suffix?: string): void {
    this.output('saveAsTextFiles', async (records, batch) => {
      const path = `${prefix}-${batch.time}${suffix ? `.${suffix}` : ''}`;
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, records.map((record) => `${formatElement(record)}\n`).join(''));
    });
  }

  /** Runs `fn` with each batch's records; the batch commits only once the promise it returns resolves. */
  foreachBatch(fn: (records: T[], time: number) => void | Promise<void>): void {
    this.output('foreachBatch', async (records, batch) => fn(records, batch.time));
  }

  /** Appends each batch's records to a log topic; acknowledged before the batch commits. */
  toLogTopic(eventLog: EventLog, topic: string, toMessage: (record: T) => LogMessage): void {
    this.output('toLogTopic', async (records) => {
      if (records.length > 0) await eventLog.append(topic, records.map((record) => toMessage(record)));
    });
  }

  /**
   * Feeds a catalog view the platform's way: the records become events appended to the view's source
   * topic (keyed by its partition key), where the speed layer and the archiver pick them up like any
   * ingested event. Records that fail the source's schema are appended too, as ingest does, so the log
   * keeps all that arrived; the speed layer sends them to `<topic>.dead-letter` with the reason, which the
   * batch report (and a warning) already gives.
   */
  toView(eventLog: EventLog, catalog: Catalog, viewName: string, options: ToViewOptions<T> = {}): void {
    const view = catalog.views.get(viewName);
    if (!view) throw new UnknownViewError(`toView: no view "${viewName}" in the catalog; it has: ${[...catalog.views.keys()].join(', ')}`, { view: viewName });
    const source = view.source;
    const toEvent = options.toEvent ?? ((record: T) => record as unknown as JsonValue);
    this.output('toView', async (records, batch) => {
      if (records.length === 0) return;
      const values = records.map((record) => {
        const event = toEvent(record);
        return typeof event === 'string' ? event : JSON.stringify(event);
      });
      const messages: LogMessage[] = values.map((value) => ({ key: partitionKeyOf(source.partitionKeyOf.bind(source), value), value }));
      const appended = await eventLog.append(source.topic, messages);
      const report: ViewFeedReport = { topic: source.topic, time: batch.time, appended: appended.length, rejected: [] };
      appended.forEach(({ partition, offset }, index) => {
        const decoded = source.decode({ topic: source.topic, partition, offset, timestamp: batch.time, key: null, value: Buffer.from(values[index]!), headers: {} });
        if (!decoded.ok) report.rejected.push({ index, partition, offset, reason: decoded.reason });
      });
      if (report.rejected.length > 0) {
        options.logger?.warn({ topic: source.topic, rejected: report.rejected.length, first: report.rejected[0]!.reason }, 'toView: records the source schema rejects');
      }
      options.onBatch?.(report);
    });
  }

  // ---- plumbing -----------------------------------------------------------------------------------

  private derive<U>(operation: string, fn: (records: T[]) => U[]): DStream<U> {
    this.graph.assertDefinable(operation);
    return new DStream(this.graph, async (batch) => {
      const records = await this.compute(batch);
      return records === undefined ? undefined : fn(records);
    });
  }

  private output(name: string, run: (records: T[], batch: BatchTime) => Promise<void>): void {
    this.graph.assertDefinable(name);
    this.graph.addOutput({
      name,
      run: async (batch) => {
        const records = await this.compute(batch);
        if (records !== undefined) await run(records, batch);
      },
    });
  }
}

function partitionKeyOf(keyOf: (value: unknown) => string | null, text: string): string | null {
  try {
    return keyOf(JSON.parse(text));
  } catch {
    return null; // not JSON: no key; the source rejects it and the report says why
  }
}
