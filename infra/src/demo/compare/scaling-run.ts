/**
 * The scaling run (`--scaling 100k,1m,5m,20m`): the comparative demo once per history size, each from a
 * pre-built history of that size (cached between runs), so the cost of a logic change can be read
 * against the length of the history. Where the two architectures really differ: Kappa replays the whole
 * log through the stream processor, Lambda recomputes the history in DuckDB and replays only the tail.
 * Sizes run one after another, each with fresh data directories, deleted once measured (20 M events are
 * gigabytes per mode).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MODES, runComparison, type ComparisonOptions, type ComparisonResult } from './comparison-run.js';
import { prepareHistory, type HistoryProgress } from './history.js';
import type { Mode } from './mode-protocol.js';

export interface ScalingOptions extends Omit<ComparisonOptions, 'history' | 'workDirectory' | 'onProgress'> {
  /** History sizes (events), run in this order. */
  sizes: number[];
  /** Where histories are cached between runs. */
  cacheDirectory: string;
  /** Where each size's mode data directories go while it runs. */
  workDirectory: string;
  /** Keep each size's data directories. */
  keep?: boolean;
  onHistoryProgress?: (size: number, progress: HistoryProgress) => void;
  onProgress?: (size: number, progress: { percent: number; phase: string }) => void;
  /**
   * Called after each size with the result so far (`pending` names the sizes still to run), so a report
   * can be written as the run goes: a run of 20 M events takes long, and what it measured must not be lost.
   */
  onPoint?: (partial: ScalingResult) => Promise<void>;
}

/** One mode at one size: the figures the scaling report compares. */
export interface ScalingModeFigures {
  /** From the change to the first answer equal to the new logic's truth over all history. */
  reflectedAfterMs: number | null;
  /** The platform's own reprocess: from its start to readers switching. */
  switchedAfterMs: number | null;
  cpuDuringChangeMs: number | null;
  cpuTotalMs: number;
  peakRssBytes: number;
  reads: ComparisonResult['modes'][Mode]['reads'];
  storageBytes: number;
  storageByPart: Record<string, number>;
  freshnessDuringChange: ComparisonResult['modes'][Mode]['freshnessDuringChange'];
  freshnessP50Ms: number | null;
  freshnessP99Ms: number | null;
  historyLoadedAfterMs: number | null;
  /** Progress readings from the mode's API while the change ran. */
  progressReadings: number;
  /** Every checkpoint's every view equal to the truth. */
  equal: boolean;
}

export interface ScalingPoint {
  /** Events in the pre-built history. */
  history: number;
  /** Records at the end (history and live), valid or not. */
  records: ComparisonResult['records'];
  historyInfo: NonNullable<ComparisonResult['history']>;
  /** Wall time of this size: copying the history, both modes folding it, the stream, the change. */
  runMs: number;
  checkpoints: { label: string; records: number; views: string[]; equal: Record<Mode, boolean> }[];
  modes: Record<Mode, ScalingModeFigures>;
}

export interface ScalingResult {
  kind: 'scaling';
  scenario: ComparisonResult['scenario'];
  settings: ComparisonResult['settings'] & { sizes: number[] };
  startedAt: number;
  wallMs: number;
  points: ScalingPoint[];
  /** Sizes not run yet (empty once the run is complete). */
  pending: number[];
}

export async function runScaling(options: ScalingOptions): Promise<ScalingResult> {
  const started = Date.now();
  const points: ScalingPoint[] = [];
  let first: ComparisonResult | undefined;
  for (const size of options.sizes) {
    const history = await prepareHistory({
      scenario: options.scenario,
      seed: options.seed ?? 7,
      count: size,
      cacheDirectory: options.cacheDirectory,
      onProgress: (progress) => options.onHistoryProgress?.(size, progress),
    });
    const workDirectory = join(options.workDirectory, String(size));
    const runStarted = Date.now();
    try {
      const result = await runComparison({
        ...options,
        workDirectory,
        history,
        onProgress: (progress) => options.onProgress?.(size, progress),
      });
      first ??= result;
      points.push(pointOf(size, result, Date.now() - runStarted));
    } finally {
      if (!options.keep) await rm(workDirectory, { recursive: true, force: true });
    }
    await options.onPoint?.(resultSoFar());
  }
  return resultSoFar();

  function resultSoFar(): ScalingResult {
    return {
      kind: 'scaling',
      scenario: first!.scenario,
      settings: { ...first!.settings, sizes: options.sizes },
      startedAt: started,
      wallMs: Date.now() - started,
      points: [...points],
      pending: options.sizes.slice(points.length),
    };
  }
}

function pointOf(size: number, result: ComparisonResult, runMs: number): ScalingPoint {
  const figures = (mode: Mode): ScalingModeFigures => {
    const measured = result.modes[mode];
    const reprocess = measured.reprocess;
    return {
      reflectedAfterMs: measured.changeReflectedAfterMs,
      switchedAfterMs: reprocess ? reprocess.switchedAt - reprocess.startedAt : null,
      cpuDuringChangeMs: measured.cpuMs.duringChange,
      cpuTotalMs: measured.cpuMs.total,
      peakRssBytes: measured.peakRssBytes,
      reads: measured.reads,
      storageBytes: measured.storage.totalBytes,
      storageByPart: measured.storage.byPart,
      freshnessDuringChange: measured.freshnessDuringChange,
      freshnessP50Ms: measured.freshnessP50Ms,
      freshnessP99Ms: measured.freshnessP99Ms,
      historyLoadedAfterMs: measured.historyLoadedAfterMs,
      progressReadings: measured.reprocessProgress.length,
      equal: result.checkpoints.every((checkpoint) => checkpoint.modes[mode].every((check) => check.equal)),
    };
  };
  return {
    history: size,
    records: result.records,
    historyInfo: result.history!,
    runMs,
    checkpoints: result.checkpoints.map((checkpoint) => ({
      label: checkpoint.label,
      records: checkpoint.records,
      views: checkpoint.modes.lambda.map((check) => `${check.view} (${check.logic})`),
      equal: Object.fromEntries(MODES.map((mode) => [mode, checkpoint.modes[mode].every((check) => check.equal)])) as Record<Mode, boolean>,
    })),
    modes: Object.fromEntries(MODES.map((mode) => [mode, figures(mode)])) as Record<Mode, ScalingModeFigures>,
  };
}
