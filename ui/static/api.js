// The HTTP API client: same-origin JSON fetches with the session cookie.
// Errors become ApiError carrying the server's {"error": {code, message}}.

// ApiError is a failed request. status is 0 when the server was not reached.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After, or null
  }
}

let onUnauthorized = () => {};

// setUnauthorizedHandler sets what happens when a request answers 401
// (the session ended): the page goes back to the log-in screen.
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function retryAfter(res) {
  const v = res.headers.get('Retry-After');
  if (v == null || v === '') return null;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, n);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, (t - Date.now()) / 1000) : null;
}

// api sends one request. body (if any) is sent as JSON. opts.signal aborts
// it; opts.auth === false keeps a 401 from logging the page out (log-in
// answers 401 for a wrong password).
export async function api(method, path, body, opts = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: opts.signal,
    cache: 'no-store',
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  let text;
  try {
    res = await fetch(path, init);
    text = await res.text();
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error;
    const e = new ApiError(
      res.status,
      (err && err.code) || `http_${res.status}`,
      (err && err.message) || `The server answered ${res.status} ${res.statusText}`.trim(),
      retryAfter(res),
    );
    if (res.status === 401 && opts.auth !== false) onUnauthorized(e);
    throw e;
  }
  if (res.status !== 204 && data === null && text) {
    throw new ApiError(res.status, 'bad_response', 'The server sent an answer this page cannot read.');
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);
export const patch = (path, body, opts) => api('PATCH', path, body, opts);

// newClientId makes the client_id that makes a send safe to retry.
// crypto.randomUUID exists only in secure contexts; plain HTTP falls back
// to getRandomValues.
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
