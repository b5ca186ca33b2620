/**
 * Dashboards poll the same views and keys over and over while most of the data stays put: the batch
 * version never changes, and closed slices no more. These caches let such a query skip the decoding,
 * the merging and even the row reads, and are keyed so that a cached entry never outlives its inputs.
 */
import { deepFreeze, type CompiledView, type JsonObject, type RowState, type ViewStore } from '@lambda/core';
import type { MergedAnswer, Provenance } from '../api/schemas.js';
import { liveSlices } from './consistent-snapshot.js';

/** Window results kept: enough for every key and window a dashboard polls, bounded all the same. */
const RESULT_CACHE_SIZE = 50_000;
const ANSWER_CACHE_SIZE = 10_000;

/** Decoded states by the stored state object they came from, and merged results by the identities of theirs. */
export class StateCache {
  /**
   * Stores hand out an unchanged row as the same read-only object, so the batch version's rows and closed
   * slices' rows are decoded once, not on every query; a rewritten row is a new object, and a new entry.
   * Decoded states are never changed: merges go into fresh ones.
   */
  private readonly decoded = new WeakMap<object, RowState>();
  /** Results by the identities of the stored states merged into them (oldest dropped first). */
  private readonly results = new Map<string, JsonObject>();
  private readonly identities = new WeakMap<object, number>();
  private nextIdentity = 1;

  /**
   * The merged result of stored states, cached by their identities: while none of them is rewritten,
   * every query of the window gets the result computed the first time, without merging or estimating
   * again. A rewritten row is a new object, so a cached result never outlives its inputs.
   */
  result(view: CompiledView, parts: readonly JsonObject[]): JsonObject {
    const cacheKey = `${view.name}\u0000${parts.map((part) => this.identity(part)).join(',')}`;
    let result = this.results.get(cacheKey);
    if (!result) {
      result = deepFreeze(view.result(this.merged(view, parts)));
      if (this.results.size >= RESULT_CACHE_SIZE) this.results.delete(this.results.keys().next().value!);
      this.results.set(cacheKey, result);
    }
    return result;
  }

  /** Stored states merged, in order, into a fresh state the caller may change. */
  merged(view: CompiledView, parts: readonly JsonObject[]): RowState {
    const state = view.createState();
    for (const part of parts) view.merge(state, this.decode(view, part));
    return state;
  }

  private identity(json: JsonObject): number {
    let id = this.identities.get(json);
    if (id === undefined) this.identities.set(json, (id = this.nextIdentity++));
    return id;
  }

  private decode(view: CompiledView, json: JsonObject): RowState {
    let state = this.decoded.get(json);
    if (!state) this.decoded.set(json, (state = view.fromJson(json)));
    return state;
  }
}

/** Whole answers by the view's shape and the query (oldest dropped first). */
export class AnswerCache {
  private readonly answers = new Map<string, MergedAnswer>();

  constructor(private readonly store: ViewStore) {}

  /** The answer computed for `request` (the query, as a string) while the view had the shape it has now. */
  async lookup(view: CompiledView, request: string): Promise<MergedAnswer | undefined> {
    return this.answers.get(`${await this.shapeNow(view)}\u0000${request}`);
  }

  /**
   * Keeps an answer under the shape of the snapshot it was computed from (`storage` is the generation's
   * storage name). Only give answers from consistent snapshots: their shape is one the view really had.
   */
  remember(storage: string, provenance: Provenance, request: string, answer: MergedAnswer): void {
    if (this.answers.size >= ANSWER_CACHE_SIZE) this.answers.delete(this.answers.keys().next().value!);
    this.answers.set(`${shapeOf(storage, provenance.batch?.version ?? 0, provenance.slices)}\u0000${request}`, answer);
  }

  /**
   * The view's shape now: its batch version and its live slices' edges. Rows change only when these do
   * (a slice's rows with its end; a published version never), so equal shapes mean equal answers. The
   * two reads are not atomic, but only consistent snapshots are ever cached, so a shape read across a
   * change matches nothing and the read goes the long way.
   */
  async shapeNow(view: CompiledView): Promise<string> {
    const [manifest, slices] = await Promise.all([this.store.readManifest(view.name), this.store.listSlices(view.name)]);
    return shapeOf(view.name, manifest?.version ?? 0, liveSlices(slices, manifest?.horizon ?? []));
  }
}

export function shapeOf(view: string, version: number, slices: readonly { partition: number; start: number; end: number; closed: boolean }[]): string {
  const edges = slices.map((slice) => `${slice.partition}:${slice.start}:${slice.end}:${slice.closed ? 1 : 0}`).sort();
  return `${view}\u0000${version}\u0000${edges.join(',')}`;
}
