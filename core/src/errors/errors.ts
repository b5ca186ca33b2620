/**
 * One error hierarchy for the whole platform.
 *
 * Every error carries a stable `code` (what happened), a `retriable` flag (whether trying the same call
 * again may succeed) and `context` fields (the values involved), so callers decide on retries and HTTP
 * statuses from data, never by parsing messages.
 */

export interface PlatformErrorOptions {
  /** Whether the same call may succeed if tried again. */
  retriable?: boolean;
  /** The values involved: topic, partition, offset, key, path... */
  context?: Record<string, unknown>;
  cause?: unknown;
}

export class PlatformError extends Error {
  readonly code: string = 'PLATFORM_ERROR';
  readonly retriable: boolean;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(message: string, options: PlatformErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
    this.context = Object.freeze({ ...options.context });
  }

  toJSON(): { name: string; code: string; message: string; retriable: boolean; context: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, retriable: this.retriable, context: { ...this.context } };
  }
}

/** A caller passed a value the platform cannot accept. Never retriable: the same value fails again. */
export class InvalidArgumentError extends PlatformError {
  override readonly code: string = 'INVALID_ARGUMENT';
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { context, retriable: false });
  }
}

export class InvalidTopicError extends InvalidArgumentError {
  override readonly code = 'INVALID_TOPIC';
}
export class InvalidPartitionError extends InvalidArgumentError {
  override readonly code = 'INVALID_PARTITION';
}
export class InvalidOffsetError extends InvalidArgumentError {
  override readonly code = 'INVALID_OFFSET';
}
export class InvalidObjectKeyError extends InvalidArgumentError {
  override readonly code = 'INVALID_OBJECT_KEY';
}

/** The thing asked for does not exist. */
export class NotFoundError extends PlatformError {
  override readonly code: string = 'NOT_FOUND';
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { context, retriable: false });
  }
}

export class UnknownTopicError extends NotFoundError {
  override readonly code = 'UNKNOWN_TOPIC';
}
export class ObjectNotFoundError extends NotFoundError {
  override readonly code = 'OBJECT_NOT_FOUND';
}
export class UnknownViewError extends NotFoundError {
  override readonly code = 'UNKNOWN_VIEW';
}
export class UnknownJobError extends NotFoundError {
  override readonly code = 'UNKNOWN_JOB';
}

/** The request contradicts the current state: a topic that already exists, a version that is serving. */
export class ConflictError extends PlatformError {
  override readonly code: string = 'CONFLICT';
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { context, retriable: false });
  }
}

export class TopicExistsError extends ConflictError {
  override readonly code = 'TOPIC_EXISTS';
}

/** An offset outside [log start, log end]: the log never held it, or no longer does. */
export class OffsetOutOfRangeError extends PlatformError {
  override readonly code = 'OFFSET_OUT_OF_RANGE';
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { context, retriable: false });
  }
}

/** Stored bytes fail their checksum where a torn write cannot explain it. */
export class CorruptDataError extends PlatformError {
  override readonly code = 'CORRUPT_DATA';
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { context, retriable: false });
  }
}

/** Another live process holds the data directory. Retriable: it may exit. */
export class LockedError extends PlatformError {
  override readonly code = 'LOCKED';
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { context, retriable: true });
  }
}

/** The adapter was closed; open a new one. */
export class ClosedError extends PlatformError {
  override readonly code = 'CLOSED';
  constructor(what: string) {
    super(`${what} is closed`, { context: { what }, retriable: false });
  }
}

/** A dependency (broker, database, object store) could not be reached or answered with a server error. */
export class ConnectionError extends PlatformError {
  override readonly code = 'CONNECTION';
  constructor(message: string, options: Omit<PlatformErrorOptions, 'retriable'> = {}) {
    super(message, { ...options, retriable: true });
  }
}

export class TimeoutError extends PlatformError {
  override readonly code = 'TIMEOUT';
  constructor(message: string, options: Omit<PlatformErrorOptions, 'retriable'> = {}) {
    super(message, { ...options, retriable: true });
  }
}

/** One invalid configuration field: where it is, where its value came from, and why it is wrong. */
export interface ConfigIssue {
  /** Dotted path in the config object, e.g. `eventLog.fsync`. */
  path: string;
  /** Where the bad value came from: an environment variable, the config file, or a default. */
  source: string;
  message: string;
}

/** Configuration is invalid. Lists every bad field at once, so one restart fixes them all. */
export class ConfigError extends PlatformError {
  override readonly code = 'INVALID_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) => `  - ${issue.path} (${issue.source}): ${issue.message}`);
    super(`Invalid configuration, ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, {
      context: { fields: issues.map((issue) => issue.path) },
    });
    this.issues = issues;
  }
}

/** True when `error` is a platform error that says trying again may succeed. */
export function isRetriable(error: unknown): boolean {
  return error instanceof PlatformError && error.retriable;
}

/**
 * A streaming query asks for something its output mode cannot give on an unbounded table (a limit, a
 * sort, append without a watermark...). Thrown when the query starts, naming the operation and the mode.
 */
export class UnsupportedOperationError extends InvalidArgumentError {
  override readonly code = 'UNSUPPORTED_OPERATION';
  constructor(
    readonly operation: string,
    readonly outputMode: string,
    message: string,
  ) {
    super(message, { operation, outputMode });
  }
}
