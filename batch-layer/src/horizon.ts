/**
 * The horizon of a batch run: per partition, the offset below which the new batch version counts every
 * record. It must be a slice edge (a slice's start, or a closed slice's end), so that every slice lies
 * wholly below it (covered by the batch version) or wholly at or above it (merged on top) and nothing is
 * split or counted twice; and the archive must have reached it, so the batch version can count it all.
 */
import type { Slice } from '@lambda/core';

/**
 * The furthest slice edge per partition that the archive has reached, never behind the current horizon
 * (a partition with no new edge keeps its current one).
 */
export function chooseHorizon(slices: readonly Slice[], archivedTo: readonly number[], current: readonly number[]): number[] {
  return archivedTo.map((archived, partition) => {
    let horizon = current[partition] ?? 0;
    for (const slice of slices) {
      if (slice.partition !== partition) continue;
      for (const edge of slice.closed ? [slice.start, slice.end] : [slice.start]) {
        if (edge <= archived && edge > horizon) horizon = edge;
      }
    }
    return horizon;
  });
}

/** Per partition, the furthest slice edge there is (0 where there is no slice). */
export function furthestEdges(slices: readonly Slice[]): number[] {
  const edges: number[] = [];
  for (const slice of slices) {
    const edge = slice.closed ? slice.end : slice.start;
    edges[slice.partition] = Math.max(edges[slice.partition] ?? 0, edge);
  }
  return Array.from(edges, (edge) => edge ?? 0);
}
