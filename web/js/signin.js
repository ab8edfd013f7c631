// Staff sign-in, shared by the console, the admin pages and the dashboard: each page has the
// same form (#login-form with #username, #password, #btn-login and the error line
// #login-error) and goes on with the staff record once the server accepts the password.

import { api } from './api.js';

const byId = (id) => document.getElementById(id);

/** The staff record of this browser's session, or null; rejects if the server is unreachable. */
export async function currentStaff() {
  const me = await api('GET', '/api/me');
  return me.ok ? me.data.staff : null;
}

/**
 * On page load: a signed-in member of staff goes to signedIn(staff), anyone else to showLogin();
 * if the server cannot be reached, unreachable() says so.
 */
export async function resumeSession(signedIn, showLogin, unreachable) {
  let who;
  try {
    who = await currentStaff();
  } catch {
    return unreachable();
  }
  return who ? signedIn(who) : showLogin();
}

/** Says `message` on the form's error line (with the API's code for tests), or clears it. */
export function sayLoginError(message, code = '') {
  const err = byId('login-error');
  err.textContent = message || '';
  err.dataset.code = code;
  err.hidden = !message;
}

/**
 * Makes the sign-in form sign in: on submit, checks that both fields are filled (the focus goes
 * to the empty one), posts them, and calls signedIn(staff) on success; otherwise says why in
 * plain words: wrong password, too many attempts (the server's throttle), or the server's own
 * message.
 */
export function wireSignIn(signedIn) {
  byId('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const user = byId('username');
    const pass = byId('password');
    const username = user.value.trim();
    const password = pass.value;
    if (!username || !password) {
      sayLoginError('Enter your username and password.', 'missing_field');
      (username ? pass : user).focus();
      return;
    }
    const btn = byId('btn-login');
    btn.disabled = true;
    try {
      const r = await api('POST', '/api/login', { username, password });
      if (r.ok) {
        pass.value = '';
        sayLoginError('');
        return signedIn(r.data.staff);
      }
      sayLoginError(r.status === 401 ? 'Wrong username or password.'
        : r.status === 429 ? 'Too many attempts. Wait a minute and try again.'
          : r.data.message || 'Signing in failed.', r.data.error || `http_${r.status}`);
    } catch {
      sayLoginError('Cannot reach the server.', 'network');
    } finally {
      btn.disabled = false;
    }
  });
}
