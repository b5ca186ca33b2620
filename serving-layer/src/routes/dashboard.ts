/**
 * The dashboard at `/`: static files from this package's `dashboard/` folder, and Chart.js from the
 * installed package. Every asset is served from here: the page needs no network beyond this server.
 * The folder is served whole, so the page's ES modules (main.js and what it imports) need no list here.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** The dashboard's files: from src/ (tests) and from dist/ alike, the package's dashboard/ folder. */
const DASHBOARD = fileURLToPath(new URL('../../dashboard/', import.meta.url)); // this file is in src/routes/ or dist/routes/
// The package exports no path to its browser build: find it beside the entry point it does export.
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

export function dashboardRouter(): Router {
  const router = Router();
  router.get('/assets/vendor/chart.umd.min.js', (_request, response) => response.sendFile(CHART_JS));
  router.use(express.static(DASHBOARD, { index: 'index.html', fallthrough: true }));
  return router;
}
