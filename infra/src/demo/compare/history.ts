/**
 * The comparative demo's pre-built history: a scenario's seeded events, N of them over a fixed six hours
 * of event time, in an embedded log and archived into a local lake, then folded by each mode's own
 * platform (Lambda, Kappa) into that mode's data directory, built once and kept in a cache folder (outside
 * the repository) for later runs. Each mode starts from a copy of its own, so a run of 20 M events costs a
 * file copy rather than 20 M appends through the API and 20 M records folded again: the run starts where a
 * platform that has been running for a while is, and measures the logic change, not the first load.
 * Archiving is the batch layer's ordinary continuous work, not part of the logic change, so the lake comes
 * pre-archived too.
 *
 * Building it has three phases, each timed in the summary: generating and appending the events, archiving
 * them, and each mode folding them. The modes fold side by side, Lambda's speed layer first and its batch
 * layer's recompute once at the end (see `FOLD_SETTINGS`), so the fold grows with the history, not with
 * its square. Lambda's speed layer folds the whole log all the same: a batch horizon is always a slice edge
 * (see the batch layer's `chooseHorizon`), and only the speed layer cuts slices, so no batch version can
 * cover the history before the speed layer has folded it.
 *
 * The log is filled through the embedded log's own `append` (same partitioner as the platform's) and the
 * lake by the batch layer's own `Archiver` (same decoder, so a malformed record is left out exactly as the
 * speed layer dead-letters it): the cache cannot disagree with the platform about which records count.
 * Events are generated and appended in chunks, never all in memory: 20 M JSON strings do not fit Node's
 * default heap. A build goes to a temporary folder renamed into place at the end, so an interrupted build
 * is never mistaken for a cache entry.
 */
import { cp, link, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Archiver, DuckDbEngine } from '@lambda/batch-layer';
import { Catalog, EmbeddedEventLog, LocalLake, MASTER_PREFIX, TimeoutError, silentLogger, type CompiledSource } from '@lambda/core';
import type { Scenario } from '../scenarios/scenario.js';
import { diskUsage } from './disk-usage.js';
import { CLEANUP_GRACE_MS, modeEnvironment, type ModeSettings } from './mode-environment.js';
import { ModeInstance } from './mode-instance.js';
import type { Mode } from './mode-protocol.js';
import { recomputeOverApi } from './recompute-over-api.js';
import { probePosition } from './view-answers.js';

/** Bumped when the history's layout or generation changes, so old cache entries are not reused. */
const FORMAT = 4;
const MODES: readonly Mode[] = ['lambda', 'kappa'];
/**
 * The platforms' settings while they fold the history (the run's own settings apply from its start).
 * Lambda recomputes once, when its speed layer has folded everything (see `foldInModes`), not on a
 * schedule: a recompute every few seconds over a lake that grows with the fold repeats a scan of all that
 * was folded so far, so its cost grows with the square of the history (at 20 M it took half of Lambda's
 * CPU and, on two cores, slowed Kappa's fold beside it). Kappa's compaction merges only the slices cut
 * since the last one into a version of bounded size, so it keeps its schedule.
 */
const FOLD_SETTINGS: Record<Mode, ModeSettings> = {
  lambda: { batchIntervalMs: 250, recomputeEveryMs: 24 * 60 * 60 * 1000, compactEveryMs: 5000 },
  kappa: { batchIntervalMs: 250, recomputeEveryMs: 5000, compactEveryMs: 5000 },
};
/** The history's event time ends here: a fixed instant, so every build of one seed is the same. */
export const HISTORY_END = Date.UTC(2026, 0, 1);
/** Event time the history spans, whatever its size: a bounded number of windows per view. */
export const HISTORY_SPAN_MS = 6 * 60 * 60 * 1000;
/** The bad input the issue asks for: 1% malformed, 10% late (and the scenario's usual out-of-order). */
export const HISTORY_SHARES = { malformedShare: 0.01, lateShare: 0.1 } as const;
/** The platform's default partition count (`EVENT_LOG_PARTITIONS`), which the modes run with. */
const PARTITIONS = 4;
const CHUNK = 20_000;

export interface HistorySummary {
  format: number;
  scenario: string;
  seed: number;
  /** Events appended (valid or not). */
  count: number;
  /** Of them, records the platform's decoder accepts (the rest are dead-lettered). */
  valid: number;
  byKind: Record<string, number>;
  /** Per partition, the log's end offset. */
  ends: number[];
  /** Bytes of the log and of the lake (the archive's Parquet files). */
  logBytes: number;
  lakeBytes: number;
  /** How long building it took: generation and appends, archiving, each mode's platform folding it. */
  buildMs: { log: number; archive: number; fold: Record<Mode, number> };
}

export interface PreparedHistory {
  directory: string;
  summary: HistorySummary;
  /** Whether this call built it (false: it came from the cache). */
  built: boolean;
}

export interface HistoryProgress {
  phase: 'generating' | 'archiving' | 'folding';
  done: number;
  total: number;
}

/** Where histories are cached by default: `$XDG_CACHE_HOME/lambda-platform/demo-history` (or `~/.cache/...`). */
export function defaultHistoryCache(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lambda-platform', 'demo-history');
}

/** Parses a count as the CLI takes it: `20000`, `100k`, `1m`, `2.5M`, `20_000`. */
export function parseCount(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim().replaceAll('_', '').replaceAll(',', ''));
  if (!match) throw new Error(`"${text}" is not a count (e.g. 20000, 100k, 1m)`);
  const count = Math.round(Number(match[1]) * { '': 1, k: 1e3, m: 1e6 }[match[2]!.toLowerCase() as '' | 'k' | 'm']);
  if (count < 1) throw new Error(`"${text}" is not a positive count`);
  return count;
}

/** A count as the report names it: 2,000, 100k, 1M, 20M. */
export function formatCount(count: number): string {
  if (count >= 1e6 && count % 1e5 === 0) return `${count / 1e6}M`;
  if (count >= 1e4 && count % 100 === 0) return `${count / 1e3}k`;
  return count.toLocaleString('en');
}

/** The history of `count` events of `scenario` from `seed`: from the cache, else built into it. */
export async function prepareHistory(options: {
  scenario: Scenario;
  seed: number;
  count: number;
  cacheDirectory: string;
  onProgress?: (progress: HistoryProgress) => void;
}): Promise<PreparedHistory> {
  const { scenario, seed, count, cacheDirectory } = options;
  const directory = join(cacheDirectory, `${scenario.name}-seed${seed}-${count}-v${FORMAT}`);
  const cached = await readSummary(directory);
  if (cached) return { directory, summary: cached, built: false };
  const building = `${directory}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  try {
    const summary = await build(building, options);
    await writeFile(join(building, 'history.json'), JSON.stringify(summary, null, 2));
    await rm(directory, { recursive: true, force: true });
    await rename(building, directory);
    return { directory, summary, built: true };
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
}

async function readSummary(directory: string): Promise<HistorySummary | undefined> {
  const text = await readFile(join(directory, 'history.json'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const summary = JSON.parse(text) as HistorySummary;
  return summary.format === FORMAT ? summary : undefined;
}

async function build(directory: string, options: Parameters<typeof prepareHistory>[0]): Promise<HistorySummary> {
  const { scenario, seed, count } = options;
  const progress = options.onProgress ?? (() => undefined);
  const source = Catalog.compile(scenario.catalog).sources.get(scenario.topic)!;
  const started = performance.now();
  const byKind: Record<string, number> = {};
  const log = await EmbeddedEventLog.open({ directory: join(directory, 'log'), fsync: 'never' });
  let ends: number[];
  try {
    await log.createTopic(scenario.topic, { partitions: PARTITIONS });
    const generator = scenario.generator({ seed, ...HISTORY_SHARES });
    const from = HISTORY_END - HISTORY_SPAN_MS;
    progress({ phase: 'generating', done: 0, total: count });
    for (let start = 0; start < count; start += CHUNK) {
      const length = Math.min(CHUNK, count - start);
      const events = Array.from({ length }, (_, i) => generator.event(from + Math.floor(((start + i) * HISTORY_SPAN_MS) / count)));
      for (const event of events) byKind[event.kind] = (byKind[event.kind] ?? 0) + 1;
      await log.append(
        scenario.topic,
        events.map(({ key, value }) => ({ key, value })),
      );
      progress({ phase: 'generating', done: start + length, total: count });
    }
    ends = await log.endOffsets(scenario.topic);
  } finally {
    await log.close();
  }
  const logDone = performance.now();

  const valid = await archiveHistory(directory, source, progress);
  const archiveDone = performance.now();
  const logBytes = (await diskUsage(join(directory, 'log'))).totalBytes;
  const fold = await foldInModes(directory, scenario, ends, progress);
  // Each mode has its own copy of the log now; the lake stays (the truth reads it, the modes link to it).
  await rm(join(directory, 'log'), { recursive: true, force: true });
  const lakeBytes = (await diskUsage(join(directory, 'lake'))).totalBytes;
  return {
    format: FORMAT,
    scenario: scenario.name,
    seed,
    count,
    valid,
    byKind,
    ends,
    logBytes,
    lakeBytes,
    buildMs: { log: Math.round(logDone - started), archive: Math.round(archiveDone - logDone), fold },
  };
}

/** Archives the history's log into its lake with the batch layer's own archiver; returns the records archived. */
async function archiveHistory(directory: string, source: CompiledSource, progress: (progress: HistoryProgress) => void): Promise<number> {
  const eventLog = await EmbeddedEventLog.open({ directory: join(directory, 'log'), fsync: 'never' });
  const lake = await LocalLake.open({ directory: join(directory, 'lake'), fsync: false });
  const engine = await DuckDbEngine.create({ tempDirectory: join(directory, 'duckdb') });
  try {
    const archiver = new Archiver({ eventLog, lake, engine, workDirectory: join(directory, 'archive-work'), logger: silentLogger() });
    await archiver.archiveTopic(source, { onProgress: ({ recordsDone, recordsTotal }) => progress({ phase: 'archiving', done: recordsDone, total: recordsTotal }) });
    return await engine.withConnection(async (connection) => {
      const reader = await connection.runAndReadAll(`SELECT count(*)::BIGINT FROM read_parquet(${sqlList(await archiveFiles(directory, source.topic))})`);
      return Number(reader.getRows()[0]![0]);
    });
  } finally {
    engine.close();
    await lake.close();
    await eventLog.close();
    await rm(join(directory, 'archive-work'), { recursive: true, force: true });
    await rm(join(directory, 'duckdb'), { recursive: true, force: true });
  }
}

/**
 * Each mode's platform, started on a copy of the history, folds it (Lambda's speed layer, Kappa's speed
 * layer and compactor) until every view counts the whole log; Lambda's batch layer then recomputes every
 * view once over the lake, as its schedule would have by now. Each then stops cleanly, leaving its data
 * directory (log with committed offsets, views, lake) as the state a run starts from. The modes fold side
 * by side: each speed layer folds in one thread, so on two cores they take about as long together as one.
 */
async function foldInModes(directory: string, scenario: Scenario, ends: number[], progress: (progress: HistoryProgress) => void): Promise<Record<Mode, number>> {
  const catalogFile = join(directory, 'catalog.json');
  await writeFile(catalogFile, JSON.stringify(scenario.catalog, null, 2));
  const target = ends.reduce((sum, end) => sum + end, 0);
  const covered: Record<Mode, number> = { lambda: 0, kappa: 0 };
  const report = () => progress({ phase: 'folding', done: covered.lambda + covered.kappa, total: 2 * target });
  report();
  const deadline = Date.now() + 120_000 + target * 0.1;
  const durations = await Promise.all(
    MODES.map(async (mode) => {
      const dataDirectory = join(directory, 'modes', mode);
      await copyData(join(directory), dataDirectory, ['log', 'lake']);
      const started = performance.now();
      const instance = await ModeInstance.start({ mode, env: modeEnvironment(mode, dataDirectory, catalogFile, FOLD_SETTINGS[mode]), logFile: join(directory, `${mode}-fold.log`) });
      try {
        for (const view of Catalog.compile(scenario.catalog).views.keys()) {
          for (;;) {
            const position = await probePosition(instance.url, view).catch(() => undefined);
            if (position) covered[mode] = position.reduce((sum, offset) => sum + offset, 0);
            report();
            if (position && ends.every((end, p) => (position[p] ?? 0) >= end)) break;
            if (Date.now() > deadline) throw new TimeoutError(`the ${mode} platform did not fold the history in time (see ${join(directory, `${mode}-fold.log`)})`);
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
        }
        if (mode === 'lambda') {
          await recomputeOverApi(instance.url, { deadline });
          // The slices the version covers are deleted a grace period after it is published, and stopping
          // cancels that: waited out, the state a run copies holds no slice the batch version covers.
          await new Promise((resolve) => setTimeout(resolve, CLEANUP_GRACE_MS + 1000));
        }
        return Math.round(performance.now() - started);
      } finally {
        await instance.close();
      }
    }),
  );
  await rm(join(directory, 'lambda-fold.log'), { force: true });
  await rm(join(directory, 'kappa-fold.log'), { force: true });
  return { lambda: durations[0]!, kappa: durations[1]! };
}

/** The history's archive files (Parquet), for DuckDB: the truth reads the history from them. */
export async function archiveFiles(directory: string, topic: string): Promise<string[]> {
  const root = join(directory, 'lake', MASTER_PREFIX, topic);
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.parquet'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** A list of paths as a DuckDB list literal (the paths are the cache's own, quoted all the same). */
export function sqlList(paths: readonly string[]): string {
  return `[${paths.map((path) => `'${path.replaceAll("'", "''")}'`).join(', ')}]`;
}

/**
 * Puts a mode's folded history into its data directory before its platform starts: the log and the views
 * copied (the mode appends to and rewrites them), the lake's archive files hard-linked (immutable objects;
 * a link costs nothing at 20 M), falling back to a copy across file systems.
 */
export async function installHistory(history: PreparedHistory, mode: Mode, dataDirectory: string): Promise<void> {
  const from = join(history.directory, 'modes', mode);
  await copyData(from, dataDirectory, (await readdir(from)).filter((name) => name !== '.lock'));
}

/** Copies the named entries of a data directory, linking the lake's archive files, leaving lock files. */
async function copyData(from: string, to: string, names: readonly string[]): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of names) {
    const root = join(from, name);
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      const source = join(entry.parentPath, entry.name);
      const path = relative(from, source);
      const target = join(to, path);
      if (entry.isDirectory()) await mkdir(target, { recursive: true });
      if (!entry.isFile() || entry.name === '.lock') continue;
      await mkdir(dirname(target), { recursive: true });
      if (path.startsWith(`lake/${MASTER_PREFIX}/`)) await link(source, target).catch(() => cp(source, target));
      else await cp(source, target);
    }
  }
}
