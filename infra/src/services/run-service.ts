/**
 * What every entrypoint does around its service: load the config (exit 1 naming every invalid field),
 * start, log where things are, and stop cleanly on SIGINT or SIGTERM, also while still starting.
 */
import { CatalogError, ConfigError, Metrics, createLogger, loadConfig, type PlatformConfig } from '@lambda/core';
import type { LayerDependencies } from './layer-factories.js';
import type { RunningService } from './running-service.js';

/** How long a stop may take before the process exits anyway: a stop must stop. */
const SHUTDOWN_LIMIT_MS = 15_000;

export async function runService(name: string, start: (config: PlatformConfig, dependencies: LayerDependencies) => Promise<RunningService>): Promise<void> {
  let config: PlatformConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }

  const logger = createLogger({ level: config.logger.level, format: config.logger.format });
  // Handlers are installed in the same tick as the start begins, so a Ctrl-C while starting is clean too.
  const service = start(config, { logger, metrics: new Metrics({ processMetrics: true }) });
  // A service whose work is all on unref'd timers (the in-process scheduler's) would otherwise end
  // at once: the process lives until it is stopped.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      logger.warn(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    stopping = true;
    clearInterval(keepAlive);
    logger.info(`${signal}: shutting down`);
    setTimeout(() => {
      logger.error(`shutdown took over ${SHUTDOWN_LIMIT_MS / 1000} s: exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    try {
      await (await service).close();
      logger.info('stopped cleanly');
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exitCode = 1;
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  let started: RunningService;
  try {
    started = await service;
  } catch (error) {
    // A bad catalog is the user's to fix: its message alone says what. Anything else (a store locked by
    // another process, a server that does not answer) is logged with its cause.
    if (error instanceof CatalogError) console.error(error.message);
    else logger.fatal({ err: error }, `${name} could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  if (stopping) return;
  logger.info({ ...started.locations }, 'adapters open');
  for (const line of started.summary) logger.info(line);
  logger.info(`${name} ready; press Ctrl-C to stop`);
}
