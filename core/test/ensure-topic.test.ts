import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedEventLog, TopicExistsError, ensureTopic } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';

describe('ensureTopic', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let log: EmbeddedEventLog;
  beforeEach(async () => {
    dir = await makeTempDir('ensure-topic');
    log = await EmbeddedEventLog.open({ directory: dir.path });
  });
  afterEach(async () => {
    await log.close();
    await dir.remove();
  });

  describe('when the topic is missing', () => {
    it('should create it with the partitions asked for', async () => {
      expect(await ensureTopic(log, 'clicks', { partitions: 3 })).toEqual({ name: 'clicks', partitions: 3, created: true });
    });
  });

  describe('when the topic exists', () => {
    it('should describe it as it is, whatever partitions are asked for', async () => {
      await log.createTopic('clicks', { partitions: 2 });
      expect(await ensureTopic(log, 'clicks', { partitions: 5 })).toEqual({ name: 'clicks', partitions: 2, created: false });
    });
  });

  describe('when several callers ensure the same topic at once', () => {
    it('should create it once and give every caller the same description', async () => {
      const results = await Promise.all(Array.from({ length: 5 }, () => ensureTopic(log, 'clicks', { partitions: 4 })));
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(new Set(results.map((result) => `${result.name}/${result.partitions}`))).toEqual(new Set(['clicks/4']));
    });

    it('should make the embedded log refuse a second create while the first is in flight', async () => {
      const outcomes = await Promise.allSettled([log.createTopic('clicks', { partitions: 1 }), log.createTopic('clicks', { partitions: 1 })]);
      expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect((outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(TopicExistsError);
    });
  });
});
