#!/usr/bin/env node
/**
 * `npm start`: runs the platform in one process. Invalid configuration ends it at once with exit code 1
 * and a message naming every invalid field; Ctrl-C (SIGINT) or SIGTERM shuts it down cleanly, also
 * while it is still starting.
 */
import { CatalogError, ConfigError, Metrics, createLogger, loadConfig, type PlatformConfig } from '@lambda/common';
import { createAllInOne, type AllInOne } from '../all-in-one.js';

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
const platform: Promise<AllInOne> = createAllInOne(config, { logger, metrics: new Metrics({ processMetrics: true }) });
let stopping = false;

const stop = async (signal: string): Promise<void> => {
  if (stopping) {
    logger.warn(`${signal} again: exiting without waiting`);
    process.exit(130);
  }
  stopping = true;
  logger.info(`${signal}: shutting down`);
  // Should something still hold the event loop after closing, do not hang: a stop must stop.
  setTimeout(() => {
    logger.error('shutdown took over 15 s: exiting anyway');
    process.exit(1);
  }, 15_000).unref();
  try {
    await (await platform).close();
    logger.info('stopped cleanly');
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed');
    process.exitCode = 1;
  }
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

let started: AllInOne;
try {
  started = await platform;
} catch (error) {
  if (!(error instanceof CatalogError)) throw error;
  console.error(error.message);
  process.exit(1);
}
if (!stopping) {
  const { url, ports, catalog } = started;
  const example = [...catalog.views.values()][0];
  logger.info({ ...ports.locations }, 'adapters open');
  logger.info(`views:   ${url}/views`);
  if (example) logger.info(`a view:  ${url}/views/${example.name}?key=${encodeURIComponent(exampleKey(example.name))}`);
  logger.info(`ingest:  POST ${url}/ingest/<topic> (JSON array or NDJSON)`);
  logger.info(`health:  ${url}/health`);
  logger.info(`metrics: ${url}/metrics`);
  logger.info('platform ready; press Ctrl-C to stop');
}

/** A key that exists in the demo's first view, for the printed example URL. */
function exampleKey(view: string): string {
  return view === 'visitors_by_referrer' ? 'google' : '/';
}
