/**
 * What the speed layer says of itself, per source topic: whether its micro-batches succeed, the last
 * failure, and the records it quarantined. The serving layer shows it in `/health` and `/status` when the
 * speed layer runs in the same process; in a split deployment it judges progress from the stores alone.
 */

/** `ok`: the last micro-batch succeeded. `retrying`: it failed and is retried with backoff. `isolating`: a micro-batch failed twice, so the pipeline narrows it down to the record that fails it. */
export type PipelineState = 'ok' | 'retrying' | 'isolating';

export interface TopicPipelineHealth {
  topic: string;
  state: PipelineState;
  /** Micro-batches failed in a row (0 after a success). */
  consecutiveFailures: number;
  /** The message of the last failure, and when it happened (epoch ms); null before any. */
  lastError: string | null;
  lastErrorAt: number | null;
  /** When a micro-batch last succeeded (epoch ms); null before any. */
  lastSuccessAt: number | null;
  /** Records quarantined (dead-lettered because a view could not take them) since the process started. */
  quarantined: number;
}

export interface SpeedLayerHealth {
  topics: TopicPipelineHealth[];
}
