#!/usr/bin/env node
/**
 * `npm start`: runs every layer of the platform in one process, on the embedded defaults unless the
 * config names other adapters. Invalid configuration ends it at once with exit code 1 and a message
 * naming every invalid field; Ctrl-C (SIGINT) or SIGTERM shuts it down cleanly.
 */
import { createAllInOne } from '../all-in-one.js';
import { endpointSummary } from '../services/running-service.js';
import { runService } from '../services/run-service.js';

await runService('platform', async (config, dependencies) => {
  const platform = await createAllInOne(config, dependencies);
  const summary = endpointSummary(platform.url, platform.catalog);
  if (platform.kafkaAddress) summary.push(`kafka:   ${platform.kafkaAddress} (the embedded log, for any Kafka client)`);
  return { locations: platform.ports.locations, url: platform.url, summary, close: platform.close };
});
