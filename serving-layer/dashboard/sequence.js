// Ordering of each panel's requests: a panel keeps only its newest answer, so a slow response never
// paints over a newer one, and awaiting a refresh means the panel shows data at least that new.

/** A sequence per panel: `const current = begin('chart')`, then `if (!current()) return` after awaits. */
const sequences = new Map();
export function begin(panel) {
  const number = (sequences.get(panel) ?? 0) + 1;
  sequences.set(panel, number);
  return () => sequences.get(panel) === number;
}

/**
 * A panel's refresh that, when a newer one overtakes it (the timer fires while it waits), resolves only
 * once that newer one has: awaiting any refresh means the panel shows data at least as new as the call.
 */
const newestRuns = new Map();
export function refreshing(panel, load) {
  return async () => {
    let awaited = load();
    newestRuns.set(panel, awaited);
    await awaited;
    while (newestRuns.get(panel) !== awaited) {
      awaited = newestRuns.get(panel);
      await awaited;
    }
  };
}
