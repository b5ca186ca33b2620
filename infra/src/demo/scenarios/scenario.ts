/**
 * A demo scenario: a catalog (sources and views in the platform's view language), a seeded generator of
 * its events, and the logic change the comparative demo applies to one of its views midway.
 */
import { type CatalogDefinition, type ViewDefinition, SeededRandom } from '@lambda/core';

/** How an event was made: the generator labels each, so tests can check the shares it promises. */
export type EventKind = 'on-time' | 'late' | 'out-of-order' | 'malformed';

export interface ScenarioEvent {
  key: string | null;
  /** The JSON text as it arrives (or, for a malformed event, something that is not a valid record). */
  value: string;
  kind: EventKind;
}

export interface ScenarioGeneratorOptions {
  seed: number;
  /** Share of events whose event time is 1 to 10 minutes in the past: their window was closed long ago. */
  lateShare?: number;
  /** Share of events a few seconds (3 to 30) older than the newest event generated before them. */
  outOfOrderShare?: number;
  /** Share of events that are not valid records (not JSON, a field of the wrong type, no event time). */
  malformedShare?: number;
}

export const DEFAULT_SHARES = { lateShare: 0.05, outOfOrderShare: 0.1, malformedShare: 0.01 } as const;

/** The logic change of one view: its new definition (same name) and what it means, for the report. */
export interface LogicChange {
  view: string;
  description: string;
  definition: ViewDefinition;
}

export interface Scenario {
  /** The `--scenario` name. */
  name: string;
  title: string;
  description: string;
  catalog: CatalogDefinition;
  /** The topic the generator's events go to. */
  topic: string;
  /** The views the demo checks against the truth, the changed one first. */
  checkedViews: string[];
  change: LogicChange;
  generator(options: ScenarioGeneratorOptions): ScenarioGenerator;
}

/**
 * Makes one scenario's events from a seed. The event-time skew (late, out of order) and malformed records
 * are decided here, the same way for every scenario; each scenario only says what a valid event holds.
 */
export abstract class ScenarioGenerator {
  protected readonly random: SeededRandom;
  private readonly shares: Required<Omit<ScenarioGeneratorOptions, 'seed'>>;
  /** The newest event time generated so far: an out-of-order event is older than it. */
  private newestEventTime = Number.NEGATIVE_INFINITY;

  constructor(options: ScenarioGeneratorOptions) {
    this.random = new SeededRandom(options.seed);
    this.shares = {
      lateShare: options.lateShare ?? DEFAULT_SHARES.lateShare,
      outOfOrderShare: options.outOfOrderShare ?? DEFAULT_SHARES.outOfOrderShare,
      malformedShare: options.malformedShare ?? DEFAULT_SHARES.malformedShare,
    };
  }

  /** `count` events arriving at `now` (epoch ms): the same seed and the same calls give the same events. */
  events(count: number, now: number): ScenarioEvent[] {
    return Array.from({ length: count }, () => this.event(now));
  }

  event(now: number): ScenarioEvent {
    const r = this.random;
    const draw = r.next();
    const { lateShare, outOfOrderShare, malformedShare } = this.shares;
    if (draw < malformedShare) return { ...this.malformed(now), kind: 'malformed' };
    let kind: EventKind = 'on-time';
    let eventTime = now - r.integer(0, 1000);
    if (draw < malformedShare + lateShare) {
      kind = 'late';
      eventTime = now - r.integer(60_000, 600_000);
    } else if (draw < malformedShare + lateShare + outOfOrderShare && Number.isFinite(this.newestEventTime)) {
      kind = 'out-of-order';
      eventTime = Math.min(eventTime, this.newestEventTime) - r.integer(3000, 30_000);
    }
    if (kind === 'on-time') this.newestEventTime = Math.max(this.newestEventTime, eventTime);
    const { key, fields } = this.valid(eventTime);
    return { key, value: JSON.stringify({ ...fields, ts: eventTime }), kind };
  }

  /** One valid event's key and fields (the generator adds the event time as `ts`). */
  protected abstract valid(eventTime: number): { key: string; fields: Record<string, string | number | boolean> };

  /** A field of the wrong type, a missing event time, or not JSON at all. */
  protected abstract malformed(now: number): { key: string | null; value: string };
}
