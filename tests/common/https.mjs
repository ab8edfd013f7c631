// One HTTPS request with a JSON body and answer, shared by the API and end-to-end tests.
import https from 'node:https';

// The CSRF token of each session cookie seen at login (POST /api/login answers it with the
// cookie): a state-changing request with that cookie sends it as X-CSRF-Token by itself, as
// the console does, unless the caller sets the header (or `csrf: false`).
const csrfOf = new Map();

/** The CSRF token of a "mw_session=…" cookie pair from a login seen here, or undefined. */
export function csrfToken(cookie) {
  return csrfOf.get(cookie);
}

/**
 * `url` (a URL), `method`; `body`: an object (sent as JSON) or a string/Buffer (sent as is);
 * `agent` (e.g. one that trusts the daemon's certificate) or `rejectUnauthorized`.
 * Resolves with {status, headers, text, json, bytes} (json null unless the body parses; bytes:
 * the raw body, a Buffer, e.g. still gzip'd when asked with Accept-Encoding). Every way a
 * request can end settles the promise: an idle socket after `timeout` ms, a network error, and
 * a response cut off mid-body (the server died after its headers), which ends with neither
 * 'end' nor a request error.
 */
export function httpsJson(url, { method = 'GET', body, cookie, headers = {}, timeout = 15000,
  agent, rejectUnauthorized, csrf = true } = {}) {
  const data = body === undefined ? null
    : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const what = `${method} ${url.pathname}`;
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method, timeout,
      ...(agent ? { agent } : {}),
      ...(rejectUnauthorized !== undefined ? { rejectUnauthorized } : {}),
      headers: {
        // A request without a body says so (content-length: 0): node would otherwise send an
        // empty chunked body to a POST, which the server does not read.
        ...(data !== null ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
          : method !== 'GET' && method !== 'HEAD' ? { 'content-length': 0 } : {}),
        ...(cookie ? { cookie } : {}),
        ...(csrf && cookie && csrfOf.has(cookie) && !['GET', 'HEAD'].includes(method)
          ? { 'x-csrf-token': csrfOf.get(cookie) } : {}),
        ...headers,
      },
    }, (res) => {
      const chunks = [];
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error(`${what}: response cut off`));
      });
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString();
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json, bytes });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${what}: timeout`)));
    req.on('error', reject);
    if (data !== null) req.write(data);
    req.end();
  });
}

/** The "mw_session=…" cookie pair of a login answer; throws naming `who` if there is none. */
export function sessionCookie(r, who) {
  if (r.status !== 200) throw new Error(`login ${who}: ${r.status} ${r.text}`);
  const set = [].concat(r.headers['set-cookie'] || []);
  const c = set.map((s) => s.split(';')[0]).find((s) => s.startsWith('mw_session='));
  if (!c) throw new Error(`login ${who}: no mw_session cookie in ${JSON.stringify(set)}`);
  if (r.json && typeof r.json.csrf_token === 'string') csrfOf.set(c, r.json.csrf_token);
  return c;
}
