/**
 * A structured query's checkpoint location: three small files, each replaced atomically.
 *
 *   metadata.json  the query's id, name and plan signature (a restart with a different plan is refused)
 *   commit.json    the last batch whose output is committed: its id, the source position after it, the
 *                  aggregation state and watermark, running totals
 *   pending.json   the batch in flight: the same, plus the output rows it hands the sink
 *
 * A batch is written to pending.json before its output goes to the sink, and committed after. A restart
 * that finds a pending batch one past the committed one hands that very output to the sink again (sinks
 * with batch ids replace it: no duplicate) and commits it; the source resumes from the committed
 * position. So output is neither lost nor repeated, whatever instant the process died at.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, type JsonValue, writeFileAtomic } from '@lambda/core';
import type { AggregationStateJson } from './aggregation-state.js';
import type { OutputRow } from './row-pipeline.js';

export interface QueryTotals {
  inputRows: number;
  outputRows: number;
  rowsDroppedByWatermark: number;
  invalidRows: number;
}

export interface CommittedBatch {
  batchId: number;
  sourcePosition: JsonValue;
  aggregation: AggregationStateJson | null;
  totals: QueryTotals;
}

export interface PendingBatch extends CommittedBatch {
  output: OutputRow[];
}

export interface CheckpointMetadata {
  id: string;
  name: string | null;
  signature: string;
}

export class QueryCheckpoint {
  private constructor(
    private readonly directory: string | undefined,
    private readonly fsync: boolean,
    readonly metadata: CheckpointMetadata,
    /** The last committed batch, if any. */
    readonly committed: CommittedBatch | undefined,
    /** A batch written but not committed when the last run stopped: to hand to the sink again. */
    readonly pending: PendingBatch | undefined,
  ) {}

  /** Without a directory the query keeps nothing across restarts. */
  static async open(directory: string | undefined, query: { name: string | undefined; signature: string }, options: { fsync?: boolean } = {}): Promise<QueryCheckpoint> {
    const fsync = options.fsync ?? true;
    const fresh: CheckpointMetadata = { id: randomUUID(), name: query.name ?? null, signature: query.signature };
    if (directory === undefined) return new QueryCheckpoint(undefined, fsync, fresh, undefined, undefined);
    await mkdir(directory, { recursive: true });
    let metadata = await readJson<CheckpointMetadata>(join(directory, 'metadata.json'));
    if (metadata && metadata.signature !== query.signature) {
      throw new InvalidArgumentError(
        `The checkpoint at ${directory} belongs to a different query (its plan or output mode changed); use a new checkpoint location`,
        { directory },
      );
    }
    if (!metadata) {
      metadata = fresh;
      await writeFileAtomic(join(directory, 'metadata.json'), JSON.stringify(metadata), { fsync });
    }
    const committed = await readJson<CommittedBatch>(join(directory, 'commit.json'));
    const pending = await readJson<PendingBatch>(join(directory, 'pending.json'));
    const nextBatchId = (committed?.batchId ?? -1) + 1;
    return new QueryCheckpoint(directory, fsync, metadata, committed, pending?.batchId === nextBatchId ? pending : undefined);
  }

  async writePending(batch: PendingBatch): Promise<void> {
    if (this.directory === undefined) return;
    await writeFileAtomic(join(this.directory, 'pending.json'), JSON.stringify(batch), { fsync: this.fsync });
  }

  async commit(batch: CommittedBatch): Promise<void> {
    if (this.directory === undefined) return;
    const { batchId, sourcePosition, aggregation, totals } = batch;
    await writeFileAtomic(join(this.directory, 'commit.json'), JSON.stringify({ batchId, sourcePosition, aggregation, totals }), { fsync: this.fsync });
    await rm(join(this.directory, 'pending.json'), { force: true });
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
