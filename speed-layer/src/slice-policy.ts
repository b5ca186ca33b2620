/** When the speed layer cuts an open slice: after enough micro-batches, or once it is old enough. */
export interface SlicePolicy {
  /** Micro-batches with records after which a slice is cut. */
  microBatches: number;
  /** Age (ms since the slice opened) after which a slice with records is cut. */
  maxAgeMs: number;
}

export const DEFAULT_SLICE_POLICY: SlicePolicy = { microBatches: 10, maxAgeMs: 60_000 };

export function shouldCut(policy: SlicePolicy, slice: { microBatches: number; openedAt: number; isEmpty: boolean }, now: number): boolean {
  if (slice.isEmpty) return false;
  return slice.microBatches >= policy.microBatches || now - slice.openedAt >= policy.maxAgeMs;
}
