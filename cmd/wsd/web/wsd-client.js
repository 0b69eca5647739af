// @wsd/client: a client for wsd's /ws protocol (docs/protocol.md) for browsers and Node >= 20.
//
// connect(url, options) returns a Client at once and connects in the background. join, leave,
// publish and presence return promises settled by the server's acknowledgements. The client keeps,
// per room, the position (epoch, offset) of the last message it delivered; after a reconnect it
// rejoins every room from that position, so wsd replays what was missed (or says why it cannot:
// the recoveryFailed event), and it rejoins a room the same way when it sees a gap in the offsets.
// Messages are delivered once each and in offset order. See README.md.

/** Errors of the client; `code` says what happened (see README.md). */
export class WsdError extends Error {
  constructor(message, { code, room, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WsdError';
    this.code = code;
    if (room !== undefined) this.room = room;
  }
}

const DEFAULT_BACKOFF = { min: 500, max: 10000 };
const DEFAULT_TIMEOUT = 10000;
/** A connection that stayed open this long resets the backoff to its minimum. */
const STABLE_AFTER = 5000;

/**
 * connect opens a client on a wsd /ws URL (ws://, wss://, http(s):// or, in a browser, a path).
 * @param {string | (() => string | Promise<string>)} url
 * @param {object} [options] see index.d.ts (ClientOptions)
 */
export function connect(url, options = {}) {
  return new Client(url, options);
}

export class Client {
  #url;
  #opts;
  #WS;
  #backoff;
  #ws = null; // the current socket (connecting or open), null between connections
  #state = 'connecting'; // connecting | open | disconnected | closed
  #listeners = new Map();
  #rooms = new Map(); // name -> room state, in join order (the rejoin order)
  #pending = new Map(); // id -> request sent on the current socket, waiting for its answer
  #queue = []; // requests not sent yet, in call order
  #inflight = new Map(); // room name -> id of its join in flight on the current socket
  #nextId = 1;
  #attempt = 0;
  #timer = null; // reconnect delay or connect timeout
  #pumpTimer = null; // rate-limit wait
  #openedAt = 0;
  #connectedBefore = false;
  #closing = null;
  #tokens = 0;
  #refilled = 0;

  constructor(url, options = {}) {
    this.#WS = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WS !== 'function') {
      throw new TypeError('@wsd/client: no WebSocket: pass options.WebSocket, or use Node >= 22 ' +
        '(Node 20 and 21: run with --experimental-websocket)');
    }
    if (typeof url === 'string') wsURL(url); // a malformed URL throws here, not on every attempt
    else if (typeof url !== 'function') throw new TypeError('@wsd/client: url must be a string or a function');
    this.#url = url;
    this.#opts = { timeout: DEFAULT_TIMEOUT, ...options };
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    if (options.rateLimit) this.#tokens = options.rateLimit.burst ?? Math.max(1, options.rateLimit.messages);
    this.#refilled = Date.now();
    this.#connect();
  }

  /** The connection state: "connecting", "open", "disconnected" (waiting to reconnect) or "closed". */
  get state() {
    return this.#state;
  }

  // ---- events

  /** on adds a listener for an event and returns a function that removes it. */
  on(type, fn) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => this.off(type, fn);
  }

  /** off removes a listener added with on. */
  off(type, fn) {
    this.#listeners.get(type)?.delete(fn);
  }

  /** once resolves with the next event of a type. */
  once(type) {
    return new Promise((resolve) => {
      const off = this.on(type, (ev) => {
        off();
        resolve(ev);
      });
    });
  }

  #emit(type, ev) {
    const set = this.#listeners.get(type);
    if (set) for (const fn of [...set]) call(fn, ev);
  }

  // ---- requests

  /**
   * join joins a room; handler is an onMessage function or {onMessage, onPresence, since}. It
   * resolves with the join's acknowledgement (the room's position) once the server has it.
   */
  join(room, handler) {
    if (!isRoom(room)) return Promise.reject(new TypeError('@wsd/client: room must be a non-empty string'));
    if (this.#state === 'closed') return Promise.reject(closedError(room));
    const opts = typeof handler === 'function' ? { onMessage: handler } : { ...handler };
    let r = this.#rooms.get(room);
    if (!r) {
      r = newRoom(room, opts.since);
      this.#rooms.set(room, r);
      this.#queue.push({ kind: 'join', room, state: r });
    }
    if (opts.onMessage) r.onMessage.add(opts.onMessage);
    if (opts.onPresence) r.onPresence.add(opts.onPresence);
    if (r.ack && r.acked) return Promise.resolve(r.ack);
    const p = new Promise((resolve, reject) => r.waiters.push({ resolve, reject }));
    this.#pump();
    return p;
  }

  /**
   * leave leaves a room: its messages stop at once, the promise resolves when the server
   * acknowledged (at once when the current connection is not in the room).
   */
  leave(room) {
    const r = this.#rooms.get(room);
    if (!r) return Promise.resolve({ room });
    this.#rooms.delete(room);
    settle(r.waiters, null, new WsdError(`left room ${room} before it was joined`, { code: 'left', room }));
    if (this.#state !== 'open' || (!r.acked && !r.join)) {
      this.#queue = this.#queue.filter((q) => q.state !== r);
      return Promise.resolve({ room });
    }
    return this.#request('leave', room, `{"type":"leave","room":${JSON.stringify(room)}`);
  }

  /**
   * publish sends data (any JSON value) to a room the client is in; it resolves with
   * {room, offset, epoch, delivered} once the publication has its position.
   */
  publish(room, data) {
    if (this.#state === 'closed') return Promise.reject(closedError(room));
    if (!isRoom(room)) return Promise.reject(new TypeError('@wsd/client: room must be a non-empty string'));
    let text;
    try {
      text = JSON.stringify(data === undefined ? null : data) ?? 'null';
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#request('publish', room, `{"type":"publish","room":${JSON.stringify(room)},"data":${text}`);
  }

  /** presence resolves with who is in a room the client is in: [{user, conn}]. */
  presence(room) {
    if (this.#state === 'closed') return Promise.reject(closedError(room));
    return this.#request('presence', room, `{"type":"presence","room":${JSON.stringify(room)}`);
  }

  /** position is the room's position as of the last message delivered: {offset, epoch}, or undefined. */
  position(room) {
    const r = this.#rooms.get(room);
    return r?.epoch ? { offset: r.offset, epoch: r.epoch } : undefined;
  }

  /** rooms lists the rooms the client is in (or joining), in join order. */
  rooms() {
    return [...this.#rooms.keys()];
  }

  /**
   * close closes the connection and stops reconnecting; every request not answered yet is rejected
   * (code "closed"). It resolves once the socket is closed.
   */
  close(code = 1000, reason = '') {
    if (this.#closing) return this.#closing;
    const ws = this.#ws;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.#ws = null;
    clearTimeout(this.#timer);
    clearTimeout(this.#pumpTimer);
    for (const req of [...this.#pending.values(), ...this.#queue]) {
      clearTimeout(req.timer);
      req.reject?.(closedError(req.room));
    }
    this.#pending.clear();
    this.#queue = [];
    this.#inflight.clear();
    for (const r of this.#rooms.values()) settle(r.waiters, null, closedError(r.name));
    this.#closing = new Promise((resolve) => {
      if (!ws || ws.readyState >= 2) return resolve();
      ws.onclose = () => resolve();
      ws.onmessage = ws.onopen = null;
      setTimeout(resolve, 3000).unref?.();
      try {
        ws.close(code, reason);
      } catch {
        resolve();
      }
    });
    if (wasOpen) this.#emit('disconnected', { code, reason, wasClean: true });
    return this.#closing;
  }

  // #request queues a request; frame is its JSON without the closing "id" and brace.
  #request(kind, room, frame) {
    if (!isRoom(room)) return Promise.reject(new TypeError('@wsd/client: room must be a non-empty string'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind, room, frame, resolve, reject });
      this.#pump();
    });
  }

  // #pump sends queued requests in order while the socket is open. A request for a room whose join
  // is in flight waits for that join's answer (and holds the ones behind it), so that wsd handles it
  // once the connection is in the room.
  #pump() {
    clearTimeout(this.#pumpTimer);
    while (this.#state === 'open' && this.#queue.length > 0) {
      const q = this.#queue[0];
      if (q.kind === 'join') {
        this.#queue.shift();
        if (this.#rooms.get(q.room) === q.state && !q.state.join && !q.state.acked) this.#sendJoin(q.state, 'join');
        continue;
      }
      if (this.#inflight.has(q.room)) return;
      const wait = this.#take();
      if (wait > 0) {
        this.#pumpTimer = setTimeout(() => this.#pump(), wait);
        return;
      }
      this.#queue.shift();
      this.#send(q);
    }
  }

  // #take takes a token of the client-side rate limit: 0 when one was available, else the wait.
  #take() {
    const rl = this.#opts.rateLimit;
    if (!rl) return 0;
    const now = Date.now();
    const burst = rl.burst ?? Math.max(1, rl.messages);
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilled) * rl.messages) / 1000);
    this.#refilled = now;
    if (this.#tokens >= 1) {
      this.#tokens--;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / rl.messages);
  }

  #send(req) {
    const id = this.#nextId++;
    req.id = id;
    this.#pending.set(id, req);
    if (this.#opts.timeout > 0) {
      req.timer = setTimeout(() => this.#timedOut(req), this.#opts.timeout);
    }
    this.#write(`${req.frame},"id":${id}}`);
  }

  #write(text) {
    try {
      this.#ws.send(text);
    } catch (err) {
      this.#abandon(`send failed: ${err.message}`);
    }
  }

  // #sendJoin sends a room's join, from its position when it has one. Until the answer, the room's
  // messages are buffered (they cannot be placed before the answer says which epoch they are in).
  #sendJoin(r, cause) {
    const since = r.epoch ? { offset: r.offset, epoch: r.epoch } : r.since;
    const id = this.#nextId++;
    r.join = { id, since, cause };
    r.acked = false;
    this.#inflight.set(r.name, id);
    const req = { kind: 'join', room: r.name, state: r, id };
    if (this.#opts.timeout > 0) req.timer = setTimeout(() => this.#timedOut(req), this.#opts.timeout);
    this.#pending.set(id, req);
    this.#take();
    const s = since ? `,"since":${JSON.stringify({ offset: since.offset, epoch: since.epoch })}` : '';
    this.#write(`{"type":"join","room":${JSON.stringify(r.name)}${s},"id":${id}}`);
  }

  // #timedOut: a join without an answer means the connection does not work (reconnect); another
  // request is rejected.
  #timedOut(req) {
    if (this.#pending.get(req.id) !== req) return;
    if (req.kind === 'join') {
      this.#abandon(`no answer to the join of room ${req.room} within ${this.#opts.timeout} ms`);
      return;
    }
    this.#pending.delete(req.id);
    req.reject(new WsdError(`no answer to ${req.kind} within ${this.#opts.timeout} ms`, { code: 'timeout', room: req.room }));
  }

  // ---- connection

  async #connect() {
    this.#state = 'connecting';
    let target;
    try {
      const [url, token] = await Promise.all([value(this.#url), value(this.#opts.token)]);
      target = wsURL(url, { token, user: this.#opts.user, params: this.#opts.params });
    } catch (err) {
      if (this.#state === 'closed') return;
      this.#emit('error', new WsdError(`cannot connect: ${err.message}`, { code: 'connect', cause: err }));
      this.#reconnect();
      return;
    }
    if (this.#state === 'closed') return;
    let ws;
    try {
      ws = new this.#WS(target);
    } catch (err) {
      this.#emit('error', new WsdError(`cannot connect: ${err.message}`, { code: 'connect', cause: err }));
      this.#reconnect();
      return;
    }
    this.#ws = ws;
    ws.onopen = () => ws === this.#ws && this.#onOpen();
    ws.onmessage = (e) => ws === this.#ws && this.#onMessage(e.data);
    ws.onclose = (e) => ws === this.#ws && this.#onClose(e.code, e.reason, e.wasClean);
    ws.onerror = () => {}; // a close event follows
    if (this.#opts.timeout > 0) {
      this.#timer = setTimeout(() => ws === this.#ws && this.#abandon('connect timeout'), this.#opts.timeout);
    }
  }

  #onOpen() {
    clearTimeout(this.#timer);
    this.#state = 'open';
    this.#openedAt = Date.now();
    const reconnect = this.#connectedBefore;
    this.#connectedBefore = true;
    for (const r of this.#rooms.values()) {
      if (!r.join) this.#sendJoin(r, r.epoch ? 'reconnect' : 'join');
    }
    this.#emit('connected', { reconnect });
    this.#pump();
  }

  // #abandon gives up on the current socket as if it had closed, then closes it.
  #abandon(reason) {
    const ws = this.#ws;
    if (!ws) return;
    this.#onClose(1006, reason, false);
    try {
      ws.close(4000, reason.slice(0, 120));
    } catch {
      // closing a dead socket
    }
  }

  #onClose(code, reason, wasClean) {
    if (this.#state === 'closed') return;
    clearTimeout(this.#timer);
    clearTimeout(this.#pumpTimer);
    const wasOpen = this.#state === 'open';
    this.#ws = null;
    this.#state = 'disconnected';
    if (wasOpen && Date.now() - this.#openedAt >= STABLE_AFTER) this.#attempt = 0;
    this.#dropConnectionState();
    if (wasOpen) this.#emit('disconnected', { code, reason, wasClean });
    this.#reconnect();
  }

  // #dropConnectionState settles what belonged to the lost socket: joins are redone by the
  // rejoin, unacknowledged publishes are rejected (they may or may not have been made), presence
  // requests are asked again, leaves are done (the next connection is not in the room).
  #dropConnectionState() {
    const again = [];
    for (const req of this.#pending.values()) {
      clearTimeout(req.timer);
      if (req.kind === 'publish') {
        req.reject(new WsdError('connection lost before the acknowledgement: the publication may or may not have been made',
          { code: 'disconnected', room: req.room }));
      } else if (req.kind === 'presence') again.push(req);
      else if (req.kind === 'leave') req.resolve({ room: req.room });
    }
    this.#pending.clear();
    this.#inflight.clear();
    const queued = [];
    for (const q of this.#queue) {
      if (q.kind === 'leave') q.resolve({ room: q.room });
      else if (q.kind !== 'join') queued.push(q);
    }
    this.#queue = [...again, ...queued];
    for (const r of this.#rooms.values()) {
      r.join = null;
      r.acked = false;
      r.buffer = [];
    }
  }

  #reconnect() {
    const n = this.#attempt++;
    const cap = Math.min(this.#backoff.max, this.#backoff.min * 2 ** Math.min(n, 30));
    const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
    this.#emit('reconnecting', { attempt: n + 1, delay });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  // ---- server messages

  #onMessage(data) {
    let m;
    try {
      m = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
    } catch {
      this.#emit('error', new WsdError('the server sent a message that is not JSON', { code: 'protocol' }));
      return;
    }
    switch (m?.type) {
      case 'message': {
        const r = this.#rooms.get(m.room);
        if (r) this.#apply(r, m);
        return;
      }
      case 'ack':
        this.#onAnswer(m.id, m.data, null);
        return;
      case 'error':
        this.#onAnswer(m.id, null, m.error);
        return;
      case 'presence':
        this.#onPresence(m);
    }
  }

  #onAnswer(id, data, error) {
    const req = id === undefined ? undefined : this.#pending.get(id);
    if (!req) {
      if (error !== null) {
        const code = error === 'rate limited' ? 'rate_limited' : 'server';
        this.#emit('error', new WsdError(error, { code }));
      }
      return;
    }
    this.#pending.delete(id);
    clearTimeout(req.timer);
    if (req.kind === 'join') {
      if (this.#inflight.get(req.room) === id) this.#inflight.delete(req.room);
      if (error === null) this.#joined(req.state, id, data ?? {});
      else this.#joinRefused(req.state, id, error);
      this.#pump();
      return;
    }
    if (error !== null && req.kind !== 'leave') {
      req.reject(new WsdError(error, { code: 'server', room: req.room }));
    } else if (req.kind === 'presence') {
      req.resolve(data?.clients ?? []);
    } else if (req.kind === 'leave') {
      req.resolve({ room: req.room });
    } else {
      req.resolve(data ?? { room: req.room });
    }
  }

  // #joined handles a join's acknowledgement: it fixes the room's position, delivers the messages
  // buffered during the join (the replayed ones first: they are sorted by offset, duplicates dropped),
  // reports the recovery, and resolves the join's promise.
  #joined(r, id, ack) {
    if (this.#rooms.get(r.name) !== r || r.join?.id !== id) return; // left meanwhile
    const { since, cause } = r.join;
    const recovered = since !== undefined && ack.recovered === true;
    r.join = null;
    r.acked = true;
    r.ack = ack;
    if (recovered) {
      r.epoch = ack.epoch ?? since.epoch;
      r.offset = since.offset;
    } else {
      r.epoch = ack.epoch;
      r.offset = ack.offset ?? 0;
    }
    const buffered = r.buffer.sort((a, b) => (a.offset || 0) - (b.offset || 0));
    r.buffer = [];
    for (const m of buffered) this.#apply(r, m);
    if (recovered && r.acked && r.offset < ack.offset) this.#gap(r, null); // replayed ones were dropped
    const position = { offset: ack.offset, epoch: ack.epoch };
    if (recovered) {
      this.#emit('recovered', { room: r.name, missed: ack.missed ?? 0, cause, position });
    } else if (since !== undefined) {
      this.#emit('recoveryFailed', { room: r.name, reason: ack.reason ?? 'unknown', cause, since, position });
    }
    settle(r.waiters, ack, null);
  }

  #joinRefused(r, id, error) {
    if (this.#rooms.get(r.name) !== r || r.join?.id !== id) return;
    this.#rooms.delete(r.name);
    const err = new WsdError(error, { code: 'server', room: r.name });
    if (r.waiters.length > 0) settle(r.waiters, null, err);
    else this.#emit('error', new WsdError(`rejoin of room ${r.name} refused: ${error}`, { code: 'rejoin', room: r.name }));
  }

  // #apply delivers a message once, in offset order: a duplicate (offset not past the last one) is
  // dropped; a gap (a later offset) rejoins the room from the last one to recover what is missing.
  #apply(r, m) {
    if (!r.acked) {
      r.buffer.push(m);
      return;
    }
    const off = m.offset;
    if (typeof off === 'number' && off > 0) {
      if (off <= r.offset) return;
      if (off > r.offset + 1 && r.epoch) {
        this.#gap(r, m);
        return;
      }
      r.offset = off;
    }
    const msg = { room: r.name, offset: off, epoch: r.epoch, data: m.data };
    if (typeof m.binary === 'string') msg.binary = base64(m.binary);
    const data = 'data' in m ? m.data : msg.binary;
    for (const fn of [...r.onMessage]) call(fn, data, msg);
    this.#emit('message', msg);
  }

  #gap(r, m) {
    if (this.#state !== 'open') return;
    this.#sendJoin(r, 'gap');
    r.buffer = m ? [m] : [];
  }

  #onPresence(m) {
    const r = this.#rooms.get(m.room);
    if (!r) return;
    const ev = { room: m.room, event: m.event, client: m.client };
    for (const fn of [...r.onPresence]) call(fn, ev);
    this.#emit('presence', ev);
  }
}

function newRoom(name, since) {
  return {
    name,
    since: since && typeof since.epoch === 'string' ? { offset: since.offset ?? 0, epoch: since.epoch } : undefined,
    epoch: undefined, // the epoch and offset of the last message delivered (or of the join)
    offset: 0,
    acked: false, // joined on the current socket
    join: null, // {id, since, cause} of the join in flight
    ack: null, // the last join acknowledgement
    buffer: [], // messages received while the join is in flight
    waiters: [], // promises of join() calls waiting for the first acknowledgement
    onMessage: new Set(),
    onPresence: new Set(),
  };
}

function settle(waiters, value, err) {
  for (const w of waiters.splice(0)) {
    if (err) w.reject(err);
    else w.resolve(value);
  }
}

function isRoom(room) {
  return typeof room === 'string' && room !== '';
}

function closedError(room) {
  return new WsdError('the client is closed', { code: 'closed', room });
}

// call runs a listener; what it throws is reported (as an event listener's would be) without
// stopping the delivery to the others.
function call(fn, ...args) {
  try {
    fn(...args);
  } catch (err) {
    if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
    else setTimeout(() => { throw err; });
  }
}

async function value(v) {
  return typeof v === 'function' ? v() : v;
}

// wsURL resolves url (relative to the page in a browser), maps http(s) to ws(s) and adds the
// token, the user and extra parameters to its query.
function wsURL(url, { token, user, params } = {}) {
  const u = new URL(url, globalThis.location?.href);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`@wsd/client: not a WebSocket URL: ${url}`);
  for (const [k, v] of Object.entries(params ?? {})) u.searchParams.set(k, String(v));
  if (user != null && user !== '') u.searchParams.set('user', String(user));
  if (token != null && token !== '') u.searchParams.set('token', String(token));
  return u.href;
}

function base64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
