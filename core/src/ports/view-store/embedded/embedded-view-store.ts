/**
 * The embedded view store: every table in memory, made durable by a journal of the writes (replayed on
 * open, compacted when it outgrows the state). A write is applied in memory in one synchronous step after
 * its journal entry is durable, so readers see it whole or not at all, and never a write that a crash
 * could take back.
 *
 *   <directory>/.lock, <directory>/views.journal
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClosedError, ConflictError } from '../../../errors/errors.js';
import { silentLogger, type Logger } from '../../../logging/logger.js';
import type { JsonValue } from '../../../records/json.js';
import { lockDirectory } from '../../../storage/directory-lock.js';
import { DEFAULT_DURABILITY, type FsyncPolicy } from '../../../storage/fsync-policy.js';
import { Journal } from '../../../storage/journal.js';
import {
  validateFilter,
  validateManifest,
  validateRows,
  validateSlice,
  validateSliceRef,
  validateVersion,
  validateViewName,
} from '../validation.js';
import type { BatchManifest, RowFilter, Slice, SliceRef, ViewRow, ViewStore } from '../view-store.js';
import { RowTable } from './row-table.js';

export interface EmbeddedViewStoreOptions {
  /** Directory of the journal; created if missing. One process at a time may open it. */
  directory: string;
  /** When writes reach the disk; see FsyncPolicy. Default `always`. */
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  /** Compact the journal once it exceeds this many bytes and twice its size after the last compaction. Default 64 MiB. */
  compactAfterBytes?: number;
  logger?: Logger;
}

type CompactRow = [key: string, windowStart: number, state: JsonValue];

/** One journal entry: one write, replayed on open exactly as it was applied. */
type Entry =
  | { op: 'slice'; slice: Slice; rows: CompactRow[] }
  | { op: 'delete-slices'; refs: SliceRef[] }
  | { op: 'batch-rows'; view: string; version: number; rows: CompactRow[] }
  | { op: 'publish'; manifest: BatchManifest }
  | { op: 'delete-version'; view: string; version: number };

interface ViewTables {
  slices: Map<string, { slice: Slice; rows: RowTable }>;
  versions: Map<number, RowTable>;
  manifest: BatchManifest | undefined;
}

const ROWS_PER_COMPACTED_ENTRY = 10_000;

export class EmbeddedViewStore implements ViewStore {
  private closed = false;
  private compactedBytes = 0;
  /** The tail of the write queue: writes run one at a time, each after the check that decides it. */
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly views: Map<string, ViewTables>,
    private readonly journal: Journal,
    private readonly compactAfterBytes: number,
    private readonly releaseLock: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  static async open(options: EmbeddedViewStoreOptions): Promise<EmbeddedViewStore> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'view-store' });
    await mkdir(options.directory, { recursive: true });
    const releaseLock = await lockDirectory(options.directory, 'the embedded view store');
    const views = new Map<string, ViewTables>();
    try {
      const journal = await Journal.open(join(options.directory, 'views.journal'), {
        fsync: options.fsync ?? DEFAULT_DURABILITY.fsync,
        fsyncIntervalMs: options.fsyncIntervalMs ?? DEFAULT_DURABILITY.fsyncIntervalMs,
        replay: (payload) => apply(views, JSON.parse(payload.toString('utf8')) as Entry),
        onBackgroundError: (error) => logger.error({ err: error }, 'background fsync failed'),
      });
      if (journal.truncatedBytes > 0) {
        logger.warn({ truncatedBytes: journal.truncatedBytes }, 'truncated a torn journal tail left by a crash');
      }
      return new EmbeddedViewStore(views, journal, options.compactAfterBytes ?? 64 * 1024 * 1024, releaseLock, logger);
    } catch (error) {
      await releaseLock();
      throw error;
    }
  }

  async putSlice(slice: Slice, rows: readonly ViewRow[]): Promise<void> {
    this.assertOpen();
    validateSlice(slice);
    validateRows(rows, { view: slice.view, partition: slice.partition, start: slice.start });
    const { view, partition, start, end, closed, newestRecordAt } = slice;
    await this.write({ op: 'slice', slice: { view, partition, start, end, closed, newestRecordAt }, rows: compact(rows) });
  }

  async listSlices(view: string): Promise<Slice[]> {
    this.assertOpen();
    const tables = this.views.get(validateViewName(view));
    if (!tables) return [];
    return [...tables.slices.values()]
      .map(({ slice }) => ({ ...slice }))
      .sort((a, b) => a.partition - b.partition || a.start - b.start);
  }

  async readSlice(ref: SliceRef, filter?: RowFilter): Promise<{ slice: Slice; rows: ViewRow[] } | undefined> {
    this.assertOpen();
    validateSliceRef(ref);
    validateFilter(filter);
    const found = this.views.get(ref.view)?.slices.get(sliceKey(ref));
    return found && { slice: { ...found.slice }, rows: found.rows.select(filter) };
  }

  async deleteSlices(refs: readonly SliceRef[]): Promise<void> {
    this.assertOpen();
    refs.forEach(validateSliceRef);
    if (refs.length === 0) return;
    await this.write({ op: 'delete-slices', refs: refs.map(({ view, partition, start }) => ({ view, partition, start })) });
  }

  async putBatchRows(view: string, version: number, rows: readonly ViewRow[]): Promise<void> {
    this.assertOpen();
    validateViewName(view);
    validateVersion(version, view);
    validateRows(rows, { view, version });
    await this.write({ op: 'batch-rows', view, version, rows: compact(rows) }, () => {
      const serving = this.views.get(view)?.manifest?.version;
      if (serving !== undefined && version <= serving) {
        throw new ConflictError(
          `Batch version ${version} of view "${view}" is already published (serving: ${serving}); build a newer one`,
          { view, version, serving },
        );
      }
    });
  }

  async publishBatchVersion(manifest: BatchManifest): Promise<void> {
    this.assertOpen();
    validateManifest(manifest);
    const { view, version } = manifest;
    await this.write({ op: 'publish', manifest }, () => {
      const serving = this.views.get(view)?.manifest?.version;
      if (serving !== undefined && version <= serving) {
        throw new ConflictError(`Cannot publish version ${version} of view "${view}": version ${serving} is serving`, {
          view,
          version,
          serving,
        });
      }
    });
    this.logger.debug({ view: manifest.view, version: manifest.version, horizon: manifest.horizon }, 'published batch version');
  }

  async readManifest(view: string): Promise<BatchManifest | undefined> {
    this.assertOpen();
    const manifest = this.views.get(validateViewName(view))?.manifest;
    return manifest;
  }

  async readBatchRows(view: string, version: number, filter?: RowFilter): Promise<ViewRow[]> {
    this.assertOpen();
    validateViewName(view);
    validateVersion(version, view);
    validateFilter(filter);
    return this.views.get(view)?.versions.get(version)?.select(filter) ?? [];
  }

  async listBatchVersions(view: string): Promise<number[]> {
    this.assertOpen();
    const tables = this.views.get(validateViewName(view));
    if (!tables) return [];
    const versions = new Set(tables.versions.keys());
    if (tables.manifest) versions.add(tables.manifest.version);
    return [...versions].sort((a, b) => a - b);
  }

  async deleteBatchVersion(view: string, version: number): Promise<void> {
    this.assertOpen();
    validateViewName(view);
    validateVersion(version, view);
    await this.write({ op: 'delete-version', view, version }, () => {
      if (this.views.get(view)?.manifest?.version === version) {
        throw new ConflictError(`Version ${version} of view "${view}" is serving; publish a newer one before deleting it`, {
          view,
          version,
        });
      }
    });
  }

  async listViews(): Promise<string[]> {
    this.assertOpen();
    return [...this.views.keys()].sort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes;
    await this.journal.close();
    await this.releaseLock();
  }

  /**
   * Journals and applies one write after every earlier one, running `check` (which throws to refuse it)
   * just before, so a check never passes on a state that a concurrent write is about to change.
   */
  private write(entry: Entry, check?: () => void): Promise<void> {
    // Encoded now: what the caller does with its objects afterwards changes nothing here.
    const payload = JSON.stringify(entry);
    const run = async (): Promise<void> => {
      check?.();
      // Staged batch rows are invisible until their publish, whose fsync makes them durable too.
      await this.journal.append([Buffer.from(payload)], { deferSync: entry.op === 'batch-rows' });
      // Applies a copy decoded from the journal entry: the state holds exactly what a replay rebuilds,
      // and shares no object with the caller.
      apply(this.views, JSON.parse(payload) as Entry);
      if (this.journal.size > this.compactAfterBytes && this.journal.size > 2 * this.compactedBytes) await this.compact();
    };
    const result = this.writes.then(run, run);
    this.writes = result.catch(() => undefined);
    return result;
  }

  /** Rewrites the journal as the fewest entries that rebuild the current state. */
  private async compact(): Promise<void> {
    const started = performance.now();
    const before = this.journal.size;
    await this.journal.rewrite(snapshotEntries(this.views));
    this.compactedBytes = this.journal.size;
    this.logger.info({ before, after: this.compactedBytes, ms: Math.round(performance.now() - started) }, 'compacted the journal');
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The embedded view store');
  }
}

function sliceKey(ref: SliceRef): string {
  return `${ref.partition}:${ref.start}`;
}

function compact(rows: readonly ViewRow[]): CompactRow[] {
  return rows.map((row) => [row.key, row.windowStart, row.state]);
}

function* expand(rows: CompactRow[]): Generator<ViewRow> {
  for (const [key, windowStart, state] of rows) yield { key, windowStart, state };
}

function tablesOf(views: Map<string, ViewTables>, view: string): ViewTables {
  let tables = views.get(view);
  if (!tables) views.set(view, (tables = { slices: new Map(), versions: new Map(), manifest: undefined }));
  return tables;
}

function apply(views: Map<string, ViewTables>, entry: Entry): void {
  switch (entry.op) {
    case 'slice': {
      const slices = tablesOf(views, entry.slice.view).slices;
      const key = sliceKey(entry.slice);
      const existing = slices.get(key);
      const rows = existing?.rows ?? new RowTable();
      rows.upsert(expand(entry.rows));
      slices.set(key, { slice: entry.slice, rows });
      return;
    }
    case 'delete-slices':
      for (const ref of entry.refs) {
        views.get(ref.view)?.slices.delete(sliceKey(ref));
        dropIfEmpty(views, ref.view);
      }
      return;
    case 'batch-rows': {
      // No rows stores nothing: a version exists once it has rows or a manifest.
      if (entry.rows.length === 0) return;
      const versions = tablesOf(views, entry.view).versions;
      let rows = versions.get(entry.version);
      if (!rows) versions.set(entry.version, (rows = new RowTable()));
      rows.upsert(expand(entry.rows));
      return;
    }
    case 'publish': {
      const tables = tablesOf(views, entry.manifest.view);
      // No empty table for a version published without rows: it is listed through the manifest while it
      // serves, and not at all afterwards, as it holds nothing (a compaction could not keep an empty table).
      tables.manifest = Object.freeze({ ...entry.manifest, horizon: Object.freeze([...entry.manifest.horizon]) }) as BatchManifest;
      return;
    }
    case 'delete-version':
      views.get(entry.view)?.versions.delete(entry.version);
      dropIfEmpty(views, entry.view);
      return;
  }
}

/** Forgets a view left with no slice and no batch version, so it is listed only while it holds data. */
function dropIfEmpty(views: Map<string, ViewTables>, view: string): void {
  const tables = views.get(view);
  if (tables && tables.slices.size === 0 && tables.versions.size === 0 && tables.manifest === undefined) views.delete(view);
}

function* snapshotEntries(views: Map<string, ViewTables>): Generator<Buffer> {
  const encode = (entry: Entry) => Buffer.from(JSON.stringify(entry));
  for (const [view, tables] of views) {
    for (const [version, table] of tables.versions) {
      for (const rows of chunks(table.entries())) yield encode({ op: 'batch-rows', view, version, rows });
    }
    if (tables.manifest) yield encode({ op: 'publish', manifest: tables.manifest });
    for (const { slice, rows: table } of tables.slices.values()) {
      let first = true;
      for (const rows of chunks(table.entries())) {
        yield encode({ op: 'slice', slice, rows });
        first = false;
      }
      if (first) yield encode({ op: 'slice', slice, rows: [] });
    }
  }
}

function* chunks(rows: Iterable<ViewRow>): Generator<CompactRow[]> {
  let chunk: CompactRow[] = [];
  for (const row of rows) {
    chunk.push([row.key, row.windowStart, row.state]);
    if (chunk.length === ROWS_PER_COMPACTED_ENTRY) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
