// Signaling client for the Mashwara WSS protocol (docs/protocol.md, "Signaling over WSS").
// One Signaling object per page. It opens wss://<host>/ws with subprotocol mashwara.v1, sends
// the hello the page gives it, and dispatches every server message as an event named after its
// `type` (plus a generic "message" event). After a drop it reconnects with backoff, unless the
// close code is fatal (44xx or 1009) or the page closed it on purpose.

export const SUBPROTOCOL = 'mashwara.v1';

// Close codes from protocol.md, with the code name the page shows when the server's error
// message did not arrive first.
export const CLOSE_CODES = {
  4403: 'not_authenticated',
  4404: 'unknown_token',
  4408: 'authentication_timeout',
  4409: 'token_in_use',
  4410: 'expired_token',
  4425: 'too_early',
  1009: 'message_too_large',
};

export function isFatalClose(code) {
  return (code >= 4400 && code < 4500) || code === 1009;
}

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const BACKOFF_MAX_MS = 10000;
// A reconnect may race our own dead connection that the server has not yet seen close;
// 4409 is then retried a few times before it is taken as final.
const IN_USE_RETRIES = 4;
const LOG_MAX = 300;

export class Signaling extends EventTarget {
  /**
   * @param {() => object} makeHello returns the hello message to send on each (re)connect
   * @param {string} [url] defaults to wss://<this host>/ws
   */
  constructor(makeHello, url) {
    super();
    this.makeHello = makeHello;
    this.url = url || `wss://${location.host}/ws`;
    this.ws = null;
    this.attempt = 0;          // consecutive failed attempts, for the backoff
    this.inUseRetries = 0;
    this.wasWelcomed = false;  // has any connection of this object been accepted
    this.closedByUs = false;
    this.timer = null;
    this.lastError = null;     // the last {type:"error", fatal:true} from the server
    this.log = [];             // received messages, newest last (tests read it)
    this.marks = {};           // epoch ms of the first connect, open and of each message type (bench/weak)
  }

  connect() {
    this.closedByUs = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.lastError = null;
    let ws;
    this.marks.connect ??= Date.now();
    try {
      ws = new WebSocket(this.url, SUBPROTOCOL);
    } catch (e) {
      this.#scheduleReconnect(0, String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.marks.open ??= Date.now();
      this.#emit('open', {});
      ws.send(JSON.stringify(this.makeHello()));
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        console.warn('signaling: not JSON from server', ev.data);
        return;
      }
      if (!msg || typeof msg.type !== 'string') return;
      this.marks[msg.type] ??= Date.now();
      this.log.push(msg);
      if (this.log.length > LOG_MAX) this.log.shift();
      if (msg.type === 'welcome') {
        const reconnected = this.wasWelcomed;
        this.wasWelcomed = true;
        this.attempt = 0;
        this.inUseRetries = 0;
        msg = { ...msg, reconnected };
      } else if (msg.type === 'error' && msg.fatal) {
        this.lastError = msg;
      }
      this.#emit(msg.type, msg);
      this.#emit('message', msg);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      const info = {
        code: ev.code,
        reason: ev.reason,
        error: this.lastError,
        codeName: (this.lastError && this.lastError.code) || CLOSE_CODES[ev.code] || null,
      };
      this.#emit('close', info);
      if (this.closedByUs) return;
      if (ev.code === 4409 && this.wasWelcomed && this.inUseRetries < IN_USE_RETRIES) {
        this.inUseRetries++;
        this.#scheduleReconnect(ev.code, ev.reason);
        return;
      }
      if (isFatalClose(ev.code)) {
        this.#emit('fatal', info);
        return;
      }
      this.#scheduleReconnect(ev.code, ev.reason);
    };
  }

  /**
   * Drops the current connection (close code 4000) and connects again at once, e.g. when the
   * page's peer connections failed: the server frees the old participant when the close
   * reaches it, and the new welcome starts the call's media afresh.
   */
  reconnectNow(reason = 'media failed') {
    const ws = this.ws;
    this.ws = null;  // its close event is ignored (not ours any more)
    if (ws) {
      try { ws.close(4000, reason); } catch { /* already closing */ }
    }
    clearTimeout(this.timer);
    this.timer = null;
    this.#emit('reconnecting', { code: 4000, reason, delay: 0, attempt: this.attempt });
    this.connect();
  }

  #scheduleReconnect(code, reason) {
    const delay = Math.min(BACKOFF_MS[this.attempt] ?? BACKOFF_MAX_MS, BACKOFF_MAX_MS);
    this.attempt++;
    this.#emit('reconnecting', { code, reason, delay, attempt: this.attempt });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Adds a handler for one message type (or "open", "close", "fatal", "reconnecting"). */
  on(type, fn) {
    this.addEventListener(type, (ev) => fn(ev.detail));
    return this;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends one message; returns false if the socket is not open (the message is dropped). */
  send(msg) {
    if (!this.isOpen) return false;
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
    return true;
  }

  /** Closes for good: no reconnect. */
  close(code = 1000, reason = 'bye') {
    this.closedByUs = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      try { this.ws.close(code, reason); } catch { /* already closing */ }
    }
  }
}
