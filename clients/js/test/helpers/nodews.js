// A minimal RFC 6455 client over node:http, shaped like the browser's WebSocket (the subset the
// client uses: readyState, send, close, onopen/onmessage/onclose/onerror), for the tests on
// Node 20, whose global WebSocket is behind --experimental-websocket. It also offers what a browser
// cannot do and the tests need: drop() cuts the TCP connection without a close handshake (a network
// failure), pause() and resume() stop and restart reading (a slow consumer).
//
// No extensions are offered (no permessage-deflate), no TLS: tests talk to 127.0.0.1.
import { request } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;

export class NodeWebSocket {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  constructor(url, protocols) {
    this.url = String(url);
    this.readyState = CONNECTING;
    this.protocol = '';
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this.trace = null; // (direction "in" | "out", data): every data message, for tests
    this.socket = null;
    this.buf = Buffer.alloc(0);
    this.fragments = null; // [opcode, ...Buffers] of a fragmented message
    this.closeSent = false;
    this.closeInfo = null;
    const u = new URL(this.url.replace(/^ws/, 'http'));
    const key = randomBytes(16).toString('base64');
    const headers = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key };
    if (protocols && protocols.length) headers['Sec-WebSocket-Protocol'] = [].concat(protocols).join(', ');
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers });
    this.req = req;
    req.on('upgrade', (res, socket, head) => {
      if (this.readyState === CLOSED) {
        socket.destroy(); // closed while connecting
        return;
      }
      const want = createHash('sha1').update(key + GUID).digest('base64');
      if (res.headers['sec-websocket-accept'] !== want) {
        socket.destroy();
        this.fail('bad Sec-WebSocket-Accept');
        return;
      }
      this.protocol = res.headers['sec-websocket-protocol'] || '';
      this.attach(socket, head);
    });
    req.on('response', (res) => {
      res.resume();
      this.fail(`upgrade refused: HTTP ${res.statusCode}`);
    });
    req.on('error', (err) => this.fail(err.message));
    req.end();
  }

  attach(socket, head) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.receive(d));
    socket.on('error', () => {});
    socket.on('close', () => this.finish(1006, '', false));
    this.readyState = OPEN;
    this.onopen?.({ type: 'open' });
    if (head.length) this.receive(head);
  }

  fail(reason) {
    if (this.readyState === CLOSED) return;
    this.onerror?.({ type: 'error', message: reason });
    this.finish(1006, '', false);
  }

  finish(code, reason, wasClean) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.socket?.destroy();
    const info = this.closeInfo ?? { code, reason, wasClean };
    this.onclose?.({ type: 'close', ...info });
  }

  send(data) {
    if (this.readyState !== OPEN) throw new Error('WebSocket is not open');
    this.trace?.('out', data);
    const text = typeof data === 'string';
    this.writeFrame(text ? 1 : 2, text ? Buffer.from(data) : Buffer.from(data));
  }

  close(code = 1000, reason = '') {
    if (this.readyState === CLOSED || this.readyState === CLOSING) return;
    if (this.readyState === CONNECTING) {
      this.req.destroy();
      this.finish(1006, '', false);
      return;
    }
    this.readyState = CLOSING;
    const r = Buffer.from(reason);
    const p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code, 0);
    r.copy(p, 2);
    this.writeFrame(8, p);
    this.closeSent = true;
    setTimeout(() => this.finish(1006, '', false), 2000).unref();
  }

  // drop destroys the TCP connection at once: no close frame, the peer sees a reset or EOF.
  drop() {
    if (this.socket) this.socket.resetAndDestroy?.() ?? this.socket.destroy();
    this.finish(1006, '', false);
  }

  // pause stops reading from the socket (the server's writes back up); resume reads again.
  pause() { this.socket?.pause(); }
  resume() { this.socket?.resume(); }

  writeFrame(opcode, payload) {
    const mask = randomBytes(4);
    const n = payload.length;
    const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
    const h = Buffer.alloc(2 + ext + 4);
    h[0] = 0x80 | opcode;
    if (ext === 0) h[1] = 0x80 | n;
    else if (ext === 2) { h[1] = 0x80 | 126; h.writeUInt16BE(n, 2); }
    else { h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(n), 2); }
    mask.copy(h, 2 + ext);
    const masked = Buffer.alloc(n);
    for (let i = 0; i < n; i++) masked[i] = payload[i] ^ mask[i & 3];
    this.socket.write(Buffer.concat([h, masked]));
  }

  receive(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const f = this.parse();
      if (!f) return;
      this.frame(f);
      if (this.readyState === CLOSED) return;
    }
  }

  // parse takes one whole frame off the buffer, or returns null when it holds less.
  parse() {
    const b = this.buf;
    if (b.length < 2) return null;
    let n = b[1] & 0x7f, off = 2;
    if (n === 126) {
      if (b.length < 4) return null;
      n = b.readUInt16BE(2); off = 4;
    } else if (n === 127) {
      if (b.length < 10) return null;
      n = Number(b.readBigUInt64BE(2)); off = 10;
    }
    if (b[1] & 0x80) off += 4; // servers do not mask; tolerate it anyway
    if (b.length < off + n) return null;
    let payload = b.subarray(off, off + n);
    if (b[1] & 0x80) {
      const m = b.subarray(off - 4, off);
      payload = Buffer.from(payload.map((x, i) => x ^ m[i & 3]));
    }
    this.buf = b.subarray(off + n);
    return { fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload };
  }

  frame({ fin, opcode, payload }) {
    switch (opcode) {
      case 0x9: this.writeFrame(0xa, payload); return; // ping
      case 0xa: return; // pong
      case 0x8: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? payload.subarray(2).toString() : '';
        this.closeInfo = { code, reason, wasClean: true };
        if (!this.closeSent && this.readyState === OPEN) {
          this.readyState = CLOSING;
          this.writeFrame(8, payload.subarray(0, 2));
          this.closeSent = true;
        }
        this.socket.end();
        return;
      }
    }
    if (opcode !== 0) this.fragments = [opcode];
    this.fragments.push(Buffer.from(payload));
    if (!fin) return;
    const [op, ...parts] = this.fragments;
    this.fragments = null;
    const data = Buffer.concat(parts);
    if (this.readyState !== OPEN) return;
    this.trace?.('in', op === 1 ? data.toString() : data);
    this.onmessage?.({ type: 'message', data: op === 1 ? data.toString() : data });
  }
}
