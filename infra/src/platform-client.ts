/**
 * The command-line tools' way to a running platform's API: JSON in and out, the bearer token when one
 * is given, and errors an operator can act on (the API's own message, or that nothing answers).
 */
import { ConnectionError, PlatformError } from '@lambda/core';

export interface PlatformClientOptions {
  /** The platform's base URL. */
  url: string;
  /** The API token, when the platform has one. */
  token?: string;
  /** How long to wait for an answer before giving up on it (ms); unset, a call waits as long as it takes. */
  timeoutMs?: number;
}

/** An error the platform's API answered: its stable code and message, and the HTTP status in the context. */
export class PlatformApiError extends PlatformError {
  override readonly code: string;
  constructor(code: string, message: string, context: Record<string, unknown>) {
    super(message, { context });
    this.code = code;
  }
}

export type PlatformCall = <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T>;

export function platformClient({ url, token, timeoutMs }: PlatformClientOptions): PlatformCall {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(new URL(path, url), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      // fetch says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND...).
      const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
      const reason = cause?.code ?? cause?.message;
      throw new ConnectionError(`cannot reach the platform at ${url}: ${(error as Error).message}${reason ? ` (${reason})` : ''}. Is it running (npm start)?`, {
        cause: error,
        context: { url },
      });
    }
    const payload = (await response.json().catch(() => ({}))) as T & { error?: { code?: string; message?: string } };
    if (!response.ok) {
      throw new PlatformApiError(payload.error?.code ?? `HTTP_${response.status}`, payload.error?.message ?? `${method} ${path} answered ${response.status}`, {
        method,
        path,
        status: response.status,
      });
    }
    return payload;
  };
}
