/**
 * What the speed layer says of itself, when it runs in this process, judged for /health and /status: a
 * topic whose micro-batches keep failing is degraded, with its last error. One or two failures are the
 * retry and the narrowing-down doing their job, not worth an operator's attention yet.
 */
import type { SpeedLayerHealth, TopicPipelineHealth } from '@lambda/core';

/** Micro-batches failed in a row from which a retrying or isolating topic degrades /health. */
export const FAILURES_BEFORE_DEGRADED = 3;

export interface TopicPipelineVerdict extends TopicPipelineHealth {
  status: 'ok' | 'degraded';
  /** Why it is degraded, naming the topic and its last error; null when ok. */
  reason: string | null;
}

export interface SpeedLayerVerdict {
  topics: TopicPipelineVerdict[];
  /** Why the report is missing: the provider threw (a bug to look into, not a failing pipeline). */
  error: string | null;
}

/**
 * The provider's report with a verdict per topic; null without a provider (a split deployment: progress
 * is judged from the stores alone). A provider that throws is reported as such, never thrown.
 */
export function judgeSpeedLayer(provider: (() => SpeedLayerHealth) | undefined): SpeedLayerVerdict | null {
  if (!provider) return null;
  let health: SpeedLayerHealth;
  try {
    health = provider();
  } catch (error) {
    return { topics: [], error: `the speed layer could not report its health: ${(error as Error).message}` };
  }
  return { topics: health.topics.map((topic) => ({ ...topic, ...judgeTopic(topic) })), error: null };
}

function judgeTopic(topic: TopicPipelineHealth): Pick<TopicPipelineVerdict, 'status' | 'reason'> {
  if (topic.state === 'ok' || topic.consecutiveFailures < FAILURES_BEFORE_DEGRADED) return { status: 'ok', reason: null };
  const doing = topic.state === 'isolating' ? 'is narrowing them down to the record that fails them' : 'is retrying';
  return {
    status: 'degraded',
    reason: `speed layer topic ${topic.topic} has failed ${topic.consecutiveFailures} micro-batches in a row and ${doing}; last error: ${topic.lastError ?? 'none given'}`,
  };
}
