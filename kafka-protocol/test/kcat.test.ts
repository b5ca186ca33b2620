import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { KCAT, kcat, kcatSkipReason, runKcat } from './kcat-runner.js';
import { readEverything, startTestServer, type TestServer } from './kafka-test-server.js';
import { describeWhenAvailable } from '@lambda/test-kit';

const run = promisify(execFile);

describeWhenAvailable('when kcat (librdkafka) talks to the server', kcatSkipReason, () => {
  let harness: TestServer;
  beforeEach(async () => {
    harness = await startTestServer();
  });
  afterEach(async () => {
    await harness.stop();
  });

  it('should produce lines with keys that the log holds, and consume them back to the end', async () => {
    expect((await run(KCAT, ['-V'])).stdout).toMatch(/kcat/);
    await harness.eventLog.createTopic('lines', { partitions: 3 });
    const lines = Array.from({ length: 30 }, (_, i) => `key-${i % 5}:line ${i}`);
    await kcat(['-b', harness.broker, '-t', 'lines', '-P', '-K', ':'], `${lines.join('\n')}\n`);

    const stored = await readEverything(harness.eventLog, 'lines');
    expect(stored.map((record) => `${record.key!.toString()}:${record.value.toString()}`).sort()).toEqual([...lines].sort());

    const consumed = await kcat(['-b', harness.broker, '-t', 'lines', '-C', '-e', '-q', '-f', '%p|%o|%k|%s\n']);
    const expected = stored.map((record) => `${record.partition}|${record.offset}|${record.key!.toString()}|${record.value.toString()}`);
    expect(consumed.trim().split('\n').sort()).toEqual(expected.sort());
  });

  it('should reset to the end and exit when asked for an offset past it', async () => {
    await harness.eventLog.createTopic('short', { partitions: 1 });
    await harness.eventLog.append('short', [{ value: 'a' }, { value: 'b' }]);
    // A null records field beside OFFSET_OUT_OF_RANGE once made librdkafka retry the fetch until killed.
    const run = await runKcat(['-b', harness.broker, '-C', '-t', 'short', '-o', '7', '-e']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Broker: Offset out of range');
    expect(run.stderr).toContain('Reached end of topic short [0] at offset 2');
    expect(run.stderr).not.toContain('PROTOERR');
  });

  it('should list the metadata the log holds with -L -J', async () => {
    await harness.eventLog.createTopic('alpha', { partitions: 2 });
    await harness.eventLog.createTopic('beta', { partitions: 5 });
    const metadata = JSON.parse(await kcat(['-b', harness.broker, '-L', '-J'])) as {
      brokers: Array<{ id: number; name: string }>;
      topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number }> }>;
    };
    expect(metadata.brokers).toEqual([{ id: 0, name: harness.broker }]);
    const topics = await harness.eventLog.listTopics();
    expect(metadata.topics.map((topic) => [topic.topic, topic.partitions.length]).sort()).toEqual(topics.map((topic) => [topic.name, topic.partitions]).sort());
    expect(metadata.topics.flatMap((topic) => topic.partitions.map((partition) => partition.leader))).toEqual(Array(7).fill(0));
  });
});
