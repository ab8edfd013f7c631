// A minimal WebSocket client (RFC 6455) over node:tls for the API tests: Node 20 has no
// WebSocket of its own and the API tests take no npm dependencies. Enough for signaling: text
// frames, fragmented or not, masked as a client must; ping answered; the close code and reason
// kept. Not for media, not for binary.

import tls from 'node:tls';
import crypto from 'node:crypto';

/**
 * Opens wss://host:port/path. Resolves with a client once the upgrade answer is in:
 * {status, headers, messages, closed (a promise of {code, reason}), send(obj|string), sendRaw(buf
 * payload, opcode), next(pred, ms), close(code)}. status is 101 on success; anything else is the
 * HTTP refusal (the socket is then closed).
 */
export function wsConnect({ host, port, ca, path = '/ws', cookie, origin, protocol = 'mashwara.v1',
  timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port, ca, servername: undefined });
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('ws connect: timeout')); }, timeout);
    const c = {
      status: 0, headers: {}, messages: [], closeInfo: null, sock,
      waiters: [],
    };
    let closeResolve;
    c.closed = new Promise((r) => { closeResolve = r; });
    let fragments = [];

    const frame = (opcode, payload) => {
      const mask = crypto.randomBytes(4);
      const n = payload.length;
      const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n])
        : n < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 255])
          : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
      const body = Buffer.alloc(n);
      for (let i = 0; i < n; i++) body[i] = payload[i] ^ mask[i & 3];
      return Buffer.concat([head, mask, body]);
    };
    const finish = (info) => {
      if (c.closeInfo) return;
      c.closeInfo = info;
      closeResolve(info);
      for (const w of c.waiters) w.check();
    };
    const onMessage = (text) => {
      let m;
      try { m = JSON.parse(text); } catch { m = { raw: text }; }
      c.messages.push(m);
      for (const w of [...c.waiters]) w.check();
    };
    const parseFrames = () => {
      for (;;) {
        if (buf.length < 2) return;
        const op = buf[0] & 0x0f;
        const fin = (buf[0] & 0x80) !== 0;
        let n = buf[1] & 0x7f;
        let off = 2;
        if (n === 126) { if (buf.length < 4) return; n = buf.readUInt16BE(2); off = 4; }
        else if (n === 127) { if (buf.length < 10) return; n = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf.length < off + n) return;
        const payload = buf.subarray(off, off + n);
        buf = buf.subarray(off + n);
        if (op === 8) {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          const reason = payload.length > 2 ? payload.subarray(2).toString() : '';
          try { sock.write(frame(8, payload.subarray(0, 2))); } catch { /* gone */ }
          finish({ code, reason });
          sock.end();
        } else if (op === 9) {
          sock.write(frame(10, payload));
        } else if (op === 1 || op === 0) {
          fragments.push(Buffer.from(payload));
          if (fin) {
            const text = Buffer.concat(fragments).toString();
            fragments = [];
            onMessage(text);
          }
        }
      }
    };
    sock.once('secureConnect', () => {
      const head = [`GET ${path} HTTP/1.1`, `Host: ${host}:${port}`, 'Upgrade: websocket',
        'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Protocol: ${protocol}`];
      if (cookie) head.push(`Cookie: ${cookie}`);
      if (origin) head.push(`Origin: ${origin}`);
      sock.write(`${head.join('\r\n')}\r\n\r\n`);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        c.status = Number(lines[0].split(' ')[1]);
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) c.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        c.body = buf.subarray(end + 4).toString();
        buf = buf.subarray(end + 4);
        upgraded = true;
        clearTimeout(timer);
        if (c.status !== 101) {
          // the refusal's body may still be arriving
          setTimeout(() => { c.body = buf.toString(); sock.destroy(); resolve(c); }, 200);
          return;
        }
        resolve(c);
      }
      parseFrames();
    });
    sock.on('error', (e) => { finish({ code: 1006, reason: e.message }); if (!upgraded) { clearTimeout(timer); reject(e); } });
    sock.on('close', () => { finish({ code: 1006, reason: 'socket closed' }); if (!upgraded) { clearTimeout(timer); reject(new Error('ws connect: closed before the upgrade')); } });

    c.send = (m) => sock.write(frame(1, Buffer.from(typeof m === 'string' ? m : JSON.stringify(m))));
    c.sendRaw = (payload, opcode = 1) => sock.write(frame(opcode, payload));
    /** Resolves with the first message (after those already seen if `fresh`) matching pred. */
    c.next = (pred, ms = 5000, from = 0) => new Promise((res, rej) => {
      const w = {
        check: () => {
          const m = c.messages.slice(from).find(pred);
          if (m) { done(); res(m); } else if (c.closeInfo) { done(); rej(new Error(`closed ${JSON.stringify(c.closeInfo)} before the message; got ${JSON.stringify(c.messages)}`)); }
        },
      };
      const t = setTimeout(() => { done(); rej(new Error(`no such message within ${ms} ms; got ${JSON.stringify(c.messages)}`)); }, ms);
      const done = () => { clearTimeout(t); c.waiters = c.waiters.filter((x) => x !== w); };
      c.waiters.push(w);
      w.check();
    });
    c.close = (code = 1000) => {
      if (c.closeInfo) return c.closed;
      const p = Buffer.alloc(2);
      p.writeUInt16BE(code);
      try { sock.write(frame(8, p)); } catch { /* gone */ }
      setTimeout(() => sock.destroy(), 500);
      return c.closed;
    };
  });
}
