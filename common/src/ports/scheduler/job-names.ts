/** The scheduler job that recomputes a view: the batch layer registers it, the serving layer triggers it. */
export function recomputeJobName(view: string): string {
  return `recompute:${view}`;
}

/** The view of a recompute job name, or undefined for another job. */
export function viewOfRecomputeJob(name: string): string | undefined {
  return name.startsWith('recompute:') ? name.slice('recompute:'.length) : undefined;
}
