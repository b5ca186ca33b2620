/**
 * The report while the demo runs: its folder gets a `report.json` of kind `live` (and a one-line
 * `report.md`), rewritten as the run moves on, which the serving layer already serves as the latest
 * report (`GET /reports/latest`, the newest `report.json` wins). The dashboard's comparison card shows it
 * as progress bars, each mode's reprocess side by side, read from the modes' APIs by the driver; when the
 * run ends the final report replaces it. Files are written whole (a temporary file renamed), so a reader
 * never sees half of one.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mode } from './mode-protocol.js';
import type { ProgressSample } from './reprocess-over-api.js';

export interface LiveReport {
  kind: 'live';
  state: 'running' | 'failed';
  scenario: { name: string; title: string };
  startedAt: number;
  /** When this file was written: a dashboard calls a report stale when it stops moving. */
  updatedAt: number;
  /** The history size being run (a scaling run goes through several), or null without a history. */
  history: number | null;
  run: { percent: number; phase: string };
  /** Building the history (generated, archived, folded), while it is built. */
  building: { phase: string; percent: number } | null;
  /** Each mode's reprocess, as its API reported it, once the change was applied. */
  reprocess: Record<Mode, Omit<ProgressSample, 'atMs'> | null>;
  error: string | null;
}

/** Writes at most every `everyMs` (the last state is always written by `flush`). */
export class LiveReportWriter {
  private readonly state: LiveReport;
  private writing: Promise<void> = Promise.resolve();
  private lastWrite = 0;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly directory: string,
    scenario: { name: string; title: string },
    private readonly everyMs = 500,
  ) {
    this.state = {
      kind: 'live',
      state: 'running',
      scenario,
      startedAt: Date.now(),
      updatedAt: Date.now(),
      history: null,
      run: { percent: 0, phase: 'starting' },
      building: null,
      reprocess: { lambda: null, kappa: null },
      error: null,
    };
  }

  run(history: number | null, percent: number, phase: string): void {
    if (history !== this.state.history) this.state.reprocess = { lambda: null, kappa: null };
    Object.assign(this.state, { history, run: { percent, phase }, building: null });
    this.schedule();
  }

  building(history: number, phase: string, percent: number): void {
    Object.assign(this.state, { history, building: { phase, percent } });
    this.schedule();
  }

  reprocess(mode: Mode, { state, phase, percent }: ProgressSample): void {
    this.state.reprocess[mode] = { state, phase, percent };
    this.schedule();
  }

  /** The run failed: said in the file, so the dashboard does not show a run that stopped as still going. */
  async fail(error: Error): Promise<void> {
    Object.assign(this.state, { state: 'failed', error: error.message });
    await this.flush();
  }

  async flush(): Promise<void> {
    clearTimeout(this.pending);
    this.pending = undefined;
    await (this.writing = this.writing.then(() => this.write()));
  }

  /** No more writes: called before the final report replaces this one, which nothing may then overwrite. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pending);
    this.pending = undefined;
    await this.writing.catch(() => undefined);
  }

  private schedule(): void {
    if (this.pending || this.closed) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.writing = this.writing.then(() => this.write()).catch(() => undefined);
    }, Math.max(0, this.lastWrite + this.everyMs - Date.now()));
  }

  private async write(): Promise<void> {
    if (this.closed) return;
    this.lastWrite = Date.now();
    this.state.updatedAt = this.lastWrite;
    await mkdir(this.directory, { recursive: true });
    const what = this.state.history === null ? '' : ` (history of ${this.state.history} events)`;
    await writeWhole(join(this.directory, 'report.md'), `# Lambda vs Kappa: ${this.state.scenario.title}, running${what}\n\n${this.state.run.phase}\n`);
    await writeWhole(join(this.directory, 'report.json'), JSON.stringify(this.state, null, 2));
  }
}

async function writeWhole(path: string, text: string): Promise<void> {
  const temporary = join(path, '..', `.${path.split('/').at(-1)}.${process.pid}.tmp`);
  await writeFile(temporary, text);
  await rename(temporary, path);
}
