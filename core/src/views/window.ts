/**
 * Event-time windows. A window is named by its start (ms since the epoch); a view without windows puts
 * every record in the one window starting at 0. Starts are computed the same way in JS and in SQL, in
 * integer milliseconds.
 */
import ms from 'ms';
import { InvalidArgumentError } from '../errors/errors.js';

/** Milliseconds, or a duration such as '30s', '1m', '2h'. */
export type Duration = number | string;

export type WindowDefinition = { type: 'tumbling'; size: Duration } | { type: 'hopping'; size: Duration; slide: Duration };

export function parseDuration(value: Duration, what: string): number {
  let parsed: number | undefined;
  try {
    parsed = typeof value === 'number' ? value : typeof value === 'string' ? ms(value as ms.StringValue) : undefined;
  } catch {
    parsed = undefined; // ms() throws on '' and over-long text
  }
  if (parsed === undefined || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError(`Invalid ${what} ${JSON.stringify(value)}: use milliseconds or a duration such as '30s', '1m', '1h'`, {
      value,
    });
  }
  return parsed;
}

export class WindowAssigner {
  readonly sizeMs: number;
  readonly slideMs: number;

  constructor(readonly definition: WindowDefinition | undefined) {
    if (definition === undefined) {
      this.sizeMs = 0;
      this.slideMs = 0;
      return;
    }
    if (definition.type !== 'tumbling' && definition.type !== 'hopping') {
      throw new InvalidArgumentError(`Invalid window type ${JSON.stringify((definition as { type: unknown }).type)}: use tumbling or hopping`, {});
    }
    this.sizeMs = parseDuration(definition.size, 'window size');
    this.slideMs = definition.type === 'hopping' ? parseDuration(definition.slide, 'window slide') : this.sizeMs;
    if (this.slideMs > this.sizeMs) {
      throw new InvalidArgumentError(`A hopping window's slide (${this.slideMs} ms) cannot exceed its size (${this.sizeMs} ms)`, {});
    }
  }

  get windowed(): boolean {
    return this.definition !== undefined;
  }

  /** Starts of the windows holding an event at `eventTime` (>= 0), ascending. */
  starts(eventTime: number): number[] {
    if (this.slideMs === this.sizeMs) return [this.startOf(eventTime)];
    const last = this.lastIndexOf(eventTime);
    const starts: number[] = [];
    for (let k = this.firstIndexOf(eventTime); k <= last; k++) starts.push(k * this.slideMs);
    return starts;
  }

  /** Of a hopping window: k of the first window start (k × slide) holding an event at `eventTime`. */
  firstIndexOf(eventTime: number): number {
    return Math.floor((eventTime - this.sizeMs) / this.slideMs) + 1;
  }

  /** Of a hopping window: k of the last window start (k × slide) holding an event at `eventTime`. */
  lastIndexOf(eventTime: number): number {
    return Math.floor(eventTime / this.slideMs);
  }

  /** The one window start of a tumbling window (or of a view without windows: 0). */
  startOf(eventTime: number): number {
    return this.windowed ? eventTime - (eventTime % this.sizeMs) : 0;
  }

  /**
   * SQL for the window start of each row. Hopping windows give each row several starts, so the
   * expression is an unnest in the select list, which repeats the row once per window.
   */
  toSql(eventTimeColumn: string): string {
    if (!this.windowed) return 'CAST(0 AS BIGINT)';
    const slide = this.slideMs;
    if (this.slideMs === this.sizeMs) return `((${eventTimeColumn} // ${slide}) * ${slide})`;
    const first = `((CAST(floor((${eventTimeColumn} - ${this.sizeMs}) / ${slide}) AS BIGINT) + 1) * ${slide})`;
    const end = `(((${eventTimeColumn} // ${slide}) + 1) * ${slide})`;
    return `unnest(range(${first}, ${end}, ${slide}))`;
  }
}
