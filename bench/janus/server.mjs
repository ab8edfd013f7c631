// Start/stop helper for Janus 1.1.2 (Debian package), shared by the weak-link bench (bench/weak)
// and the relay bench (bench/load): renders the
// templates next to this file into a config folder of the run, starts `janus -C DIR/janus.jcfg
// -F DIR` inside the server namespace, waits until the WebSockets transport listens, and stops it
// by PID. Only the videoroom plugin and the websockets transport are loaded.

import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOM = 1234;
export const WS_PORT = 8188;
const KEEP = { plugins: ['libjanus_videoroom.so'], transports: ['libjanus_websockets.so'], loggers: [], events: [] };
const TEMPLATES = ['janus.jcfg', 'janus.transport.websockets.jcfg', 'janus.plugin.videoroom.jcfg'];

/** The package's module folder (/usr/lib/<triplet>/janus). */
export function janusLibDir() {
  for (const d of readdirSync('/usr/lib')) {
    const p = path.join('/usr/lib', d, 'janus');
    if (existsSync(path.join(p, 'plugins', 'libjanus_videoroom.so'))) return p;
  }
  throw new Error('janus modules not found under /usr/lib/*/janus (apt-get install -y --no-install-recommends janus)');
}

/** Every module of a kind except those we keep, as Janus's comma-separated `disable` value. */
function disableList(libDir, kind) {
  const dir = path.join(libDir, kind);
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => /^libjanus_.*\.so$/.test(f)) : [];
  return names.filter((f) => !KEEP[kind].includes(f)).sort().join(',');
}

/**
 * What to put in nat.ice_enforce_list: the server's addresses that face the peers (the `src` of
 * the server namespace's route to each peer), plus the server address itself when it is not on
 * a loopback interface. Why not just the server address: Janus never gathers on loopback
 * interfaces (the harness puts the server address on lo where the kernel has no dummy links),
 * and libnice sends a host candidate's packets only out of the interface that holds its address,
 * so a peer behind another interface of the server never gets an answer (seen: ICE failed, the
 * neighbour entry for the peer INCOMPLETE on the wrong veth). Janus matches each entry as a
 * prefix of interface names and addresses: an address that is a prefix of another address in
 * the namespace (198.18.1.1 of 198.18.1.10) is replaced by its interface's name.
 */
export function iceEnforce(ns, addr, peers = []) {
  const out = execFileSync('ip', ['-n', ns, '-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  const rows = out.trim().split('\n').filter(Boolean).map((l) => {
    const f = l.split(/\s+/);
    return { ifname: f[1].replace(/@.*$/, ''), ip: f[3].split('/')[0] };
  });
  const wanted = [];
  const own = rows.find((r) => r.ip === addr);
  if (own && own.ifname !== 'lo') wanted.push(own);
  for (const peer of peers) {
    const r = execFileSync('ip', ['-n', ns, '-4', '-o', 'route', 'get', peer], { encoding: 'utf8' });
    const src = (r.match(/\bsrc (\S+)/) || [])[1];
    const row = rows.find((x) => x.ip === src);
    if (!row) throw new Error(`no source address in ${ns} for the route to ${peer}: ${r.trim()}`);
    if (row.ifname === 'lo') throw new Error(`the route to ${peer} in ${ns} leaves from lo`);
    wanted.push(row);
  }
  if (!wanted.length) throw new Error(`${addr} is not on a non-loopback interface of ${ns} and no peers were given`);
  const entries = wanted.map((w) => (rows.some((r) => r.ip !== w.ip && r.ip.startsWith(w.ip)) ? w.ifname : w.ip));
  return [...new Set(entries)].join(',');
}

/** Writes the three config files into dir; returns the values used. */
export function renderConfig(dir, { ns, addr, peers = [], wsPort = WS_PORT, room = ROOM, serverName = 'mashwara-weak-bench' }) {
  mkdirSync(dir, { recursive: true });
  const libDir = janusLibDir();
  const vars = {
    DEBUG_LEVEL: process.env.JANUS_DEBUG_LEVEL || '4',
    NICE_DEBUG: process.env.JANUS_NICE_DEBUG === '1' ? 'true' : 'false',
    SERVER_NAME: serverName, CONFIG_DIR: dir, LIB_DIR: libDir, SRV_ADDR: addr, WS_PORT: String(wsPort), ROOM: String(room),
    ICE_ENFORCE: iceEnforce(ns, addr, peers),
    DISABLE_PLUGINS: disableList(libDir, 'plugins'),
    DISABLE_TRANSPORTS: disableList(libDir, 'transports'),
    DISABLE_LOGGERS: disableList(libDir, 'loggers'),
    DISABLE_EVENTS: disableList(libDir, 'events'),
  };
  for (const t of TEMPLATES) {
    const text = readFileSync(path.join(HERE, `${t}.in`), 'utf8')
      .replace(/@([A-Z_]+)@/g, (m, k) => (k in vars ? vars[k] : m));
    writeFileSync(path.join(dir, t), text);
  }
  return vars;
}

/**
 * Starts Janus inside `ns` with the config folder `dir` (rendered first); `peers` are the client
 * addresses (for the ICE enforce list). Resolves when the
 * WebSockets transport has started and the videoroom plugin is loaded; the returned handle's
 * stop() ends it by PID (SIGTERM, then SIGKILL after 10 s) and waits for the exit.
 */
export async function startJanus({ ns, addr, peers = [], dir, log = () => {}, wsPort = WS_PORT, timeout = 20000, serverName }) {
  const vars = renderConfig(dir, { ns, addr, peers, wsPort, serverName });
  const logPath = path.join(dir, 'janus.log');
  const logFile = createWriteStream(logPath);
  // `ip netns exec` execs janus in place: the child's PID is Janus's own.
  const child = spawn('ip', ['netns', 'exec', ns, 'janus', '-C', path.join(dir, 'janus.jcfg'), '-F', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  log(`janus: pid ${child.pid} in ${ns}, ws://${addr}:${wsPort}, ice_enforce_list=${vars.ICE_ENFORCE}, log ${logPath}`);
  let text = '';
  let exited = null;
  const exitP = new Promise((res) => child.on('exit', (code, sig) => { exited = { code, sig }; res(exited); }));
  const onData = (b) => { logFile.write(b); if (text.length < 200000) text += b.toString(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const handle = {
    pid: child.pid, dir, logPath, wsUrl: `ws://${addr}:${wsPort}`, room: ROOM, vars,
    async stop(graceMs = 10000) {
      if (!exited) {
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone already */ }
        const t = setTimeout(() => { if (!exited) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
        await exitP;
        clearTimeout(t);
      }
      await new Promise((r) => logFile.end(r));
      log(`janus: pid ${child.pid} exited (${exited.code ?? exited.sig})`);
      return exited;
    },
  };
  const end = Date.now() + timeout;
  while (!(/websockets server started/i.test(text) && /JANUS VideoRoom plugin initialized/.test(text))) {
    if (exited || Date.now() > end) {
      await handle.stop();
      throw new Error(`janus did not start (${exited ? `exit ${exited.code ?? exited.sig}` : 'timeout'}); last log:\n${text.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return handle;
}
