/**
 * Generations of a view's logic. Reprocessing a view after its definition changes builds generation N+1
 * apart, under its own storage name (`<view>@g<N+1>`), while generation N keeps serving; readers then
 * switch in one atomic write: the view's *generation pointer*.
 *
 * The pointer is the manifest of a pseudo-view `<view>@generation` in the view store, so the switch is the
 * store's own atomic, forward-only `publishBatchVersion` (no port change, and a stale switch is refused
 * as a conflict): its version is the generation, its stats hold the storage name and the definition.
 * A view that never was reprocessed has no pointer: generation 1, stored under the view's own name, with
 * the catalog's definition.
 */
import { CorruptDataError, InvalidArgumentError, UnknownViewError } from '../errors/errors.js';
import { isJsonObject, type JsonObject } from '../records/json.js';
import type { BatchManifest, ViewStore } from '../ports/view-store/view-store.js';
import type { Catalog } from './catalog.js';
import { CompiledView, type ViewDefinition } from './view.js';

export interface ViewGeneration {
  /** The view's public name, as the catalog and the API know it. */
  view: string;
  generation: number;
  /** Where this generation's slices and versions live in the view store. */
  storage: string;
  definition: ViewDefinition;
  /** The definition compiled under the storage name: what folds, recomputes and merges this generation. */
  compiled: CompiledView;
}

const POINTER_SUFFIX = '@generation';

/** Where generation `generation` of `view` is stored: the view's own name for the first. */
export function generationStorageName(view: string, generation: number): string {
  return generation === 1 ? view : `${view}@g${generation}`;
}

/** The pseudo-view whose manifest is `view`'s generation pointer. */
export function generationPointerName(view: string): string {
  return `${view}${POINTER_SUFFIX}`;
}

/** Compiles `definition` as generation `generation` of its view, against the catalog's sources. */
export function compileGeneration(catalog: Catalog, definition: ViewDefinition, generation: number): ViewGeneration {
  const source = catalog.sources.get(definition?.source);
  if (!source) throw new InvalidArgumentError(`View "${definition?.name}": its source ${JSON.stringify(definition?.source)} is not a defined source`, {});
  const storage = generationStorageName(definition.name, generation);
  // The public name is checked by compiling the definition as it is; the storage name by compiling under it.
  new CompiledView(definition, source);
  return { view: definition.name, generation, storage, definition, compiled: new CompiledView({ ...definition, name: storage }, source) };
}

/** The generation of `view` that serves now. */
export async function readViewGeneration(store: ViewStore, catalog: Catalog, view: string): Promise<ViewGeneration> {
  const base = catalog.views.get(view);
  if (!base) throw new UnknownViewError(`Unknown view "${view}"; known: ${[...catalog.views.keys()].join(', ')}`, { view });
  const pointer = await store.readManifest(generationPointerName(view));
  if (!pointer?.stats) return { view, generation: 1, storage: view, definition: base.definition, compiled: base };
  const stored = decodePointer(view, pointer);
  return compileGeneration(catalog, stored.definition, stored.generation);
}

/**
 * Makes `generation` the serving generation of its view, in one atomic write. Generations only move
 * forward: switching to one at or below the serving one is a ConflictError.
 */
export async function publishViewGeneration(store: ViewStore, generation: ViewGeneration, at = Date.now()): Promise<void> {
  await store.publishBatchVersion({
    view: generationPointerName(generation.view),
    version: generation.generation,
    horizon: [],
    publishedAt: at,
    newestRecordAt: null,
    stats: encodePointer(generation),
  });
}

/** What the pointer manifest's stats hold: the serving generation's storage name and definition. */
interface GenerationPointer {
  generation: number;
  storage: string;
  definition: ViewDefinition;
}

function encodePointer(generation: ViewGeneration): JsonObject {
  // A definition is JSON by construction (it comes from a catalog file or a request body): the round trip
  // drops nothing but undefined fields, and proves it.
  const definition: unknown = JSON.parse(JSON.stringify(generation.definition));
  if (!isJsonObject(definition)) throw new InvalidArgumentError(`The definition of view "${generation.view}" is not a JSON object`, { view: generation.view });
  return { storage: generation.storage, definition };
}

/**
 * The pointer as stored, checked: a pointer that is not one (a hand-edited store, a bug) is a
 * CorruptDataError naming the view, never a definition taken on trust. Compiling it checks the rest.
 */
function decodePointer(view: string, pointer: BatchManifest): GenerationPointer {
  const { storage, definition } = pointer.stats ?? {};
  const corrupt = (why: string) => new CorruptDataError(`The generation pointer of view "${view}" is corrupt: ${why}`, { view, version: pointer.version });
  if (storage !== generationStorageName(view, pointer.version)) throw corrupt(`it names storage ${JSON.stringify(storage)} for generation ${pointer.version}`);
  if (!isViewDefinition(definition)) throw corrupt('its definition is not a view definition');
  if (definition.name !== view) throw corrupt(`its definition is named ${JSON.stringify(definition.name)}`);
  return { generation: pointer.version, storage, definition };
}

/** The shape of a ViewDefinition (its fields' types); what the fields say is checked by compiling it. */
function isViewDefinition(value: unknown): value is ViewDefinition {
  if (!isJsonObject(value)) return false;
  const { name, source, key, aggregates, derive, filter, window, description } = value;
  const isStringRecord = (record: unknown) => isJsonObject(record) && Object.values(record).every((entry) => typeof entry === 'string');
  return (
    typeof name === 'string' &&
    typeof source === 'string' &&
    (typeof key === 'string' || (Array.isArray(key) && key.every((part) => typeof part === 'string'))) &&
    isStringRecord(aggregates) &&
    (derive === undefined || isStringRecord(derive)) &&
    (filter === undefined || typeof filter === 'string') &&
    (description === undefined || typeof description === 'string') &&
    (window === undefined || isJsonObject(window))
  );
}

/**
 * The version of a retired generation's tombstone: the highest a manifest can have. The store publishes
 * only forward, so once it is published no recompute of the retired generation still in flight (which
 * chose its version before) can publish over it and bring the old logic back to readers.
 */
export const RETIRED_VERSION = Number.MAX_SAFE_INTEGER;

/**
 * Retires generation storage `storage` once readers moved to `successor`: its tombstone, an empty version
 * whose stats say so. Readers that remember the retired generation read the pointer again.
 */
export async function retireGeneration(store: ViewStore, storage: string, successor: string): Promise<void> {
  const manifest = await store.readManifest(storage);
  if (isRetired(manifest)) return;
  await store.publishBatchVersion({
    view: storage,
    version: RETIRED_VERSION,
    horizon: manifest?.horizon ?? [],
    publishedAt: Date.now(),
    newestRecordAt: null,
    stats: { retired: true, successor },
  });
}

/** Whether a manifest is a retired generation's tombstone. */
export function isRetired(manifest: BatchManifest | undefined): boolean {
  return manifest?.stats?.retired === true;
}

/** Whether `view` runs in Kappa mode under the `kappa.views` setting (`*` names every view). */
export function isKappaView(kappaViews: readonly string[], view: string): boolean {
  return kappaViews.includes('*') || kappaViews.includes(view);
}
