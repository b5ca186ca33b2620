/**
 * The operator's dashboard in a real browser: the whole platform runs in this process with the demo
 * stream flowing, Debian's Chromium (driven by playwright-core, which never downloads a browser here)
 * opens `/`, and what the page shows is compared with what the API answers.
 *
 * The data moves all the time (200 events a second, a micro-batch every 200 ms), so every comparison
 * brackets the page's own refresh between two API reads: when the two reads agree, the page must show
 * exactly that; offsets, which only grow, must lie between the two reads.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, loadConfig, silentLogger, type PlatformConfigInput } from '@lambda/core';
import { createAllInOne, type AllInOne } from '../src/all-in-one.js';
import { describeWhenAvailable, makeTempDir } from '@lambda/test-kit';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url));
const SCREENSHOT = join(ARTIFACTS, 'dashboard.png');
const VIEW = 'pageviews_by_url';
const TIMEOUT = 60_000;
const API_TOKEN = 'dashboard-test-token-0123456789';

// CI installs Chromium (.ci/run); elsewhere a machine without it skips this file, saying so.
const skipReason = existsSync(CHROMIUM) || process.env.CI ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`;

// What the tests read in the page. The callbacks given to page.evaluate run in the browser: they reach
// its globals through `globalThis`, typed here (this package compiles without the DOM library).
interface ChartDataset {
  role?: string;
  label: string;
  data: (number | null)[];
}
interface PageElement {
  textContent: string | null;
  hidden: boolean;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
}
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { data: ArrayLike<number> } } | null;
}
interface PageGlobals {
  Chart: { getChart(id: string): { data: { labels: unknown[]; datasets: ChartDataset[] } } | undefined };
  dashboard: { ready: Promise<void>; refreshChart(): Promise<void>; refreshTop(): Promise<void>; refreshStatus(): Promise<void> };
  document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): ArrayLike<PageElement>; getElementById(id: string): unknown };
  sessionStorage: { getItem(key: string): string | null };
  MutationObserver: new (callback: () => void) => { observe(target: PageElement, options: { attributes: boolean }): void };
  recomputeStates?: { state: string | null; percent: number }[];
}

// API answers, as much of them as the tests read (src/api/schemas.ts has them whole).
type Values = Record<string, unknown>;
interface MergedAnswer {
  windows: { key: string; windowStart: number; windowEnd: number | null; values: Values; batch: Values | null; realtime: Values | null }[];
  provenance: { batch: { version: number } | null; slices: { partition: number; start: number; end: number }[]; position: number[] };
}
interface TopAnswer {
  by: string;
  top: { key: string; values: Values }[];
}
interface PlatformStatus {
  topics: { topic: string; partitions: { partition: number; endOffset: number; committed: number | null; lag: number }[] }[];
}
interface JobRun {
  id: string;
  view: string | null;
  trigger: string;
  state: string;
  progress: { percent: number; message?: string };
  durationMs: number | null;
  version: number | null;
  horizon: number[] | null;
}
interface JobsList {
  jobs: { view: string; nextRunAt: number | null; lastFinished: JobRun | null }[];
}
interface SqlAnswer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
  views: Record<string, { position: number[]; batch: { version: number } | null; freshnessMs: number | null }>;
  elapsedMs: number;
}
interface SqlError {
  error: { code: string; message: string };
}

async function startPlatform(overrides: PlatformConfigInput = {}) {
  const dataDir = await makeTempDir('dashboard');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dataDir.path,
      http: { port: 0 },
      kafkaServer: { enabled: false },
      demo: { enabled: true, eventsPerSecond: 200 },
      speedLayer: { batchIntervalMs: 200, workers: 0 },
      batchLayer: { recomputeEvery: '1h' },
      ...overrides,
    },
  });
  try {
    const platform = await createAllInOne(config, { logger: silentLogger(), metrics: new Metrics() });
    return { platform, remove: dataDir.remove };
  } catch (error) {
    await dataDir.remove();
    throw error;
  }
}

/** Polls `probe` until it answers something other than undefined. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One page with a record of what went wrong in it: console errors, uncaught errors, failed or foreign requests. */
async function openPage(context: BrowserContext, origin: string) {
  const page = await context.newPage();
  const problems = { consoleErrors: [] as string[], failedRequests: [] as string[], errorResponses: [] as string[], foreignRequests: [] as string[] };
  page.on('console', (message) => {
    if (message.type() === 'error') problems.consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.consoleErrors.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => problems.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.errorResponses.push(`${response.request().method()} ${response.url()}: ${response.status()}`);
  });
  // Nothing may leave this server: a request elsewhere is recorded and refused, never sent.
  await page.route(
    (url) => url.origin !== origin && url.protocol !== 'data:' && url.protocol !== 'blob:',
    (route) => {
      problems.foreignRequests.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  return { page, problems };
}

/** Takes out of `problems` what a test caused on purpose (matching `pattern`), and answers it. */
function allowProblems(problems: Awaited<ReturnType<typeof openPage>>['problems'], pattern: RegExp) {
  const allowed = { consoleErrors: [] as string[], errorResponses: [] as string[] };
  for (const kind of ['consoleErrors', 'errorResponses'] as const) {
    allowed[kind] = problems[kind].filter((problem) => pattern.test(problem));
    problems[kind] = problems[kind].filter((problem) => !pattern.test(problem));
  }
  return allowed;
}

/** What the SQL box shows: its state, the error area, the table as text, each view's position, the chart. */
async function readQueryBox(page: Page) {
  return page.evaluate(() => {
    const inPage = globalThis as unknown as PageGlobals;
    const $ = (selector: string) => inPage.document.querySelector(selector)!;
    const all = (selector: string, within?: PageElement) => Array.from(within ? within.querySelectorAll(selector) : inPage.document.querySelectorAll(selector));
    const chart = inPage.Chart.getChart('query-chart');
    const canvas = inPage.document.getElementById('query-chart') as PageCanvas;
    const pixels = canvas.width > 0 && canvas.height > 0 ? canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data : undefined;
    let painted = 0;
    for (let index = 3; pixels && index < pixels.length; index += 4) if (pixels[index]! > 0) painted++;
    return {
      run: Number($('#query-form').getAttribute('data-run')),
      state: $('#query-form').getAttribute('data-state'),
      error: { hidden: $('#query-error').hidden, code: $('#query-error').getAttribute('data-code'), text: $('#query-error').textContent },
      resultHidden: $('#query-result').hidden,
      columns: all('#query-table thead th').map((th) => ({ name: th.getAttribute('data-name'), type: th.getAttribute('data-type') })),
      rows: all('#query-table tbody tr').map((row) => all('td', row).map((cell) => cell.textContent)),
      summaryRows: $('#query-summary').getAttribute('data-rows'),
      elapsedMs: $('#query-summary').getAttribute('data-elapsed-ms'),
      truncated: { hidden: $('#query-truncated').hidden, text: $('#query-truncated').textContent },
      views: all('#query-views li').map((item) => ({ view: item.getAttribute('data-view'), position: item.getAttribute('data-position'), text: item.textContent })),
      chart: {
        hidden: $('#query-chart-box').hidden,
        value: $('#query-chart').getAttribute('data-value'),
        label: $('#query-chart').getAttribute('data-label'),
        labels: chart?.data.labels ?? [],
        data: chart ? [...chart.data.datasets[0]!.data] : [],
        painted,
      },
    };
  });
}

/**
 * Types `sql` and `params` in the SQL box (or leaves what it holds, without `sql`), runs it with the Run
 * button or with Ctrl+Enter, and answers what the box shows once that run has finished.
 */
async function runInQueryBox(page: Page, { sql, params = '', keys = false }: { sql?: string; params?: string; keys?: boolean } = {}) {
  const { run } = await readQueryBox(page);
  if (sql !== undefined) await page.fill('#query-sql', sql);
  await page.fill('#query-params', params);
  if (keys) {
    await page.focus('#query-sql');
    await page.keyboard.press('Control+Enter');
  } else {
    await page.click('#query-run');
  }
  await expect
    .poll(async () => {
      const form = page.locator('#query-form');
      return `${await form.getAttribute('data-run')} ${await form.getAttribute('data-state')}`;
    }, { timeout: 30_000, interval: 100 })
    .toMatch(new RegExp(`^${run + 1} (done|error)$`));
  return readQueryBox(page);
}

describeWhenAvailable('the dashboard at / in Chromium', skipReason, () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, TIMEOUT);
  afterAll(async () => {
    await browser?.close();
  }, TIMEOUT);

  describe('with the demo stream flowing', () => {
    let platform: AllInOne;
    let removeData: () => Promise<void>;
    let context: BrowserContext;
    let page: Page;
    let problems: Awaited<ReturnType<typeof openPage>>['problems'];
    /** A key of middling traffic: it changes less often than the busiest, so brackets close sooner. */
    let key: string;

    const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
      const response = await fetch(`${platform.url}${path}`, init);
      const body = await response.text();
      if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${path} answered ${response.status}: ${body}`);
      return JSON.parse(body) as T;
    };

    beforeAll(async () => {
      ({ platform, remove: removeData } = await startPlatform());
      // Data first: the view must answer some keys, with windows, through the API.
      const top = await waitFor('the demo data to reach the view', async () => {
        const answer = await api<TopAnswer>(`/views/${VIEW}/top?n=10`);
        return answer.top.length >= 4 ? answer : undefined;
      });
      key = top.top[3]!.key;
      await waitFor(`windows for ${key}`, async () => {
        const answer = await api<MergedAnswer>(`/views/${VIEW}?key=${encodeURIComponent(key)}`);
        return answer.windows.length > 0 ? true : undefined;
      });
      context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
      ({ page, problems } = await openPage(context, new URL(platform.url).origin));
    }, TIMEOUT);

    afterAll(async () => {
      await context?.close();
      await platform?.close();
      await removeData?.();
    }, TIMEOUT);

    /** Reads the chart after the page refreshed it, bracketed by two API reads; retries until they agree. */
    async function expectChartToMatchApi(aggregate: string): Promise<{ expected: ChartDataset[]; answer: MergedAnswer }> {
      const deadline = Date.now() + 30_000;
      for (let attempt = 1; ; attempt++) {
        const from = await page.locator('#chart').getAttribute('data-from');
        const query = new URLSearchParams({ key, contributions: 'true', limit: '1000' });
        if (from) query.set('from', from);
        const path = `/views/${VIEW}?${query}`;
        const before = await api<MergedAnswer>(path);
        const shown = await page.evaluate(async () => {
          const inPage = globalThis as unknown as PageGlobals;
          await inPage.dashboard.refreshChart();
          const canvas = inPage.document.querySelector('#chart')!;
          const chart = inPage.Chart.getChart('chart');
          return {
            view: canvas.getAttribute('data-view'),
            key: canvas.getAttribute('data-key'),
            aggregate: canvas.getAttribute('data-aggregate'),
            from: canvas.getAttribute('data-from'),
            labels: chart?.data.labels ?? [],
            datasets: (chart?.data.datasets ?? []).map((dataset) => ({ role: dataset.role, label: dataset.label, data: [...dataset.data] })),
          };
        });
        const after = await api<MergedAnswer>(path);

        const expected: ChartDataset[] = [
          {
            role: 'batch',
            label: before.provenance.batch ? `batch version ${before.provenance.batch.version}` : 'batch (no version yet)',
            data: before.windows.map((window) => numberOrNull(window.batch?.[aggregate])),
          },
          { role: 'realtime', label: 'speed layer', data: before.windows.map((window) => numberOrNull(window.realtime?.[aggregate])) },
        ];
        const stable = isDeepStrictEqual(before.windows, after.windows) && isDeepStrictEqual(before.provenance.batch, after.provenance.batch) && shown.from === (from ?? '');
        const actual = { view: shown.view, key: shown.key, aggregate: shown.aggregate, labels: shown.labels, datasets: shown.datasets.filter((dataset) => dataset.role !== 'merged') };
        const wanted = { view: VIEW, key, aggregate, labels: before.windows.map((window) => window.windowStart), datasets: expected };
        if (stable && isDeepStrictEqual(actual, wanted)) {
          // A merged line, when drawn (aggregates whose parts do not add up), is the API's merged answer.
          const merged = shown.datasets.find((dataset) => dataset.role === 'merged');
          if (merged) expect(merged.data).toEqual(before.windows.map((window) => numberOrNull(window.values[aggregate])));
          return { expected, answer: before };
        }
        if (Date.now() > deadline) {
          expect(actual, `the chart never matched the API over ${attempt} attempts (stable: ${stable})`).toEqual(wanted);
        }
      }
    }

    it(
      'should load every asset from this server and offer the views, keys and numeric aggregates',
      async () => {
        const response = await page.goto(platform.url, { waitUntil: 'load' });
        expect(response?.status()).toBe(200);
        await page.evaluate(() => (globalThis as unknown as PageGlobals).dashboard.ready);
        expect(await page.title()).toContain('Lambda platform');

        const views = await api<{ views: { name: string; schema: { values: Record<string, { type: unknown }> } }[] }>('/views');
        const viewOptions = await page.locator('#view-select option').evaluateAll((options) => options.map((option) => option.getAttribute('value')));
        expect(viewOptions).toEqual(views.views.map((view) => view.name));

        await page.selectOption('#view-select', VIEW);
        const keys = await api<{ keys: string[] }>(`/views/${VIEW}/keys?limit=1000`);
        await expect.poll(() => page.locator('#key-select option').evaluateAll((options) => options.map((option) => option.getAttribute('value'))), { timeout: 10_000 })
          .toEqual(expect.arrayContaining(keys.keys));

        // The numeric aggregates, in the view's order; the first is chosen.
        const schema = views.views.find((view) => view.name === VIEW)!.schema.values;
        const numeric = Object.entries(schema)
          .filter(([, value]) => [value.type].flat().some((type) => type === 'number' || type === 'integer'))
          .map(([name]) => name);
        expect(numeric).toEqual(['views', 'visitors', 'avg_latency_ms', 'max_latency_ms']);
        expect(await page.locator('#aggregate-select option').evaluateAll((options) => options.map((option) => option.getAttribute('value')))).toEqual(numeric);
        expect(await page.locator('#aggregate-select').inputValue()).toBe('views');

        await page.selectOption('#key-select', key);
        expect(await page.locator('#key-select').inputValue()).toBe(key);
      },
      TIMEOUT,
    );

    it(
      'should chart the batch and real-time parts of each window exactly as the API answers them',
      async () => {
        const { answer } = await expectChartToMatchApi('views');
        expect(answer.windows.length).toBeGreaterThan(0);
        // Before any recompute, the speed layer holds everything.
        expect(answer.provenance.batch).toBeNull();

        // An aggregate whose parts do not add up: the merged answer is drawn as well.
        await page.selectOption('#aggregate-select', 'avg_latency_ms');
        await expectChartToMatchApi('avg_latency_ms');
        expect(await page.locator('#chart').getAttribute('data-aggregate')).toBe('avg_latency_ms');
        await page.selectOption('#aggregate-select', 'views');
        await expectChartToMatchApi('views');
      },
      TIMEOUT,
    );

    it(
      'should list the top keys of the last hour as GET /views/:name/top ranks them',
      async () => {
        const deadline = Date.now() + 30_000;
        for (let attempt = 1; ; attempt++) {
          const from = await page.locator('#top-table').getAttribute('data-from');
          // The last hour, from the start of a minute.
          expect(Number(from) % 60_000).toBe(0);
          expect(Math.abs(Date.now() - 3_600_000 - Number(from))).toBeLessThan(2 * 60_000);
          const path = `/views/${VIEW}/top?n=10&by=views&from=${from}`;
          const before = await api<TopAnswer>(path);
          const shown = await page.evaluate(async () => {
            const inPage = globalThis as unknown as PageGlobals;
            await inPage.dashboard.refreshTop();
            const table = inPage.document.querySelector('#top-table')!;
            return {
              by: table.getAttribute('data-by'),
              from: table.getAttribute('data-from'),
              rows: Array.from(inPage.document.querySelectorAll('#top-table tbody tr[data-key]'), (row) => ({
                key: row.getAttribute('data-key'),
                value: Number(row.querySelector('td.value')!.getAttribute('data-value')),
                text: row.querySelector('td.value')!.textContent,
              })),
            };
          });
          const after = await api<TopAnswer>(path);
          const wanted = { by: 'views', from, rows: before.top.map((row) => ({ key: row.key, value: row.values.views })) };
          const actual = { by: shown.by, from: shown.from, rows: shown.rows.map(({ key, value }) => ({ key, value })) };
          const stable = isDeepStrictEqual(before.top, after.top);
          if (stable && isDeepStrictEqual(actual, wanted)) {
            expect(shown.rows.length).toBe(Math.min(10, before.top.length));
            // Shown with its unit, digits as the API gives them.
            for (const row of shown.rows) expect(row.text!.replace(/\D/g, '')).toBe(String(row.value));
            expect(shown.rows[0]!.text).toMatch(/ events$/);
            break;
          }
          if (Date.now() > deadline) expect(actual, `the top table never matched the API over ${attempt} attempts (stable: ${stable})`).toEqual(wanted);
        }
      },
      TIMEOUT,
    );

    it(
      "should show the log's end offsets and the speed layer's lag per partition",
      async () => {
        const before = await api<PlatformStatus>('/status');
        const shown = await page.evaluate(async () => {
          const inPage = globalThis as unknown as PageGlobals;
          await inPage.dashboard.refreshStatus();
          return Array.from(inPage.document.querySelectorAll('#layers #log-table tr[data-partition]'), (row) => ({
            topic: row.getAttribute('data-topic'),
            partition: Number(row.getAttribute('data-partition')),
            endOffset: Number(row.querySelector('td.end-offset')!.getAttribute('data-value')),
            endOffsetText: row.querySelector('td.end-offset')!.textContent,
            lag: Number(row.querySelector('td.lag')!.getAttribute('data-value')),
          }));
        });
        const after = await api<PlatformStatus>('/status');

        const partitions = before.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.topic, ...partition })));
        expect(partitions.length).toBeGreaterThan(0);
        expect(shown.map(({ topic, partition }) => ({ topic, partition }))).toEqual(partitions.map(({ topic, partition }) => ({ topic, partition })));
        for (const [index, row] of shown.entries()) {
          const low = partitions[index]!;
          const high = after.topics.find((topic) => topic.topic === low.topic)!.partitions[low.partition]!;
          // Offsets only grow: the page's read lies between the two reads around it.
          expect(row.endOffset).toBeGreaterThanOrEqual(low.endOffset);
          expect(row.endOffset).toBeLessThanOrEqual(high.endOffset);
          expect(row.endOffset).toBeGreaterThan(0);
          expect(row.endOffsetText!.replace(/\D/g, '')).toBe(String(row.endOffset));
          expect(row.lag).toBeGreaterThanOrEqual(0);
        }
      },
      TIMEOUT,
    );

    it(
      'should recompute the selected view from its button, show the progress to 100% and the version published',
      async () => {
        // Every state and percentage the page shows, as it shows them.
        await page.evaluate(() => {
          const inPage = globalThis as unknown as PageGlobals;
          const element = inPage.document.querySelector('#recompute-state')!;
          const progress = inPage.document.querySelector('#recompute-progress')!;
          inPage.recomputeStates = [];
          const record = () => inPage.recomputeStates!.push({ state: element.getAttribute('data-state'), percent: Number(progress.getAttribute('value')) });
          new inPage.MutationObserver(record).observe(element, { attributes: true });
        });
        // A batch run counts up to slice edges: wait until the speed layer has cut a slice on every
        // partition (every 10 micro-batches), so the version has something of this key to hold.
        await waitFor('a slice cut on every partition', async () => {
          const { provenance } = await api<MergedAnswer>(`/views/${VIEW}?key=${encodeURIComponent(key)}&limit=1`);
          const cut = provenance.position.every((_, partition) => provenance.slices.some((slice) => slice.partition === partition && slice.start > 0));
          return provenance.position.length > 0 && cut ? true : undefined;
        });
        expect(await page.locator('#recompute-button').textContent()).toContain(VIEW);
        await page.locator('#recompute-button').click();

        await expect.poll(() => page.locator('#recompute-state').getAttribute('data-state'), { timeout: 45_000, interval: 100 }).toMatch(/^(completed|failed|error)$/);
        const state = page.locator('#recompute-state');
        expect(await state.getAttribute('data-state'), (await state.textContent()) ?? '').toBe('completed');
        expect(await page.locator('#recompute-progress').getAttribute('value')).toBe('100');
        expect(await page.locator('#recompute-percent').textContent()).toBe('100%');
        const id = (await state.getAttribute('data-job-id'))!;
        const version = Number(await state.getAttribute('data-version'));
        expect(await state.textContent()).toContain(`published batch version ${version}`);

        const run = await api<JobRun>(`/batch/jobs/${encodeURIComponent(id)}`);
        expect(run).toMatchObject({ id, view: VIEW, trigger: 'manual', state: 'completed', version, progress: { percent: 100 } });
        expect(run.horizon!.some((offset) => offset > 0)).toBe(true);
        expect(await page.locator('#recompute-message').textContent()).toContain(run.progress.message ?? id);

        const seen = await page.evaluate(() => (globalThis as unknown as PageGlobals).recomputeStates!);
        expect(seen.at(-1)).toEqual({ state: 'completed', percent: 100 });
        expect(seen.some((entry) => entry.state === 'starting' || entry.state === 'running' || entry.state === 'waiting')).toBe(true);
        for (let index = 1; index < seen.length; index++) expect(seen[index]!.percent).toBeGreaterThanOrEqual(seen[index - 1]!.percent);

        // The batch layer's row: the version, the run's duration, the next scheduled run.
        const jobs = await api<JobsList>(`/batch/jobs?view=${VIEW}`);
        const job = jobs.jobs.find((candidate) => candidate.view === VIEW)!;
        expect(job.lastFinished?.id).toBe(id);
        const row = page.locator(`#batch-table tr[data-view="${VIEW}"]`);
        await expect.poll(() => row.locator('td.version').getAttribute('data-value'), { timeout: 10_000 }).toBe(String(version));
        await expect.poll(() => row.locator('td.last-run').getAttribute('data-duration-ms'), { timeout: 10_000 }).toBe(String(job.lastFinished!.durationMs));
        expect(await row.locator('td.next-run').getAttribute('data-value')).toBe(String(job.nextRunAt));
        expect(await row.locator('td.horizon').getAttribute('data-value')).toBe(run.horizon!.join(','));

        // The chart now tells the new batch version's part from the speed layer's.
        const { expected } = await expectChartToMatchApi('views');
        expect(expected[0]!.label).toBe(`batch version ${version}`);
        expect(expected[0]!.data.some((value) => value !== null && value > 0)).toBe(true);
      },
      TIMEOUT,
    );

    it(
      'should run the SQL example and a typed query, showing the rows POST /query answers and charting the first numeric column',
      async () => {
        const postQuery = (sql: string, params: unknown[] = []) =>
          api<SqlAnswer>('/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql, params }) });

        // The example: the top keys of the catalog's first view, built from GET /views.
        const { views } = await api<{ views: { name: string }[] }>('/views');
        const example = await page.locator('#query-sql').inputValue();
        expect(await page.locator('#query-sql').getAttribute('data-example')).toBe(views[0]!.name);
        expect(example).toMatch(new RegExp(`FROM ${views[0]!.name}\\b`));
        const ranExample = await runInQueryBox(page);
        expect(ranExample.error, ranExample.error.text ?? '').toMatchObject({ hidden: true });
        const exampleAnswer = await postQuery(example);
        expect(ranExample.columns).toEqual(exampleAnswer.columns);
        // The counts move with the stream; the keys (every page of the demo) and the row count do not.
        expect(ranExample.rows.map((row) => row[0]).sort()).toEqual(exampleAnswer.rows.map((row) => cellText(row[0])).sort());
        expect(ranExample.chart).toMatchObject({ hidden: false, value: exampleAnswer.columns[1]!.name, label: exampleAnswer.columns[0]!.name });
        expect(ranExample.chart.labels).toEqual(ranExample.rows.map((row) => row[0]));
        expect(ranExample.chart.data).toEqual(ranExample.rows.map((row) => Number(row[1])));

        // A typed query with a parameter, run with Ctrl+Enter: a stable answer (the pages seen), bracketed
        // by two API reads like the other panels; lists and structs shown as compact JSON.
        const sql = [
          "SELECT url, length(url) AS chars, count(*) > 0 AS seen, list_distinct(list(length(url))) AS lengths, {'n': length(url)} AS shape, CAST(NULL AS VARCHAR) AS nothing",
          `FROM ${VIEW} WHERE url LIKE ? GROUP BY url ORDER BY url`,
        ].join('\n');
        const params = ['/%'];
        const deadline = Date.now() + 30_000;
        for (let attempt = 1; ; attempt++) {
          const before = await postQuery(sql, params);
          const shown = await runInQueryBox(page, { sql, params: JSON.stringify(params), keys: attempt === 1 });
          const after = await postQuery(sql, params);
          const stable = isDeepStrictEqual(before.rows, after.rows) && isDeepStrictEqual(before.columns, after.columns);
          const wanted = { state: 'done', columns: before.columns, rows: before.rows.map((row) => row.map(cellText)) };
          const actual = { state: shown.state, columns: shown.columns, rows: shown.rows };
          if (stable && isDeepStrictEqual(actual, wanted)) {
            expect(before.columns.map((column) => `${column.name} ${column.type}`)).toEqual([
              'url VARCHAR',
              'chars BIGINT',
              'seen BOOLEAN',
              'lengths BIGINT[]',
              'shape STRUCT("n" BIGINT)',
              'nothing VARCHAR',
            ]);
            expect(shown.rows.length).toBeGreaterThanOrEqual(4);
            expect(shown.rows[0]!.slice(1)).toEqual([String(before.rows[0]![1]), 'true', `[${before.rows[0]![1]}]`, `{"n":${before.rows[0]![1]}}`, 'NULL']);
            expect(shown).toMatchObject({ summaryRows: String(before.rows.length), truncated: { hidden: true }, error: { hidden: true }, resultHidden: false });
            expect(Number(shown.elapsedMs)).toBeGreaterThanOrEqual(0);
            // The view's snapshot: offsets only grow, so the page's lies between the two reads around it.
            expect(shown.views.map((entry) => entry.view)).toEqual([VIEW]);
            const position = shown.views[0]!.position!.split(',').map(Number);
            position.forEach((offset, partition) => {
              expect(offset).toBeGreaterThanOrEqual(before.views[VIEW]!.position[partition]!);
              expect(offset).toBeLessThanOrEqual(after.views[VIEW]!.position[partition]!);
            });
            expect(shown.views[0]!.text).toMatch(/freshness /);
            // The chart: the first numeric column (chars) per the first other one (url), drawn.
            expect(shown.chart).toMatchObject({ hidden: false, value: 'chars', label: 'url' });
            expect(shown.chart.labels).toEqual(before.rows.map((row) => row[0]));
            expect(shown.chart.data).toEqual(before.rows.map((row) => row[1]));
            expect(shown.chart.painted).toBeGreaterThan(500);
            break;
          }
          if (Date.now() > deadline) expect(actual, `the SQL box never matched the API over ${attempt} attempts (stable: ${stable})`).toEqual(wanted);
          await new Promise((resolve) => setTimeout(resolve, 1000)); // queries are rate-limited
        }

        // More rows than the limit asked for: cut, and the box says so.
        await page.fill('#query-limit', '2');
        const cut = await runInQueryBox(page, { sql: 'SELECT range AS n FROM range(5)' });
        await page.fill('#query-limit', '1000');
        expect(cut).toMatchObject({ state: 'done', rows: [['0'], ['1']], truncated: { hidden: false }, views: [], chart: { value: 'n', label: '', labels: ['1', '2'], data: [0, 1] } });
        expect(cut.truncated.text).toMatch(/Truncated/);
      },
      TIMEOUT,
    );

    it(
      "should show a refused statement's error code and message in the SQL box, and log nothing of its own",
      async () => {
        const refusedSql = "ATTACH '/tmp/x' AS x";
        const response = await fetch(`${platform.url}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: refusedSql }) });
        expect(response.status).toBe(400);
        const { error } = (await response.json()) as SqlError;
        expect(error.code).toBe('SQL_NOT_ALLOWED');

        const refused = await runInQueryBox(page, { sql: refusedSql });
        expect(refused).toMatchObject({ state: 'error', error: { hidden: false, code: 'SQL_NOT_ALLOWED' }, resultHidden: true });
        expect(refused.error.text).toBe(`SQL_NOT_ALLOWED ${error.message} · HTTP 400`);
        // The box holds the error; the page's own error list stays for the panels.
        expect(await page.locator('#errors .error').count()).toBe(0);

        // Params that are not a JSON array: refused in the page, nothing sent.
        const sent: string[] = [];
        const record = (request: { url(): string }) => void sent.push(request.url());
        page.on('request', record);
        const badParams = await runInQueryBox(page, { sql: 'SELECT ?', params: '[1,' });
        page.off('request', record);
        expect(badParams).toMatchObject({ state: 'error', error: { hidden: false, code: 'INVALID_PARAMS' } });
        expect(sent.filter((url) => new URL(url).pathname === '/query')).toEqual([]);

        // Then a good query clears the error (one whose answer, the pages seen, holds still).
        const goodSql = `SELECT url, length(url) AS chars FROM ${VIEW} GROUP BY url ORDER BY url`;
        const good = await runInQueryBox(page, { sql: goodSql, params: '' });
        const goodAnswer = await api<SqlAnswer>('/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: goodSql }) });
        expect(good).toMatchObject({ state: 'done', error: { hidden: true }, resultHidden: false, rows: goodAnswer.rows.map((row) => row.map(cellText)) });

        // Chromium notes the 400 itself (as a failed resource): that is the only trace, nothing the page logged.
        const allowed = allowProblems(problems, /\/query: 400$|status of 400/);
        expect(allowed.errorResponses).toEqual([`POST ${platform.url}/query: 400`]);
        expect(allowed.consoleErrors.length).toBeLessThanOrEqual(1);
        for (const message of allowed.consoleErrors) expect(message).toMatch(/^Failed to load resource: the server responded with a status of 400 .*\/query\)$/);
        expect(problems.consoleErrors).toEqual([]);
      },
      TIMEOUT,
    );

    it(
      'should save a screenshot, and have logged no error nor asked any other host for anything',
      async () => {
        await mkdir(ARTIFACTS, { recursive: true });
        await rm(SCREENSHOT, { force: true });
        await page.locator('#chart').scrollIntoViewIfNeeded();
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        const png = await readFile(SCREENSHOT);
        expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
        expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
        expect(png.readUInt32BE(16)).toBe(1440); // width
        expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(900); // height
        const { size } = await stat(SCREENSHOT);
        expect(size).toBeGreaterThan(30_000);
        expect(size).toBeLessThan(10_000_000);

        expect(await page.locator('#errors .error').count()).toBe(0);
        expect(problems).toEqual({ consoleErrors: [], failedRequests: [], errorResponses: [], foreignRequests: [] });
      },
      TIMEOUT,
    );
  });

  describe('with an API token configured', () => {
    let platform: AllInOne;
    let removeData: () => Promise<void>;
    let context: BrowserContext;

    beforeAll(async () => {
      ({ platform, remove: removeData } = await startPlatform({ http: { port: 0, apiToken: API_TOKEN }, demo: { enabled: true, eventsPerSecond: 20 } }));
      context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
    }, TIMEOUT);

    afterAll(async () => {
      await context?.close();
      await platform?.close();
      await removeData?.();
    }, TIMEOUT);

    it(
      'should ask for the token on 401, say when it is refused, then send it as a bearer token and recompute',
      async () => {
        const { page, problems } = await openPage(context, new URL(platform.url).origin);
        const batchAuthorizations: (string | undefined)[] = [];
        const queryAuthorizations: (string | undefined)[] = [];
        page.on('request', (request) => {
          const { pathname } = new URL(request.url());
          if (pathname.startsWith('/batch/')) batchAuthorizations.push(request.headers().authorization);
          if (pathname === '/query') queryAuthorizations.push(request.headers().authorization);
        });
        expect((await page.goto(platform.url))?.status()).toBe(200);
        await page.evaluate(() => (globalThis as unknown as PageGlobals).dashboard.ready);

        // GET /batch/jobs answered 401: the token form opens, the batch panel says why it knows nothing.
        await page.locator('#token-form').waitFor({ state: 'visible', timeout: 15_000 });
        expect(await page.locator('#token-reason').textContent()).toContain('401');
        expect(await page.locator('#batch-auth').isVisible()).toBe(true);

        // The SQL box needs the token too: the API's 401 shows in its error area.
        const unauthorized = await runInQueryBox(page);
        expect(unauthorized).toMatchObject({ state: 'error', error: { hidden: false, code: 'UNAUTHENTICATED' }, resultHidden: true });
        expect(await page.locator('#token-form').isVisible()).toBe(true);

        // A wrong token: 403, and the form says it was refused.
        await page.fill('#token-input', 'not-the-token-at-all-0000');
        await page.click('#token-form button[type=submit]');
        await expect.poll(() => page.locator('#token-reason').textContent(), { timeout: 15_000 }).toContain('refused');
        await page.locator('#token-form').waitFor({ state: 'visible' });

        // The right one: kept in sessionStorage, sent as a bearer token, and the batch panel fills in.
        await page.fill('#token-input', API_TOKEN);
        await page.click('#token-form button[type=submit]');
        await page.locator('#token-form').waitFor({ state: 'hidden', timeout: 15_000 });
        expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.getItem('lambda-platform.api-token'))).toBe(API_TOKEN);
        const jobs = (await (await fetch(`${platform.url}/batch/jobs`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json()) as JobsList;
        const job = jobs.jobs.find((candidate) => candidate.view === VIEW)!;
        await expect
          .poll(() => page.locator(`#batch-table tr[data-view="${VIEW}"] td.next-run`).getAttribute('data-value'), { timeout: 15_000 })
          .toBe(String(job.nextRunAt));
        expect(await page.locator('#batch-auth').isVisible()).toBe(false);

        // The query refused for want of a token ran again with the wrong one (403), then with the right one.
        await expect.poll(() => page.locator('#query-form').getAttribute('data-state'), { timeout: 15_000 }).toBe('done');
        const example = await page.locator('#query-sql').inputValue();
        const answer = (await (
          await fetch(`${platform.url}/query`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
            body: JSON.stringify({ sql: example }),
          })
        ).json()) as SqlAnswer;
        const queried = await readQueryBox(page);
        expect(queried).toMatchObject({ error: { hidden: true }, resultHidden: false, columns: answer.columns });
        expect(queried.rows.length).toBeGreaterThan(0);
        expect(queryAuthorizations).toEqual([undefined, 'Bearer not-the-token-at-all-0000', `Bearer ${API_TOKEN}`]);

        await page.locator('#recompute-button').click();
        await expect.poll(() => page.locator('#recompute-state').getAttribute('data-state'), { timeout: 45_000, interval: 100 }).toMatch(/^(completed|failed|error)$/);
        expect(await page.locator('#recompute-state').getAttribute('data-state'), (await page.locator('#recompute-state').textContent()) ?? '').toBe('completed');
        expect(await page.locator('#recompute-progress').getAttribute('value')).toBe('100');

        expect(batchAuthorizations).toContain(`Bearer ${API_TOKEN}`);
        expect(batchAuthorizations.at(-1)).toBe(`Bearer ${API_TOKEN}`);
        // The only errors are the answers that asked for (or refused) the token.
        expect(problems.errorResponses.length).toBeGreaterThan(0);
        for (const response of problems.errorResponses) expect(response).toMatch(/\/(batch\/\S*|query): 40[13]$/);
        for (const message of problems.consoleErrors) expect(message).toMatch(/status of 40[13]/);
        expect(problems.failedRequests).toEqual([]);
        expect(problems.foreignRequests).toEqual([]);
        await page.close();
      },
      TIMEOUT,
    );
  });
});

/** A cell as the SQL box writes it: strings as they are, NULL, anything else as compact JSON. */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
