/**
 * Social network: trending hashtags, the top 10 over the last 5 minutes, every minute (a hopping
 * window). Posts spell tags with mixed case (#AI, #ai); the logic change counts them as one tag.
 */
import type { ViewDefinition } from '@lambda/core';
import { ScenarioGenerator, type Scenario } from './scenario.js';

const TOPIC = 'posts';
const VIEW = 'trending_hashtags';
const TAGS = ['ai', 'rust', 'typescript', 'kafka', 'streaming', 'duckdb', 'lambda', 'kappa', 'webdev', 'opensource', 'cats', 'coffee', 'music', 'football', 'news'];
/** Zipf-like: a few tags trend, most trickle. */
const TAG_WEIGHTS = TAGS.map((_, i) => 1 / (i + 1));
const SPELLINGS = [(tag: string) => tag, (tag: string) => tag.toUpperCase(), (tag: string) => tag[0]!.toUpperCase() + tag.slice(1)];

const trending: ViewDefinition = {
  name: VIEW,
  description: 'The 10 most used hashtags over the last 5 minutes, every minute',
  source: TOPIC,
  key: [],
  window: { type: 'hopping', size: '5m', slide: '1m' },
  aggregates: { posts: 'count()', top_hashtags: 'top_k(hashtag, 10)' },
};

class PostEvents extends ScenarioGenerator {
  protected valid(): { key: string; fields: Record<string, string | number> } {
    const r = this.random;
    const user = `user-${r.integer(1, 1000)}`;
    const tag = TAGS[r.weighted(TAG_WEIGHTS)]!;
    // Mostly lower case; every fourth post or so spells it another way.
    const hashtag = r.next() < 0.75 ? tag : r.pick(SPELLINGS)(tag);
    return { key: user, fields: { user, hashtag, likes: r.integer(0, 50) } };
  }

  protected malformed(now: number): { key: string | null; value: string } {
    const user = `user-${this.random.integer(1, 1000)}`;
    return this.random.pick([
      { key: user, value: JSON.stringify({ user, hashtag: 42, ts: now }) },
      { key: user, value: JSON.stringify({ user, hashtag: 'ai', ts: 'yesterday-ish' }) },
      { key: null, value: '{"user": "truncated' },
    ]);
  }
}

export const socialNetworkScenario: Scenario = {
  name: 'social',
  title: 'Social network',
  description: 'Trending hashtags: top 10 over a sliding 5-minute window (hopping, every minute), tags spelt in mixed case.',
  topic: TOPIC,
  catalog: {
    sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { user: 'string', hashtag: 'string', likes: 'number' }, partitionKey: 'user' }],
    views: [
      trending,
      {
        name: 'likes_per_minute',
        description: 'Posts and likes per minute',
        source: TOPIC,
        key: [],
        window: { type: 'tumbling', size: '1m' },
        aggregates: { posts: 'count()', likes: 'sum(likes)' },
      },
    ],
  },
  checkedViews: [VIEW, 'likes_per_minute'],
  change: {
    view: VIEW,
    description: 'Count #AI, #Ai and #ai as one tag: `derive: { tag: "lower(hashtag)" }`, `top_k(tag, 10)`',
    definition: { ...trending, derive: { tag: 'lower(hashtag)' }, aggregates: { posts: 'count()', top_hashtags: 'top_k(tag, 10)' } },
  },
  generator: (options) => new PostEvents(options),
};
