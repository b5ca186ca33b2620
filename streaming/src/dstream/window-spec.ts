/**
 * A window over a DStream, in batches: `length` and `slide` must be whole multiples of the batch interval,
 * checked when the operation is defined (as Spark does), so a mistake fails at once with the values
 * involved instead of producing odd windows later.
 */
import { InvalidArgumentError, parseDuration, type Duration } from '@lambda/core';

export interface WindowSpec {
  lengthMs: number;
  slideMs: number;
  /** The window length in batches. */
  lengthBatches: number;
  /** The slide in batches: the window produces output at batches whose index is a multiple of it. */
  slideBatches: number;
}

export function windowSpec(operation: string, length: Duration, slide: Duration | undefined, batchIntervalMs: number): WindowSpec {
  const lengthMs = parseDuration(length, `${operation} window length`);
  const slideMs = slide === undefined ? batchIntervalMs : parseDuration(slide, `${operation} slide interval`);
  const context = { operation, windowLengthMs: lengthMs, slideMs, batchIntervalMs };
  if (lengthMs % batchIntervalMs !== 0) {
    throw new InvalidArgumentError(
      `${operation}: the window length (${lengthMs} ms) must be a multiple of the batch interval (${batchIntervalMs} ms)`,
      context,
    );
  }
  if (slideMs % batchIntervalMs !== 0) {
    throw new InvalidArgumentError(
      `${operation}: the slide interval (${slideMs} ms) must be a multiple of the batch interval (${batchIntervalMs} ms)`,
      context,
    );
  }
  return { lengthMs, slideMs, lengthBatches: lengthMs / batchIntervalMs, slideBatches: slideMs / batchIntervalMs };
}

/** Whether a window produces output at this batch. */
export function isSlideBatch(spec: WindowSpec, index: number): boolean {
  return index % spec.slideBatches === 0;
}
