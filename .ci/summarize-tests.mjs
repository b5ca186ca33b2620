// Totals the vitest JSON report of every workspace into one line: "tests: N passed, N failed, N skipped".
// Fails when a workspace has test files but left no report, so a test run that never happened cannot pass.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = [];
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
}
for (const workspace of missing) console.log(`${workspace}: no test report (its tests did not run)`);
console.log(`tests: ${passed} passed, ${failed + missing.length} failed, ${skipped} skipped`);
process.exit(failed + missing.length > 0 || passed === 0 ? 1 : 0);
