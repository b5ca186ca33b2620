/**
 * Partial results of a fanned-out recompute, kept in the lake (they can be large; Redis carries only
 * their names):
 *
 *   partials/<view>/v<version>/<run>/p<partition>.ndjson
 *
 * one row per line, each with its partition's aggregate states as JSON. The run that wrote them merges
 * them by (key, window start) with the view's monoids, then deletes them.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { CorruptDataError, type CompiledView, type JsonObject, type Lake, type RowState, type ViewRow } from '@lambda/core';

export const PARTIALS_PREFIX = 'partials';

export function partialKey(view: string, version: number, run: string, partition: number): string {
  return `${PARTIALS_PREFIX}/${view}/v${version}/${run}/p${partition}.ndjson`;
}

/** Writes rows as NDJSON, streamed: a partition's rows are never one string in memory. */
export async function writePartial(lake: Lake, key: string, rows: readonly ViewRow[]): Promise<void> {
  function* lines(): Generator<string> {
    for (const row of rows) yield `${JSON.stringify(row)}\n`;
  }
  await lake.put(key, Readable.from(lines()));
}

/**
 * The rows of every partial merged by (key, window start): a row found in one partial is taken as it is,
 * one found in several is the view's merge of their states.
 */
export async function mergePartials(lake: Lake, view: CompiledView, keys: readonly string[]): Promise<ViewRow[]> {
  const merged = new Map<string, { key: string; windowStart: number; json: JsonObject; state?: RowState }>();
  for (const key of keys) {
    const { body } = await lake.get(key);
    let line = 0;
    for await (const text of createInterface({ input: body, crlfDelay: Infinity })) {
      line++;
      if (text === '') continue;
      const row = parseRow(text, key, line);
      const id = `${row.windowStart}\u0000${row.key}`;
      const existing = merged.get(id);
      if (!existing) merged.set(id, { key: row.key, windowStart: row.windowStart, json: row.state });
      else existing.state = view.merge(existing.state ?? view.fromJson(existing.json), view.fromJson(row.state));
    }
  }
  return Array.from(merged.values(), ({ key, windowStart, json, state }) => ({ key, windowStart, state: state ? view.toJson(state) : json }));
}

function parseRow(text: string, key: string, line: number): { key: string; windowStart: number; state: JsonObject } {
  try {
    const row = JSON.parse(text) as { key?: unknown; windowStart?: unknown; state?: unknown };
    if (typeof row.key === 'string' && typeof row.windowStart === 'number' && typeof row.state === 'object' && row.state !== null) {
      return row as { key: string; windowStart: number; state: JsonObject };
    }
  } catch {
    // reported below, with where
  }
  throw new CorruptDataError(`Line ${line} of partial "${key}" is not a row`, { key, line });
}
