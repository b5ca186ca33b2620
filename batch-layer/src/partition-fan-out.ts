/**
 * How a recompute's query may be spread over lake partitions: the recompute (archiving, the horizon,
 * writing and publishing stay with it) hands one task per partition to a fan-out, which has them run
 * somewhere, each writing its partial rows to the lake object the task names.
 */
import type { PartitionResult, PartitionTask } from './partition-query.js';

export interface PartitionFanOut {
  /**
   * Runs every task and returns their results in task order; `onTaskDone` is called as each completes.
   * Fails with the error of a task that failed for good.
   */
  run(tasks: readonly PartitionTask[], onTaskDone?: (done: number, total: number) => void): Promise<PartitionResult[]>;
  close(): Promise<void>;
}
