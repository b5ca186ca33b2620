/** The order `orderBy` sorts result rows in: nulls first (Spark's ascending default), windows by start. */
import { compareValues } from '@lambda/core';
import type { OutputValue } from './row-pipeline.js';

export function compareValuesForSort(a: OutputValue, b: OutputValue): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === 'object' && typeof b === 'object') return a.start - b.start || a.end - b.end;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return compareValues(a as string | number, b as string | number);
}
