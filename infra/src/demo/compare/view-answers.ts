/**
 * A view's whole answer over HTTP, as any client reads it: its keys, then its windows for those keys
 * (pages followed), with the provenance of the read that gave the windows.
 */
import type { MergedAnswer, MergedWindow, Provenance } from '@lambda/serving-layer';
import { platformClient } from '../../platform-client.js';

export interface WholeAnswer {
  windows: MergedWindow[];
  /** Of the windows' read; with several pages, of the last (they share one position when nothing moved). */
  provenance: Provenance;
  /** Per page read: the positions, so a caller can tell whether the pages saw the same records. */
  positions: number[][];
}

/** The serving layer caps a windows request at this many keys. */
const KEYS_PER_REQUEST = 100;

export async function readWholeView(baseUrl: string, view: string): Promise<WholeAnswer> {
  const keys: string[] = [];
  const positions: number[][] = [];
  let cursor: string | null = null;
  do {
    const page: { keys: string[]; provenance: Provenance; next: string | null } = await getJson(
      baseUrl,
      `/views/${encodeURIComponent(view)}/keys`,
      { limit: '10000', ...(cursor ? { cursor } : {}) },
    );
    keys.push(...page.keys);
    positions.push(page.provenance.position);
    cursor = page.next;
  } while (cursor);
  const windows: MergedWindow[] = [];
  let provenance: Provenance | undefined;
  for (let i = 0; i < keys.length; i += KEYS_PER_REQUEST) {
    let next: string | null = null;
    do {
      const query: Record<string, string | string[]> = { key: keys.slice(i, i + KEYS_PER_REQUEST), limit: '10000' };
      if (next) query.cursor = next;
      const answer: MergedAnswer = await getJson(baseUrl, `/views/${encodeURIComponent(view)}`, query);
      windows.push(...answer.windows);
      positions.push(answer.provenance.position);
      provenance = answer.provenance;
      next = answer.next;
    } while (next);
  }
  // No keys yet: the keys page's provenance is the answer's.
  provenance ??= (await getJson<{ provenance: Provenance }>(baseUrl, `/views/${encodeURIComponent(view)}/keys`, { limit: '1' })).provenance;
  return { windows, provenance, positions };
}

/** An answer's freshness (ms) and the position it counts, from a one-key read: the cheap probe the demo samples. */
export async function sampleFreshness(baseUrl: string, view: string): Promise<{ freshnessMs: number | null; position: number[] }> {
  const page = await getJson<{ provenance: Provenance }>(baseUrl, `/views/${encodeURIComponent(view)}/keys`, { limit: '1' });
  return { freshnessMs: page.provenance.freshnessMs, position: page.provenance.position };
}

/**
 * The position (per partition) an answer counts now, from a one-key read: the cheap probe that tells
 * whether a mode caught up, before reading a whole view of a long history.
 */
export async function probePosition(baseUrl: string, view: string): Promise<number[]> {
  const page = await getJson<{ provenance: Provenance }>(baseUrl, `/views/${encodeURIComponent(view)}/keys`, { limit: '1' });
  return page.provenance.position;
}

function getJson<T>(baseUrl: string, path: string, query: Record<string, string | string[]>): Promise<T> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) for (const item of [value].flat()) search.append(name, item);
  return platformClient({ url: baseUrl })<T>('GET', `${path}?${search}`);
}
