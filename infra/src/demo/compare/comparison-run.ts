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
import { ModeInstance } from './mode-instance.js';
import type { CpuReply, Mode, MovingParts, ReprocessSummary } from './mode-protocol.js';
import { percentile } from './statistics.js';
import { TruthTable, differences } from './truth.js';
import { readWholeView, sampleFreshness } from './view-answers.js';

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
  /** Called as the run moves on, for a progress bar. */
  onProgress?: (progress: { percent: number; phase: string }) => void;
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
}

export interface ComparisonResult {
  scenario: { name: string; title: string; description: string; changedView: string; change: string };
  settings: { seed: number; eventsPerSecond: number; durationMs: number; batchIntervalMs: number; recomputeEveryMs: number; compactEveryMs: number };
  startedAt: number;
  /** Ms since the start when the change was applied. */
  changeAtMs: number;
  records: { total: number; valid: number; byKind: Record<string, number> };
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

  const env = (mode: Mode): Record<string, string> => ({
    DATA_DIR: join(options.workDirectory, mode),
    CATALOG_FILE: catalogFile,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    KAFKA_SERVER: 'false',
    DEMO: 'false',
    // Durability costs the same in both modes; off, the run measures the architectures, not the disk.
    EVENT_LOG_FSYNC: 'never',
    VIEW_STORE_FSYNC: 'never',
    SPEED_WORKERS: '0',
    BATCH_INTERVAL_MS: String(settings.batchIntervalMs),
    RECOMPUTE_EVERY: String(settings.recomputeEveryMs),
    CLEANUP_GRACE: '1000',
    ...(mode === 'kappa' ? { KAPPA_VIEWS: '*', KAPPA_COMPACT_EVERY: String(settings.compactEveryMs) } : {}),
  });
  progress({ percent: 0, phase: 'starting both platforms' });
  const started = await Promise.allSettled(
    MODES.map((mode) => ModeInstance.start({ mode, env: env(mode), logFile: join(options.workDirectory, `${mode}.log`) })),
  );
  const instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const engine = await DuckDbEngine.create({ threads: 1 });
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const byMode = Object.fromEntries(instances.map((instance) => [instance.mode, instance])) as Record<Mode, ModeInstance>;
    const run = new ComparisonRun(options, settings, scenario, byMode, oldCatalog, newCatalog, engine);
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

  constructor(
    private readonly options: ComparisonOptions,
    private readonly settings: ComparisonResult['settings'],
    private readonly scenario: Scenario,
    private readonly instances: Record<Mode, ModeInstance>,
    private readonly oldCatalog: Catalog,
    private readonly newCatalog: Catalog,
    engine: DuckDbEngine,
  ) {
    this.generator = scenario.generator({ seed: settings.seed });
    this.truth = new TruthTable(engine, oldCatalog.sources.get(scenario.topic)!);
  }

  async execute(): Promise<ComparisonResult> {
    const progress = this.options.onProgress ?? (() => undefined);
    await this.truth.create();
    const cpuAtStart = await this.cpu();
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
      this.instances[mode].reprocess(this.scenario.change.view, this.scenario.change.definition).then(
        (summary): { mode: Mode; summary: ReprocessSummary | null; error: Error | undefined } => {
          this.reprocessedAt[mode] = Date.now();
          return { mode, summary, error: undefined };
        },
        (error: unknown) => ({ mode, summary: null, error: error as Error }),
      ),
    );
    const watching = this.watchChange(async (mode) => {
      cpuAtReflection[mode] = await this.instances[mode].cpu();
    });
    // Settled here, awaited below: a failure while events still flow must not go unhandled meanwhile.
    watching.catch(() => undefined);
    const results = Promise.all(reprocesses).then((settled) => {
      const failed = settled.find((result) => result.error);
      if (failed) this.stopWatching = true;
      return settled;
    });
    await this.feed(half, (fraction) => progress({ percent: 40 + fraction * 30, phase: 'streaming (new logic)' }));
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
        storage: await diskUsage(join(this.options.workDirectory, mode)),
        movingParts: await this.instances[mode].movingParts(),
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
          const freshness = await sampleFreshness(this.instances[mode].url, this.scenario.change.view).catch(() => null);
          if (freshness !== null) this.samples[mode].push({ atMs: Date.now() - this.startedAt, freshnessMs: freshness });
        }),
      );
      await sleep(SAMPLE_EVERY_MS);
    }
  }

  /** Polls each mode's changed view until its answer equals the new logic's truth over all history. */
  private async watchChange(onReflected: (mode: Mode) => Promise<void>): Promise<void> {
    const view = this.newCatalog.views.get(this.scenario.change.view)!;
    const deadline = this.changeAt! + (this.options.changeTimeoutMs ?? 90_000);
    const waiting = new Set<Mode>(MODES);
    while (waiting.size > 0 && !this.stopWatching) {
      if (Date.now() > deadline) {
        throw new TimeoutError(
          `the logic change did not reach all history in ${[...waiting].join(' and ')} within ${this.options.changeTimeoutMs ?? 90_000} ms` +
            [...waiting].map((mode) => this.watchState(mode)).join('') +
            this.lastErrorText(),
        );
      }
      for (const mode of [...waiting]) {
        const check = await this.compare(mode, view);
        this.lastComparison[mode] = check ? { problems: check.problems, position: check.position } : 'unsettled';
        if (check?.equal && !this.reflectedAt[mode]) {
          this.reflectedAt[mode] = check.answeredAt;
          waiting.delete(mode);
          await onReflected(mode);
        }
      }
      await sleep(POLL_CHANGE_EVERY_MS);
    }
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
        const deadline = Date.now() + 30_000;
        for (;;) {
          const check = await this.compare(mode, view);
          if (check && this.ends.every((end, p) => (check.position[p] ?? 0) >= end)) {
            modes[mode].push({ view: name, logic, equal: check.equal, windows: check.windows, problems: check.problems.slice(0, 5) });
            break;
          }
          if (Date.now() > deadline) throw new TimeoutError(`${mode} did not catch up with the log for ${name} within 30 s` + this.lastErrorText());
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
