// Totals the vitest JSON report of every workspace into one line: "tests: N passed, N failed, N skipped".
// Fails when a workspace has test files but left no report, so a test run that never happened cannot pass.
// In CI (CI=true) it also fails when a test of the Kafka or Cassandra adapter, or of the platform on those
// engines, was skipped or did not run: .ci/run starts both engines, so a skip there means it was never
// checked against them.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** Test files that must run whole in CI, and contract suites (by title) of the same adapters wherever they are. */
const MUST_RUN_FILES = [
  'adapters/test/event-log.kafka.test.ts',
  'adapters/test/view-store.cassandra.test.ts',
  'kafka-protocol/test/kafka-front-differential.test.ts',
  // The layers as processes on the real engines, and the engines' faults under them.
  'infra/test/real-engines-processes.e2e.test.ts',
  'infra/test/real-engines-faults.e2e.test.ts',
  // Our streaming APIs against PySpark, the reference of their semantics.
  'infra/test/spark-dstream-parity.test.ts',
  'infra/test/spark-structured-parity.test.ts',
  // The API fuzzed from its own OpenAPI document by schemathesis (infra/schemathesis/setup.sh).
  'infra/test/api-fuzz.test.ts',
];
const MUST_RUN_SUITE = /contract on .*\b(kafka|cassandra)\b/i;
const NOT_RUN = new Set(['skipped', 'pending', 'todo']);
const enforce = process.env.CI === 'true';

let passed = 0;
let failed = 0;
let skipped = 0;
let missing = [];
const seenFiles = new Set();
/** Skipped tests of the adapters that must run, by file: how many, and the reasons their suites' titles give. */
const skippedRequired = new Map();
/** Every failed test, by file and full title, with the first line of its first failure: CI keeps only the log's tail. */
const failures = [];
for (const workspace of workspaces) {
  const report = join(root, workspace, '.vitest', 'results.json');
  const hasTests = existsSync(join(root, workspace, 'test')) && readdirSync(join(root, workspace, 'test')).some((f) => f.endsWith('.test.ts'));
  if (!existsSync(report)) {
    if (hasTests) missing.push(workspace);
    continue;
  }
  const results = JSON.parse(readFileSync(report, 'utf8'));
  passed += results.numPassedTests;
  failed += results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
  skipped += results.numPendingTests + results.numTodoTests;
  console.log(`${workspace}: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped`);
  for (const file of results.testResults ?? []) {
    const path = relative(root, file.name);
    seenFiles.add(path);
    if (file.status === 'failed' && (file.assertionResults ?? []).every((test) => test.status !== 'failed')) {
      failures.push(`${path}: ${firstLine(file.message) || 'the file failed outside any test'}`);
    }
    for (const test of file.assertionResults ?? []) {
      if (test.status === 'failed') failures.push(`${path} > ${test.fullName}: ${failureLine(test)}${failureDetail(test.failureMessages?.[0])}`);
      if (!NOT_RUN.has(test.status)) continue;
      const titles = test.ancestorTitles ?? [];
      if (!MUST_RUN_FILES.includes(path) && !titles.some((title) => MUST_RUN_SUITE.test(title))) continue;
      const entry = skippedRequired.get(path) ?? { count: 0, reasons: new Set() };
      entry.count += 1;
      for (const title of titles) for (const [, reason] of title.matchAll(/\(skipped: ([^)]*)\)/g)) entry.reasons.add(reason);
      skippedRequired.set(path, entry);
    }
  }
}
for (const failure of failures) console.log(`FAILED ${failure}`);
for (const workspace of missing) console.log(`${workspace}: no test report (its tests did not run)`);
const absent = MUST_RUN_FILES.filter((file) => !seenFiles.has(file) && !missing.some((workspace) => file.startsWith(`${workspace}/`)));
let requiredProblems = 0;
/**
 * Why a test failed, in one line. Vitest's JSON report gives a test that ran past its time limit only as
 * "STACK_TRACE_ERROR" (the error it made when the test was defined, for its stack): say what that means.
 */
function failureLine(test) {
  const line = firstLine(test.failureMessages?.[0]);
  if (!/STACK_TRACE_ERROR/.test(line)) return line;
  return `ran past its time limit (stopped after ${Math.round((test.duration ?? 0) / 1000)} s)`;
}

/** Where in a test file the failure's stack passes first, indented under its line (vitest's JSON report has no diff). */
function failureDetail(message) {
  const lines = String(message ?? '').replace(/\u001b\[[0-9;]*m/g, '').split('\n');
  const place = lines.find((line) => /\/test\/[^\s)]*\.ts:\d+/.test(line) && !/node_modules/.test(line));
  return place ? `\n    ${place.trim().slice(0, 300)}` : '';
}

/** The first non-blank line of a failure message, without terminal colours, cut to a readable length. */
function firstLine(message) {
  const line = String(message ?? '').replace(/\u001b\[[0-9;]*m/g, '').split('\n').find((l) => l.trim() !== '') ?? '';
  return line.trim().slice(0, 300);
}
if (enforce) {
  for (const file of absent) console.log(`${file}: not in any test report: it did not run against the engines`);
  for (const [file, { count, reasons }] of skippedRequired) {
    const why = reasons.size > 0 ? ` (${[...reasons].join('; ')})` : '';
    console.log(`${file}: ${count} skipped, but CI runs the Kafka and Cassandra engines: each counts as failed${why}`);
  }
  requiredProblems = absent.length + [...skippedRequired.values()].reduce((sum, { count }) => sum + count, 0);
}
// npm test also lints and type-checks, and vitest fails a run on an error outside any test (an uncaught
// EPIPE...) that its report does not count: say so, since the totals below would look clean.
const npmTestStatus = Number(process.env.NPM_TEST_STATUS ?? 0);
if (npmTestStatus !== 0 && failed + missing.length === 0) {
  console.log(`npm test exited ${npmTestStatus} with no failed test: a lint or type error, or an error outside any test (see turbo's "Failed:" line and the package's output above)`);
}
console.log(`tests: ${passed} passed, ${failed + missing.length + requiredProblems} failed, ${skipped} skipped`);
process.exit(failed + missing.length + requiredProblems > 0 || passed === 0 ? 1 : 0);
