/**
 * DStream parity with Spark: every operation of our DStream API runs on many random inputs, here and in
 * PySpark (infra/spark/dstream_parity.py: queue streams of the same fixed batches, one StreamingContext on
 * a manual clock), and every batch's output must be the same multiset of records at the same batch time.
 * The functions a case names exist in both languages, over integers only, so results are exact.
 */
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { StreamingContext, type DStream } from '@lambda/streaming';
import { describeWhenAvailable, makeTempDir } from '@lambda/test-kit';
import { runSpark, sparkSkipReason } from '../src/spark/pyspark.js';

const BATCH_MS = 1000;
/** Input batches per stream, and batches run: more, so that the longest windows drain. */
const INPUT_BATCHES = 6;
const RUN_BATCHES = INPUT_BATCHES + 6;
const CASES_PER_OPERATION = 5;

type Pair = [string, number];
type Batches = (number | Pair)[][];
interface Case {
  id: string;
  op: string;
  args: { fn?: string; inverse?: string; length?: number; slide?: number };
  inputs: Batches[];
}

/** The same functions as FUNCTIONS in dstream_parity.py. */
const FUNCTIONS: Record<string, (...args: never[]) => unknown> = {
  double: (x: number) => x * 2,
  mod3: (x: number) => mod(x, 3),
  negate: (x: number) => -x,
  repeat_mod3: (x: number) => Array.from({ length: mod(x, 3) }, () => x),
  digits: (x: number) => [...String(Math.abs(x))].map(Number),
  even: (x: number) => mod(x, 2) === 0,
  positive: (x: number) => x > 0,
  add: (a: number, b: number) => a + b,
  max: (a: number, b: number) => Math.max(a, b),
  subtract: (a: number, b: number) => a - b,
};

/** Python's %: the result has the divisor's sign. */
function mod(x: number, m: number): number {
  return ((x % m) + m) % m;
}

/** dstream_parity.py's update_sum: the running sum of a key's values, dropped below 0. */
function updateSum(values: number[], state: number | undefined): number | undefined {
  const total = (state ?? 0) + values.reduce((sum, value) => sum + value, 0);
  return total < 0 ? undefined : total;
}

const numbers = fc.array(fc.array(fc.integer({ min: -5, max: 20 }), { maxLength: 5 }), { minLength: INPUT_BATCHES, maxLength: INPUT_BATCHES });
const pairs = fc.array(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: -3, max: 9 })), { maxLength: 5 }), {
  minLength: INPUT_BATCHES,
  maxLength: INPUT_BATCHES,
});
/**
 * Window length and slide in batches, the length a multiple of the slide. PySpark applies an inverse
 * function only to windows of 5 slides or more (shorter ones it recomputes), so both kinds are drawn.
 */
const windowing = fc
  .oneof(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.constant(1)), fc.tuple(fc.integer({ min: 1, max: 3 }), fc.constant(2)))
  .map(([times, slide]) => ({ length: times * slide * BATCH_MS, slide: slide * BATCH_MS }));

const OPERATIONS: Record<string, fc.Arbitrary<Omit<Case, 'id' | 'op'>>> = {
  identity: numbers.map((b) => ({ args: {}, inputs: [b] })),
  map: fc.tuple(numbers, fc.constantFrom('double', 'mod3', 'negate')).map(([b, fn]) => ({ args: { fn }, inputs: [b] })),
  flatMap: fc.tuple(numbers, fc.constantFrom('repeat_mod3', 'digits')).map(([b, fn]) => ({ args: { fn }, inputs: [b] })),
  filter: fc.tuple(numbers, fc.constantFrom('even', 'positive')).map(([b, fn]) => ({ args: { fn }, inputs: [b] })),
  reduce: fc.tuple(numbers, fc.constantFrom('add', 'max')).map(([b, fn]) => ({ args: { fn }, inputs: [b] })),
  count: numbers.map((b) => ({ args: {}, inputs: [b] })),
  countByValue: numbers.map((b) => ({ args: {}, inputs: [b] })),
  transform: numbers.map((b) => ({ args: {}, inputs: [b] })),
  union: fc.tuple(numbers, numbers).map(([a, b]) => ({ args: {}, inputs: [a, b] })),
  mapValues: fc.tuple(pairs, fc.constantFrom('double', 'negate')).map(([b, fn]) => ({ args: { fn }, inputs: [b] })),
  reduceByKey: fc.tuple(pairs, fc.constantFrom('add', 'max')).map(([b, fn]) => ({ args: { fn }, inputs: [b] })),
  join: fc.tuple(pairs, pairs).map(([a, b]) => ({ args: {}, inputs: [a, b] })),
  updateStateByKey: pairs.map((b) => ({ args: {}, inputs: [b] })),
  window: fc.tuple(numbers, windowing).map(([b, w]) => ({ args: w, inputs: [b] })),
  countByWindow: fc.tuple(numbers, windowing).map(([b, w]) => ({ args: w, inputs: [b] })),
  reduceByWindow: fc.tuple(numbers, windowing, fc.boolean()).map(([b, w, inverse]) => ({ args: { fn: 'add', ...(inverse ? { inverse: 'subtract' } : {}), ...w }, inputs: [b] })),
  reduceByKeyAndWindow: fc.tuple(pairs, windowing, fc.boolean()).map(([b, w, inverse]) => ({ args: { fn: 'add', ...(inverse ? { inverse: 'subtract' } : {}), ...w }, inputs: [b] })),
};

/** Our program for a case: the same operation over queue streams of the same batches. */
function build(context: StreamingContext, { op, args, inputs }: Case): DStream<unknown> {
  const fn = FUNCTIONS[args.fn ?? ''] as ((...values: unknown[]) => never) | undefined;
  const inverse = FUNCTIONS[args.inverse ?? ''] as ((a: number, b: number) => number) | undefined;
  const [first, second] = inputs.map((batches) => context.queueStream(batches));
  const s = first as DStream<number>;
  const keyed = first as DStream<Pair>;
  const { length, slide } = args;
  switch (op) {
    case 'identity':
      return s;
    case 'map':
      return s.map(fn!);
    case 'flatMap':
      return s.flatMap(fn!);
    case 'filter':
      return s.filter(fn!);
    case 'reduce':
      return s.reduce(fn!);
    case 'count':
      return s.count();
    case 'countByValue':
      return s.countByValue();
    case 'transform':
      return s.transform((records) => [...new Set(records)]);
    case 'union':
      return s.union(second as DStream<number>);
    case 'mapValues':
      return keyed.mapValues(fn!);
    case 'reduceByKey':
      return keyed.reduceByKey(fn!);
    case 'join':
      return keyed.join(second as DStream<Pair>);
    case 'updateStateByKey':
      return keyed.updateStateByKey(updateSum);
    case 'window':
      return s.window(length!, slide);
    case 'countByWindow':
      return s.countByWindow(length!, slide);
    case 'reduceByWindow':
      return s.reduceByWindow(fn!, inverse, length!, slide);
    case 'reduceByKeyAndWindow':
      return keyed.reduceByKeyAndWindow(fn!, inverse, length!, slide);
    default:
      throw new Error(`unknown operation ${op}`);
  }
}

/** Every batch's output of a case, by batch time: a multiset, so sorted by JSON text. */
type Outputs = Record<string, unknown[]>;

function canonical(outputs: Outputs): Outputs {
  return Object.fromEntries(
    Object.entries(outputs)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([time, records]) => [time, records.map((record) => JSON.stringify(record)).sort()]),
  );
}

/**
 * Spark's outputs with our deliberate differences applied (docs/spark-compatibility.md says why):
 * - countByWindow counts an empty window as 0, as count() counts an empty batch, where PySpark gives no
 *   record (and Scala Spark gives 0 only once the window has held records);
 * - with an inverse function, a key (for reduceByWindow, the window) without records in the window is
 *   dropped, as a recompute of the window would; Spark keeps it with its inverse-reduced value (0 for a
 *   sum) on the windows it derives with the inverse, those of 5 slides or more in PySpark.
 */
function deliberatelyDifferent(testCase: Case, outputs: Outputs): Outputs {
  const { op, args, inputs } = testCase;
  if (op === 'countByWindow') return Object.fromEntries(Object.entries(outputs).map(([time, records]) => [time, records.length === 0 ? [0] : records]));
  if ((op !== 'reduceByKeyAndWindow' && op !== 'reduceByWindow') || args.inverse === undefined) return outputs;
  const lengthBatches = args.length! / BATCH_MS;
  return Object.fromEntries(
    Object.entries(outputs).map(([time, records]) => {
      const index = Number(time) / BATCH_MS;
      const inWindow = inputs[0]!.slice(Math.max(0, index - lengthBatches), index).flat();
      if (op === 'reduceByWindow') return [time, inWindow.length === 0 ? [] : records];
      const keys = new Set(inWindow.map((record) => (record as Pair)[0]));
      return [time, records.filter((record) => keys.has((record as Pair)[0]))];
    }),
  );
}

async function runOurs(testCase: Case): Promise<Outputs> {
  const context = await StreamingContext.create({ batchIntervalMs: BATCH_MS, zeroTime: 0, manualBatches: true, write: () => undefined });
  const outputs: Outputs = {};
  build(context, testCase).foreachBatch((records, time) => void (outputs[String(time)] = records));
  await context.start();
  for (let i = 0; i < RUN_BATCHES; i++) await context.runBatch();
  await context.stop();
  return outputs;
}

describeWhenAvailable('our DStream API against PySpark, operation by operation', sparkSkipReason, () => {
  const cases: Case[] = Object.entries(OPERATIONS).flatMap(([op, arbitrary], i) =>
    fc.sample(arbitrary, { seed: 2026_12_04 + i, numRuns: CASES_PER_OPERATION }).map((generated, n) => ({ id: `${op}-${n}`, op, ...generated })),
  );
  let spark: { startupMs: number; outputs: Record<string, Outputs> };

  beforeAll(async () => {
    const checkpoint = await makeTempDir('spark-dstream-checkpoint');
    try {
      spark = await runSpark('dstream_parity.py', { batchMs: BATCH_MS, batches: RUN_BATCHES, checkpoint: checkpoint.path, cases });
    } finally {
      await checkpoint.remove();
    }
  }, 900_000);

  it.each(Object.keys(OPERATIONS))('should give every batch of %s the same records as Spark', async (op) => {
    for (const testCase of cases.filter((c) => c.op === op)) {
      const expected = deliberatelyDifferent(testCase, spark.outputs[testCase.id]!);
      expect(canonical(await runOurs(testCase)), `${testCase.id}: ${JSON.stringify(testCase)}`).toEqual(canonical(expected));
    }
  });
});
