// The API client: same-origin relative paths (so the page works behind a path prefix), errors as ApiError,
// and the API token kept in sessionStorage and sent as a bearer token once the user gave one.

const TOKEN_KEY = 'lambda-platform.api-token';

export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {{ status: number, code: string, path: string, method: string, reason?: string }} details
   */
  constructor(message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = details.status;
    this.code = details.code;
    this.path = details.path;
    this.method = details.method;
    /** The API's own error message (without the request's name), or this message when there is none. */
    this.reason = details.reason ?? message;
  }

  /** 401 (no token) or 403 (a token the platform refuses). */
  get needsToken() {
    return this.status === 401 || this.status === 403;
  }
}

export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token cannot be kept
  }
}

export function storeToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A path with its query, e.g. `path('views/a b', { key: ['x'], n: 10 })`; undefined values are left out. */
export function path(base, query = {}) {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) parameters.append(name, String(item));
  }
  const text = parameters.toString();
  return text ? `${base}?${text}` : base;
}

/** The absolute URL of an API path, relative to the page. */
export function apiUrl(relative) {
  return new URL(relative, document.baseURI).href;
}

/**
 * Calls the API and answers its JSON body; throws ApiError for a network failure or an error status
 * (the message names the request and quotes the API's own error message).
 */
export async function api(relative, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const label = `${method} /${relative.split('?')[0]}`;
  let response;
  try {
    response = await fetch(apiUrl(relative), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (error) {
    throw new ApiError(`${label}: the server did not answer (${error instanceof Error ? error.message : String(error)})`, {
      status: 0,
      code: 'NETWORK',
      path: relative,
      method,
    });
  }
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null; // not JSON: an error page from something in between
  }
  if (!response.ok) {
    const error = json && typeof json === 'object' ? json.error : undefined;
    const reason = error?.message ?? (text.slice(0, 200) || response.statusText);
    throw new ApiError(`${label} answered ${response.status}: ${reason}`, {
      status: response.status,
      code: error?.code ?? `HTTP_${response.status}`,
      path: relative,
      method,
      reason,
    });
  }
  if (json === null) throw new ApiError(`${label} answered ${response.status} without a JSON body`, { status: response.status, code: 'BAD_RESPONSE', path: relative, method });
  return json;
}
