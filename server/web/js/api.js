// The coordinator API (docs/api/openapi.yaml) from the browser. The session lives in the
// HttpOnly cookie ms_session, which this code never sees; the CSRF token comes from the sign-in
// answer (or GET /api/v1/me after a reload), is kept in memory only, and goes with every
// state-changing request as X-CSRF-Token.

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    Object.assign(this, extra);
  }
}

let csrfToken = null;
let onUnauthenticated = () => {};

export function setCsrfToken(token) {
  csrfToken = token;
}

// Called when an API answer is 401 (session ended or signed out elsewhere).
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

// "/api/v1/x" plus the query parameters that have a value.
export function apiUrl(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, v);
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function api(path, { method = 'GET', query, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(apiUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  let data = null;
  const type = res.headers.get('Content-Type') ?? '';
  if (type.startsWith('application/json')) {
    try {
      data = await res.json();
    } catch {
      throw new ApiError(res.status, 'bad_response', 'the server sent malformed JSON');
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.code ?? `http_${res.status}`,
                             data?.message ?? res.statusText,
                             { retryAfter: data?.retry_after_s ?? Number(res.headers.get('Retry-After')) });
    if (res.status === 401 && path !== '/api/v1/auth/sign-in') onUnauthenticated();
    throw err;
  }
  if (data === null) throw new ApiError(res.status, 'bad_response', 'the server did not answer JSON');
  return data;
}
