import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '@lambda/test-kit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveReportWriter, type LiveReport } from '../src/demo/compare/live-report.js';

const scenario = { name: 'web', title: 'Web analytics' };

describe('when the demo writes its live report', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  const read = async () => JSON.parse(await readFile(join(work.path, 'report.json'), 'utf8')) as LiveReport;
  /** Waits until the report file says what `check` wants: writes are throttled, not immediate. */
  const until = async (check: (report: LiveReport) => boolean) => {
    for (let i = 0; i < 100; i++) {
      const report = await read().catch(() => undefined);
      if (report && check(report)) return report;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the live report never matched; last: ${JSON.stringify(await read().catch(() => undefined))}`);
  };

  beforeEach(async () => {
    work = await makeTempDir('demo-live-report');
  });
  afterEach(() => work.remove());

  it("should say the run's phase and each mode's reprocess progress, as report.json and report.md", async () => {
    const writer = new LiveReportWriter(work.path, scenario, 50);
    writer.building(20_000, 'archiving the history', 40);
    expect((await until((report) => report.building !== null)).building).toEqual({ phase: 'archiving the history', percent: 40 });
    writer.run(20_000, 42, 'streaming (new logic)');
    writer.reprocess('kappa', { atMs: 10, state: 'running', phase: 'replay', percent: 30 });
    writer.reprocess('lambda', { atMs: 12, state: 'running', phase: 'archive', percent: 50 });
    const report = await until((candidate) => candidate.reprocess.lambda !== null && candidate.reprocess.kappa !== null);
    expect(report).toMatchObject({
      kind: 'live',
      state: 'running',
      scenario,
      history: 20_000,
      run: { percent: 42, phase: 'streaming (new logic)' },
      building: null,
      reprocess: { lambda: { state: 'running', phase: 'archive', percent: 50 }, kappa: { state: 'running', phase: 'replay', percent: 30 } },
      error: null,
    });
    expect(report.updatedAt).toBeGreaterThanOrEqual(report.startedAt);
    expect(await readFile(join(work.path, 'report.md'), 'utf8')).toContain('streaming (new logic)');
    // Written whole: no temporary file is left beside the report.
    await writer.close();
    expect((await readdir(work.path)).sort()).toEqual(['report.json', 'report.md']);
  });

  it('should forget the previous size\'s reprocesses when a scaling run moves to the next size', async () => {
    const writer = new LiveReportWriter(work.path, scenario, 0);
    writer.run(2000, 50, 'logic change');
    writer.reprocess('lambda', { atMs: 1, state: 'completed', phase: 'done', percent: 100 });
    await writer.flush();
    writer.run(20_000, 0, 'starting both platforms');
    await writer.flush();
    expect((await read()).reprocess).toEqual({ lambda: null, kappa: null });
    await writer.close();
  });

  it('should say when the run failed, and write nothing once closed, so the final report is never overwritten', async () => {
    const writer = new LiveReportWriter(work.path, scenario, 0);
    writer.run(null, 10, 'streaming (old logic)');
    await writer.fail(new Error('the kappa platform exited while starting'));
    expect(await read()).toMatchObject({ state: 'failed', error: 'the kappa platform exited while starting' });
    await writer.close();
    writer.run(null, 90, 'after the close');
    writer.reprocess('kappa', { atMs: 1, state: 'running', phase: 'replay', percent: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await read()).run.phase).toBe('streaming (old logic)');
  });
});
