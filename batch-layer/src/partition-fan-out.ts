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

/**
 * Opens a worker in this process that runs partition tasks with `run`, named `name` (host and pid), for
 * as long as the batch layer runs.
 */
export type PartitionWorkerFactory = (run: (task: PartitionTask) => Promise<PartitionResult>, name: string) => Promise<{ close(): Promise<void> }>;

/** The queue partition tasks travel on when a recompute fans out over a task queue. */
export const PARTITION_QUEUE = 'recompute-partitions';

/** How a partition task shows in job names, errors and logs (the shape of a task queue's description). */
export function describePartitionTask(task: PartitionTask): { jobName: string; label: string; run: string; context: Record<string, unknown> } {
  return {
    jobName: `${task.view}.v${task.version}.p${task.partition}`,
    label: `Partition ${task.partition} of view "${task.view}"`,
    run: `the partition jobs of view "${task.view}"`,
    context: { view: task.view, version: task.version, partition: task.partition },
  };
}

