import type { Catalog } from '@lambda/core';

/** A started service, as its process entrypoint sees it. */
export interface RunningService {
  /** Where each port it opened lives, logged at start. */
  locations: Record<string, string>;
  /** The API's base URL, for services that serve one. */
  url?: string;
  /** Lines telling an operator what runs and where. */
  summary: string[];
  /** Stops the service cleanly: work in flight finishes, then the adapters close. */
  close(): Promise<void>;
}

/** The serving layer's main URLs, with an example view query. */
export function endpointSummary(url: string, catalog: Catalog): string[] {
  const example = [...catalog.views.values()][0];
  const lines = [`views:   ${url}/views`];
  if (example) lines.push(`a view:  ${url}/views/${example.name}?key=${encodeURIComponent(example.name === 'visitors_by_referrer' ? 'google' : '/')}`);
  lines.push(`ingest:  POST ${url}/ingest/<topic> (JSON array or NDJSON)`, `health:  ${url}/health`, `metrics: ${url}/metrics`, `dashboard: ${url}/`);
  return lines;
}
