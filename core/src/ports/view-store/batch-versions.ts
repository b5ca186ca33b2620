/**
 * Building a batch version, as the batch layer's recompute and the Kappa compactor both do: choose a
 * number above every version serving or being built, write the rows (`putBatchRows`), then publish.
 */
import { ConflictError } from '../../errors/errors.js';
import type { BatchManifest, ViewStore } from './view-store.js';

/**
 * The number for a new version of a view: above the serving one and above every version listed
 * (`listBatchVersions`), some of which may be having their rows written by a run still in flight.
 */
export function nextBatchVersion(serving: BatchManifest | undefined, versions: readonly number[]): number {
  return Math.max(serving?.version ?? 0, ...versions) + 1;
}

/**
 * Publishes a version whose rows are written. When the store refuses it (a newer version or a retired
 * generation's tombstone serves), its rows are deleted, as they will never serve and no clean-up looks
 * above the serving version; the refusal is rethrown. Any other failure may have published after all (a
 * timed-out write), so the rows stay.
 */
export async function publishBuiltVersion(store: ViewStore, manifest: BatchManifest): Promise<void> {
  try {
    await store.publishBatchVersion(manifest);
  } catch (error) {
    if (error instanceof ConflictError) await store.deleteBatchVersion(manifest.view, manifest.version).catch(() => undefined);
    throw error;
  }
}
