/**
 * `npm run bench`: the platform's benchmark figures, each as a ratio against a baseline measured in the
 * same run, on this machine, now.
 *
 *   npm run bench -- --events 1000000 --rounds 3 --freshness-seconds 20 --serving-seconds 10 --markdown docs/benchmarks.md
 */
import { availableParallelism, cpus } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { measureRecompute, type DemoRecomputeResult } from './batch-recompute.js';
import { measureCostCurve, parseSizes, type CostPoint } from './cost-curve.js';
import { createDataset } from './dataset.js';
import { writeMarkdownBlock } from './markdown-results.js';
import { measureFreshness } from './freshness.js';
import { measureServing } from './serving-queries.js';
import { measureSqlQuery } from './sql-query.js';
import { SPARK_JSON_FILES, measureSparkLatency, measureSparkPeer } from './spark-peer.js';
import { measureThroughput } from './speed-throughput.js';

const positive = (name: string) => (value: string) => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return number;
};

const program = new Command()
  .name('bench')
  .option('--events <count>', 'events in the benchmark log', positive('events'), 1_000_000)
  .option('--rounds <count>', 'rounds per figure (the median is reported)', positive('rounds'), 3)
  .option('--freshness-seconds <seconds>', 'how long the freshness load runs', positive('freshness-seconds'), 20)
  .option('--serving-seconds <seconds>', 'how long each route is loaded in the serving figure, spread over the rounds', positive('serving-seconds'), 10)
  .option('--workers <count>', 'speed-layer worker threads', positive('workers'), Math.min(availableParallelism(), 8))
  .option('--peers <names>', 'also measure peers doing the same work: spark (needs infra/spark/setup.sh)', (value) => value.split(',').map((name) => name.trim()), [] as string[])
  .option('--batch-memory-limit <size>', "DuckDB's memory limit on both sides of figure 2's demo views, such as 2GB (default: DuckDB's own, 80% of RAM)")
  .option('--sizes <sizes>', 'instead of the figures: figures 1 and 2 at each of these log sizes (such as 1m,5m,20m), the cost curve', parseSizes)
  .option('--quick', 'a first look in under two minutes: 100,000 events, one round, short loads, a SQL view of 100,000 rows (explicit options still win)')
  .option('--markdown <file>', "also write the results into this Markdown file (relative to the repository's root), between its results markers")
  .parse();
const options = program.opts<{ events: number; rounds: number; freshnessSeconds: number; servingSeconds: number; workers: number; peers: string[]; markdown?: string; quick?: boolean; sizes?: number[]; batchMemoryLimit?: string }>();
if (options.quick) {
  const quick = { events: 100_000, rounds: 1, freshnessSeconds: 5, servingSeconds: 2 } as const;
  for (const [name, value] of Object.entries(quick)) if (program.getOptionValueSource(name) === 'default') Object.assign(options, { [name]: value });
}
for (const peer of options.peers) if (peer !== 'spark') program.error(`unknown peer "${peer}": the peers are spark`);
if (options.sizes && options.peers.length > 0) program.error('--sizes measures figures 1 and 2 only: leave out --peers');
// The curve's points take minutes each at 20 M events: one round unless asked for more.
if (options.sizes && program.getOptionValueSource('rounds') === 'default') options.rounds = 1;

const round = (value: number) => Math.round(value).toLocaleString('en');
const mebibytes = (bytes: number) => `${round(bytes / 2 ** 20)} MiB`;
const duckdbOptions = options.batchMemoryLimit ? { memoryLimit: options.batchMemoryLimit } : {};
const ratio = (value: number) => value.toFixed(2);
const milliseconds = (value: number) => `${value.toLocaleString('en', { maximumFractionDigits: 1 })} ms`;
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`;
const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
if (options.sizes) await runCostCurve(options.sizes);
else await runFigures();

async function runFigures(): Promise<void> {
  console.log(`Benchmarks on ${machine}; ${round(options.events)} events, ${options.rounds} rounds, ${options.workers} speed-layer workers\n`);
  const dataset = await createDataset(options.events);
  try {
    const throughput = await measureThroughput(dataset, { rounds: options.rounds, workers: options.workers });
    const recompute = await measureRecompute(dataset, { rounds: options.rounds, duckdb: duckdbOptions });
    const demo = recompute.demo!;
    const freshness = await measureFreshness({ rate: throughput.countView / 2, seconds: options.freshnessSeconds, workers: options.workers, batchIntervalMs: 1000 });
    const serving = await measureServing({ rounds: options.rounds, seconds: options.servingSeconds });
    const sql = await measureSqlQuery({ rounds: options.rounds, pages: options.quick ? 1000 : 10_000 });
    const spark = options.peers.includes('spark') ? await measureSparkPeer(dataset, recompute.files, { rounds: options.rounds }) : undefined;
    const sparkLatency = spark ? await measureSparkLatency({ markers: 200, markersPerSecond: 20 }) : undefined;

    const throughputRatio = throughput.countView / throughput.baseline;
    const recomputeRatio = recompute.recomputeMs / recompute.handWrittenMs;
    const freshnessBound = freshness.batchIntervalMs + 250;
    const servingRatio = serving.merged.requestsPerSecond / serving.constant.requestsPerSecond;
    const servingP99Bound = 10;
    const rows = [
      ['1. Speed layer throughput, log to durable views', `${round(throughput.countView)} events/s`, `${round(throughput.baseline)} events/s (JSON.parse + Map count)`, ratio(throughputRatio), '≥ 0.50', verdict(throughputRatio >= 0.5)],
      ['   same, folding in the main thread only', `${round(throughput.countViewOneThread)} events/s`, 'same', ratio(throughput.countViewOneThread / throughput.baseline), '', ''],
      ['   same, the 3 demo views (all aggregates)', `${round(throughput.demoCatalog)} events/s`, 'same', ratio(throughput.demoCatalog / throughput.baseline), '', ''],
      ['2. Batch recompute (archive to published version)', `${round(recompute.recomputeMs)} ms`, `${round(recompute.handWrittenMs)} ms (hand-written DuckDB query)`, ratio(recomputeRatio), '≤ 1.25', verdict(recomputeRatio <= 1.25)],
      ['   same, the 3 demo views (count, avg, max, HyperLogLog, top-k)', `${round(demo.recompute.ms)} ms (${round(demo.recompute.eventsPerSecond)} events/s, peak ${mebibytes(demo.recompute.maxRssBytes)})`, `${round(demo.handWritten.ms)} ms (hand-written DuckDB queries, peak ${mebibytes(demo.handWritten.maxRssBytes)})`, ratio(demo.ratio), '≤ 1.5', verdict(demo.ratio <= 1.5)],
      ['3. Freshness p50', `${round(freshness.p50)} ms`, `batch interval ${freshness.batchIntervalMs} ms`, ratio(freshness.p50 / freshness.batchIntervalMs), '', ''],
      ['   Freshness p99', `${round(freshness.p99)} ms`, `batch interval ${freshness.batchIntervalMs} ms`, ratio(freshness.p99 / freshness.batchIntervalMs), `≤ ${freshnessBound} ms`, verdict(freshness.p99 <= freshnessBound)],
      [`4. Merged point queries at concurrency ${serving.connections}`, `${round(serving.merged.requestsPerSecond)} requests/s`, `${round(serving.constant.requestsPerSecond)} requests/s (bare Express route, a constant)`, ratio(servingRatio), '≥ 0.60', verdict(servingRatio >= 0.6)],
      ['   Merged point query p99', milliseconds(serving.merged.p99), `${milliseconds(serving.constant.p99)} (same bare route)`, ratio(serving.merged.p99 / serving.constant.p99), `≤ ${servingP99Bound} ms`, verdict(serving.merged.p99 <= servingP99Bound)],
      ...(spark
        ? [
            ['5. Spark peer: streaming, count per page per minute to durable output', `${round(throughput.countView)} events/s (ours, figure 1)`, `${round(spark.streamingRate)} events/s (Spark Structured Streaming, local[2])`, ratio(throughput.countView / spark.streamingRate), '≥ 2', verdict(throughput.countView / spark.streamingRate >= 2)],
            ['   Spark peer: the 3 demo views (their aggregates but top-k)', `${round(throughput.demoCatalog)} events/s (ours, figure 1, with top-k)`, `${round(spark.demoRate)} events/s (Spark, 3 queries at once)`, ratio(throughput.demoCatalog / spark.demoRate), '≥ 2', verdict(throughput.demoCatalog / spark.demoRate >= 2)],
            ['   Spark peer: freshness p50 (Spark: no trigger interval)', `${round(freshness.p50)} ms (ours, figure 3)`, `${round(sparkLatency!.p50)} ms (Spark, socket source)`, ratio(freshness.p50 / sparkLatency!.p50), '', ''],
            ['   Spark peer: freshness p99', `${round(freshness.p99)} ms (ours, figure 3)`, `${round(sparkLatency!.p99)} ms (Spark, socket source)`, ratio(freshness.p99 / sparkLatency!.p99), '', ''],
            ['   Spark peer: batch count over the same Parquet files', `${round(recompute.recomputeMs)} ms (ours, figure 2)`, `${round(spark.batchMs)} ms (Spark batch, local[2])`, ratio(spark.batchMs / recompute.recomputeMs), '≥ 5 (Spark ÷ ours)', verdict(spark.batchMs / recompute.recomputeMs >= 5)],
          ]
        : []),
      [`6. Ad-hoc SQL group-by, ${round(sql.rows)} merged rows (view unchanged)`, milliseconds(sql.warmMs), `${milliseconds(sql.duckDbMs)} (DuckDB, same SQL, rows in a table)`, ratio(sql.warmMs / sql.duckDbMs), '≤ 1.5', verdict(sql.warmMs / sql.duckDbMs <= 1.5)],
      ['   same, the view moved since the last query', milliseconds(sql.coldMs), 'same', ratio(sql.coldMs / sql.duckDbMs), '', ''],
    ];
    const table = [
      '| figure | measured | baseline (same run) | ratio | target | |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows.map((row) => `| ${row.join(' | ')} |`),
    ].join('\n');
    const notes = [
      `- ${round(options.events)} page-view events in 4 partitions; the speed layer used ${throughput.workers} worker threads; views durable (fsync \`always\`).`,
      `- Recompute: ${recompute.rows} rows; archiving the log into Parquet beforehand took ${round(recompute.archiveMs)} ms (in neither figure).`,
      `- ${demoNote(demo)}`,
      `- Freshness: ${freshness.markers} marker events at ${round(freshness.achievedRate)} events/s (target load ${round(freshness.targetRate)}, half the speed layer's throughput above), one-second micro-batches.`,
      `- Serving: \`pageviews_by_url\` of ${round(serving.state.events)} demo page views in the embedded view store, a batch version of ${serving.state.batchRows} rows and ${serving.state.slices} slices above its horizon; each query one of the ${serving.state.keys} pages over the last ${serving.state.rangeMinutes} minutes (${serving.state.windowsPerAnswer} windows). ${serving.generator} in a process of its own, ${serving.connections} connections, each route ${serving.rounds} × ${serving.secondsPerRound.toFixed(1)} s after a warm-up, alternately; ${round(serving.requests.merged)} merged and ${round(serving.requests.constant)} bare requests, all answered 2xx.`,
      `- SQL: \`POST /query\`'s engine in process, the query \`${sql.sql}\` over a view of ${round(sql.rows)} windows (${round(sql.rows / 100)} pages × 100 minutes; count, avg and max) in the embedded view store, a batch version and a slice above it. *Unchanged*: the table loaded for the previous query serves (the view's shape is read, not its rows). *Moved*: a new slice since the last query, so the snapshot is read, merged and loaded into DuckDB first.`,
      ...(spark
        ? [
            `- Spark peer: pyspark 4.3.0 (infra/spark/requirements.txt) on Java 17, local[2]; its start-up (JVM and session) took ${round(spark.startupMs)} ms, in neither figure. Streaming: the same events as ${SPARK_JSON_FILES} JSON-lines files, one a micro-batch (${spark.microBatches} micro-batches, trigger availableNow), update mode, each micro-batch's rows written to Parquet (the demo views: three such queries at once, with count, avg, max and approx_count_distinct; Spark has no top-k aggregate, which ours also computes); ours reads the embedded log and writes the view store with fsync. Batch: the ${round(spark.batchRows)} rows of the count written to Parquet; ours writes them to the view store and publishes a version. Freshness: ${sparkLatency!.markers} markers sent as text lines to Spark's socket source at 20 a second, micro-batches back to back (no trigger interval), each timed from being sent to being in a micro-batch's output (foreachBatch); ours (figure 3) is from append to the merged answer (the reader in process), with one-second micro-batches under load; Spark here carries no other load.`,
          ]
        : []),
    ].join('\n');
    console.log(`\n${table}\n\n${notes}\n`);
    if (options.markdown) console.log(`Wrote the results into ${await writeMarkdownBlock(options.markdown, 'results', command, `${table}\n\n${notes}`)}.`);
  } finally {
    await dataset.remove();
  }
}

async function runCostCurve(sizes: number[]): Promise<void> {
  console.log(`Cost curve on ${machine}: figures 1 and 2 at ${sizes.map(round).join(', ')} events, ${options.rounds} round(s), ${options.workers} speed-layer workers`);
  const points = await measureCostCurve(sizes, { rounds: options.rounds, workers: options.workers, duckdb: duckdbOptions });
  const table = costCurveTable(points);
  const notes = [
    `- Made by \`${command}\`.`,
    `- Each size is its own log of the web demo's page views (seeded; 4 partitions), archived into Parquet once before figure 2 (the archive time is in neither figure). The baseline's rate is measured over the first million events of each log (all of a smaller one).`,
    '- Figure 1: the speed layer from the start of the log to its end, views durable (fsync `always`). Figure 2: the count view, and the three demo views, recomputed over the whole archive and published, against hand-written DuckDB queries over the same files; peak memory is each side\'s own process (Node included).',
    ...points.map(({ events, recompute }) => `- ${round(events)} events: ${demoNote(recompute.demo!)}`),
  ].join('\n');
  console.log(`\n${table}\n\n${notes}\n`);
  if (options.markdown) console.log(`Wrote the curve into ${await writeMarkdownBlock(options.markdown, 'curve', command, `${table}\n\n${notes}`)}.`);
}

function costCurveTable(points: CostPoint[]): string {
  const header = ['events', '1. count view', '1. three demo views', '1. baseline (parse + count)', '2. count view: recompute / hand-written', '2. three demo views: recompute', '2. hand-written queries', '2. demo ratio', 'archiving (in neither)'];
  const rows = points.map(({ events, throughput, recompute }) => [
    round(events),
    `${round(throughput.countView)} events/s (${ratio(throughput.countView / throughput.baseline)})`,
    `${round(throughput.demoCatalog)} events/s (${ratio(throughput.demoCatalog / throughput.baseline)})`,
    `${round(throughput.baseline)} events/s`,
    `${milliseconds(recompute.recomputeMs)} / ${milliseconds(recompute.handWrittenMs)} (${ratio(recompute.recomputeMs / recompute.handWrittenMs)})`,
    `${round(recompute.demo!.recompute.ms)} ms, ${round(recompute.demo!.recompute.eventsPerSecond)} events/s, peak ${mebibytes(recompute.demo!.recompute.maxRssBytes)}`,
    `${round(recompute.demo!.handWritten.ms)} ms, ${round(recompute.demo!.handWritten.eventsPerSecond)} events/s, peak ${mebibytes(recompute.demo!.handWritten.maxRssBytes)}`,
    ratio(recompute.demo!.ratio),
    `${round(recompute.archiveMs)} ms`,
  ]);
  return [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

/** The demo views' figure in words: each view's share, the rows, the rounds and the DuckDB settings. */
function demoNote(demo: DemoRecomputeResult): string {
  const parts = (figure: Record<string, number>) => Object.entries(figure).map(([name, ms]) => `${name} ${round(ms)} ms`).join(', ');
  const settings = demo.duckdb.memoryLimit ? `DuckDB memory limit ${demo.duckdb.memoryLimit} on both sides` : "DuckDB's default settings on both sides";
  return `Demo views (${Object.entries(demo.rows).map(([view, rows]) => `${view} ${round(rows)} rows`).join(', ')}): median of ${demo.rounds} round(s), each side a fresh process per round, alternating, after one unmeasured pair; ${settings}. Recompute per view: ${parts(demo.recompute.parts)}. Hand-written per query: ${parts(demo.handWritten.parts)}.`;
}
