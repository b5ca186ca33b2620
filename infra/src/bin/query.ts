#!/usr/bin/env node
/**
 * `npm run query -- "SELECT url, sum(views) AS views FROM pageviews_by_url GROUP BY url"`: runs one SQL
 * statement over a running platform's merged views, through its API (`POST /query`), and prints the answer
 * as a table: each column's name and type, the rows, then the row count, whether rows were cut, the time
 * the query took and the position each view was read at.
 *
 * Options: the statement as the argument, or --file FILE; --param VALUE, repeatable, for the statement's
 * `?` or `$n` in order (JSON when it parses as a string, number, boolean or null, the text as is otherwise);
 * --limit N (the most rows to answer); --json (the answer as the API gives it); --url URL (default
 * http://127.0.0.1:$HTTP_PORT or :8080); --token TOKEN (default $API_TOKEN). Exit code 0 when the platform
 * answered, 1 otherwise, with `error: CODE: message` on stderr for an error of the API.
 */
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { JsonValue } from '@lambda/core';
import type { SqlAnswer } from '@lambda/serving-layer';
import { PlatformApiError, platformClient } from '../platform-client.js';
import { formatSqlAnswer } from '../sql-answer-table.js';

const command = new Command()
  .name('query')
  .description("Run a SQL statement over a running platform's views, and print the answer as a table")
  .argument('[sql]', 'one SELECT or WITH statement; each view is a table of its name')
  .option('--file <file>', 'read the statement from a file instead')
  .option('--param <value>', "the value of the statement's next ? or $n: JSON when it parses as a string, number, boolean or null, else the text (repeatable)", collect, [])
  .option('--limit <n>', 'the most rows to answer (the platform caps it)', positiveInteger)
  .option('--json', "print the API's answer as JSON instead of a table")
  .option('--url <url>', "the platform's URL", `http://127.0.0.1:${process.env.HTTP_PORT ?? 8080}`)
  .option('--token <token>', 'the API token, when the platform has one', process.env.API_TOKEN)
  .parse();
const options = command.opts<{ file?: string; param: string[]; limit?: number; json?: boolean; url: string; token?: string }>();
const [argument] = command.processedArgs as [string | undefined];
if (argument === undefined && options.file === undefined) command.error('error: missing the statement: give it as the argument, or --file FILE');
if (argument !== undefined && options.file !== undefined) command.error('error: give the statement as the argument or with --file, not both');

try {
  const sql = argument ?? (await readStatement(options.file!));
  const call = platformClient({ url: options.url, token: options.token });
  const answer = await call<SqlAnswer>('POST', '/query', { sql, params: options.param.map(parseParam), ...(options.limit === undefined ? {} : { limit: options.limit }) });
  process.stdout.write(options.json ? `${JSON.stringify(answer)}\n` : formatSqlAnswer(answer, { color: process.stdout.isTTY && !process.env.NO_COLOR }));
  process.exitCode = 0;
} catch (error) {
  console.error(error instanceof PlatformApiError ? `error: ${error.code}: ${error.message}` : `error: ${(error as Error).message}`);
  process.exitCode = 1;
}

async function readStatement(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the statement from ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** `100`, `true`, `null`, `"text"` as JSON; `/docs`, `007`, `[1]` as text, and an integer past 2^53 as text too (a number would lose digits). */
function parseParam(text: string): JsonValue {
  const value = parseJson(text);
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) return text;
  return value === null || ['string', 'number', 'boolean'].includes(typeof value) ? (value as JsonValue) : text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number, 1 or more');
  return n;
}
