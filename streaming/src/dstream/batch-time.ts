/**
 * Where a micro-batch sits in time. Batches are numbered from 1; batch `index` covers the interval that
 * ends at `zeroTime + index × batchIntervalMs`, which is its time (as in Spark, a batch is named by the end
 * of its interval). Window operations count in batches, so a restart that resumes at the next index keeps
 * every window aligned.
 */
export interface BatchTime {
  index: number;
  /** The end of the batch interval, in ms since the epoch. */
  time: number;
  /**
   * Counts every batch attempt of the context (a failed batch is tried again with the same index and
   * time), so each stream computes its records once per attempt and a retry starts afresh.
   */
  attempt: number;
}
