/**
 * The messages between the comparative demo's driver and each mode's process (over the IPC channel of
 * `child_process.fork`). Each mode runs in its own process so its CPU time is measured cleanly: one
 * process's `process.cpuUsage()` covers its main thread and its worker threads, and nothing else.
 */
import type { AppendedRecord } from '@lambda/core';

export type Mode = 'lambda' | 'kappa';

/** What the driver asks; every request carries an id its reply repeats. */
export type ModeRequest =
  | { id: number; type: 'append'; topic: string; messages: { key: string | null; value: string }[] }
  | { id: number; type: 'cpu' }
  | { id: number; type: 'moving-parts' }
  | { id: number; type: 'close' };

export type ModeReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Sent once the platform is up. */
export interface ModeReady {
  type: 'ready';
  url: string;
}

export interface AppendReply {
  records: AppendedRecord[];
  /** The log's append time, as the records' timestamps have it (to within the call). */
  appendedAt: number;
}

/** CPU time of the mode's process so far, microseconds (process.cpuUsage), with its memory and reads. */
export interface CpuReply {
  user: number;
  system: number;
  /** The process's peak resident memory so far, bytes (`process.resourceUsage().maxRSS`). */
  maxRssBytes: number;
  /** Bytes the process read so far through system calls (`rchar` of /proc/self/io: files and sockets); 0 where absent. */
  readBytes: number;
}

/** What one mode's platform instance actually started, read from the running process. */
export interface MovingParts {
  /** Listening sockets (`host:port`) the process opened. */
  listening: string[];
  /** Layers created and running. */
  layers: string[];
  /** Jobs registered with the scheduler, with their repeat. */
  scheduledJobs: string[];
  /** Views maintained in Kappa mode (no batch layer behind them). */
  kappaViews: string[];
  /** The process's threads as the kernel counts them: the main one, worker threads, libuv's and DuckDB's pools. */
  osThreads: number;
  /** The top-level folders of the data directory: the stores the mode keeps. */
  stores: string[];
  /** Objects in the lake. */
  lakeObjects: number;
}

/** The subset of a reprocess result the demo reports (the driver runs reprocesses over the API: reprocess-over-api.ts). */
export interface ReprocessSummary {
  view: string;
  generation: number;
  startedAt: number;
  switchedAt: number;
  durationMs: number;
  recordsReplayed: number;
  recordsFromArchive: number;
}
