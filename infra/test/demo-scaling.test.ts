import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, Metrics, loadConfig, silentLogger } from '@lambda/core';
import { openPorts } from '@lambda/adapters';
import { createServer, listen } from '@lambda/serving-layer';
import { makeTempDir } from '@lambda/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES } from '../src/demo/compare/comparison-run.js';
import { HISTORY_SHARES, formatCount, prepareHistory } from '../src/demo/compare/history.js';
import { runScaling, type ScalingResult } from '../src/demo/compare/scaling-run.js';
import { SCALING_REPORT_FILES, writeScalingReport } from '../src/demo/compare/scaling-report.js';
import { webAnalyticsScenario as scenario } from '../src/demo/scenarios/web-analytics-scenario.js';
import { elements, parseXml } from './helpers/svg-xml.js';

const SIZES = [2000, 20_000];
const SEED = 3;

describe('when the comparative demo runs a scaling run over two small histories', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  let result: ScalingResult;
  let out: string;
  let cacheDirectory: string;

  beforeAll(async () => {
    work = await makeTempDir('demo-scaling');
    out = join(work.path, 'reports', 'scaling');
    cacheDirectory = join(work.path, 'cache');
    result = await runScaling({
      scenario,
      sizes: SIZES,
      seed: SEED,
      cacheDirectory,
      workDirectory: join(work.path, 'modes'),
      eventsPerSecond: 150,
      durationMs: 3000,
      batchIntervalMs: 200,
      recomputeEveryMs: 1500,
      compactEveryMs: 1500,
      changeTimeoutMs: 30_000,
    });
    await writeScalingReport(result, out);
    // About 40 s alone on two cores; the limit leaves room for a CI machine running every package at once.
  }, 180_000);
  afterAll(() => work?.remove());

  it("should find both modes' answers equal to the truth at every checkpoint of every size", () => {
    expect(result.points.map((point) => point.history)).toEqual(SIZES);
    for (const point of result.points) {
      expect(point.checkpoints.map((checkpoint) => checkpoint.label)).toEqual(['history loaded', 'early, old logic', 'before the change', 'after the change']);
      expect(point.checkpoints[0]!.records).toBe(point.history);
      expect(point.records.total).toBeGreaterThan(point.history);
      for (const checkpoint of point.checkpoints) {
        expect(checkpoint.views).toEqual(scenario.checkedViews.map((view) => `${view} (${checkpoint.label === 'after the change' && view === scenario.change.view ? 'new' : 'old'})`));
        for (const mode of MODES) expect(checkpoint.equal[mode], `${mode} at ${point.history}, ${checkpoint.label}`).toBe(true);
      }
      for (const mode of MODES) expect(point.modes[mode].equal).toBe(true);
    }
  });

  it('should start each size from a history with 1% malformed and 10% late events, built once and then read from the cache', async () => {
    for (const point of result.points) {
      const { byKind, count, valid, built } = point.historyInfo;
      expect(built).toBe(true);
      expect(count).toBe(point.history);
      expect(Object.values(byKind).reduce((sum, n) => sum + n, 0)).toBe(count);
      // The platform's decoder drops exactly the malformed ones: the archive (the truth's input) holds the rest.
      expect(valid).toBe(count - byKind.malformed!);
      // Seeded shares: within a few standard deviations of the promised ones at these sizes.
      expect(Math.abs(byKind.malformed! / count - HISTORY_SHARES.malformedShare)).toBeLessThan(5 * Math.sqrt(HISTORY_SHARES.malformedShare / count));
      expect(Math.abs(byKind.late! / count - HISTORY_SHARES.lateShare)).toBeLessThan(5 * Math.sqrt(HISTORY_SHARES.lateShare / count));
      const again = await prepareHistory({ scenario, seed: SEED, count, cacheDirectory });
      expect(again.built).toBe(false);
      expect(again.summary.byKind).toEqual(byKind);
      expect(again.summary.valid).toBe(valid);
    }
  });

  it('should measure, per size and mode, the change, its CPU, memory, reads, storage and freshness meanwhile', () => {
    for (const point of result.points) {
      const { lambda, kappa } = point.modes;
      for (const figures of [lambda, kappa]) {
        expect(figures.reflectedAfterMs).toBeGreaterThan(0);
        expect(figures.switchedAfterMs).toBeGreaterThan(0);
        expect(figures.cpuDuringChangeMs).toBeGreaterThan(0);
        expect(figures.cpuDuringChangeMs!).toBeLessThanOrEqual(figures.cpuTotalMs);
        expect(figures.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
        expect(figures.storageBytes).toBe(Object.values(figures.storageByPart).reduce((sum, bytes) => sum + bytes, 0));
        expect(figures.storageByPart.log).toBeGreaterThan(point.historyInfo.logBytes * 0.99);
        expect(figures.historyLoadedAfterMs).toBeGreaterThan(0);
        // Read from each mode's API while the reprocess ran, to its end.
        expect(figures.progressReadings).toBeGreaterThan(0);
        expect(figures.freshnessDuringChange.samples).toBeGreaterThanOrEqual(0);
        expect(figures.reads.measuredBytes).toBeGreaterThan(0);
      }
      // Kappa replays the whole log; Lambda recomputes the history from the lake and replays the tail.
      expect(kappa.reads.lakeRecords).toBe(0);
      expect(kappa.reads.logRecords).toBeGreaterThanOrEqual(point.history);
      expect(lambda.reads.lakeRecords).toBeGreaterThanOrEqual(point.history);
      expect(lambda.reads.logRecords).toBeLessThan(point.records.total - point.history + 1);
    }
  });

  it('should write a Markdown report with a row per size and each mode, and log-log charts with a line per mode', async () => {
    const markdown = await readFile(join(out, SCALING_REPORT_FILES.markdown), 'utf8');
    expect(JSON.parse(await readFile(join(out, SCALING_REPORT_FILES.json), 'utf8'))).toEqual(JSON.parse(JSON.stringify(result)));
    const sections = markdown.split(/^## /m).slice(1);
    expect(sections.map((section) => section.split('\n')[0])).toEqual([
      '1. Answers against the truth',
      '2. The logic change over all history',
      '3. What the change read',
      '4. Freshness while the change is processed',
      '5. Memory and storage',
      '6. The history',
    ]);
    const rows = (section: string, label: string) => section.split('\n').filter((line) => line.startsWith(`| ${label} |`)).map((line) => line.split('|').slice(2, -1).map((cell) => cell.trim()));
    const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);
    for (const point of result.points) {
      const label = formatCount(point.history);
      expect(rows(sections[0]!, label)[0]!.slice(-2)).toEqual(MODES.map(() => `equal at all ${point.checkpoints.length}`));
      const change = rows(sections[1]!, label);
      expect(change).toHaveLength(1);
      expect(change[0]!.slice(0, 2)).toEqual(MODES.map((mode) => ms(point.modes[mode].reflectedAfterMs!)));
      expect(change[0]!.slice(4, 6)).toEqual(MODES.map((mode) => ms(point.modes[mode].cpuDuringChangeMs!)));
      expect(rows(sections[2]!, label).map((row) => row[0])).toEqual(['Lambda', 'Kappa']);
      for (const section of sections.slice(3)) expect(rows(section, label)).toHaveLength(1);
    }

    for (const [file, pick] of [
      [SCALING_REPORT_FILES.reflection, (mode: (typeof MODES)[number], i: number) => result.points[i]!.modes[mode].reflectedAfterMs!],
      [SCALING_REPORT_FILES.cpu, (mode: (typeof MODES)[number], i: number) => result.points[i]!.modes[mode].cpuDuringChangeMs!],
    ] as const) {
      const svg = parseXml(await readFile(join(out, file), 'utf8'));
      expect(svg.name).toBe('svg');
      const lines = elements(svg, 'polyline');
      expect(lines).toHaveLength(MODES.length);
      const coordinates = lines.map((line) => line.attributes.points!.split(' ').map((pair) => pair.split(',').map(Number) as [number, number]));
      for (const points of coordinates) expect(points).toHaveLength(SIZES.length);
      // The same sizes along x for both lines, growing to the right.
      expect(coordinates[0]!.map(([x]) => x)).toEqual(coordinates[1]!.map(([x]) => x));
      expect(coordinates[0]![1]![0]).toBeGreaterThan(coordinates[0]![0]![0]);
      // Log-scaled along y: every point's height is a + b * log10(value), one a and b for all of them.
      const points = MODES.flatMap((mode, m) => SIZES.map((_, i) => ({ log: Math.log10(pick(mode, i)), y: coordinates[m]![i]![1] })));
      const sorted = [...points].sort((a, b) => a.log - b.log);
      const [low, high] = [sorted[0]!, sorted.at(-1)!];
      if (high.log - low.log > 0.05) {
        const slope = (high.y - low.y) / (high.log - low.log);
        expect(slope).toBeLessThan(0); // up the page as values grow
        for (const point of points) expect(Math.abs(low.y + slope * (point.log - low.log) - point.y)).toBeLessThan(0.2);
      }
    }
  });

  it('should be served by the serving layer as the latest report, charts included', async () => {
    const config = loadConfig({ env: { DATA_DIR: join(work.path, 'serving') } });
    const ports = await openPorts(config, { logger: silentLogger(), metrics: new Metrics() });
    const server = await listen(
      createServer({ ports, catalog: Catalog.compile(scenario.catalog), metrics: new Metrics(), logger: silentLogger(), reportsDirectory: join(work.path, 'reports') }),
      { host: '127.0.0.1', port: 0 },
    );
    try {
      const latest = (await (await fetch(`${server.url}/reports/latest`)).json()) as { name: string; files: string[]; result: ScalingResult };
      expect(latest.name).toBe('scaling');
      expect(latest.result.kind).toBe('scaling');
      expect(latest.files).toEqual(Object.values(SCALING_REPORT_FILES).sort());
      const chart = await fetch(`${server.url}/reports/latest/${SCALING_REPORT_FILES.reflection}`);
      expect(chart.headers.get('content-type')).toBe('image/svg+xml');
      expect(await chart.text()).toBe(await readFile(join(out, SCALING_REPORT_FILES.reflection), 'utf8'));
    } finally {
      await server.close();
      await ports.close();
    }
  });
});
