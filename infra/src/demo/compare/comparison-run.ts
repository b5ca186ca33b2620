/**
 * The comparative demo's run: Lambda and Kappa side by side on one stream. Each mode is a platform in its
 * own process (so CPU time is per mode); the driver generates the scenario's events once and appends the
 * same events, in the same order, to both; it samples freshness, checks answers against DuckDB over every
 * record at checkpoints, applies the scenario's logic change midway and measures until each mode answers
 * with the new logic over all history, then measures CPU, storage and what each mode started.
 * Over 400 lines because it is one script, step after step, best read top to bottom.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDbEngine } from '@lambda/batch-layer';
import { Catalog, PlatformError, TimeoutError, type CompiledView, type LogRecord } from '@lambda/core';
import type { Scenario, ScenarioEvent } from '../scenarios/scenario.js';
import { diskUsage, type DiskUsage } from './disk-usage.js';
import { modeEnvironment } from './mode-environment.js';
import { ModeInstance } from './mode-instance.js';
import { archiveFiles, installHistory, type HistorySummary, type PreparedHistory } from './history.js';
import type { CpuReply, Mode, MovingParts, ReprocessSummary } from './mode-protocol.js';
import { reprocessOverApi, type ProgressSample } from './reprocess-over-api.js';
import { percentile } from './statistics.js';
import { TruthTable, differences } from './truth.js';
import { probePosition, readWholeView, sampleFreshness } from './view-answers.js';

export const MODES: readonly Mode[] = ['lambda', 'kappa'];

export interface ComparisonOptions {
  scenario: Scenario;
  /** Where each mode's data directory and log file go. */
  workDirectory: string;
  seed?: number;
  /** Events per second appended to both modes. Default 300. */
  eventsPerSecond?: number;
  /** How long events flow; the logic change is applied halfway. Default 16 s. */
  durationMs?: number;
  /** The speed layer's micro-batch interval in both modes. Default 250 ms. */
  batchIntervalMs?: number;
  /** Lambda's batch recompute interval. Default 5 s. */
  recomputeEveryMs?: number;
  /** Kappa's compaction interval. Default 5 s. */
  compactEveryMs?: number;
  /** How long the change may take to show over all history before the run fails. Default 90 s. */
  changeTimeoutMs?: number;
  /**
   * A pre-built history both modes start from (see history.ts): copied into each mode's data directory
   * before its platform starts, and read by the truth straight from its Parquet archive.
   */
  history?: PreparedHistory;
  /** Called as the run moves on, for a progress bar. */
  onProgress?: (progress: { percent: number; phase: string }) => void;
  /** Called with each mode's reprocess progress, read from its API while the change runs. */
  onReprocessProgress?: (mode: Mode, sample: ProgressSample) => void;
}

export interface CheckpointResult {
  label: string;
  /** Ms since the run started. */
  atMs: number;
  /** Records (valid or not) appended so far. */
  records: number;
  /** Per mode, per view: whether the answer equals the truth, and how many windows it has. */
  modes: Record<Mode, { view: string; logic: 'old' | 'new'; equal: boolean; windows: number; problems: string[] }[]>;
}

export interface ModeMeasurements {
  freshnessSamples: { atMs: number; freshnessMs: number }[];
  freshnessP50Ms: number | null;
  freshnessP99Ms: number | null;
  /** From the change to the first answer equal to the new logic's truth over all history. */
  changeReflectedAfterMs: number | null;
  reprocess: ReprocessSummary | null;
  /** CPU time, ms, over the whole run and over the change (from the change to its reflection). */
  cpuMs: { total: number; duringChange: number | null };
  storage: DiskUsage;
  movingParts: MovingParts;
  /** The reprocess's progress as the mode's API reported it (`GET /views/:name/reprocess`) while it ran. */
  reprocessProgress: ProgressSample[];
  /** Freshness of the answers sampled between the change and its reflection: does reprocessing hurt live answers? */
  freshnessDuringChange: { samples: number; p50Ms: number | null; p99Ms: number | null };
  /** The process's peak resident memory over the run, bytes. */
  peakRssBytes: number;
  /**
   * What the change read. `log` and `lake` are records (and bytes, at the average size of a record in that
   * store) the new generation got from each; `measuredBytes` is what the process read through system calls
   * from the change to its reflection (`rchar`: files, page cache included, and sockets).
   */
  reads: { logRecords: number; lakeRecords: number; logBytes: number; lakeBytes: number; measuredBytes: number | null };
  /** With a history: from starting the mode's process until its answers counted the whole history; null without. */
  historyLoadedAfterMs: number | null;
}

export interface ComparisonResult {
  scenario: { name: string; title: string; description: string; changedView: string; change: string };
  settings: { seed: number; eventsPerSecond: number; durationMs: number; batchIntervalMs: number; recomputeEveryMs: number; compactEveryMs: number };
  startedAt: number;
  /** Ms since the start when the change was applied. */
  changeAtMs: number;
  records: { total: number; valid: number; byKind: Record<string, number> };
  /** The pre-built history the run started from (its events are among `records`), or null. */
  history: { count: number; valid: number; byKind: Record<string, number>; logBytes: number; lakeBytes: number; built: boolean; buildMs: HistorySummary['buildMs'] } | null;
  checkpoints: CheckpointResult[];
  modes: Record<Mode, ModeMeasurements>;
}

const TICK_MS = 100;
const SAMPLE_EVERY_MS = 200;
const POLL_CHANGE_EVERY_MS = 250;

export async function runComparison(options: ComparisonOptions): Promise<ComparisonResult> {
  const { scenario } = options;
  const settings = {
    seed: options.seed ?? 7,
    eventsPerSecond: options.eventsPerSecond ?? 300,
    durationMs: options.durationMs ?? 16_000,
    batchIntervalMs: options.batchIntervalMs ?? 250,
    recomputeEveryMs: options.recomputeEveryMs ?? 5000,
    compactEveryMs: options.compactEveryMs ?? 5000,
  };
  const progress = options.onProgress ?? (() => undefined);
  const oldCatalog = Catalog.compile(scenario.catalog);
  const newCatalog = Catalog.compile({
    ...scenario.catalog,
    views: scenario.catalog.views.map((view) => (view.name === scenario.change.view ? scenario.change.definition : view)),
  });
  const catalogFile = join(options.workDirectory, 'catalog.json');
  await mkdir(options.workDirectory, { recursive: true });
  await writeFile(catalogFile, JSON.stringify(scenario.catalog, null, 2));

  const env = (mode: Mode) => modeEnvironment(mode, join(options.workDirectory, mode), catalogFile, settings);
  if (options.history) {
    progress({ percent: 0, phase: 'copying the history into both modes' });
    await Promise.all(MODES.map((mode) => installHistory(options.history!, mode, join(options.workDirectory, mode))));
  }
  progress({ percent: 0, phase: 'starting both platforms' });
  const launchedAt = Date.now();
  const started = await Promise.allSettled(
    MODES.map((mode) => ModeInstance.start({ mode, env: env(mode), logFile: join(options.workDirectory, `${mode}.log`) })),
  );
  const instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const engine = await DuckDbEngine.create({ threads: 1 });
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const byMode = Object.fromEntries(instances.map((instance) => [instance.mode, instance])) as Record<Mode, ModeInstance>;
    const run = new ComparisonRun(options, settings, scenario, byMode, oldCatalog, newCatalog, engine, launchedAt);
    return await run.execute();
  } finally {
    engine.close();
    await Promise.all(instances.map((instance) => instance.close()));
  }
}

/** The state of one run: the truth, the ends of the log, the samples. */
class ComparisonRun {
  private readonly startedAt = Date.now();
  private readonly generator;
  private readonly truth: TruthTable;
  /** Per partition of the scenario's topic: one past the last record appended. */
  private readonly ends: number[] = [];
  private readonly byKind: Record<string, number> = {};
  private total = 0;
  private valid = 0;
  private feeding = false;
  private changeAt: number | null = null;
  /** Set when a reprocess failed: the change will never show, so nobody waits for it. */
  private stopWatching = false;
  private lastReadError: Error | undefined;
  /** Per mode, while the change is watched: when its reprocess returned, and what the last comparison found. */
  private readonly reprocessedAt: Partial<Record<Mode, number>> = {};
  private readonly lastComparison: Partial<Record<Mode, { problems: string[]; position: number[] } | 'unsettled'>> = {};
  private readonly reflectedAt: Partial<Record<Mode, number>> = {};
  private readonly samples: Record<Mode, { atMs: number; freshnessMs: number }[]> = { lambda: [], kappa: [] };
  private readonly checkpoints: CheckpointResult[] = [];
  private readonly progressSamples: Record<Mode, ProgressSample[]> = { lambda: [], kappa: [] };
  /** Per mode, once its reprocess reported the switch: only then can its answer show the new logic. */
  private readonly switching: Partial<Record<Mode, boolean>> = {};
  private readonly caughtUpAt: Partial<Record<Mode, number>> = {};
  /** Per partition, the pre-built history's end offset (empty without one). */
  private historyEnds: number[] = [];
  /** How long a wait for the history may take: scaled with its size, so 20 M events get their time. */
  private readonly historyAllowanceMs: number;

  constructor(
    private readonly options: ComparisonOptions,
    private readonly settings: ComparisonResult['settings'],
    private readonly scenario: Scenario,
    private readonly instances: Record<Mode, ModeInstance>,
    private readonly oldCatalog: Catalog,
    private readonly newCatalog: Catalog,
    engine: DuckDbEngine,
    /** When the modes' processes were started. */
    private readonly launchedAt: number,
  ) {
    this.generator = scenario.generator({ seed: settings.seed });
    this.truth = new TruthTable(engine, oldCatalog.sources.get(scenario.topic)!);
    this.historyAllowanceMs = (options.history?.summary.count ?? 0) * 0.05;
  }

  /** The history's records into the truth (from its Parquet archive, by DuckDB) and into the counts. */
  private async loadHistory(history: PreparedHistory): Promise<void> {
    const added = await this.truth.addParquet(await archiveFiles(history.directory, this.scenario.topic));
    if (added !== history.summary.valid) throw new PlatformError(`the history's archive holds ${added} records, its summary says ${history.summary.valid}`);
    history.summary.ends.forEach((end, partition) => (this.ends[partition] = end));
    this.historyEnds = [...history.summary.ends];
    for (const [kind, count] of Object.entries(history.summary.byKind)) this.byKind[kind] = (this.byKind[kind] ?? 0) + count;
    this.total += history.summary.count;
    this.valid += added;
  }

  async execute(): Promise<ComparisonResult> {
    const progress = this.options.onProgress ?? (() => undefined);
    await this.truth.create();
    const cpuAtStart = await this.cpu();
    const history = this.options.history;
    if (history) {
      progress({ percent: 2, phase: 'both modes starting from the history' });
      await this.loadHistory(history);
      await this.checkpoint('history loaded', 'old');
    }
    const half = this.settings.durationMs / 2;
    progress({ percent: 5, phase: 'streaming (old logic)' });
    await this.feed(half / 2, (fraction) => progress({ percent: 5 + fraction * 15, phase: 'streaming (old logic)' }));
    await this.checkpoint('early, old logic', 'old');
    await this.feed(half / 2, (fraction) => progress({ percent: 20 + fraction * 15, phase: 'streaming (old logic)' }));
    await this.checkpoint('before the change', 'old');

    progress({ percent: 40, phase: `logic change: ${this.scenario.change.view}` });
    const cpuAtChange = await this.cpu();
    const cpuAtReflection: Partial<Record<Mode, CpuReply>> = {};
    this.changeAt = Date.now();
    const reprocesses = MODES.map((mode) =>
      reprocessOverApi(this.instances[mode].url, this.scenario.change.view, this.scenario.change.definition, {
        deadline: this.changeAt! + (this.options.changeTimeoutMs ?? 90_000) + this.historyAllowanceMs,
        stopped: () => this.stopWatching && this.reflectedAt[mode] === undefined,
        onProgress: ({ state, progress: { phase, percent } }) => {
          const sample: ProgressSample = { atMs: Date.now() - this.changeAt!, state, phase, percent };
          this.progressSamples[mode].push(sample);
          if (phase !== 'archive' && phase !== 'replay') this.switching[mode] = true;
          this.options.onReprocessProgress?.(mode, sample);
        },
      }).then(
        (summary): { mode: Mode; summary: ReprocessSummary | null; error: Error | undefined } => {
          this.reprocessedAt[mode] = Date.now();
          return { mode, summary, error: undefined };
        },
        (error: unknown) => ({ mode, summary: null, error: error as Error }),
      ),
    );
    let watched = false;
    const watching = this.watchChange((mode, cpu) => (cpuAtReflection[mode] = cpu)).finally(() => (watched = true));
    // Settled here, awaited below: a failure while events still flow must not go unhandled meanwhile.
    watching.catch(() => undefined);
    const results = Promise.all(reprocesses).then((settled) => {
      const failed = settled.find((result) => result.error);
      if (failed) this.stopWatching = true;
      return settled;
    });
    await this.feed(half, (fraction) => progress({ percent: 40 + fraction * 30, phase: 'streaming (new logic)' }));
    // With a long history the change outlasts the stream: events keep flowing (and freshness is sampled)
    // until both modes reflect it, which is what shows whether reprocessing hurts live answers.
    while (history && !watched && !this.stopWatching) {
      progress({ percent: 70, phase: 'streaming while the change reaches all history' });
      await this.feed(1000, () => undefined);
    }
    progress({ percent: 70, phase: 'waiting for the change to reach all history' });
    const settled = await results;
    const failed = settled.find((result) => result.error);
    if (failed) {
      this.stopWatching = true;
      await watching.catch(() => undefined);
      throw failed.error;
    }
    await watching;
    progress({ percent: 85, phase: 'final checkpoint' });
    await this.checkpoint('after the change', 'new');
    const cpuAtEnd = await this.cpu();

    progress({ percent: 95, phase: 'measuring storage and moving parts' });
    const modes = {} as Record<Mode, ModeMeasurements>;
    for (const mode of MODES) {
      const values = this.samples[mode].map((sample) => sample.freshnessMs);
      const reflected = this.reflectedAt[mode];
      const changeAtMs = this.changeAt - this.startedAt;
      const reflectedAtMs = reflected === undefined ? Number.POSITIVE_INFINITY : reflected - this.startedAt;
      const during = this.samples[mode].filter((sample) => sample.atMs >= changeAtMs && sample.atMs <= reflectedAtMs).map((sample) => sample.freshnessMs);
      const storage = await diskUsage(join(this.options.workDirectory, mode));
      const reprocess = settled.find((result) => result.mode === mode)!.summary;
      const offsets = this.ends.reduce((sum, end) => sum + end, 0);
      const lakeRecords = reprocess?.recordsFromArchive ?? 0;
      const logRecords = Math.max(0, (reprocess?.recordsReplayed ?? 0) - lakeRecords);
      const atReflection = cpuAtReflection[mode];
      modes[mode] = {
        freshnessSamples: this.samples[mode],
        freshnessP50Ms: percentile(values, 0.5),
        freshnessP99Ms: percentile(values, 0.99),
        changeReflectedAfterMs: reflected === undefined ? null : reflected - this.changeAt,
        reprocess: settled.find((result) => result.mode === mode)!.summary,
        cpuMs: {
          total: cpuMs(cpuAtStart[mode], cpuAtEnd[mode]),
          duringChange: cpuAtReflection[mode] ? cpuMs(cpuAtChange[mode], cpuAtReflection[mode]) : null,
        },
        storage,
        movingParts: await this.instances[mode].movingParts(),
        reprocessProgress: this.progressSamples[mode],
        freshnessDuringChange: { samples: during.length, p50Ms: percentile(during, 0.5), p99Ms: percentile(during, 0.99) },
        peakRssBytes: cpuAtEnd[mode].maxRssBytes,
        reads: {
          logRecords,
          lakeRecords,
          logBytes: offsets === 0 ? 0 : Math.round((logRecords * (storage.byPart.log ?? 0)) / offsets),
          lakeBytes: offsets === 0 ? 0 : Math.round((lakeRecords * (storage.byPart.lake ?? 0)) / offsets),
          measuredBytes: atReflection ? atReflection.readBytes - cpuAtChange[mode].readBytes : null,
        },
        historyLoadedAfterMs: this.caughtUpAt[mode] === undefined ? null : this.caughtUpAt[mode]! - this.launchedAt,
      };
    }
    progress({ percent: 100, phase: 'done' });
    return {
      scenario: {
        name: this.scenario.name,
        title: this.scenario.title,
        description: this.scenario.description,
        changedView: this.scenario.change.view,
        change: this.scenario.change.description,
      },
      settings: this.settings,
      startedAt: this.startedAt,
      changeAtMs: this.changeAt - this.startedAt,
      records: { total: this.total, valid: this.valid, byKind: this.byKind },
      history: history
        ? {
            count: history.summary.count,
            valid: history.summary.valid,
            byKind: history.summary.byKind,
            logBytes: history.summary.logBytes,
            lakeBytes: history.summary.lakeBytes,
            built: history.built,
            buildMs: history.summary.buildMs,
          }
        : null,
      checkpoints: this.checkpoints,
      modes,
    };
  }

  /** Appends `perTick` events to both modes every tick for `durationMs`, sampling freshness meanwhile. */
  private async feed(durationMs: number, onFraction: (fraction: number) => void): Promise<void> {
    const start = Date.now();
    const perTick = (this.settings.eventsPerSecond * TICK_MS) / 1000;
    // A fixed count, paced by ticks: a busy machine stretches the feed instead of feeding fewer events,
    // so every checkpoint has the data it checks however slow the machine.
    const total = Math.max(1, Math.round((this.settings.eventsPerSecond * durationMs) / 1000));
    let sent = 0;
    this.feeding = true;
    const sampling = this.sampleFreshness();
    try {
      for (let tick = 1; sent < total; tick++) {
        const due = Math.min(total, Math.floor(perTick * tick));
        if (due > sent) await this.append(this.generator.events(due - sent, Date.now()));
        sent = Math.max(sent, due);
        onFraction(sent / total);
        await sleep(Math.max(0, start + tick * TICK_MS - Date.now()));
      }
    } finally {
      this.feeding = false;
      await sampling;
    }
  }

  /** The same events, in the same order, to both modes; the log places them alike in each, which is checked. */
  private async append(events: ScenarioEvent[]): Promise<void> {
    const messages = events.map(({ key, value }) => ({ key, value }));
    const [lambda, kappa] = await Promise.all(MODES.map((mode) => this.instances[mode].append(this.scenario.topic, messages)));
    const records: LogRecord[] = lambda!.records.map(({ partition, offset }, i) => {
      const other = kappa!.records[i]!;
      if (other.partition !== partition || other.offset !== offset) {
        throw new PlatformError(`the two logs placed an event differently (${partition}/${offset} and ${other.partition}/${other.offset})`);
      }
      this.ends[partition] = Math.max(this.ends[partition] ?? 0, offset + 1);
      const { key, value } = messages[i]!;
      return {
        topic: this.scenario.topic,
        partition,
        offset,
        timestamp: lambda!.appendedAt,
        key: key === null ? null : Buffer.from(key),
        value: Buffer.from(value),
        headers: {},
      };
    });
    for (const event of events) this.byKind[event.kind] = (this.byKind[event.kind] ?? 0) + 1;
    this.total += records.length;
    this.valid += await this.truth.add(records);
  }

  private async sampleFreshness(): Promise<void> {
    while (this.feeding) {
      await Promise.all(
        MODES.map(async (mode) => {
          const sample = await sampleFreshness(this.instances[mode].url, this.scenario.change.view).catch(() => null);
          // Until a mode counted a live record its newest one is the pre-built history's, appended when the
          // history was built (maybe days ago): no measure of the live stream's freshness.
          const live = sample !== null && this.historyEnds.some((end, p) => (sample.position[p] ?? 0) > end);
          if (sample !== null && sample.freshnessMs !== null && (live || this.historyEnds.length === 0)) {
            this.samples[mode].push({ atMs: Date.now() - this.startedAt, freshnessMs: sample.freshnessMs });
          }
        }),
      );
      await sleep(SAMPLE_EVERY_MS);
    }
  }

  /** Polls each mode's changed view until its answer equals the new logic's truth over all history. */
  private async watchChange(onReflected: (mode: Mode, cpu: CpuReply) => void): Promise<void> {
    const view = this.newCatalog.views.get(this.scenario.change.view)!;
    const timeoutMs = (this.options.changeTimeoutMs ?? 90_000) + this.historyAllowanceMs;
    const deadline = this.changeAt! + timeoutMs;
    const waiting = new Set<Mode>(MODES);
    // One loop per mode: over a long history the truth takes seconds, and one mode's comparison must not
    // delay reading the other's answer (the reflection is timed at the read).
    const watch = async (mode: Mode) => {
      while (!this.stopWatching) {
        if (Date.now() > deadline) {
          throw new TimeoutError(
            `the logic change did not reach all history in ${[...waiting].join(' and ')} within ${timeoutMs} ms` +
              [...waiting].map((other) => this.watchState(other)).join('') +
              this.lastErrorText(),
          );
        }
        // Before its reprocess reports the switch a mode still serves the old generation: no whole read
        // (and, over a long history, no costly truth) is spent on it until then.
        if (this.switching[mode] || this.reprocessedAt[mode] !== undefined) {
          // CPU read just before the answer: the truth's own time is no part of the mode's change.
          const cpu = await this.instances[mode].cpu();
          const check = await this.compare(mode, view);
          this.lastComparison[mode] = check ? { problems: check.problems, position: check.position } : 'unsettled';
          if (check?.equal) {
            this.reflectedAt[mode] = check.answeredAt;
            waiting.delete(mode);
            onReflected(mode, cpu);
            return;
          }
        }
        await sleep(POLL_CHANGE_EVERY_MS);
      }
    };
    await Promise.all(
      MODES.map((mode) =>
        watch(mode).catch((error: unknown) => {
          // One mode timed out or failed: the other stops watching too.
          this.stopWatching = true;
          throw error;
        }),
      ),
    );
  }

  /**
   * One mode's whole answer compared with the truth at the answer's own position; undefined when the
   * answer's pages saw different positions or records the driver has not yet counted (asked again later).
   */
  private async compare(mode: Mode, view: CompiledView): Promise<{ equal: boolean; windows: number; problems: string[]; answeredAt: number; position: number[] } | undefined> {
    // A read that fails (a generation switching underneath, a busy process) is asked again, like any
    // other not-yet; the last failure is kept for the message if time runs out.
    const answer = await readWholeView(this.instances[mode].url, view.name).catch((error: unknown) => {
      this.lastReadError = error as Error;
      return undefined;
    });
    if (!answer) return undefined;
    const answeredAt = Date.now();
    const position = answer.provenance.position;
    const samePositions = answer.positions.every((other) => other.length === position.length && other.every((offset, p) => offset === position[p]));
    if (!samePositions || position.some((offset, p) => offset > (this.ends[p] ?? 0))) return undefined;
    const truth = await this.truth.windows(view, position);
    const keys = new Set([...truth.values()].map((window) => window.key));
    const problems = differences(answer.windows, truth, keys);
    return { equal: problems.length === 0, windows: answer.windows.length, problems, answeredAt, position };
  }

  /** Waits until each mode has counted every record appended, then compares every checked view with the truth. */
  private async checkpoint(label: string, changedLogic: 'old' | 'new'): Promise<void> {
    const atMs = Date.now() - this.startedAt;
    const modes = { lambda: [], kappa: [] } as CheckpointResult['modes'];
    for (const mode of MODES) {
      for (const name of this.scenario.checkedViews) {
        const logic = name === this.scenario.change.view ? changedLogic : 'old';
        const view = (logic === 'new' ? this.newCatalog : this.oldCatalog).views.get(name)!;
        const deadline = Date.now() + 30_000 + this.historyAllowanceMs;
        for (;;) {
          // The cheap probe first: over a long history a whole read and its truth cost seconds.
          const probed = await probePosition(this.instances[mode].url, name).catch(() => undefined);
          if (!probed || !this.ends.every((end, p) => (probed[p] ?? 0) >= end)) {
            if (Date.now() > deadline) throw new TimeoutError(`${mode} did not catch up with the log for ${name} within ${deadline - atMs - this.startedAt} ms` + this.lastErrorText());
            await sleep(100);
            continue;
          }
          if (this.options.history) this.caughtUpAt[mode] ??= Date.now();
          const check = await this.compare(mode, view);
          if (check && this.ends.every((end, p) => (check.position[p] ?? 0) >= end)) {
            modes[mode].push({ view: name, logic, equal: check.equal, windows: check.windows, problems: check.problems.slice(0, 5) });
            break;
          }
          if (Date.now() > deadline) throw new TimeoutError(`${mode} did not catch up with the log for ${name} within ${deadline - atMs - this.startedAt} ms` + this.lastErrorText());
          await sleep(100);
        }
      }
    }
    this.checkpoints.push({ label, atMs, records: this.total, modes });
  }

  /** What a mode still waited on when the change timed out, for the message. */
  private watchState(mode: Mode): string {
    const reprocessed = this.reprocessedAt[mode];
    const reprocess = reprocessed === undefined ? 'its reprocess had not returned' : `its reprocess returned after ${reprocessed - this.changeAt!} ms`;
    const last = this.lastComparison[mode];
    const answer =
      last === undefined
        ? 'no answer was read'
        : last === 'unsettled'
          ? "the last answer's pages saw different log positions, or records not yet appended"
          : `the last answer (at position ${last.position.join(',')}) had ${last.problems.length} differences, first: ${last.problems[0]}; ends ${this.ends.join(',')}`;
    return `; ${mode}: ${reprocess}, ${answer}`;
  }

  private lastErrorText(): string {
    return this.lastReadError ? ` (last read failure: ${this.lastReadError.message})` : '';
  }

  private async cpu(): Promise<Record<Mode, CpuReply>> {
    const [lambda, kappa] = await Promise.all(MODES.map((mode) => this.instances[mode].cpu()));
    return { lambda: lambda!, kappa: kappa! };
  }
}

function cpuMs(from: CpuReply, to: CpuReply): number {
  return (to.user - from.user + (to.system - from.system)) / 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
