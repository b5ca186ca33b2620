import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Metrics, loadConfig, silentLogger, Catalog } from '@lambda/core';
import { openPorts } from '@lambda/adapters';
import { createServer, listen } from '@lambda/serving-layer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '@lambda/test-kit';
import { MODES, runComparison, type ComparisonResult } from '../src/demo/compare/comparison-run.js';
import { REPORT_FILES, writeReport } from '../src/demo/compare/report.js';
import { SCENARIOS } from '../src/demo/scenarios/scenarios.js';
import { elements, parseXml } from './helpers/svg-xml.js';

/** Nearest-rank percentile, computed here independently of the demo's own. */
function nearestRank(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1]!;
}

async function bytesUnder(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) total += await bytesUnder(join(path, name));
  return total;
}

describe.each([...SCENARIOS.keys()])('when the comparative demo runs the %s scenario', (name) => {
  const scenario = SCENARIOS.get(name)!;
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  let result: ComparisonResult;
  let out: string;

  beforeAll(async () => {
    work = await makeTempDir(`demo-compare-${name}`);
    out = join(work.path, 'report');
    result = await runComparison({
      scenario,
      workDirectory: join(work.path, 'modes'),
      seed: 3,
      eventsPerSecond: 150,
      durationMs: 3000,
      batchIntervalMs: 200,
      recomputeEveryMs: 1500,
      compactEveryMs: 1500,
      changeTimeoutMs: 30_000,
    }).catch(async (error: Error) => {
      // Each mode's own log says what it was doing: a failure here is told with the end of both.
      for (const mode of MODES) {
        const lines = (await readFile(join(work.path, 'modes', `${mode}.log`), 'utf8').catch(() => '')).trimEnd().split('\n');
        error.message += `\n--- the end of ${mode}.log ---\n${lines.slice(-15).join('\n')}`;
      }
      throw error;
    });
    await writeReport(result, out);
  }, 90_000);
  afterAll(() => work?.remove());

  it("should find both modes' answers equal to the truth at every checkpoint, the new logic's after the change", () => {
    expect(result.checkpoints.map((checkpoint) => checkpoint.label)).toEqual(['early, old logic', 'before the change', 'after the change']);
    for (const checkpoint of result.checkpoints) {
      for (const mode of MODES) {
        expect(checkpoint.modes[mode].map((check) => check.view)).toEqual(scenario.checkedViews);
        for (const check of checkpoint.modes[mode]) {
          expect(check.problems, `${mode} ${check.view} at ${checkpoint.label}`).toEqual([]);
          expect(check.equal).toBe(true);
          expect(check.windows).toBeGreaterThan(0);
        }
      }
    }
    const after = result.checkpoints.at(-1)!;
    expect(after.modes.lambda.find((check) => check.view === scenario.change.view)!.logic).toBe('new');
    expect(after.records).toBe(result.records.total);
  });

  it('should have fed late, out-of-order and malformed events', () => {
    const { byKind, total, valid } = result.records;
    expect(Object.values(byKind).reduce((sum, count) => sum + count, 0)).toBe(total);
    expect(byKind.late).toBeGreaterThan(0);
    expect(byKind['out-of-order']).toBeGreaterThan(0);
    expect(byKind.malformed).toBeGreaterThan(0);
    expect(valid).toBe(total - byKind.malformed!);
  });

  it('should measure freshness, the change, CPU time, storage and moving parts of each mode', async () => {
    const catalog = Catalog.compile(scenario.catalog);
    for (const mode of MODES) {
      const measured = result.modes[mode];
      const values = measured.freshnessSamples.map((sample) => sample.freshnessMs);
      expect(values.length).toBeGreaterThan(3);
      expect(measured.freshnessP50Ms).toBe(nearestRank(values, 0.5));
      expect(measured.freshnessP99Ms).toBe(nearestRank(values, 0.99));
      expect(measured.changeReflectedAfterMs).toBeGreaterThanOrEqual(0);
      expect(result.changeAtMs + measured.changeReflectedAfterMs!).toBeLessThanOrEqual(result.checkpoints.at(-1)!.atMs);
      expect(measured.reprocess?.view).toBe(scenario.change.view);
      expect(measured.cpuMs.total).toBeGreaterThan(0);
      expect(measured.cpuMs.duringChange).toBeGreaterThanOrEqual(0);
      expect(measured.cpuMs.duringChange!).toBeLessThanOrEqual(measured.cpuMs.total);
      expect(measured.storage.byPart.log).toBeGreaterThan(0);
      expect(measured.storage.totalBytes).toBe(Object.values(measured.storage.byPart).reduce((sum, bytes) => sum + bytes, 0));
      expect(measured.movingParts.listening).toHaveLength(1);
    }
    // The log holds the same records in both modes.
    expect(await bytesUnder(join(work.path, 'modes', 'kappa', 'log', 'topics', scenario.topic))).toBe(
      await bytesUnder(join(work.path, 'modes', 'lambda', 'log', 'topics', scenario.topic)),
    );
    const views = [...catalog.views.keys()];
    expect([...result.modes.kappa.movingParts.kappaViews].sort()).toEqual([...views].sort());
    expect(result.modes.lambda.movingParts.kappaViews).toEqual([]);
    expect(result.modes.lambda.movingParts.layers.some((layer) => layer.startsWith('batch layer'))).toBe(true);
    expect(result.modes.kappa.movingParts.layers.some((layer) => layer.startsWith('batch layer'))).toBe(false);
    for (const view of views) expect(result.modes.lambda.movingParts.scheduledJobs.some((job) => job.startsWith(`recompute:${view} `))).toBe(true);
    expect(result.modes.kappa.movingParts.scheduledJobs.some((job) => job.startsWith('recompute:'))).toBe(false);
    // Kappa's topic is still archived (by its archive job), for a reprocess past the log's retention.
    expect(result.modes.kappa.movingParts.scheduledJobs.some((job) => job.startsWith(`archive:${scenario.topic} `))).toBe(true);
    expect(result.modes.lambda.movingParts.scheduledJobs.some((job) => job.startsWith('archive:'))).toBe(false);
  });

  it('should write a Markdown report with each section and its numbers, and its JSON', async () => {
    const markdown = await readFile(join(out, REPORT_FILES.markdown), 'utf8');
    expect(JSON.parse(await readFile(join(out, REPORT_FILES.json), 'utf8'))).toEqual(JSON.parse(JSON.stringify(result)));
    const sections = markdown.split(/^## /m).slice(1);
    expect(sections.map((section) => section.split('\n')[0])).toEqual([
      '1. Answers against the truth',
      '2. Freshness',
      '3. The logic change over all history',
      '4. Cost',
      '5. Moving parts',
    ]);
    const row = (section: string, label: string) => {
      const line = section.split('\n').find((candidate) => candidate.startsWith(`| ${label} |`));
      expect(line, `a "${label}" row`).toBeDefined();
      return line!.split('|').slice(2, -1).map((cell) => cell.trim());
    };
    const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);
    expect(sections[0]!.split('\n').filter((line) => line.includes('| equal, ')).length).toBe(result.checkpoints.length * scenario.checkedViews.length);
    expect(row(sections[1]!, 'p50')).toEqual(MODES.map((mode) => ms(result.modes[mode].freshnessP50Ms!)));
    expect(row(sections[1]!, 'p99')).toEqual(MODES.map((mode) => ms(result.modes[mode].freshnessP99Ms!)));
    expect(row(sections[2]!, 'reflected over all history after')).toEqual(MODES.map((mode) => ms(result.modes[mode].changeReflectedAfterMs!)));
    expect(row(sections[3]!, 'CPU time')).toEqual(MODES.map((mode) => ms(result.modes[mode].cpuMs.total)));
    for (const cell of row(sections[3]!, 'storage: total')) expect(cell).toMatch(/^\d+\.\d (KiB|MiB)$/);
    expect(row(sections[4]!, 'listening sockets')).toEqual(MODES.map((mode) => result.modes[mode].movingParts.listening[0]));
  });

  it('should draw well-formed SVG charts of freshness, CPU time and storage', async () => {
    const freshness = parseXml(await readFile(join(out, REPORT_FILES.freshness), 'utf8'));
    expect(freshness.name).toBe('svg');
    expect(freshness.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    const lines = elements(freshness, 'polyline');
    expect(lines).toHaveLength(2);
    MODES.forEach((mode, i) => expect(lines[i]!.attributes.points!.split(' ')).toHaveLength(result.modes[mode].freshnessSamples.length));
    const cpu = parseXml(await readFile(join(out, REPORT_FILES.cpu), 'utf8'));
    const bars = elements(cpu, 'rect').slice(1); // the first is the background
    expect(bars).toHaveLength(2);
    // Bar lengths are proportional to the CPU times.
    const [lambda, kappa] = bars.map((bar) => Number(bar.attributes.width));
    expect(lambda! / kappa!).toBeCloseTo(result.modes.lambda.cpuMs.total / result.modes.kappa.cpuMs.total, 1);
    const storage = parseXml(await readFile(join(out, REPORT_FILES.storage), 'utf8'));
    const parts = MODES.flatMap((mode) => Object.values(result.modes[mode].storage.byPart).filter((bytes) => bytes > 0));
    expect(elements(storage, 'rect').slice(1)).toHaveLength(parts.length);
  });

  it('should be served by the serving layer as the latest report', async () => {
    const config = loadConfig({ env: { DATA_DIR: join(work.path, 'serving') } });
    const ports = await openPorts(config, { logger: silentLogger(), metrics: new Metrics() });
    const server = await listen(
      createServer({ ports, catalog: Catalog.compile(scenario.catalog), metrics: new Metrics(), logger: silentLogger(), reportsDirectory: work.path }),
      { host: '127.0.0.1', port: 0 },
    );
    try {
      const listing = (await (await fetch(`${server.url}/reports`)).json()) as { latest: { name: string; files: string[] } | null };
      expect(listing.latest?.name).toBe('report');
      const latest = await fetch(`${server.url}/reports/latest`);
      expect(latest.status).toBe(200);
      const body = (await latest.json()) as { name: string; files: string[]; markdown: string; result: unknown };
      expect(body.name).toBe('report');
      expect(body.markdown).toBe(await readFile(join(out, REPORT_FILES.markdown), 'utf8'));
      expect(body.result).toEqual(JSON.parse(JSON.stringify(result)));
      expect(body.files).toEqual(Object.values(REPORT_FILES).sort());
      const chart = await fetch(`${server.url}/reports/latest/${REPORT_FILES.freshness}`);
      expect(chart.headers.get('content-type')).toBe('image/svg+xml');
      expect(await chart.text()).toBe(await readFile(join(out, REPORT_FILES.freshness), 'utf8'));
      expect((await fetch(`${server.url}/reports/latest/absent.svg`)).status).toBe(404);
      expect((await fetch(`${server.url}/reports/latest/..%2Fcatalog.json`)).status).toBe(400);
    } finally {
      await server.close();
      await ports.close();
    }
  });
});

describe('when no comparison has run yet', () => {
  it('should say so at /reports and answer 404 at /reports/latest', async () => {
    const work = await makeTempDir('no-reports');
    try {
      const config = loadConfig({ env: { DATA_DIR: join(work.path, 'serving') } });
      const ports = await openPorts(config, { logger: silentLogger(), metrics: new Metrics() });
      const catalog = Catalog.compile(SCENARIOS.get('web')!.catalog);
      const server = await listen(
        createServer({ ports, catalog, metrics: new Metrics(), logger: silentLogger(), reportsDirectory: join(work.path, 'reports') }),
        { host: '127.0.0.1', port: 0 },
      );
      try {
        const listing = await fetch(`${server.url}/reports`);
        expect(listing.status).toBe(200);
        expect(await listing.json()).toEqual({ latest: null });
        const latest = await fetch(`${server.url}/reports/latest`);
        expect(latest.status).toBe(404);
        expect(((await latest.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
      } finally {
        await server.close();
        await ports.close();
      }
    } finally {
      await work.remove();
    }
  });
});
