import { readFileSync } from 'node:fs';
import { Catalog, CatalogError, type CatalogDefinition, type RecordLimits } from '@lambda/core';
import { webAnalyticsCatalog } from './demo/web-analytics.js';

/**
 * The catalog the platform runs: the JSON file named in the config, or the web-analytics demo's, with
 * the record limits of the config (`records.*`) over any the file sets.
 */
export function loadCatalog(file: string | undefined, limits: Partial<RecordLimits> = {}): Catalog {
  const withLimits = (definition: CatalogDefinition) => Catalog.compile({ ...definition, limits: { ...definition.limits, ...definedOnly(limits) } });
  if (file === undefined) return withLimits(webAnalyticsCatalog);
  let definition: CatalogDefinition;
  try {
    definition = JSON.parse(readFileSync(file, 'utf8')) as CatalogDefinition;
  } catch (error) {
    throw new CatalogError([`catalog file ${file}: ${(error as Error).message}`]);
  }
  return withLimits(definition);
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
