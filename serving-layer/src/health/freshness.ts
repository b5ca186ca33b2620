/**
 * How fresh a view's answer is: the age of the newest record it counts. While the view is stalled on a
 * partition, that age would hide it (the other partitions keep bringing new records), so it is the age
 * of the newest record counted in the worst stalled partition instead, which grows while it is stuck.
 */
export function freshnessMs(newestRecordAt: number | null, stalledFreshnessFrom: number | undefined, now: number): number | null {
  const from = stalledFreshnessFrom !== undefined && (newestRecordAt === null || stalledFreshnessFrom < newestRecordAt) ? stalledFreshnessFrom : newestRecordAt;
  return from === null ? null : Math.max(0, now - from);
}
