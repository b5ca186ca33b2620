/**
 * The comparative demo's reports (`npm run demo:compare`): `GET /reports` says whether there is one (always
 * 200), `GET /reports/latest` gives the newest report's
 * measurements and Markdown, `GET /reports/latest/<file>` its files (the SVG charts, the Markdown, the
 * JSON). Reports are folders holding a `report.json`, in the reports directory or one level below it.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Router } from 'express';
import { NotFoundError } from '@lambda/core';
import { REPORT_FILE, reportFileParams } from '../api/reports-schemas.js';
import { parseInput } from '../http/validate.js';

const CONTENT_TYPES: Record<string, string> = { svg: 'image/svg+xml', md: 'text/markdown; charset=utf-8', json: 'application/json; charset=utf-8' };

export function reportsRouter(directory: string): Router {
  const router = Router();

  // Whether there is a report at all, always 200: the dashboard asks this first, so a platform without
  // reports answers its page with no error response.
  router.get('/reports', async (_request, response) => {
    const latest = await latestReport(directory).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    const files = latest ? (await readdir(latest.path)).filter((file) => REPORT_FILE.test(file)).sort() : [];
    response.json({ latest: latest ? { name: latest.name, writtenAt: latest.writtenAt, files } : null });
  });

  router.get('/reports/latest', async (_request, response) => {
    const latest = await latestReport(directory);
    const [result, markdown] = await Promise.all([readFile(join(latest.path, 'report.json'), 'utf8'), readFile(join(latest.path, 'report.md'), 'utf8')]);
    const files = (await readdir(latest.path)).filter((file) => REPORT_FILE.test(file)).sort();
    response.json({ name: latest.name, writtenAt: latest.writtenAt, files, result: JSON.parse(result) as unknown, markdown });
  });

  router.get('/reports/latest/:file', async (request, response) => {
    const { file } = parseInput(reportFileParams, request.params, 'path');
    const latest = await latestReport(directory);
    const body = await readFile(join(latest.path, file)).catch(() => {
      throw new NotFoundError(`The latest report has no file "${file}"`, { file });
    });
    response.setHeader('Content-Type', CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)]!).send(body);
  });

  return router;
}

/** The report folder whose report.json was written last. */
async function latestReport(directory: string): Promise<{ name: string; path: string; writtenAt: number }> {
  const candidates = [{ name: '.', path: directory }];
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) candidates.push({ name: entry.name, path: join(directory, entry.name) });
  let latest: { name: string; path: string; writtenAt: number } | undefined;
  for (const candidate of candidates) {
    const info = await stat(join(candidate.path, 'report.json')).catch(() => undefined);
    if (info && (!latest || info.mtimeMs > latest.writtenAt)) latest = { ...candidate, writtenAt: Math.round(info.mtimeMs) };
  }
  if (!latest) throw new NotFoundError(`No report yet: run \`npm run demo:compare -- --scenario web\` (reports are read from ${directory})`, { directory });
  return latest;
}
