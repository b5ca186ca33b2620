/**
 * The scaling run's report: per history size and per mode, the time until the logic change shows over all
 * history, the CPU it cost, memory, what it read (log against lake), storage and freshness meanwhile, with
 * two log-log charts (reflection time, CPU) on which a crossover between the modes shows at a glance.
 * The same files as the single run's report (`report.md`, `report.json`), so the dashboard and
 * `GET /reports/latest` serve it alike; `result.kind` tells the two apart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODES } from './comparison-run.js';
import { formatCount } from './history.js';
import type { Mode } from './mode-protocol.js';
import type { ScalingResult } from './scaling-run.js';
import { logLogChart } from './svg-charts.js';

const COLORS: Record<Mode, string> = { lambda: '#2563eb', kappa: '#d97706' };
const TITLES: Record<Mode, string> = { lambda: 'Lambda', kappa: 'Kappa' };

export const SCALING_REPORT_FILES = {
  markdown: 'report.md',
  json: 'report.json',
  reflection: 'reflection-time.svg',
  cpu: 'change-cpu.svg',
} as const;

export async function writeScalingReport(result: ScalingResult, directory: string): Promise<string> {
  await mkdir(directory, { recursive: true });
  const markdown = renderScalingMarkdown(result);
  await writeFile(join(directory, SCALING_REPORT_FILES.reflection), reflectionChart(result));
  await writeFile(join(directory, SCALING_REPORT_FILES.cpu), changeCpuChart(result));
  await writeFile(join(directory, SCALING_REPORT_FILES.markdown), markdown);
  // Last: the dashboard takes the folder whose report.json is newest, so it sees a whole report.
  await writeFile(join(directory, SCALING_REPORT_FILES.json), JSON.stringify(result, null, 2));
  return markdown;
}

export function reflectionChart(result: ScalingResult): string {
  return secondsAgainstHistory(result, 'Time until the logic change shows over all history', 'seconds (log scale)', (mode) => mode.reflectedAfterMs);
}

export function changeCpuChart(result: ScalingResult): string {
  return secondsAgainstHistory(result, 'CPU time from the change to its reflection', 'CPU seconds (log scale)', (mode) => mode.cpuDuringChangeMs);
}

/** A log-log chart of one measure in seconds against history size, a line per mode (sizes without it left out). */
function secondsAgainstHistory(
  result: ScalingResult,
  title: string,
  yLabel: string,
  millisecondsOf: (measures: ScalingResult['points'][number]['modes'][Mode]) => number | null,
): string {
  return logLogChart({
    title,
    xLabel: 'events in the history (log scale)',
    yLabel,
    formatX: formatCount,
    formatY: secondsLabel,
    series: MODES.map((mode) => ({
      name: TITLES[mode],
      color: COLORS[mode],
      points: result.points.flatMap((point) => {
        const value = millisecondsOf(point.modes[mode]);
        return value === null ? [] : [{ x: point.history, y: value / 1000 }];
      }),
    })),
  });
}

export function renderScalingMarkdown(result: ScalingResult): string {
  const { scenario, settings } = result;
  const lines: string[] = [];
  const both = (cell: (mode: Mode) => string) => MODES.map(cell).join(' | ');
  const modeColumns = (label: string) => MODES.map((mode) => `${TITLES[mode]}: ${label}`).join(' | ');
  lines.push(`# Lambda vs Kappa as history grows: ${scenario.title}`, '');
  lines.push(`${scenario.description}`, '');
  lines.push(
    `Run of ${new Date(result.startedAt).toISOString()}, ${seconds(result.wallMs)} in all: history sizes ${settings.sizes.map(formatCount).join(', ')} ` +
      `(seed ${settings.seed}; 1% malformed, 10% late, 10% out of order), then ${seconds(settings.durationMs)} of live events at ${settings.eventsPerSecond}/s, ` +
      `the logic change of \`${scenario.changedView}\` halfway (${scenario.change}); micro-batches every ${settings.batchIntervalMs} ms, ` +
      `Lambda recomputes every ${seconds(settings.recomputeEveryMs)}, Kappa compacts every ${seconds(settings.compactEveryMs)}. ` +
      'Each size starts both modes, each in its own process, from a copy of the same pre-built history (log, and its lake archive).',
    '',
  );
  if (result.pending.length > 0) lines.push(`**Partial report**: sizes ${result.pending.map(formatCount).join(', ')} still to run when it was written.`, '');

  lines.push('## 1. Answers against the truth', '');
  lines.push(
    "At every checkpoint of every size (the history loaded, before the change, after it) each checked view's whole answer is compared with DuckDB running the view's SQL over the history's Parquet archive plus every live record.",
    '',
  );
  lines.push(`| history | records at the end | checkpoints | ${both((mode) => TITLES[mode])} |`, `| --- | --- | --- | ${both(() => '---')} |`);
  for (const point of result.points) {
    const cell = (mode: Mode) => {
      const failed = point.checkpoints.filter((checkpoint) => !checkpoint.equal[mode]).map((checkpoint) => checkpoint.label);
      return failed.length === 0 ? `equal at all ${point.checkpoints.length}` : `**differs** at ${failed.join(', ')}`;
    };
    lines.push(`| ${formatCount(point.history)} | ${point.records.total} (${point.records.valid} valid) | ${point.checkpoints.length} | ${both(cell)} |`);
  }
  lines.push('');

  lines.push('## 2. The logic change over all history', '');
  lines.push(
    'Reflected: from the change to the first answer equal to the new logic\'s truth over every record it counts, while live events kept flowing. CPU: the mode\'s process (`process.cpuUsage()`) over the same span.',
    '',
  );
  lines.push(`| history | ${modeColumns('reflected after')} | ${modeColumns('reprocess switched after')} | ${modeColumns('CPU')} |`);
  lines.push(`| --- | ${[...MODES, ...MODES, ...MODES].map(() => '---').join(' | ')} |`);
  for (const point of result.points) {
    const figures = point.modes;
    lines.push(
      `| ${formatCount(point.history)} | ${both((mode) => ms(figures[mode].reflectedAfterMs))} | ${both((mode) => ms(figures[mode].switchedAfterMs))} | ${both((mode) => ms(figures[mode].cpuDuringChangeMs))} |`,
    );
  }
  lines.push('', `![Reflection time against history size](${SCALING_REPORT_FILES.reflection})`, '', `![CPU of the change against history size](${SCALING_REPORT_FILES.cpu})`, '');

  lines.push('## 3. What the change read', '');
  lines.push(
    'Records the new generation got from the log and from the lake (bytes at the average size of a record in that store), and the bytes the process read through system calls from the change to its reflection (`rchar`: files, page cache included, and sockets).',
    '',
  );
  lines.push(`| history | mode | from the log | from the lake | read by the process |`, '| --- | --- | --- | --- | --- |');
  for (const point of result.points) {
    for (const mode of MODES) {
      const reads = point.modes[mode].reads;
      lines.push(
        `| ${formatCount(point.history)} | ${TITLES[mode]} | ${reads.logRecords} records, ${bytes(reads.logBytes)} | ${reads.lakeRecords} records, ${bytes(reads.lakeBytes)} | ${reads.measuredBytes === null ? 'n/a' : bytes(reads.measuredBytes)} |`,
      );
    }
  }
  lines.push('');

  lines.push('## 4. Freshness while the change is processed', '');
  lines.push("The age of the newest record an answer counts, sampled every 200 ms: between the change and its reflection in that mode, and over the whole live stream.", '');
  lines.push(`| history | ${modeColumns('during the change p50 / p99 (samples)')} | ${modeColumns('whole stream p50 / p99')} |`);
  lines.push(`| --- | ${[...MODES, ...MODES].map(() => '---').join(' | ')} |`);
  for (const point of result.points) {
    const during = (mode: Mode) => {
      const fresh = point.modes[mode].freshnessDuringChange;
      return `${ms(fresh.p50Ms)} / ${ms(fresh.p99Ms)} (${fresh.samples})`;
    };
    lines.push(`| ${formatCount(point.history)} | ${both(during)} | ${both((mode) => `${ms(point.modes[mode].freshnessP50Ms)} / ${ms(point.modes[mode].freshnessP99Ms)}`)} |`);
  }
  lines.push('');

  lines.push('## 5. Memory and storage', '');
  lines.push("Peak resident memory of each mode's process over the size's run; bytes under its data directory at the end.", '');
  lines.push(`| history | ${modeColumns('peak memory')} | ${modeColumns('storage (log + lake + views)')} |`);
  lines.push(`| --- | ${[...MODES, ...MODES].map(() => '---').join(' | ')} |`);
  for (const point of result.points) {
    const storage = (mode: Mode) => {
      const parts = point.modes[mode].storageByPart;
      return `${bytes(point.modes[mode].storageBytes)} (${bytes(parts.log ?? 0)} + ${bytes(parts.lake ?? 0)} + ${bytes(parts.views ?? 0)})`;
    };
    lines.push(`| ${formatCount(point.history)} | ${both((mode) => bytes(point.modes[mode].peakRssBytes))} | ${both(storage)} |`);
  }
  lines.push('');

  lines.push('## 6. The history', '');
  lines.push(
    "Built once per size and seed into the cache: generated in chunks into an embedded log, archived to Parquet by the batch layer's archiver, then folded by each mode's own platform, which stopped cleanly; each run starts both modes from copies of their folded state (the lake's files hard-linked), so it measures the logic change, not the first load. Ready: from starting the mode's process to its answers counting the whole history.",
    '',
  );
  lines.push(`| history | malformed | late | from the cache | built in (log + archive) | ${modeColumns('folded in (once, cached)')} | ${modeColumns('ready after')} | run of this size |`);
  lines.push(`| --- | --- | --- | --- | --- | ${[...MODES, ...MODES].map(() => '---').join(' | ')} | --- |`);
  for (const point of result.points) {
    const info = point.historyInfo;
    lines.push(
      `| ${formatCount(point.history)} | ${info.byKind.malformed ?? 0} | ${info.byKind.late ?? 0} | ${info.built ? 'no, built now' : 'yes'} | ${ms(info.buildMs.log)} + ${ms(info.buildMs.archive)} | ${both((mode) => ms(info.buildMs.fold[mode]))} | ${both((mode) => ms(point.modes[mode].historyLoadedAfterMs))} | ${seconds(point.runMs)} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

function ms(value: number | null): string {
  if (value === null) return 'n/a';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(1)} s`;
}

function secondsLabel(value: number): string {
  return value >= 1 ? `${value} s` : `${Math.round(value * 1000)} ms`;
}

function bytes(value: number): string {
  if (value >= 1024 ** 3) return `${(value / 1024 ** 3).toFixed(2)} GiB`;
  if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MiB`;
  return `${(value / 1024).toFixed(1)} KiB`;
}
