/**
 * The web-analytics demo: page views (url, user, referrer, latency, device) with a share of late events
 * and a trickle of malformed ones, and the views a web-analytics team would define over them.
 */
import { type CatalogDefinition, type EventLog, type Logger, SeededRandom } from '@lambda/core';

export const PAGEVIEWS = 'pageviews';

export const webAnalyticsCatalog: CatalogDefinition = {
  sources: [
    {
      topic: PAGEVIEWS,
      eventTimeField: 'ts',
      fields: { url: 'string', user: 'string', referrer: 'string', latency: 'number', device: 'string' },
      partitionKey: 'user',
    },
  ],
  views: [
    {
      name: 'pageviews_by_url',
      description: 'Views, unique visitors, latency and top referrers per page per minute',
      source: PAGEVIEWS,
      key: ['url'],
      window: { type: 'tumbling', size: '1m' },
      aggregates: {
        views: 'count()',
        visitors: 'approx_distinct(user)',
        avg_latency_ms: 'avg(latency)',
        max_latency_ms: 'max(latency)',
        top_referrers: 'top_k(referrer, 3)',
      },
    },
    {
      name: 'visitors_by_referrer',
      description: 'Visits and unique visitors per referrer over the last 10 minutes, every minute',
      source: PAGEVIEWS,
      key: ['referrer'],
      window: { type: 'hopping', size: '10m', slide: '1m' },
      aggregates: { visits: 'count()', visitors: 'approx_distinct(user)' },
    },
    {
      name: 'slow_pages',
      description: 'Page views that took a second or more, per page, over all time',
      source: PAGEVIEWS,
      derive: { seconds: 'latency / 1000' },
      filter: 'latency >= 1000',
      key: ['url'],
      aggregates: { slow_views: 'count()', avg_seconds: 'avg(seconds)', worst_seconds: 'max(seconds)' },
    },
  ],
};

const PAGES = ['/', '/pricing', '/docs', '/docs/getting-started', '/docs/api', '/blog', '/blog/lambda-vs-kappa', '/about', '/careers', '/signup'];
/** Zipf-like popularity: the home page gets the most traffic. */
const PAGE_WEIGHTS = PAGES.map((_, i) => 1 / (i + 1));
const REFERRERS = ['google', 'direct', 'twitter', 'news.ycombinator.com', 'github', 'newsletter'];
const DEVICES = ['desktop', 'mobile', 'tablet'];

export interface GeneratorOptions {
  eventsPerSecond: number;
  /** Share of events whose event time is 1 to 10 minutes in the past. */
  lateShare: number;
  /** Share of events that are malformed (a latency that is text, a missing timestamp, not JSON). */
  invalidShare: number;
  seed: number;
}

/** Creates page-view events, one call per tick. */
export class PageViewGenerator {
  private readonly random: SeededRandom;

  constructor(private readonly options: GeneratorOptions) {
    this.random = new SeededRandom(options.seed);
  }

  /** One event as it would arrive: JSON text (or, rarely, something malformed). */
  event(now: number): { key: string | null; value: string } {
    const r = this.random;
    const user = `user-${r.integer(1, 2000)}`;
    if (r.next() < this.options.invalidShare) {
      const malformed = [`{"url":"/","user":"${user}","latency":"slow","ts":${now}}`, `{"url":"/","user":"${user}"}`, `not json at all`];
      return { key: user, value: r.pick(malformed) };
    }
    const late = r.next() < this.options.lateShare;
    const ts = late ? now - r.integer(60_000, 600_000) : now - r.integer(0, 2000);
    const latency = Math.round(Math.exp(4 + r.next() * 3.5)); // 55 ms to 1.8 s, mostly fast
    const event = { url: PAGES[r.weighted(PAGE_WEIGHTS)], user, referrer: r.pick(REFERRERS), latency, device: r.pick(DEVICES), ts };
    return { key: user, value: JSON.stringify(event) };
  }
}

/** Appends demo events to the log every 100 ms until stopped. */
export function startDemoStream(log: EventLog, options: GeneratorOptions, logger: Logger): { stop(): Promise<void> } {
  const generator = new PageViewGenerator(options);
  const perTick = options.eventsPerSecond / 10;
  let owed = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    owed += perTick;
    const count = Math.floor(owed);
    owed -= count;
    if (count === 0) return;
    const now = Date.now();
    const messages = Array.from({ length: count }, () => generator.event(now));
    inFlight = inFlight
      .then(() => log.append(PAGEVIEWS, messages))
      .catch((error: unknown) => logger.warn({ err: error }, 'demo stream could not append'));
  }, 100);
  logger.child({ ns: 'demo' }).info({ topic: PAGEVIEWS, eventsPerSecond: options.eventsPerSecond }, 'demo stream flowing');
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
