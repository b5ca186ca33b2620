/**
 * The API fuzzed from its own OpenAPI document (issue #15): schemathesis (infra/schemathesis/.venv, made by
 * `bash infra/schemathesis/setup.sh`) reads `/openapi.json` of a running platform (`npm start`'s entrypoint
 * on its embedded defaults, with an API token) and sends every operation valid and invalid requests: its
 * examples, the edges of each schema (coverage) and random ones (fuzzing), a bounded number per operation,
 * from a fixed seed. Every answer must be documented: no 5xx, a documented status, content type and body
 * schema. It runs twice: without a token (every guarded operation then answers its documented 401) and
 * with it, while events keep arriving through the API.
 *
 * Then, with the log quiet and every view caught up, nothing ingested may be lost or counted twice: the
 * ingest reports (the fuzzer's, read from its HAR files, and the test's own) name every offset of the log
 * exactly once, and the views count exactly the events those reports accepted.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWhenAvailable, makeTempDir, type TempDir } from '@lambda/test-kit';
import { PageViewGenerator, PAGEVIEWS } from '../src/demo/web-analytics.js';
import { LayerProcess } from './helpers/layer-process.js';

const SCHEMATHESIS = fileURLToPath(new URL('../schemathesis/.venv/bin/schemathesis', import.meta.url));
const skipReason =
  existsSync(SCHEMATHESIS) || process.env.CI === 'true' ? undefined : 'no schemathesis environment: run bash infra/schemathesis/setup.sh';

const TOKEN = 'api-fuzz-token-0123456789abcdef';
/** Test cases per operation and phase: enough to reach every parameter's edges, small enough for CI's 2 cores. */
const MAX_EXAMPLES = 80;
/** The same requests on every run, so a failure reproduces (`--seed`). */
const SEED = 15;
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance'];
/** The window of `visitors_by_referrer` is 10 minutes, sliding by 1: each event is in 10 of its windows. */
const VISITOR_WINDOWS_PER_EVENT = 10;

interface SchemathesisRun {
  code: number | null;
  output: string;
  har: HarEntry[];
}

interface HarEntry {
  request: { method: string; url: string };
  response: { status: number; content: { text?: string; encoding?: string } };
}

interface IngestReport {
  topic: string;
  accepted: number;
  deadLettered: number;
  records: { index: number; partition: number; offset: number; status: 'accepted' | 'dead-letter' }[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
}

interface PlatformStatus {
  topics: { topic: string; partitions: { partition: number; endOffset: number }[] }[];
  views: { view: string; partitions: { partition: number; position: number; endOffset: number }[] }[];
}

/** `schemathesis run` against the document at `url`, its requests and answers kept in a HAR file under `dir`. */
async function schemathesis(url: string, dir: string, name: string, token?: string): Promise<SchemathesisRun> {
  const harPath = join(dir, `${name}.har.json`);
  const args = [
    'run',
    `${url}/openapi.json`,
    '--checks',
    CHECKS.join(','),
    // No stateful phase: the document declares no links, and the run stays a bounded list of requests.
    '--phases',
    'examples,coverage,fuzzing',
    '--max-examples',
    String(MAX_EXAMPLES),
    '--seed',
    String(SEED),
    // One worker: on Python 3.11, two threads building ASTs at once (hypothesis describes lambdas from their
    // source) can trip CPython's shared recursion counter, "AST constructor recursion depth mismatch"
    // (python/cpython#106905). Generation holds the GIL anyway, so a second thread gained little.
    '--workers',
    '1',
    '--request-timeout',
    '30',
    // Hypothesis times its own generation: on a busy CI machine that says nothing about the API.
    '--suppress-health-check',
    'too_slow',
    // Nothing remembered between runs: the seed alone decides the requests.
    '--generation-database',
    'none',
    '--no-color',
    '--report',
    'har',
    '--report-har-path',
    harPath,
    // Without a token, no request carries one (schemathesis would otherwise make some up, answered 403).
    ...(token === undefined ? ['--generation-with-security-parameters', 'false'] : ['-H', `Authorization: Bearer ${token}`]),
  ];
  const child = spawn(SCHEMATHESIS, args, { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 200_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  }).finally(() => clearTimeout(timer));
  const har = existsSync(harPath) ? ((JSON.parse(await readFile(harPath, 'utf8')) as { log: { entries: HarEntry[] } }).log.entries) : [];
  return { code, output, har };
}

/** What schemathesis printed from its first failure or error on, for a failure message (the head is progress). */
function findings(output: string): string {
  const start = output.search(/^=+ (FAILURES|ERRORS) =+$/m);
  return (start < 0 ? output.slice(-4000) : output.slice(start)).slice(0, 12_000);
}

function bodyText(entry: HarEntry): string {
  const { text = '', encoding } = entry.response.content;
  return encoding === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
}

/** The documented operation a request was sent to, as `METHOD /path/{param}`, or undefined. */
function operationOf(document: OpenApiDocument, method: string, url: string): string | undefined {
  const path = new URL(url).pathname;
  for (const [template, methods] of Object.entries(document.paths)) {
    if (!methods[method.toLowerCase()]) continue;
    const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`);
    if (pattern.test(path)) return `${method.toUpperCase()} ${template}`;
  }
  return undefined;
}

describeWhenAvailable('when schemathesis fuzzes every operation of /openapi.json', skipReason, () => {
  let dir: TempDir;
  let platform: LayerProcess;
  let url: string;
  let document: OpenApiDocument;
  /** Every ingest report an answer carried: the fuzzer's (from its HAR files) and the test's own. */
  const reports: IngestReport[] = [];

  beforeAll(async () => {
    // CI never skips this test: there, a missing environment is a failure, and says what makes it.
    if (!existsSync(SCHEMATHESIS)) throw new Error(`${SCHEMATHESIS} is missing: bash infra/schemathesis/setup.sh makes it (.ci/run does)`);
    dir = await makeTempDir('api-fuzz');
    // A comparative-demo report in the platform's working directory, so /reports/latest/{file} has files.
    await mkdir(join(dir.path, 'reports', 'web'), { recursive: true });
    await writeFile(join(dir.path, 'reports', 'web', 'report.json'), JSON.stringify({ scenario: 'web' }));
    await writeFile(join(dir.path, 'reports', 'web', 'report.md'), '# A report\n');
    await writeFile(join(dir.path, 'reports', 'web', 'freshness.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    platform = new LayerProcess(
      'start',
      'platform',
      {
        DATA_DIR: join(dir.path, 'data'),
        HTTP_PORT: '0',
        KAFKA_SERVER: 'false',
        API_TOKEN: TOKEN,
        // The log holds only what arrives through the API, so every offset has an ingest report.
        DEMO: 'false',
        // The fuzzer's queries reach the SQL engine instead of the rate limit (429 stays documented).
        QUERY_PER_MINUTE: '1000000',
      },
      dir.path,
    );
    await platform.start();
    const health = platform.messages().find((message) => message.msg.startsWith('health:'));
    url = /(http:\/\/\S+)\/health$/.exec(health?.msg ?? '')?.[1] ?? '';
    expect(url, platform.tail()).not.toBe('');
    document = (await (await fetch(`${url}/openapi.json`)).json()) as OpenApiDocument;
  });

  afterAll(async () => {
    await platform?.stop('SIGINT');
    await dir?.remove();
  });

  describe('when the requests carry no token', () => {
    it('should answer every one as documented, and every guarded operation with its 401', async () => {
      const run = await schemathesis(url, dir.path, 'without-token');
      expect(run.code, findings(run.output)).toBe(0);
      expect(platform.running, platform.tail()).toBe(true);

      const guarded = Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([, operation]) => operation.security)
          .map(([method]) => `${method.toUpperCase()} ${path}`),
      );
      expect(guarded.length).toBeGreaterThan(0);
      const answered = new Map<string, Set<number>>(guarded.map((operation) => [operation, new Set()]));
      for (const entry of run.har) {
        const operation = operationOf(document, entry.request.method, entry.request.url);
        if (operation && answered.has(operation)) answered.get(operation)!.add(entry.response.status);
      }
      // 431: a URL over the header limit is refused before any route, the token's check included.
      for (const [operation, statuses] of answered) {
        expect([...statuses].filter((status) => status !== 401 && status !== 431), operation).toEqual([]);
        expect(statuses.has(401), `${operation} was sent requests`).toBe(true);
      }
    }, 240_000);
  });

  describe('when the requests carry the token, and events keep arriving', () => {
    it('should answer every one as documented', async () => {
      // Page views (some late, some malformed) through the API all along the run: the fuzzer's
      // recomputes, reprocessing and reads race real traffic.
      const generator = new PageViewGenerator({ eventsPerSecond: 100, lateShare: 0.2, invalidShare: 0.05, seed: SEED });
      let producing = true;
      const producer = (async () => {
        for (let batch = 0; producing; batch++) {
          const events = Array.from({ length: 20 }, () => generator.event(Date.now()).value);
          const ndjson = batch % 2 === 0;
          const response = await fetch(`${url}/ingest/${PAGEVIEWS}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
            // The JSON array carries each event's text as it is, malformed ones included.
            body: ndjson ? events.join('\n') : `[${events.map((event) => (event.startsWith('{') ? event : JSON.stringify(event))).join(',')}]`,
          });
          expect(response.status).toBe(200);
          reports.push((await response.json()) as IngestReport);
          await sleep(200);
        }
      })();
      let run: SchemathesisRun;
      try {
        run = await schemathesis(url, dir.path, 'with-token', TOKEN);
      } finally {
        producing = false;
        await producer;
      }
      for (const entry of run.har) {
        if (entry.response.status === 200 && operationOf(document, entry.request.method, entry.request.url) === 'POST /ingest/{topic}') {
          reports.push(JSON.parse(bodyText(entry)) as IngestReport);
        }
      }
      expect(run.code, findings(run.output)).toBe(0);
      expect(platform.running, platform.tail()).toBe(true);
    }, 240_000);
  });

  describe('when both runs are over and every view has caught up with the log', () => {
    it('should have appended each ingested event once, and count each accepted one exactly once in every view', async () => {
      expect(platform.running, platform.tail()).toBe(true);
      // Every view counts up to the log's end on every partition.
      let status: PlatformStatus;
      const deadline = Date.now() + 90_000;
      for (;;) {
        status = (await (await fetch(`${url}/status`)).json()) as PlatformStatus;
        const behind = status.views.filter((view) => view.partitions.some((partition) => partition.position !== partition.endOffset));
        if (behind.length === 0 && status.views.length > 0) break;
        if (Date.now() > deadline) throw new Error(`views behind the log after 90 s: ${JSON.stringify(behind)}\n${platform.tail()}`);
        await sleep(500);
      }
      const ends = status.topics.find((topic) => topic.topic === PAGEVIEWS)!.partitions.map((partition) => partition.endOffset);

      // The reports name every offset of the log exactly once: nothing appended went unreported, nothing twice.
      const records = reports.filter((report) => report.topic === PAGEVIEWS).flatMap((report) => report.records);
      const places = records.map((record) => `${record.partition}:${record.offset}`).sort();
      const expectedPlaces = ends.flatMap((end, partition) => Array.from({ length: end }, (_, offset) => `${partition}:${offset}`)).sort();
      expect(places.length).toBe(expectedPlaces.length);
      expect(places).toEqual(expectedPlaces);
      const accepted = records.filter((record) => record.status === 'accepted').length;
      expect(accepted).toBeGreaterThan(100);
      expect(accepted).toBeLessThan(records.length); // some were dead-lettered: the count below leaves them out

      // Each view counts each accepted event once (in each window it falls in), at a position that is the log's end.
      const count = async (sql: string, view: string) => {
        const response = await fetch(`${url}/query`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ sql }),
        });
        const answer = (await response.json()) as { rows: unknown[][]; views: Record<string, { position: number[] }> };
        expect(response.status, JSON.stringify(answer)).toBe(200);
        expect(answer.views[view]!.position).toEqual(ends);
        return Number(answer.rows[0]![0]);
      };
      expect(await count('SELECT sum(views) FROM pageviews_by_url', 'pageviews_by_url')).toBe(accepted);
      expect(await count('SELECT sum(visits) FROM visitors_by_referrer', 'visitors_by_referrer')).toBe(VISITOR_WINDOWS_PER_EVENT * accepted);
    }, 120_000);
  });
});
