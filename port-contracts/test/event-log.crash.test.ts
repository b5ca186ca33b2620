import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EmbeddedEventLog, type EventLog } from '@lambda/core';
import { readAll } from '../src/event-log-contract.js';
import { CRASH_TOPIC, PARTITIONS, expectedValue, keyOf, sequenceOf } from './fixtures/crash-records.js';
import { makeTempDir } from '@lambda/test-kit';

const WRITER = fileURLToPath(new URL('./fixtures/log-writer.ts', import.meta.url));
const KILLS = 24;
/**
 * How long one writer may take to start and acknowledge its first append. Each round has its own bound,
 * so a hang is caught in the round it happens and named, while a machine busy with other work (starting a
 * TypeScript child 24 times can take minutes then) only makes the test slower.
 */
const ROUND_LIMIT_MS = 60_000;

/** Runs the writer until a random moment after its first acknowledged append, then SIGKILLs it. */
function runAndKill(directory: string, fsync: string, acknowledged: Set<number>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, directory, fsync], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    let hung = false;
    const watchdog = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, ROUND_LIMIT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [word, first, last] = line.split(' ');
        if (word !== 'ack') continue;
        for (let n = Number(first); n <= Number(last); n++) acknowledged.add(n);
        clearTimeout(watchdog);
        timer ??= setTimeout(() => child.kill('SIGKILL'), Math.random() * 250);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(watchdog);
      if (hung) reject(new Error(`the writer acknowledged no append within ${ROUND_LIMIT_MS} ms of starting: ${stderr}`));
      else if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited by itself (${signal ?? code}): ${stderr}`));
    });
  });
}

/**
 * Checks the records of each partition from `from[partition]` on: offsets contiguous, values exactly as
 * written, record numbers rising and never seen before. Returns the partitions' end offsets.
 */
async function verify(log: EventLog, from: number[], lastSequence: number[], seen: Set<number>): Promise<number[]> {
  const ends: number[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const records = await readAll(log, CRASH_TOPIC, partition, from[partition]);
    records.forEach((record, index) => {
      expect(record.offset).toBe(from[partition]! + index);
      const sequence = sequenceOf(record);
      expect(record.value.toString()).toBe(expectedValue(sequence));
      expect(record.key!.toString()).toBe(keyOf(sequence));
      expect(sequence).toBeGreaterThan(lastSequence[partition]!);
      expect(seen.has(sequence)).toBe(false);
      lastSequence[partition] = sequence;
      seen.add(sequence);
    });
    ends.push(from[partition]! + records.length);
  }
  return ends;
}

describe('when the embedded log is killed with SIGKILL while appending', () => {
  it(`should keep every acknowledged record, in order and uncorrupted, across ${KILLS} kills`, async () => {
    const dir = await makeTempDir('log-crash');
    const acknowledged = new Set<number>();
    const seen = new Set<number>();
    let verifiedTo = Array<number>(PARTITIONS).fill(0);
    const lastSequence = Array<number>(PARTITIONS).fill(-1);
    const open = () => EmbeddedEventLog.open({ directory: dir.path, segmentBytes: 64 * 1024 });
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        await runAndKill(dir.path, kill % 2 === 0 ? 'never' : 'always', acknowledged);
        const log = await open();
        try {
          // Records verified after earlier kills are still there: recovery never cuts into them.
          const ends = await log.endOffsets(CRASH_TOPIC);
          ends.forEach((end, partition) => expect(end).toBeGreaterThanOrEqual(verifiedTo[partition]!));
          verifiedTo = await verify(log, verifiedTo, lastSequence, seen);
          const lost = [...acknowledged].filter((sequence) => !seen.has(sequence));
          expect(lost, `acknowledged records lost after kill ${kill + 1}`).toEqual([]);
        } finally {
          await log.close();
        }
      }
      // One last pass over everything, from offset 0.
      const log = await open();
      try {
        const allSeen = new Set<number>();
        await verify(log, Array<number>(PARTITIONS).fill(0), Array<number>(PARTITIONS).fill(-1), allSeen);
        expect(allSeen).toEqual(seen);
      } finally {
        await log.close();
      }
      expect(acknowledged.size).toBeGreaterThan(KILLS);
    } finally {
      await dir.remove();
    }
  }, KILLS * ROUND_LIMIT_MS);
});
