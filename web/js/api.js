// The staff JSON API from a page (the doctor console and the admin pages): one fetch wrapper
// that sends a JSON body, the session cookie, and on every state-changing request the
// session's CSRF token in X-CSRF-Token. The token comes from the login answer and /api/me (the
// cookie itself is HttpOnly); a page of another site can neither read nor set it. Logging out
// forgets it.

let csrfToken = null;

/**
 * One request. Resolves with {status, ok, data} (data: the JSON answer, {} for none); rejects
 * only when the server cannot be reached.
 */
export async function api(method, path, body) {
  const headers = body ? { 'content-type': 'application/json' } : {};
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
    cache: 'no-store',
  });
  let data = null;
  try { data = await res.json(); } catch { /* 204 or empty */ }
  if (data && typeof data.csrf_token === 'string') csrfToken = data.csrf_token;
  if (path === '/api/logout') csrfToken = null;
  return { status: res.status, ok: res.ok, data: data || {} };
}
