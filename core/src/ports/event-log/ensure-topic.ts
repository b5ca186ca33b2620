import { TopicExistsError, UnknownTopicError } from '../../errors/errors.js';
import { retry } from '../../retry/retry.js';
import type { EventLog, TopicDescription } from './event-log.js';

/**
 * The topic, created with `partitions` if it does not exist yet. Several processes may ensure the same
 * topic at once (members of a speed-layer group starting together): whoever loses the race to create it
 * uses the winner's, once the winner's creation is visible (on Kafka, once metadata has propagated).
 */
export async function ensureTopic(log: EventLog, topic: string, options: { partitions: number }): Promise<TopicDescription & { created: boolean }> {
  if (!(await log.listTopics()).some((existing) => existing.name === topic)) {
    try {
      await log.createTopic(topic, options);
      return { ...(await log.describeTopic(topic)), created: true };
    } catch (error) {
      if (!(error instanceof TopicExistsError)) throw error;
    }
  }
  const description = await retry(() => log.describeTopic(topic), {
    attempts: 20,
    initialDelayMs: 10,
    maxDelayMs: 500,
    isRetriable: (error) => error instanceof UnknownTopicError,
  });
  return { ...description, created: false };
}
