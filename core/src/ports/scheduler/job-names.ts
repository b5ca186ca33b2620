/** The scheduler job that recomputes a view: the batch layer registers it, the serving layer triggers it. */
export function recomputeJobName(view: string): string {
  return `recompute:${view}`;
}

/** The view of a recompute job name, or undefined for another job. */
export function viewOfRecomputeJob(name: string): string | undefined {
  return name.startsWith('recompute:') ? name.slice('recompute:'.length) : undefined;
}

/**
 * The scheduler job that archives a topic read only by Kappa views: no recompute archives it, yet a
 * Kappa reprocess needs the lake for the offsets the log's retention has dropped.
 */
export function archiveJobName(topic: string): string {
  return `archive:${topic}`;
}
