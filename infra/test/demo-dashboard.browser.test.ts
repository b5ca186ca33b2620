/**
 * The dashboard's "Lambda vs Kappa" card in a real browser (Debian's Chromium, driven by playwright-core):
 * while a demo runs it shows both modes' reprocesses as bars side by side, moving as the driver rewrites
 * its live report; once a scaling run's report replaces it, a row per history size and its two charts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openPorts } from '@lambda/adapters';
import { Catalog, Metrics, loadConfig, silentLogger } from '@lambda/core';
import { createServer, listen } from '@lambda/serving-layer';
import { describeWhenAvailable, makeTempDir } from '@lambda/test-kit';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MODES } from '../src/demo/compare/comparison-run.js';
import { formatCount } from '../src/demo/compare/history.js';
import { LiveReportWriter } from '../src/demo/compare/live-report.js';
import type { ScalingModeFigures, ScalingResult } from '../src/demo/compare/scaling-run.js';
import { SCALING_REPORT_FILES, writeScalingReport } from '../src/demo/compare/scaling-report.js';
import { webAnalyticsScenario as scenario } from '../src/demo/scenarios/web-analytics-scenario.js';

const CHROMIUM = '/usr/bin/chromium';
const skipReason = existsSync(CHROMIUM) || process.env.CI ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`;

/** What the test reads in the page (this package compiles without the DOM library). */
interface PageDocument {
  getElementById(id: string): { hidden: boolean; value?: number; textContent: string | null; querySelectorAll(selector: string): ArrayLike<{ textContent: string | null; getAttribute(name: string): string | null; complete?: boolean; naturalWidth?: number }> } | null;
}

/** A scaling result as the driver would write it, its figures made up from the size (the page only shows them). */
function scalingResult(sizes: number[]): ScalingResult {
  const figures = (size: number, perRecordMs: number): ScalingModeFigures => ({
    reflectedAfterMs: 200 + size * perRecordMs,
    switchedAfterMs: 100 + size * perRecordMs,
    cpuDuringChangeMs: 50 + size * perRecordMs,
    cpuTotalMs: 1000 + size * perRecordMs,
    peakRssBytes: 100 * 1024 * 1024,
    reads: { logRecords: size, lakeRecords: 0, logBytes: size * 110, lakeBytes: 0, measuredBytes: size * 120 },
    storageBytes: size * 200,
    storageByPart: { log: size * 110, lake: size * 20, views: size * 70 },
    freshnessDuringChange: { samples: 5, p50Ms: 200, p99Ms: 400 },
    freshnessP50Ms: 150,
    freshnessP99Ms: 300,
    historyLoadedAfterMs: 1000,
    progressReadings: 4,
    equal: true,
  });
  return {
    kind: 'scaling',
    scenario: { name: scenario.name, title: scenario.title, description: scenario.description, changedView: scenario.change.view, change: scenario.change.description },
    settings: { seed: 7, eventsPerSecond: 300, durationMs: 16_000, batchIntervalMs: 250, recomputeEveryMs: 5000, compactEveryMs: 5000, sizes },
    startedAt: Date.now(),
    wallMs: 60_000,
    pending: [],
    points: sizes.map((size) => ({
      history: size,
      records: { total: size + 4800, valid: size + 4700, byKind: { 'on-time': size, malformed: 100 } },
      historyInfo: { count: size, valid: size - 100, byKind: { 'on-time': size - 100, malformed: 100 }, logBytes: size * 110, lakeBytes: size * 20, built: false, buildMs: { log: 1, archive: 2, fold: { lambda: 3, kappa: 4 } } },
      runMs: 30_000,
      checkpoints: [{ label: 'after the change', records: size + 4800, views: [scenario.change.view], equal: { lambda: true, kappa: true } }],
      modes: { lambda: figures(size, 0.001), kappa: figures(size, 0.01) },
    })),
  };
}

describeWhenAvailable('the dashboard, while a demo runs and after a scaling run', skipReason, () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  let server: Awaited<ReturnType<typeof listen>>;
  let ports: Awaited<ReturnType<typeof openPorts>>;
  let browser: Browser;
  let page: Page;
  let reports: string;

  beforeAll(async () => {
    work = await makeTempDir('demo-dashboard');
    reports = join(work.path, 'reports');
    ports = await openPorts(loadConfig({ env: { DATA_DIR: join(work.path, 'serving') } }), { logger: silentLogger(), metrics: new Metrics() });
    server = await listen(
      createServer({ ports, catalog: Catalog.compile(scenario.catalog), metrics: new Metrics(), logger: silentLogger(), reportsDirectory: reports }),
      { host: '127.0.0.1', port: 0 },
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await ports?.close();
    await work?.remove();
  });

  /** The card's state, read in the page. */
  const card = () =>
    page.evaluate(() => {
      const document = (globalThis as unknown as { document: PageDocument }).document;
      const element = (id: string) => document.getElementById(id)!;
      return {
        shown: !element('comparison').hidden,
        live: !element('comparison-live').hidden,
        lambda: element('comparison-lambda').value,
        kappa: element('comparison-kappa').value,
        lambdaText: element('comparison-lambda-text').textContent,
        kappaText: element('comparison-kappa-text').textContent,
        rows: Array.from(element('comparison-table').querySelectorAll('tbody tr')).map((row) => row.textContent),
        images: Array.from(element('comparison-charts').querySelectorAll('img')).map((image) => ({ src: image.getAttribute('src'), loaded: Boolean(image.complete && image.naturalWidth) })),
      };
    });
  const waitForCard = async (check: (state: Awaited<ReturnType<typeof card>>) => boolean) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const state = await card();
      if (check(state)) return state;
      if (Date.now() > deadline) throw new Error(`the card never got there; last: ${JSON.stringify(state)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it("should show both modes' reprocesses side by side while the demo runs, as they move", async () => {
    const live = new LiveReportWriter(join(reports, 'web-scaling'), scenario, 0);
    live.run(20_000, 45, 'streaming (new logic)');
    live.reprocess('lambda', { atMs: 100, state: 'running', phase: 'archive', percent: 50 });
    live.reprocess('kappa', { atMs: 100, state: 'running', phase: 'replay', percent: 30 });
    await live.flush();
    await page.goto(server.url);
    const first = await waitForCard((state) => state.shown && state.live && state.kappa === 30);
    expect(first).toMatchObject({ lambda: 50, lambdaText: '50% archive', kappaText: '30% replay' });
    // The driver rewrites the report; the page, polling a running report every second, follows.
    live.reprocess('kappa', { atMs: 900, state: 'running', phase: 'replay', percent: 80 });
    live.reprocess('lambda', { atMs: 900, state: 'completed', phase: 'done', percent: 100 });
    await live.flush();
    const later = await waitForCard((state) => state.kappa === 80);
    expect(later).toMatchObject({ lambda: 100, lambdaText: '100% completed', kappaText: '80% replay' });
    await live.close();
  });

  it('should show the scaling report that replaces it: a row per history size and both log-log charts', async () => {
    const result = scalingResult([2000, 20_000]);
    await writeScalingReport(result, join(reports, 'web-scaling'));
    const state = await waitForCard((candidate) => !candidate.live && candidate.rows.length === result.points.length && candidate.images.every((image) => image.loaded));
    result.points.forEach((point, i) => {
      expect(state.rows[i]).toContain(formatCount(point.history));
      for (const mode of MODES) expect(state.rows[i]).toContain(`${Math.round(point.modes[mode].reflectedAfterMs!)} ms`);
    });
    expect(state.images.map((image) => image.src!.split('?')[0])).toEqual([`reports/latest/${SCALING_REPORT_FILES.reflection}`, `reports/latest/${SCALING_REPORT_FILES.cpu}`]);
  });
});
