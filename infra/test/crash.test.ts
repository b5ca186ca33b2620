/**
 * The all-in-one runner under load (the demo stream at a high rate, micro-batches every 100 ms, batch
 * recomputes every second), killed with SIGKILL at random moments and restarted. Afterwards every view's
 * merged answer counts every record the log holds, exactly once: it equals DuckDB over the whole log.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DuckDbEngine } from '@lambda/batch-layer';
import { Catalog, EmbeddedEventLog, EmbeddedViewStore, type LogRecord } from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { PAGEVIEWS, webAnalyticsCatalog } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';
import { TruthTable, differences } from './helpers/truth.js';

const ENTRYPOINT = fileURLToPath(new URL('../src/bin/start.ts', import.meta.url));
const KILLS = 5;

interface Running {
  url: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

function startPlatform(dataDir: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRYPOINT], {
    env: {
      PATH: process.env.PATH,
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      KAFKA_SERVER: 'false',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      BATCH_INTERVAL_MS: '100',
      SLICE_MICRO_BATCHES: '3',
      RECOMPUTE_EVERY: '1s',
      CLEANUP_GRACE: '300ms',
      DEMO_EVENTS_PER_SECOND: '1500',
      EVENT_LOG_FSYNC: 'never',
      VIEW_STORE_FSYNC: 'never',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /"msg":"views: +(http:\/\/[^/"]+)\/views"/.exec(stdout);
      if (match && stdout.includes('platform ready')) resolve(match[1]!);
    });
    child.on('exit', () => reject(new Error(`the platform exited before it was ready: ${stderr || stdout.slice(-2000)}`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { url, exited, kill: (signal) => child.kill(signal) };
}

async function positionOf(url: string): Promise<number[]> {
  const response = await fetch(`${url}/views/pageviews_by_url?key=/`);
  const body = (await response.json()) as { provenance: { position: number[] } };
  return body.provenance.position;
}

describe('when the all-in-one runner is killed with SIGKILL under load', () => {
  it(`should lose no record and count none twice across ${KILLS} kills`, async () => {
    const dir = await makeTempDir('crash');
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const platform = startPlatform(dir.path, {});
        await platform.url;
        await new Promise((resolve) => setTimeout(resolve, 800 + Math.random() * 1700));
        platform.kill('SIGKILL');
        expect((await platform.exited).signal).toBe('SIGKILL');
      }

      // Restart without the demo stream, let the speed layer catch up, then stop cleanly.
      const platform = startPlatform(dir.path, { DEMO: 'false' });
      const url = await platform.url;
      let previous = '';
      for (let stable = 0; stable < 4; ) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        const position = JSON.stringify(await positionOf(url));
        stable = position === previous ? stable + 1 : 0;
        previous = position;
      }
      platform.kill('SIGINT');
      expect(await platform.exited).toEqual({ code: 0, signal: null });

      // Now compare, in this process, every view's answer with DuckDB over everything the log holds.
      const log = await EmbeddedEventLog.open({ directory: `${dir.path}/log` });
      const store = await EmbeddedViewStore.open({ directory: `${dir.path}/views` });
      const engine = await DuckDbEngine.create({ threads: 1 });
      try {
        const catalog = Catalog.compile(webAnalyticsCatalog);
        const truth = new TruthTable(engine, catalog.sources.get(PAGEVIEWS)!);
        await truth.create();
        const ends = await log.endOffsets(PAGEVIEWS);
        let records = 0;
        for (let partition = 0; partition < ends.length; partition++) {
          for (let offset = 0; offset < ends[partition]!; ) {
            const page = await log.read(PAGEVIEWS, partition, offset, { maxBytes: 4 * 1024 * 1024 });
            records += await truth.add(page.records as LogRecord[]);
            offset = page.nextOffset;
          }
        }
        expect(records).toBeGreaterThan(1000);

        const reader = new MergedViewReader(store, catalog);
        let batchVersions = 0;
        for (const view of catalog.views.values()) {
          const everything = await truth.windows(view, ends);
          const keys = new Set([...everything.values()].map((window) => window.key));
          const answer = await reader.read(view.name, { keys: [...keys] });
          // Everything the log holds is counted...
          expect(answer.provenance.position, `${view.name} position`).toEqual(ends);
          // ...exactly once.
          expect(differences(answer.windows, everything, keys), view.name).toEqual([]);
          if (answer.provenance.batch) batchVersions++;
        }
        // The kills landed while batch versions were being built and published, not only between them.
        expect(batchVersions).toBeGreaterThan(0);
      } finally {
        engine.close();
        await log.close();
        await store.close();
      }
    } finally {
      await dir.remove();
    }
  }, 180_000);
});
