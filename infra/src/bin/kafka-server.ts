#!/usr/bin/env node
/**
 * `node infra/dist/bin/kafka-server.js --data-dir DIR --port 19092`: opens an embedded event log in
 * DIR and serves it over the Kafka protocol, so any Kafka client (kafkajs, kcat, librdkafka) can
 * produce to it and consume from it. Prints `listening on host:port` once ready; SIGTERM or SIGINT
 * closes the server and the log cleanly. With `--token` (or API_TOKEN), clients authenticate with
 * SASL/PLAIN, the token as password.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger, EmbeddedEventLog, LOG_LEVELS, type LogLevel } from '@lambda/core';
import { KafkaProtocolServer } from '@lambda/kafka-protocol';

function integer(name: string, min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return value;
  };
}

const options = new Command()
  .name('kafka-server')
  .description('Serve an embedded event log over the Kafka wire protocol')
  .requiredOption('--data-dir <dir>', 'the embedded event log directory (created if missing)')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', 'TCP port', integer('--port', 0, 65535), 9092)
  .option('--advertised-host <host>', 'host clients are told to connect to (default: --host)')
  .option('--max-frame-bytes <bytes>', 'largest request frame accepted', integer('--max-frame-bytes', 1024, 1024 * 1024 * 1024), 100 * 1024 * 1024)
  .option('--auto-create-topics', 'create topics that clients name in Metadata, rather than answer UNKNOWN_TOPIC_OR_PARTITION', false)
  .option('--no-auto-create-topics', 'never create topics on first mention (the default)')
  .option('--auto-create-partitions <n>', 'partitions of topics created on first mention', integer('--auto-create-partitions', 1, 1024), 1)
  // From the environment too, so the secret stays out of the process list.
  .addOption(new Option('--token <secret>', 'require SASL/PLAIN with this password').env('API_TOKEN'))
  .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, 'info')
  .parse()
  .opts<{
    dataDir: string;
    host: string;
    port: number;
    advertisedHost?: string;
    maxFrameBytes: number;
    autoCreatePartitions: number;
    autoCreateTopics: boolean;
    token?: string;
    logLevel: string;
  }>();

if (!(LOG_LEVELS as readonly string[]).includes(options.logLevel)) {
  console.error(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  process.exit(1);
}
const logger = createLogger({ level: options.logLevel as LogLevel });
const eventLog = await EmbeddedEventLog.open({ directory: options.dataDir, logger });
let server;
try {
  server = await KafkaProtocolServer.start({
    eventLog,
    host: options.host,
    port: options.port,
    advertisedHost: options.advertisedHost,
    maxFrameBytes: options.maxFrameBytes,
    autoCreateTopics: options.autoCreateTopics ? { partitions: options.autoCreatePartitions } : false,
    auth: options.token ? { secret: options.token } : undefined,
    logger,
  });
} catch (error) {
  await eventLog.close();
  throw error;
}
const running = server;
console.log(`listening on ${running.host}:${running.port}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  try {
    await running.close();
  } finally {
    await eventLog.close();
  }
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
