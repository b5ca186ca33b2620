import { readFileSync } from 'node:fs';
import { Catalog, CatalogError, type CatalogDefinition } from '@lambda/common';
import { webAnalyticsCatalog } from './demo/web-analytics.js';

/** The catalog the platform runs: the JSON file named in the config, or the web-analytics demo's. */
export function loadCatalog(file: string | undefined): Catalog {
  if (file === undefined) return Catalog.compile(webAnalyticsCatalog);
  let definition: CatalogDefinition;
  try {
    definition = JSON.parse(readFileSync(file, 'utf8')) as CatalogDefinition;
  } catch (error) {
    throw new CatalogError([`catalog file ${file}: ${(error as Error).message}`]);
  }
  return Catalog.compile(definition);
}
