import { InvalidArgumentError } from '../../errors/errors.js';
import { MAX_VIEW_KEY_LENGTH as MAX_KEY_LENGTH } from '../../records/record-limits.js';
import type { BatchManifest, RowFilter, Slice, SliceRef, ViewRow } from './view-store.js';

const VIEW_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$/;

export function validateViewName(view: unknown): string {
  if (typeof view !== 'string' || !VIEW_NAME.test(view)) {
    throw new InvalidArgumentError(
      `Invalid view name ${JSON.stringify(view)}: use 1 to 200 characters from A-Z, a-z, 0-9, '.', '_', '@' and '-', starting with a letter or digit`,
      { view },
    );
  }
  return view;
}

function validateCount(name: string, value: unknown, context: Record<string, unknown>): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`Invalid ${name} ${JSON.stringify(value)}: must be a non-negative integer`, { ...context, [name]: value });
  }
  return value;
}

export function validateSliceRef(ref: SliceRef): void {
  validateViewName(ref?.view);
  validateCount('partition', ref.partition, { view: ref.view });
  validateCount('start', ref.start, { view: ref.view, partition: ref.partition });
}

export function validateSlice(slice: Slice): void {
  validateSliceRef(slice);
  const context = { view: slice.view, partition: slice.partition, start: slice.start };
  validateCount('end', slice.end, context);
  if (slice.end < slice.start) {
    throw new InvalidArgumentError(`Invalid slice: end ${slice.end} is before start ${slice.start}`, { ...context, end: slice.end });
  }
  if (typeof slice.closed !== 'boolean') throw new InvalidArgumentError('Invalid slice: closed must be a boolean', context);
  if (slice.newestRecordAt !== null) validateCount('newestRecordAt', slice.newestRecordAt, context);
}

export function validateRows(rows: readonly ViewRow[], context: Record<string, unknown>): void {
  if (!Array.isArray(rows)) throw new InvalidArgumentError('rows must be an array', context);
  rows.forEach((row, index) => {
    if (typeof row?.key !== 'string' || row.key.length > MAX_KEY_LENGTH) {
      throw new InvalidArgumentError(`Row ${index}: key must be a string of at most ${MAX_KEY_LENGTH} characters`, { ...context, index });
    }
    if (!Number.isSafeInteger(row.windowStart)) {
      throw new InvalidArgumentError(`Row ${index}: windowStart ${JSON.stringify(row.windowStart)} must be an integer`, { ...context, index });
    }
    if (row.state === undefined) throw new InvalidArgumentError(`Row ${index}: state is missing`, { ...context, index });
  });
}

export function validateVersion(version: unknown, view: string): number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new InvalidArgumentError(`Invalid batch version ${JSON.stringify(version)} of view "${view}": must be a positive integer`, {
      view,
      version,
    });
  }
  return version;
}

export function validateManifest(manifest: BatchManifest): void {
  validateViewName(manifest?.view);
  validateVersion(manifest.version, manifest.view);
  const context = { view: manifest.view, version: manifest.version };
  if (!Array.isArray(manifest.horizon)) throw new InvalidArgumentError('Invalid manifest: horizon must be an array of offsets', context);
  manifest.horizon.forEach((offset, partition) => validateCount(`horizon[${partition}]`, offset, context));
  validateCount('publishedAt', manifest.publishedAt, context);
  if (manifest.newestRecordAt !== null) validateCount('newestRecordAt', manifest.newestRecordAt, context);
}

export function validateFilter(filter: RowFilter | undefined): void {
  if (filter === undefined) return;
  if (filter.keys !== undefined && (!Array.isArray(filter.keys) || filter.keys.some((key) => typeof key !== 'string'))) {
    throw new InvalidArgumentError('Invalid filter: keys must be an array of strings', {});
  }
  for (const bound of ['windowFrom', 'windowTo'] as const) {
    const value = filter[bound];
    if (value !== undefined && !Number.isSafeInteger(value)) {
      throw new InvalidArgumentError(`Invalid filter: ${bound} ${JSON.stringify(value)} must be an integer`, { [bound]: value });
    }
  }
}
