/**
 * The zod schemas of the comparative demo's report endpoints (`GET /reports`, `/reports/latest`,
 * `/reports/latest/:file`): they validate the file parameter and make their part of the OpenAPI document.
 */
import { z } from 'zod';

/** The only files served from a report folder: what the demo writes, never a path. */
export const REPORT_FILE = /^[a-z][a-z0-9-]*\.(svg|md|json)$/;

export const reportFileParams = z.object({
  file: z
    .string()
    .regex(REPORT_FILE, { error: 'must be a report file: a name ending in .svg, .md or .json, never a path' })
    .meta({ description: 'A file of the latest report, as GET /reports lists them', examples: ['report.md'] }),
});

const reportSummary = z.object({
  name: z.string().meta({ description: "The report's folder, below the reports directory ('.' for the directory itself)" }),
  writtenAt: z.number().int().meta({ description: 'When its report.json was written (ms since the epoch)' }),
  files: z.array(z.string()).meta({ description: 'Its files, each served at /reports/latest/{file}' }),
});

export const reportsIndex = z.object({ latest: reportSummary.nullable().meta({ description: 'The newest report; null when none was written yet' }) });

export const latestReport = reportSummary.extend({
  result: z.record(z.string(), z.unknown()).meta({ description: "The run's measurements (report.json)" }),
  markdown: z.string().meta({ description: 'The report (report.md)' }),
});
