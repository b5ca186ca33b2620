/**
 * Whether each view keeps up with its source topic, judged from the stores alone, so it works in a split
 * deployment too: per view and partition, the view's *position* (how far its slices reach, or its batch
 * horizon when higher) against the log's end offset. A position that stays put for `stallAfterMs` while
 * the log holds records beyond it is *stalled*: the speed layer cannot advance the view there (a record
 * its store refuses, failing every micro-batch; a speed-layer process that is down). A view's overall
 * freshness cannot show this, since the other partitions advancing keep its newest record recent.
 *
 * Samples are taken on demand and shared for `cacheMs`, so /health, /status, /metrics and view reads
 * together read each view's manifest and slice list once per interval. A view read never waits for a
 * sample: it takes the last verdict and asks for the next.
 */
import { TimeoutError, UnknownTopicError, readViewGeneration, type Catalog, type EventLog, type ViewStore } from '@lambda/core';

export interface ViewProgressMonitorOptions {
  catalog: Catalog;
  store: ViewStore;
  log: EventLog;
  /** How long a position may stay put while the log holds records beyond it before it counts as stalled. Default 30 s. */
  stallAfterMs?: number;
  /** How long a sample answers before the stores are read again. Default 1 s. */
  cacheMs?: number;
  /** How long a sample waits for a store; a view it could not read in time is unknown. Default 2 s. */
  timeoutMs?: number;
  /** The clock (epoch ms) of stall detection; tests inject one. Default Date.now. */
  now?: () => number;
}

export interface PartitionProgress {
  partition: number;
  /** The view counts every record of the partition below this offset. */
  position: number;
  /** One past the log's last record of the partition. */
  endOffset: number;
  /** Records the log holds beyond the position. */
  lag: number;
  /** How long the position has stayed put while the log held records beyond it; 0 while caught up or moving. */
  stuckForMs: number;
  stalled: boolean;
  /** Log timestamp of the newest record the view counts in this partition; null when the stores do not say. */
  newestRecordAt: number | null;
}

/** `unknown`: the stores did not answer for this view; `reason` says what failed. */
export type ViewProgressStatus = 'ok' | 'degraded' | 'unknown';

export interface ViewProgress {
  view: string;
  topic: string;
  status: ViewProgressStatus;
  /** Why the view is degraded or unknown, as a sentence an operator can act on; null when ok. */
  reason: string | null;
  /** Records the log holds beyond the view's positions, over every partition; null when unknown. */
  lag: number | null;
  partitions: PartitionProgress[];
  /**
   * While stalled: the instant its freshness counts from, the newest record counted in its worst stalled
   * partition (or, when that partition counts none, since when it has been stuck). Null when not stalled.
   */
  stalledFreshnessFrom: number | null;
}

export interface ProgressSample {
  /** When it was taken, on the monitor's clock. */
  at: number;
  /** Every view of the catalog, in catalog order. */
  views: ReadonlyMap<string, ViewProgress>;
}

const DEFAULT_STALL_AFTER_MS = 30_000;
const DEFAULT_CACHE_MS = 1000;
const DEFAULT_TIMEOUT_MS = 2000;

export class ViewProgressMonitor {
  private readonly now: () => number;
  private readonly stallAfterMs: number;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  /** Per view and partition: the position last seen, and since when it has stayed put with records beyond it. */
  private readonly tracks = new Map<string, { position: number; waitingSince: number | null }>();
  private last: ProgressSample | undefined;
  private pending: Promise<ProgressSample> | undefined;

  constructor(private readonly options: ViewProgressMonitorOptions) {
    this.now = options.now ?? Date.now;
    this.stallAfterMs = options.stallAfterMs ?? DEFAULT_STALL_AFTER_MS;
    this.cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** A sample at most `cacheMs` old; callers at the same moment share one. Never rejects. */
  sample(): Promise<ProgressSample> {
    if (this.last && !this.expired(this.last)) return Promise.resolve(this.last);
    this.pending ??= this.take().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The last verdict on `view`, without waiting for the stores; asks for a new sample when it is old. */
  latest(view: string): ViewProgress | undefined {
    if (!this.last || this.expired(this.last)) void this.sample();
    return this.last?.views.get(view);
  }

  /** See ViewProgress.stalledFreshnessFrom; undefined while the view is not known to be stalled. */
  stalledFreshnessFrom(view: string): number | undefined {
    return this.latest(view)?.stalledFreshnessFrom ?? undefined;
  }

  private expired(sample: ProgressSample): boolean {
    return this.now() - sample.at >= this.cacheMs;
  }

  private async take(): Promise<ProgressSample> {
    const at = this.now();
    const { catalog } = this.options;
    const topics = [...new Set([...catalog.views.values()].map((view) => view.source.topic))];
    const ends = new Map(await Promise.all(topics.map(async (topic) => [topic, await this.endOffsets(topic)] as const)));
    const judged = await Promise.all(
      [...catalog.views.values()].map(async (view) => {
        const topic = view.source.topic;
        const topicEnds = ends.get(topic)!;
        if (topicEnds instanceof Error) return unknown(view.name, topic, `the end offsets of topic ${topic} could not be read: ${topicEnds.message}`);
        try {
          return await this.judge(view.name, topic, topicEnds, at);
        } catch (error) {
          return unknown(view.name, topic, `its slices and batch version could not be read: ${(error as Error).message}`);
        }
      }),
    );
    const sample = { at, views: new Map(judged.map((progress) => [progress.view, progress])) };
    this.last = sample;
    return sample;
  }

  /** The topic's end offsets; none for a topic not created yet (nothing to lag behind); the error otherwise. */
  private async endOffsets(topic: string): Promise<number[] | Error> {
    try {
      return await this.timed(this.options.log.endOffsets(topic), `the event log (end offsets of ${topic})`);
    } catch (error) {
      return error instanceof UnknownTopicError ? [] : (error as Error);
    }
  }

  private async judge(view: string, topic: string, ends: readonly number[], at: number): Promise<ViewProgress> {
    const { store, catalog } = this.options;
    // After a reprocess the view lives under its generation's storage name.
    const { storage } = await this.timed(readViewGeneration(store, catalog, view), 'the view store (generation pointer)');
    const [manifest, slices] = await this.timed(Promise.all([store.readManifest(storage), store.listSlices(storage)]), 'the view store (manifest and slices)');
    const horizon = manifest?.horizon ?? [];

    const partitions = ends.map((endOffset, partition): PartitionProgress => {
      let position = horizon[partition] ?? 0;
      let newestRecordAt: number | null = null;
      for (const slice of slices) {
        if (slice.partition !== partition) continue;
        position = Math.max(position, slice.end);
        if (slice.newestRecordAt !== null) newestRecordAt = Math.max(newestRecordAt ?? slice.newestRecordAt, slice.newestRecordAt);
      }
      // No slice left below the horizon: the version's newest record is the best bound the stores keep.
      if (newestRecordAt === null && (horizon[partition] ?? 0) > 0) newestRecordAt = manifest?.newestRecordAt ?? null;
      const lag = Math.max(0, endOffset - position);
      const waitingSince = this.track(`${view}\u0000${partition}`, position, lag, at);
      const stuckForMs = waitingSince === null ? 0 : Math.max(0, at - waitingSince);
      return { partition, position, endOffset, lag, stuckForMs, stalled: waitingSince !== null && stuckForMs >= this.stallAfterMs, newestRecordAt };
    });

    const stalled = partitions.filter((partition) => partition.stalled);
    const lag = partitions.reduce((sum, partition) => sum + partition.lag, 0);
    if (stalled.length === 0) return { view, topic, status: 'ok', reason: null, lag, partitions, stalledFreshnessFrom: null };
    const stalledFreshnessFrom = Math.min(...stalled.map((partition) => partition.newestRecordAt ?? at - partition.stuckForMs));
    return { view, topic, status: 'degraded', reason: stallReason(view, stalled), lag, partitions, stalledFreshnessFrom };
  }

  /**
   * Remembers the position of a view's partition; answers since when it has stayed put with records
   * beyond it (null while it is caught up). Only waiting with a lag counts: an idle view caught up for an
   * hour is not stalled the moment a record arrives.
   */
  private track(key: string, position: number, lag: number, at: number): number | null {
    const previous = this.tracks.get(key);
    const waitingSince = lag === 0 ? null : previous?.position === position ? (previous.waitingSince ?? at) : at;
    this.tracks.set(key, { position, waitingSince });
    return waitingSince;
  }

  /** `promise`, or a rejection naming `what` once it has taken longer than `timeoutMs`. */
  private async timed<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(`${what} gave no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function unknown(view: string, topic: string, why: string): ViewProgress {
  return { view, topic, status: 'unknown', reason: `progress of view ${view} is unknown: ${why}`, lag: null, partitions: [], stalledFreshnessFrom: null };
}

/** The worst stalled partition (stuck longest) in a sentence, naming the others. */
function stallReason(view: string, stalled: readonly PartitionProgress[]): string {
  const [worst, ...others] = [...stalled].sort((a, b) => b.stuckForMs - a.stuckForMs || a.partition - b.partition);
  const sentence =
    `view ${view} has not advanced past offset ${worst!.position} of partition ${worst!.partition} for ${durationText(worst!.stuckForMs)} ` +
    `while the log holds ${worst!.lag} more record${worst!.lag === 1 ? '' : 's'}`;
  if (others.length === 0) return sentence;
  return `${sentence}; partition${others.length === 1 ? '' : 's'} ${others.map((partition) => partition.partition).join(', ')} stalled too`;
}

/** A duration as an operator reads it: 45 s, 12 min, 3 h. */
function durationText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 120 * 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}
