/** kafkajs's log lines sent to the platform's logger, so they land where every other component's do. */
import kafkajs, { type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '@lambda/core';

const { logLevel } = kafkajs;

/**
 * kafkajs logs at ERROR what it is about to retry, and at INFO every connection and group event: one
 * step quieter here, since the adapter reports the failures that reach its callers itself.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () => (entry: LogEntry) => {
    const { message, ...fields } = entry.log;
    const line = { kafkajs: entry.namespace, ...fields };
    switch (entry.level) {
      case logLevel.ERROR:
      case logLevel.WARN:
        logger.warn(line, message);
        break;
      case logLevel.INFO:
        logger.debug(line, message);
        break;
      default:
        logger.trace(line, message);
    }
  };
}

/** The kafkajs level matching the logger's, so kafkajs does not build lines nobody will see. */
export function kafkaLogLevel(logger: Logger): number {
  if (logger.isLevelEnabled('trace')) return logLevel.DEBUG;
  if (logger.isLevelEnabled('debug')) return logLevel.INFO;
  if (logger.isLevelEnabled('warn')) return logLevel.WARN;
  return logLevel.NOTHING;
}
