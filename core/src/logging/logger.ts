/**
 * Structured logging with pino. Each component logs through a child carrying its namespace
 * (`logger.child({ ns: 'event-log' })`), so output can be filtered per component; where the output goes
 * is pluggable (any pino destination stream), which is how tests capture it.
 */
import { Writable } from 'node:stream';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import pinoPretty from 'pino-pretty';

export type Logger = PinoLogger;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** `pretty` for people at a terminal, `json` (one object per line) for log collectors. */
  format?: 'pretty' | 'json';
  /** Where lines go; standard output by default. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const base = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
  // Synchronous to standard output, so nothing logged is lost when the process exits right after.
  if (options.format === 'json') return pino(base, options.destination ?? pino.destination({ dest: 1, sync: true }));
  const pretty = pinoPretty({
    colorize: options.destination === undefined && process.stdout.isTTY,
    sync: true,
    destination: options.destination ? asWritable(options.destination) : 1,
    ignore: 'ns',
    messageFormat: '{if ns}[{ns}] {end}{msg}',
    translateTime: 'HH:MM:ss.l',
  });
  return pino(base, pretty);
}

/** A logger that drops everything: the default for components nobody asked to hear from. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** pino-pretty writes to a stream; a bare `{ write }` destination is wrapped into one. */
function asWritable(destination: DestinationStream): NodeJS.WritableStream {
  if ('on' in destination) return destination as unknown as NodeJS.WritableStream;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      destination.write(chunk.toString());
      done();
    },
  });
}
