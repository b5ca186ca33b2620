/** The truth helpers moved to the demo, which compares answers with the truth too; tests import them from here still. */
import type { EventLog, LogRecord } from '@lambda/core';
export { TruthTable, differences, sameValues, windowId } from '../../src/demo/compare/truth.js';

/** Every record a topic holds, partition by partition, from offset 0: what the truth is computed over. */
export async function readAllRecords(log: EventLog, topic: string): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  const ends = await log.endOffsets(topic);
  for (const [partition, end] of ends.entries()) {
    for (let offset = 0; offset < end; ) {
      const page = await log.read(topic, partition, offset);
      records.push(...page.records);
      if (page.records.length === 0) break;
      offset = page.nextOffset;
    }
  }
  return records;
}

