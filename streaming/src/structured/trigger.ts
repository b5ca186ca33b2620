/** When a structured query runs its batches (Spark's triggers). */
import { parseDuration, type Duration } from '@lambda/core';

export type Trigger =
  /** A batch every interval (at once while input keeps coming). */
  | { kind: 'processingTime'; intervalMs: number }
  /** One batch of everything available, then stop. */
  | { kind: 'once' }
  /** Batches (within the source's limits) until nothing is left, then stop. */
  | { kind: 'availableNow' };

export const Trigger = {
  processingTime: (interval: Duration): Trigger => ({ kind: 'processingTime', intervalMs: parseDuration(interval, 'trigger interval') }),
  once: (): Trigger => ({ kind: 'once' }),
  availableNow: (): Trigger => ({ kind: 'availableNow' }),
};

/** Spark starts the next batch as soon as the last ends; with no input it polls again after this. */
export const DEFAULT_TRIGGER: Trigger = { kind: 'processingTime', intervalMs: 100 };
