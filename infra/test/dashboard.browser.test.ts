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
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
interface PageGlobals {
  Chart: { getChart(id: string): { data: { labels: unknown[]; datasets: ChartDataset[] } } | undefined };
  dashboard: { ready: Promise<void>; refreshChart(): Promise<void>; refreshTop(): Promise<void>; refreshStatus(): Promise<void> };
  document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): ArrayLike<PageElement> };
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
        page.on('request', (request) => {
          if (new URL(request.url()).pathname.startsWith('/batch/')) batchAuthorizations.push(request.headers().authorization);
        });
        expect((await page.goto(platform.url))?.status()).toBe(200);
        await page.evaluate(() => (globalThis as unknown as PageGlobals).dashboard.ready);

        // GET /batch/jobs answered 401: the token form opens, the batch panel says why it knows nothing.
        await page.locator('#token-form').waitFor({ state: 'visible', timeout: 15_000 });
        expect(await page.locator('#token-reason').textContent()).toContain('401');
        expect(await page.locator('#batch-auth').isVisible()).toBe(true);

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

        await page.locator('#recompute-button').click();
        await expect.poll(() => page.locator('#recompute-state').getAttribute('data-state'), { timeout: 45_000, interval: 100 }).toMatch(/^(completed|failed|error)$/);
        expect(await page.locator('#recompute-state').getAttribute('data-state'), (await page.locator('#recompute-state').textContent()) ?? '').toBe('completed');
        expect(await page.locator('#recompute-progress').getAttribute('value')).toBe('100');

        expect(batchAuthorizations).toContain(`Bearer ${API_TOKEN}`);
        expect(batchAuthorizations.at(-1)).toBe(`Bearer ${API_TOKEN}`);
        // The only errors are the answers that asked for (or refused) the token.
        expect(problems.errorResponses.length).toBeGreaterThan(0);
        for (const response of problems.errorResponses) expect(response).toMatch(/\/batch\/\S*: 40[13]$/);
        for (const message of problems.consoleErrors) expect(message).toMatch(/status of 40[13]/);
        expect(problems.failedRequests).toEqual([]);
        expect(problems.foreignRequests).toEqual([]);
        await page.close();
      },
      TIMEOUT,
    );
  });
});

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
