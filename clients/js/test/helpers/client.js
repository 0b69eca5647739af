// Test helpers around the client: a client on the test WebSocket (whose sockets the test can drop or
// pause), an event recorder, a gate for the URL function (to keep a client away while the test
// publishes), and a message log that checks order and duplicates.
import { connect } from '../../index.js';
import { NodeWebSocket } from './nodews.js';

/**
 * testClient connects a client through NodeWebSocket with a short backoff; sockets() lists the
 * sockets it opened (the last one is the current one). It is closed when the test ends.
 */
export function testClient(t, url, options = {}) {
  const sockets = [];
  const frames = []; // [socket number, "in" | "out", parsed JSON] of every data message
  class TrackedWebSocket extends NodeWebSocket {
    constructor(u, p) {
      super(u, p);
      const n = sockets.push(this);
      this.trace = (dir, data) => frames.push([n, dir, JSON.parse(data)]);
    }
  }
  const client = connect(url, { WebSocket: TrackedWebSocket, backoff: { min: 20, max: 200 }, ...options });
  t.after(() => client.close());
  return { client, sockets, frames, socket: () => sockets.at(-1) };
}

/** wire summarizes frames: "out join a#1", "in ack #1", "in message a@3", "in error #2". */
export function wire(frames, socket) {
  return frames.filter(([n]) => socket === undefined || n === socket).map(([, dir, m]) => {
    const id = m.id === undefined ? '' : `#${m.id}`;
    switch (m.type) {
      case 'message': return `${dir} message ${m.room}@${m.offset}`;
      case 'ack': case 'error': return `${dir} ${m.type} ${id}`;
      default: return `${dir} ${m.type} ${m.room ?? ''}${m.since ? `~${m.since.offset}` : ''}${id}`;
    }
  });
}

/** record collects every event of the given types, in order, as [type, payload]. */
export function record(client, types) {
  const events = [];
  for (const type of types) client.on(type, (ev) => events.push([type, ev]));
  events.of = (type) => events.filter(([t]) => t === type).map(([, ev]) => ev);
  return events;
}

/**
 * gate makes a URL function: it answers at once while open; once closed (shut()), calls wait until
 * open(u) opens it again (with a new URL when u is given).
 */
export function gate(url) {
  let current = url;
  let waiting = null;
  let release = null;
  return {
    url: () => (waiting ? waiting.then(() => current) : current),
    shut() {
      waiting ??= new Promise((r) => { release = r; });
    },
    open(u) {
      if (u) current = u;
      const r = release;
      waiting = release = null;
      r?.();
    },
  };
}

/** messages returns a room handler and the list of what it received: [{offset, data}]. */
export function messages() {
  const got = [];
  const handler = (data, msg) => got.push({ offset: msg.offset, data });
  return { got, handler };
}

/** checkSequence asserts offsets from..to, each exactly once and in order. */
export function sequenceProblems(got, from, to) {
  const problems = [];
  if (got.length !== to - from + 1) problems.push(`received ${got.length} messages, want ${to - from + 1}`);
  for (let i = 0; i < got.length; i++) {
    if (got[i].offset !== from + i) {
      problems.push(`message #${i} has offset ${got[i].offset}, want ${from + i}`);
      break;
    }
  }
  return problems;
}
