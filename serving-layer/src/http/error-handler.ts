import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ConflictError, InvalidArgumentError, NotFoundError, PlatformError, type Logger } from '@lambda/core';
import { QueryLimitError } from '../sql/sql-errors.js';

/** The JSON body of every error response: a stable code, a message naming the problem, and its values. */
/** What every 4xx and 5xx answer holds (the `errorBody` schema documents it; a context holds any JSON). */
export interface ErrorBody {
  error: { code: string; message: string; context?: Record<string, unknown> };
}

/** The HTTP status that tells a client what it can do about a platform error. */
export function statusOf(error: unknown): number {
  if (error instanceof InvalidArgumentError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof QueryLimitError) return 422;
  if (error instanceof PlatformError && error.retriable) return 503;
  const status = (error as { status?: unknown }).status; // body-parser sets it (400, 413, 415)
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, request, response, _next) => {
    const status = statusOf(error);
    if (status >= 500) logger.error({ err: error, method: request.method, path: request.path }, 'request failed');
    const body: ErrorBody =
      error instanceof PlatformError
        ? { error: { code: error.code, message: error.message, context: { ...error.context } } }
        : { error: { code: HTTP_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'), message: status >= 500 ? 'Internal error' : (error as Error).message } };
    response.status(status).json(body);
  };
}

/** Codes for errors Express's body parsers raise, which carry only a status. */
const HTTP_CODES: Record<number, string> = { 400: 'INVALID_ARGUMENT', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

export const unknownRoute: RequestHandler = (request, response) => {
  const body: ErrorBody = { error: { code: 'NOT_FOUND', message: `No route ${request.method} ${request.path}` } };
  response.status(404).json(body);
};
