/**
 * Web analytics: page views and unique visitors per page per minute. A share of the traffic comes from
 * crawlers (`bot-*` users); the logic change filters them out, as a team would once it noticed them.
 */
import type { ViewDefinition } from '@lambda/core';
import { ScenarioGenerator, type Scenario } from './scenario.js';

const TOPIC = 'pageviews';
const VIEW = 'pageviews_per_minute';
const PAGES = ['/', '/pricing', '/docs', '/docs/api', '/blog', '/blog/lambda-vs-kappa', '/about', '/signup'];
/** Zipf-like popularity: the home page gets the most traffic. */
const PAGE_WEIGHTS = PAGES.map((_, i) => 1 / (i + 1));
const REFERRERS = ['google', 'direct', 'twitter', 'github', 'newsletter'];
/** Share of page views made by crawlers. */
const BOT_SHARE = 0.2;

const perMinute: ViewDefinition = {
  name: VIEW,
  description: 'Page views and unique visitors per page per minute',
  source: TOPIC,
  key: ['url'],
  window: { type: 'tumbling', size: '1m' },
  aggregates: { views: 'count()', visitors: 'approx_distinct(user)' },
};

class PageViewEvents extends ScenarioGenerator {
  protected valid(): { key: string; fields: Record<string, string | number> } {
    const r = this.random;
    const user = r.next() < BOT_SHARE ? `bot-${r.integer(1, 20)}` : `user-${r.integer(1, 500)}`;
    const fields = { url: PAGES[r.weighted(PAGE_WEIGHTS)]!, user, referrer: r.pick(REFERRERS), latency: Math.round(Math.exp(4 + r.next() * 3)) };
    return { key: user, fields };
  }

  protected malformed(now: number): { key: string | null; value: string } {
    const user = `user-${this.random.integer(1, 500)}`;
    return this.random.pick([
      { key: user, value: JSON.stringify({ url: '/', user, latency: 'slow', ts: now }) },
      { key: user, value: JSON.stringify({ url: '/', user }) },
      { key: null, value: 'not json at all' },
    ]);
  }
}

export const webAnalyticsScenario: Scenario = {
  name: 'web',
  title: 'Web analytics',
  description: 'Page views and unique visitors (HyperLogLog) per page per minute, 20% of the traffic from crawlers.',
  topic: TOPIC,
  catalog: {
    sources: [
      {
        topic: TOPIC,
        eventTimeField: 'ts',
        fields: { url: 'string', user: 'string', referrer: 'string', latency: 'number' },
        partitionKey: 'user',
      },
    ],
    views: [
      perMinute,
      {
        name: 'views_by_referrer',
        description: 'Views per referrer per minute',
        source: TOPIC,
        key: ['referrer'],
        window: { type: 'tumbling', size: '1m' },
        aggregates: { views: 'count()' },
      },
    ],
  },
  checkedViews: [VIEW, 'views_by_referrer'],
  change: {
    view: VIEW,
    description: "Leave crawlers out: `filter: \"NOT starts_with(user, 'bot-')\"`",
    definition: { ...perMinute, filter: "NOT starts_with(user, 'bot-')" },
  },
  generator: (options) => new PageViewEvents(options),
};
