/**
 * Ad-hoc SQL over the merged views: `POST /query` with `{ sql, params, limit }`, and `GET /query?sql=`
 * for small ones. The answer holds typed columns, rows, whether rows were cut, and the snapshot of every
 * view read (see sql/sql-query-engine.ts). Rate-limited per token (per client address without one).
 */
import express, { Router, type Request } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { queryBody, queryQuery } from '../api/query-schemas.js';
import type { ErrorBody } from '../http/error-handler.js';
import { parseInput } from '../http/validate.js';
import type { SqlQuery, SqlQueryEngine } from '../sql/sql-query-engine.js';

export interface QueryRouterOptions {
  /** The engine, made on first use: a platform nobody queries pays nothing for it. */
  engine: () => Promise<SqlQueryEngine>;
  /** The most rows an answer may hold. */
  maxRows: number;
  /** Queries per minute per token, or per client address without one. */
  perMinute: number;
}

/** The largest POST body: the longest statement and its parameters, with room for JSON escapes. */
const MAX_BODY = '1mb';

export function queryRouter(options: QueryRouterOptions): Router {
  const router = Router();
  const body = queryBody(options.maxRows);
  const query = queryQuery(options.maxRows);
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: options.perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Requests here passed requireToken: a bearer token, when there is one, is the platform's.
    keyGenerator: (request: Request) => bearerToken(request) ?? ipKeyGenerator(request.ip ?? ''),
    handler: (_request, response) => {
      const error: ErrorBody = {
        error: { code: 'RATE_LIMITED', message: `at most ${options.perMinute} queries a minute: wait for the Retry-After seconds`, context: { perMinute: options.perMinute } },
      };
      response.status(429).json(error);
    },
  });
  const answer = async (sqlQuery: SqlQuery) => (await options.engine()).query(sqlQuery);

  router.post('/query', limiter, express.json({ limit: MAX_BODY }), async (request, response) => {
    response.json(await answer(parseInput(body, request.body ?? {}, 'body')));
  });
  router.get('/query', limiter, async (request, response) => {
    response.json(await answer(parseInput(query, request.query, 'query')));
  });
  return router;
}

function bearerToken(request: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.get('authorization') ?? '')?.[1];
}
