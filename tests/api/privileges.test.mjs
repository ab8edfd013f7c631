// The server gives up root after binding (issue "Trust", hardening): started as root, the real
// daemon runs as the account [server] user (default "mashwara", made by scripts/setup-debian.sh)
// with no supplementary groups and no way back; its data folder, database and journal belong to
// that account and to no one else (umask 077); it still writes (a session and a patient through
// the API after the switch); an account that does not exist stops it before it serves anything, with a clear
// message; `--user root` keeps root only when asked, and says so.
//
// Must run as root (scripts/test.sh does): as another user there is nothing to give up, and the
// first test fails rather than pass without proving anything.
//
// Run: MASHWARA_BIN=<build>/daemon/mashwara node --test tests/api/privileges.test.mjs

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, REPO, startDaemon, admin, login, client } from './lib.mjs';

/** Real, effective, saved and filesystem uid (and gid) of a process, and its groups. */
function ids(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => status.match(new RegExp(`^${name}:[ \\t]*(.*)$`, 'm'))[1].trim();
  return {
    uid: field('Uid').split(/\s+/).map(Number),
    gid: field('Gid').split(/\s+/).map(Number),
    groups: field('Groups') ? field('Groups').split(/\s+/).map(Number) : [],
  };
}

describe('privileges', () => {
  const cleanups = [];
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch(() => {});
  });

  it('started as root, runs as "mashwara" and owns only its own files', async () => {
    assert.equal(process.getuid(), 0, 'this test must run as root (scripts/test.sh does)');
    const account = Number(execFileSync('id', ['-u', 'mashwara']).toString().trim());
    const group = Number(execFileSync('id', ['-g', 'mashwara']).toString().trim());
    assert.notEqual(account, 0);

    const d = await startDaemon();
    cleanups.push(() => d.cleanup(), () => d.stop());
    const who = ids(d.pid);
    assert.deepEqual(who.uid, [account, account, account, account], 'real, effective, saved, fs uid');
    assert.deepEqual(who.gid, [group, group, group, group], 'real, effective, saved, fs gid');
    assert.deepEqual(who.groups, [], 'no supplementary groups');
    assert.match(d.log(), new RegExp(`listening on https://\\S+ .* as uid ${account}`));

    // It still writes after the switch: a staff session (login), a patient through the API,
    // read back.
    await admin(d, 'add-staff', ['--role', 'admin', '--username', 'priv.admin', '--name', 'Priv Admin',
      '--password', 'priv-admin-pass']);
    const api = client(d, await login(d, 'priv.admin', 'priv-admin-pass'));
    const patient = await api.post('/api/patients', { name: 'Priv Patient' });
    assert.equal(patient.status, 201, patient.text);
    const back = await api.get(`/api/patients/${patient.json.patient.id}`);
    assert.equal(back.status, 200, back.text);

    // Its files: the account's, and nobody else may read them.
    const files = [d.dir, ...readdirSync(d.dir, { recursive: true }).map((f) => path.join(d.dir, f))];
    assert.ok(files.some((f) => f.endsWith('mashwara.db-wal')), files.join(' '));
    for (const f of files) {
      const st = statSync(f);
      assert.equal(st.uid, account, `${f} belongs to mashwara`);
      assert.equal(st.mode & 0o077, 0, `${f} (mode ${(st.mode & 0o777).toString(8)}) is private`);
    }
  });

  it('an account that does not exist stops it before it serves', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mw-priv-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const r = spawnSync(BIN, ['--data-dir', dir, '--listen', '127.0.0.1', '--port', '0',
      '--user', 'no-such-account-mw'], { cwd: REPO, timeout: 20000, encoding: 'utf8' });
    assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
    assert.match(r.stderr, /account "no-such-account-mw" to run as does not exist/);
    assert.doesNotMatch(r.stderr, /listening on/);
  });

  it('--user root keeps root only when asked, with a warning', async () => {
    const d = await startDaemon({ extraArgs: ['--user', 'root'] });
    cleanups.push(() => d.cleanup(), () => d.stop());
    assert.deepEqual(ids(d.pid).uid, [0, 0, 0, 0]);
    assert.match(d.log(), /user = root: the server keeps running as root/);
  });
});
