/**
 * Bearer-token access for ingest and admin routes, when a token is configured (it is off on the embedded
 * default): no token is a 401, a wrong one a 403. Reads stay open.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { ErrorBody } from './error-handler.js';

export function requireToken(token: string | undefined): RequestHandler {
  if (!token) return (_request, _response, next) => next();
  const expected = Buffer.from(token);
  return (request, response, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(request.get('authorization') ?? '');
    if (!match) {
      const body: ErrorBody = { error: { code: 'UNAUTHENTICATED', message: 'This endpoint needs an "Authorization: Bearer <token>" header' } };
      response.set('WWW-Authenticate', 'Bearer').status(401).json(body);
      return;
    }
    const given = Buffer.from(match[1]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      const body: ErrorBody = { error: { code: 'FORBIDDEN', message: 'The token is not valid for this platform' } };
      response.status(403).json(body);
      return;
    }
    next();
  };
}
