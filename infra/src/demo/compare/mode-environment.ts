/**
 * One mode's platform configuration, as the environment of its process: the same for the run and for
 * folding a pre-built history into the mode's cached state, so that state is what the run would have made.
 */
import type { Mode } from './mode-protocol.js';

/**
 * How long after publishing a batch version the batch layer deletes the slices it covers (`CLEANUP_GRACE`):
 * short, as no reader of the demo holds an older version for long.
 */
export const CLEANUP_GRACE_MS = 1000;

export interface ModeSettings {
  batchIntervalMs: number;
  recomputeEveryMs: number;
  compactEveryMs: number;
}

export function modeEnvironment(mode: Mode, dataDirectory: string, catalogFile: string, settings: ModeSettings): Record<string, string> {
  return {
    DATA_DIR: dataDirectory,
    CATALOG_FILE: catalogFile,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    KAFKA_SERVER: 'false',
    DEMO: 'false',
    // Durability costs the same in both modes; off, the run measures the architectures, not the disk.
    EVENT_LOG_FSYNC: 'never',
    VIEW_STORE_FSYNC: 'never',
    SPEED_WORKERS: '0',
    BATCH_INTERVAL_MS: String(settings.batchIntervalMs),
    RECOMPUTE_EVERY: String(settings.recomputeEveryMs),
    CLEANUP_GRACE: String(CLEANUP_GRACE_MS),
    ...(mode === 'kappa' ? { KAPPA_VIEWS: '*', KAPPA_COMPACT_EVERY: String(settings.compactEveryMs) } : {}),
  };
}
