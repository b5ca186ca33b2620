/**
 * The comparative demo's report: Markdown with the measurements side by side, the SVG charts beside it,
 * and the measurements themselves as JSON (for the dashboard and for tests).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ComparisonResult, MODES } from './comparison-run.js';
import type { Mode } from './mode-protocol.js';
import { barChart, lineChart } from './svg-charts.js';

const COLORS: Record<Mode, string> = { lambda: '#2563eb', kappa: '#d97706' };
const TITLES: Record<Mode, string> = { lambda: 'Lambda', kappa: 'Kappa' };

export const REPORT_FILES = { markdown: 'report.md', json: 'report.json', freshness: 'freshness.svg', cpu: 'cpu.svg', storage: 'storage.svg' } as const;

/** Writes the report's files into `directory`; returns the Markdown. */
export async function writeReport(result: ComparisonResult, directory: string): Promise<string> {
  await mkdir(directory, { recursive: true });
  const markdown = renderMarkdown(result);
  await writeFile(join(directory, REPORT_FILES.markdown), markdown);
  await writeFile(join(directory, REPORT_FILES.json), JSON.stringify(result, null, 2));
  await writeFile(join(directory, REPORT_FILES.freshness), freshnessChart(result));
  await writeFile(join(directory, REPORT_FILES.cpu), cpuChart(result));
  await writeFile(join(directory, REPORT_FILES.storage), storageChart(result));
  return markdown;
}

export function freshnessChart(result: ComparisonResult): string {
  return lineChart({
    title: 'Freshness of answers (age of the newest record counted)',
    xLabel: 'seconds since the start',
    yLabel: 'freshness, ms',
    series: MODES.map((mode) => ({
      name: TITLES[mode],
      color: COLORS[mode],
      points: result.modes[mode].freshnessSamples.map((sample) => ({ x: sample.atMs / 1000, y: sample.freshnessMs })),
    })),
    marker: { x: result.changeAtMs / 1000, label: 'logic change' },
  });
}

export function cpuChart(result: ComparisonResult): string {
  return barChart({
    title: 'CPU time of each mode (user + system, whole run)',
    unit: 'ms',
    bars: MODES.map((mode) => ({ label: TITLES[mode], value: result.modes[mode].cpuMs.total, color: COLORS[mode] })),
  });
}

export function storageChart(result: ComparisonResult): string {
  return barChart({
    title: 'Bytes on disk at the end, per store',
    unit: 'KiB',
    bars: MODES.flatMap((mode) =>
      Object.entries(result.modes[mode].storage.byPart)
        .filter(([, bytes]) => bytes > 0)
        .map(([part, bytes]) => ({ label: `${TITLES[mode]}: ${part}`, value: bytes / 1024, color: COLORS[mode] })),
    ),
  });
}

export function renderMarkdown(result: ComparisonResult): string {
  const { scenario, settings, records } = result;
  const both = (cell: (mode: Mode) => string) => MODES.map(cell).join(' | ');
  const lines: string[] = [];
  lines.push(`# Lambda vs Kappa: ${scenario.title}`, '');
  lines.push(`${scenario.description}`, '');
  lines.push(
    `Run of ${new Date(result.startedAt).toISOString()}: ${records.total} events (${records.valid} valid; ${describeKinds(records.byKind)}) ` +
      `at ${settings.eventsPerSecond}/s for ${seconds(settings.durationMs)}, seed ${settings.seed}; micro-batches every ${settings.batchIntervalMs} ms, ` +
      `Lambda recomputes every ${seconds(settings.recomputeEveryMs)}, Kappa compacts every ${seconds(settings.compactEveryMs)}. ` +
      `Each mode ran in its own process on the embedded adapters and got the same events in the same order.`,
    '',
  );
  if (result.history) {
    const { count, valid, byKind } = result.history;
    lines.push(
      `Both modes started from the same pre-built history of ${count} events (${valid} valid; ${describeKinds(byKind)}), already folded by each mode's own platform; its events are in the counts above.`,
      '',
    );
  }
  lines.push(`Logic change of \`${scenario.changedView}\` at ${seconds(result.changeAtMs)}: ${scenario.change}.`, '');

  lines.push('## 1. Answers against the truth', '');
  lines.push('At each checkpoint the stream pauses until both modes have counted every record; each view\'s whole answer (over HTTP) is compared with DuckDB running the view\'s SQL over every record appended.', '');
  lines.push(`| checkpoint | at | records | view | logic | ${both((mode) => TITLES[mode])} |`, `| --- | --- | --- | --- | --- | ${both(() => '---')} |`);
  for (const checkpoint of result.checkpoints) {
    checkpoint.modes.lambda.forEach((lambdaView, i) => {
      const cell = (mode: Mode) => {
        const check = checkpoint.modes[mode][i]!;
        return `${check.equal ? 'equal' : `**differs** (${check.problems.length}+ windows)`}, ${check.windows} windows`;
      };
      lines.push(`| ${checkpoint.label} | ${seconds(checkpoint.atMs)} | ${checkpoint.records} | \`${lambdaView.view}\` | ${lambdaView.logic} | ${both(cell)} |`);
    });
  }
  lines.push('');

  lines.push('## 2. Freshness', '');
  lines.push('The age of the newest record an answer counts, from the answers\' provenance, sampled while events flowed.', '');
  lines.push(`| | ${both((mode) => TITLES[mode])} |`, `| --- | ${both(() => '---')} |`);
  lines.push(`| samples | ${both((mode) => String(result.modes[mode].freshnessSamples.length))} |`);
  lines.push(`| p50 | ${both((mode) => ms(result.modes[mode].freshnessP50Ms))} |`);
  lines.push(`| p99 | ${both((mode) => ms(result.modes[mode].freshnessP99Ms))} |`);
  lines.push('', '![Freshness over time](freshness.svg)', '');

  lines.push('## 3. The logic change over all history', '');
  lines.push('From the change to the first answer equal to the new logic\'s truth over every record it counts (polled while events kept flowing).', '');
  lines.push(`| | ${both((mode) => TITLES[mode])} |`, `| --- | ${both(() => '---')} |`);
  lines.push(`| reflected over all history after | ${both((mode) => ms(result.modes[mode].changeReflectedAfterMs))} |`);
  lines.push(`| the platform's reprocess: switched after | ${both((mode) => ms(reprocessOf(result, mode, (r) => r.switchedAt - r.startedAt)))} |`);
  lines.push(`| records the new generation covers (of them, read from the lake) | ${both((mode) => replayed(result, mode))} |`);
  lines.push(`| CPU time from the change to its reflection | ${both((mode) => ms(result.modes[mode].cpuMs.duringChange))} |`);
  lines.push(`| records from the log / from the lake | ${both((mode) => `${result.modes[mode].reads.logRecords} (${bytes(result.modes[mode].reads.logBytes)}) / ${result.modes[mode].reads.lakeRecords} (${bytes(result.modes[mode].reads.lakeBytes)})`)} |`);
  lines.push(`| bytes the process read meanwhile (rchar) | ${both((mode) => (result.modes[mode].reads.measuredBytes === null ? 'n/a' : bytes(result.modes[mode].reads.measuredBytes!)))} |`);
  lines.push(`| freshness during the change, p50 / p99 (samples) | ${both((mode) => freshnessDuringChange(result, mode))} |`);
  lines.push('');

  lines.push('## 4. Cost', '');
  lines.push('CPU time is each mode\'s process (`process.cpuUsage()`: main thread and worker threads) from the first event to the final checkpoint; storage is the bytes under each mode\'s data directory at the end.', '');
  const parts = [...new Set(MODES.flatMap((mode) => Object.keys(result.modes[mode].storage.byPart)))].sort();
  lines.push(`| | ${both((mode) => TITLES[mode])} |`, `| --- | ${both(() => '---')} |`);
  lines.push(`| CPU time | ${both((mode) => ms(result.modes[mode].cpuMs.total))} |`);
  lines.push(`| peak memory (maxRSS) | ${both((mode) => bytes(result.modes[mode].peakRssBytes))} |`);
  for (const part of parts) lines.push(`| storage: ${part}/ | ${both((mode) => bytes(result.modes[mode].storage.byPart[part] ?? 0))} |`);
  lines.push(`| storage: total | ${both((mode) => bytes(result.modes[mode].storage.totalBytes))} |`);
  lines.push('', '![CPU time](cpu.svg)', '', '![Storage](storage.svg)', '');

  lines.push('## 5. Moving parts', '');
  lines.push('Read from each running process at the end of the run.', '');
  lines.push(`| | ${both((mode) => TITLES[mode])} |`, `| --- | ${both(() => '---')} |`);
  const list = (items: string[]) => (items.length === 0 ? 'none' : items.map((item) => escapeCell(item)).join('<br>'));
  lines.push(`| layers | ${both((mode) => list(result.modes[mode].movingParts.layers))} |`);
  lines.push(`| listening sockets | ${both((mode) => list(result.modes[mode].movingParts.listening))} |`);
  lines.push(`| scheduled jobs | ${both((mode) => list(result.modes[mode].movingParts.scheduledJobs))} |`);
  lines.push(`| views in Kappa mode | ${both((mode) => list(result.modes[mode].movingParts.kappaViews))} |`);
  lines.push(`| stores (data folders) | ${both((mode) => list(result.modes[mode].movingParts.stores))} |`);
  lines.push(`| objects in the lake | ${both((mode) => String(result.modes[mode].movingParts.lakeObjects))} |`);
  lines.push(`| OS threads | ${both((mode) => String(result.modes[mode].movingParts.osThreads))} |`);
  lines.push('');
  return lines.join('\n');
}

function reprocessOf(result: ComparisonResult, mode: Mode, pick: (reprocess: NonNullable<ComparisonResult['modes'][Mode]['reprocess']>) => number): number | null {
  const reprocess = result.modes[mode].reprocess;
  return reprocess ? pick(reprocess) : null;
}

function replayed(result: ComparisonResult, mode: Mode): string {
  const reprocess = result.modes[mode].reprocess;
  return reprocess ? `${reprocess.recordsReplayed} (${reprocess.recordsFromArchive})` : 'n/a';
}

function freshnessDuringChange(result: ComparisonResult, mode: Mode): string {
  const { p50Ms, p99Ms, samples } = result.modes[mode].freshnessDuringChange;
  return `${ms(p50Ms)} / ${ms(p99Ms)} (${samples})`;
}

function describeKinds(byKind: Record<string, number>): string {
  return Object.entries(byKind)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ');
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function ms(value: number | null): string {
  if (value === null) return 'n/a';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(1)} s`;
}

function bytes(value: number): string {
  if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MiB`;
  return `${(value / 1024).toFixed(1)} KiB`;
}
