import type { ViteUserConfig } from 'vitest/config';

/** Test settings every package shares: tests live flat under test/, and talk to real components, so they get time. */
export const sharedTestConfig: NonNullable<ViteUserConfig['test']> = {
  include: ['test/**/*.test.ts'],
  // CI runs every package's tests at once on two cores, which makes a 10 s test take 30 s: the limits
  // are there to catch a hang, not to time anything (benchmarks do that).
  testTimeout: 60_000,
  hookTimeout: 60_000,
  // Real files, sockets and child processes: keep the 2-core CI machine responsive.
  maxWorkers: 2,
  // The JSON report is what .ci/run totals into one summary line for the whole monorepo.
  reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
};
