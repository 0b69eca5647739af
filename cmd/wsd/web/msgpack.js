// msgpack.js: a small MessagePack encoder and decoder (https://msgpack.org/ spec), enough for the
// chat page: nil, booleans, integers (up to 64 bits; BigInt past 2^53), float32/64, str, bin, arrays,
// maps and ext (the timestamp ext -1 is a Date both ways; other ext types decode to {ext, data}). No dependencies.
//
//   MsgPack.encode(value) -> Uint8Array
//   MsgPack.decode(Uint8Array | ArrayBuffer) -> value     (throws on malformed or trailing input)
//
// Decoding is defensive: lengths are checked against the input before anything is allocated, nesting
// is limited to MAX_DEPTH, and maps become objects without a prototype (a "__proto__" key is just a key).
"use strict";

const MsgPack = (() => {
  const MAX_DEPTH = 64;
  const utf8In = new TextDecoder("utf-8");
  const utf8Out = new TextEncoder();

  // ---- decoding ----

  class Reader {
    constructor(bytes) {
      this.b = bytes;
      this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.p = 0;
    }
    need(n) {
      if (n > this.b.length - this.p) throw new RangeError("msgpack: truncated input at byte " + this.p);
    }
    u8() { this.need(1); return this.b[this.p++]; }
    u16() { this.need(2); const x = this.v.getUint16(this.p); this.p += 2; return x; }
    u32() { this.need(4); const x = this.v.getUint32(this.p); this.p += 4; return x; }
    i8() { this.need(1); return this.v.getInt8(this.p++); }
    i16() { this.need(2); const x = this.v.getInt16(this.p); this.p += 2; return x; }
    i32() { this.need(4); const x = this.v.getInt32(this.p); this.p += 4; return x; }
    u64() { this.need(8); const x = this.v.getBigUint64(this.p); this.p += 8; return small(x); }
    i64() { this.need(8); const x = this.v.getBigInt64(this.p); this.p += 8; return small(x); }
    f32() { this.need(4); const x = this.v.getFloat32(this.p); this.p += 4; return x; }
    f64() { this.need(8); const x = this.v.getFloat64(this.p); this.p += 8; return x; }
    bytes(n) { this.need(n); const s = this.b.slice(this.p, this.p + n); this.p += n; return s; }
    str(n) { this.need(n); const s = utf8In.decode(this.b.subarray(this.p, this.p + n)); this.p += n; return s; }
  }

  // small turns a 64-bit BigInt into a Number when no precision is lost.
  function small(x) {
    return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
  }

  function readValue(r, depth) {
    if (depth > MAX_DEPTH) throw new RangeError("msgpack: nested deeper than " + MAX_DEPTH);
    const t = r.u8();
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t <= 0x8f) return readMap(r, t & 0x0f, depth);
    if (t <= 0x9f) return readArray(r, t & 0x0f, depth);
    if (t <= 0xbf) return r.str(t & 0x1f);
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return r.bytes(r.u8());
      case 0xc5: return r.bytes(r.u16());
      case 0xc6: return r.bytes(r.u32());
      case 0xc7: return readExt(r, r.u8());
      case 0xc8: return readExt(r, r.u16());
      case 0xc9: return readExt(r, r.u32());
      case 0xca: return r.f32();
      case 0xcb: return r.f64();
      case 0xcc: return r.u8();
      case 0xcd: return r.u16();
      case 0xce: return r.u32();
      case 0xcf: return r.u64();
      case 0xd0: return r.i8();
      case 0xd1: return r.i16();
      case 0xd2: return r.i32();
      case 0xd3: return r.i64();
      case 0xd4: return readExt(r, 1);
      case 0xd5: return readExt(r, 2);
      case 0xd6: return readExt(r, 4);
      case 0xd7: return readExt(r, 8);
      case 0xd8: return readExt(r, 16);
      case 0xd9: return r.str(r.u8());
      case 0xda: return r.str(r.u16());
      case 0xdb: return r.str(r.u32());
      case 0xdc: return readArray(r, r.u16(), depth);
      case 0xdd: return readArray(r, r.u32(), depth);
      case 0xde: return readMap(r, r.u16(), depth);
      case 0xdf: return readMap(r, r.u32(), depth);
    }
    throw new TypeError("msgpack: unknown type byte 0x" + t.toString(16)); // 0xc1 is never used
  }

  function readArray(r, n, depth) {
    r.need(n); // every element takes at least one byte: a lying count fails before allocating
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = readValue(r, depth + 1);
    return a;
  }

  function readMap(r, n, depth) {
    r.need(2 * n);
    const m = Object.create(null);
    for (let i = 0; i < n; i++) {
      const k = readValue(r, depth + 1);
      m[typeof k === "string" ? k : String(k)] = readValue(r, depth + 1);
    }
    return m;
  }

  function readExt(r, n) {
    const type = r.i8();
    const data = r.bytes(n);
    if (type === -1) return timestamp(data);
    return { ext: type, data };
  }

  // timestamp decodes the ext type -1 (timestamp 32, 64 and 96) to a Date (millisecond precision).
  function timestamp(d) {
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    switch (d.length) {
      case 4: return new Date(v.getUint32(0) * 1000);
      case 8: {
        const hi = v.getUint32(0), lo = v.getUint32(4);
        const nsec = hi >>> 2, sec = (hi & 3) * 2 ** 32 + lo;
        return new Date(sec * 1000 + Math.floor(nsec / 1e6));
      }
      case 12: return new Date(Number(v.getBigInt64(4)) * 1000 + Math.floor(v.getUint32(0) / 1e6));
    }
    throw new RangeError("msgpack: bad timestamp length " + d.length);
  }

  function decode(input) {
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    const r = new Reader(bytes);
    const v = readValue(r, 1);
    if (r.p !== bytes.length) throw new RangeError("msgpack: " + (bytes.length - r.p) + " bytes after the value");
    return v;
  }

  // ---- encoding ----

  class Writer {
    constructor() {
      this.b = new Uint8Array(64);
      this.v = new DataView(this.b.buffer);
      this.p = 0;
    }
    room(n) {
      if (this.p + n <= this.b.length) return;
      let size = this.b.length * 2;
      while (size < this.p + n) size *= 2;
      const b = new Uint8Array(size);
      b.set(this.b.subarray(0, this.p));
      this.b = b;
      this.v = new DataView(b.buffer);
    }
    u8(x) { this.room(1); this.b[this.p++] = x; }
    u16(x) { this.room(2); this.v.setUint16(this.p, x); this.p += 2; }
    u32(x) { this.room(4); this.v.setUint32(this.p, x); this.p += 4; }
    u64(x) { this.room(8); this.v.setBigUint64(this.p, x); this.p += 8; }
    i64(x) { this.room(8); this.v.setBigInt64(this.p, x); this.p += 8; }
    f64(x) { this.room(8); this.v.setFloat64(this.p, x); this.p += 8; }
    raw(bytes) { this.room(bytes.length); this.b.set(bytes, this.p); this.p += bytes.length; }
    // head writes a str/bin/array/map header: the fix form when there is one, then 8, 16, 32 bits.
    head(n, fix, fixMax, t8, t16, t32) {
      if (fix !== null && n <= fixMax) this.u8(fix | n);
      else if (t8 !== null && n <= 0xff) { this.u8(t8); this.u8(n); }
      else if (n <= 0xffff) { this.u8(t16); this.u16(n); }
      else if (n <= 0xffffffff) { this.u8(t32); this.u32(n); }
      else throw new RangeError("msgpack: too long: " + n);
    }
  }

  function writeInt(w, x) {
    if (x >= 0) {
      if (x <= 0x7f) w.u8(x);
      else if (x <= 0xff) { w.u8(0xcc); w.u8(x); }
      else if (x <= 0xffff) { w.u8(0xcd); w.u16(x); }
      else if (x <= 0xffffffff) { w.u8(0xce); w.u32(x); }
      else { w.u8(0xcf); w.u64(BigInt(x)); }
    } else if (x >= -32) w.u8(x + 0x100);
    else if (x >= -0x80) { w.u8(0xd0); w.u8(x + 0x100); }
    else if (x >= -0x8000) { w.u8(0xd1); w.u16(x + 0x10000); }
    else if (x >= -0x80000000) { w.u8(0xd2); w.u32(x + 0x100000000); }
    else { w.u8(0xd3); w.i64(BigInt(x)); }
  }

  function writeBigInt(w, x) {
    if (x >= -(2n ** 63n) && x < 0n) { w.u8(0xd3); w.i64(x); }
    else if (x >= 0n && x < 2n ** 64n) { w.u8(0xcf); w.u64(x); }
    else throw new RangeError("msgpack: integer out of 64-bit range");
  }

  // writeTimestamp writes a Date as the timestamp ext -1: 64-bit form when the seconds fit in 34 bits.
  function writeTimestamp(w, ms) {
    if (!Number.isFinite(ms)) throw new RangeError("msgpack: invalid Date");
    const sec = Math.floor(ms / 1000), nsec = (ms - sec * 1000) * 1e6;
    if (sec >= 0 && sec < 2 ** 34) {
      w.u8(0xd7); w.u8(0xff);
      w.u32(nsec * 4 + Math.floor(sec / 2 ** 32));
      return w.u32(sec % 2 ** 32);
    }
    w.u8(0xc7); w.u8(12); w.u8(0xff);
    w.u32(nsec);
    return w.i64(BigInt(sec));
  }

  function writeValue(w, x, depth) {
    if (depth > MAX_DEPTH) throw new RangeError("msgpack: nested deeper than " + MAX_DEPTH);
    if (x === null || x === undefined) return w.u8(0xc0);
    switch (typeof x) {
      case "boolean": return w.u8(x ? 0xc3 : 0xc2);
      case "number":
        if (Number.isSafeInteger(x)) return writeInt(w, x);
        w.u8(0xcb);
        return w.f64(x);
      case "bigint": return writeBigInt(w, x);
      case "string": {
        const s = utf8Out.encode(x);
        w.head(s.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
        return w.raw(s);
      }
    }
    if (x instanceof Uint8Array || x instanceof ArrayBuffer) {
      const b = x instanceof Uint8Array ? x : new Uint8Array(x);
      w.head(b.length, null, 0, 0xc4, 0xc5, 0xc6);
      return w.raw(b);
    }
    if (x instanceof Date) return writeTimestamp(w, x.getTime());
    if (Array.isArray(x)) {
      w.head(x.length, 0x90, 15, null, 0xdc, 0xdd);
      for (const v of x) writeValue(w, v, depth + 1);
      return;
    }
    if (typeof x === "object") {
      // Like JSON.stringify, keys whose value is undefined or a function are left out.
      const keys = Object.keys(x).filter((k) => x[k] !== undefined && typeof x[k] !== "function");
      w.head(keys.length, 0x80, 15, null, 0xde, 0xdf);
      for (const k of keys) {
        writeValue(w, k, depth + 1);
        writeValue(w, x[k], depth + 1);
      }
      return;
    }
    throw new TypeError("msgpack: cannot encode a " + typeof x);
  }

  function encode(value) {
    const w = new Writer();
    writeValue(w, value, 1);
    return w.b.slice(0, w.p);
  }

  return Object.freeze({ encode, decode });
})();
