// app.js: the wsd chat page. One WebSocket to /chat/<room>?user=<name> on the page's own host:
//   server -> page: text notices ("bob joined the room"), the others' chat lines
//                   {"user","message","timestamp"}, the text "Switched to room: R" answering a
//                   join-room, and errors {"error"[,"room"]}
//   page -> server: {"type":"message","content"} and {"type":"join-room","room"}
// The server sends a chat line to the others in the room, not back to its sender: the page shows its
// own lines itself when it sends them (marked "mine").
// With ?codec=msgpack the page offers the "msgpack" subprotocol; chat lines, errors and what it sends
// are then MessagePack in binary frames (notices stay text). The live count polls /rooms/<room>/info.
// User text only ever reaches the DOM through textContent.
"use strict";

(() => {
  const BACKOFF_BASE = 500;   // ms: the first retry waits 250-500 ms
  const BACKOFF_CAP = 10000;  // ms: no retry waits longer than this
  const POLL_EVERY = 2000;    // ms between GET /rooms/<room>/info
  const MAX_LOG = 500;        // log entries kept
  const SWITCHED = "Switched to room: "; // the server's answer to join-room, then the room

  const $ = (id) => document.getElementById(id);
  const ui = {
    state: $("state"), setup: $("setup"), name: $("name"), room: $("room"), codecName: $("codec-name"),
    chat: $("chat"), roomInfo: $("room-info"), roomLabel: $("room-label"), count: $("count"),
    switchForm: $("switch"), nextRoom: $("next-room"), leave: $("leave"),
    log: $("log"), send: $("send"), message: $("message"),
  };
  const params = new URLSearchParams(location.search);
  const wantMsgPack = params.get("codec") === "msgpack";
  const token = params.get("token"); // passed on to the upgrade when auth is on

  const st = {
    name: "", room: "",
    switching: "",     // the room of the join-room sent last, until the server answers it
    active: false,     // the user wants to be connected (between Join and Leave)
    ws: null,          // the current socket; events of older sockets are ignored
    codec: "json",     // what the current connection negotiated
    attempt: 0,        // failed connection attempts since the last open
    everOpen: false,   // a connection was open before: the next open is a reconnection
    retryTimer: 0, pollTimer: 0, polling: false,
  };

  // ---- connection ----

  function connect() {
    clearTimeout(st.retryTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}/chat/${encodeURIComponent(st.room)}?user=${encodeURIComponent(st.name)}`;
    if (token) url += "&token=" + encodeURIComponent(token);
    const ws = wantMsgPack ? new WebSocket(url, ["msgpack"]) : new WebSocket(url);
    st.switching = ""; // an answer to a join-room of an older socket never comes
    ws.binaryType = "arraybuffer";
    st.ws = ws;
    setState(st.attempt > 0 || st.everOpen ? "reconnecting" : "connecting");
    ws.onopen = () => {
      if (st.ws !== ws) return;
      st.codec = ws.protocol === "msgpack" ? "msgpack" : "json";
      ui.state.dataset.extensions = ws.extensions; // e.g. "permessage-deflate; ..." (tests read it)
      ui.codecName.textContent = st.codec === "msgpack" ? "MessagePack" : "JSON";
      if (st.everOpen) notice(`Reconnected to #${st.room}`);
      st.attempt = 0;
      st.everOpen = true;
      setState("open", st.codec);
      poll();
    };
    ws.onmessage = (ev) => { if (st.ws === ws) receive(ev.data); };
    ws.onclose = (ev) => {
      if (st.ws !== ws) return;
      st.ws = null;
      if (!st.active) { setState("closed"); return; }
      if (st.attempt === 0 && st.everOpen) {
        notice(`Disconnected (${ev.code}${ev.reason ? " " + ev.reason : ""}); reconnecting…`, "error");
      }
      scheduleReconnect();
    };
  }

  // scheduleReconnect retries with exponential backoff, capped, with "equal jitter": half the delay is
  // fixed, half random, so a restarted server is not hit by every page at the same instant.
  function scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** Math.min(st.attempt, 16));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    st.attempt++;
    setState("reconnecting", `attempt ${st.attempt}, next in ${(delay / 1000).toFixed(1)} s`);
    st.retryTimer = setTimeout(connect, delay);
  }

  function send(obj) {
    const ws = st.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(st.codec === "msgpack" ? MsgPack.encode(obj) : JSON.stringify(obj));
    return true;
  }

  function receive(data) {
    let v;
    if (typeof data === "string") {
      if (data.charAt(0) === "{") {
        try { v = JSON.parse(data); } catch { v = undefined; }
      }
      if (v === null || typeof v !== "object") { receiveText(data); return; }
    } else {
      try { v = MsgPack.decode(new Uint8Array(data)); } catch (err) {
        notice(`Undecodable binary message (${data.byteLength} bytes): ${err.message}`, "error");
        return;
      }
      if (v === null || typeof v !== "object") { notice(String(v)); return; }
    }
    if (typeof v.user === "string" && "message" in v) {
      chatLine(v.user, String(v.message), new Date(String(v.timestamp)), false);
      return;
    }
    if (typeof v.error === "string") {
      if (v.room && v.room === st.switching) st.switching = "";
      notice(v.room ? `Cannot join #${v.room}: ${v.error}` : `Server: ${v.error}`, "error");
      return;
    }
    notice(JSON.stringify(v, (k, x) => (typeof x === "bigint" ? x.toString() : x)));
  }

  // receiveText handles a text message that is not a JSON object: the answer to the join-room the
  // page sent ("Switched to room: R", matched against the room asked for, so that a notice about a
  // user named "Switched to room: …" is not mistaken for it), or a notice ("bob joined the room").
  function receiveText(data) {
    if (st.switching && data === SWITCHED + st.switching) {
      const room = st.switching;
      st.switching = "";
      joined(room);
      return;
    }
    notice(data);
  }

  function joined(room) {
    if (room === st.room) return;
    st.room = room;
    showRoom();
    notice(`You are now in #${room}`);
    poll();
  }

  // ---- live count ----

  function startPolling() {
    clearInterval(st.pollTimer);
    st.pollTimer = setInterval(poll, POLL_EVERY);
    poll();
  }

  async function poll() {
    if (st.polling || !st.active) return;
    st.polling = true;
    const room = st.room;
    let n = null;
    try {
      const r = await fetch(`/rooms/${encodeURIComponent(room)}/info?messages=0`, { cache: "no-store" });
      if (r.ok) n = (await r.json()).connections;
    } catch { /* server down: shown as – */ }
    st.polling = false;
    if (room === st.room) ui.count.textContent = typeof n === "number" ? String(n) : "–";
  }

  // ---- UI ----

  function setState(s, detail) {
    const labels = { connecting: "connecting…", open: "open", reconnecting: "reconnecting…", closed: "closed" };
    ui.state.dataset.state = s;
    ui.state.textContent = labels[s];
    ui.state.title = detail || "";
    const open = s === "open";
    for (const b of document.querySelectorAll("#send button, #switch button")) b.disabled = !open;
  }

  function showRoom() {
    ui.roomLabel.textContent = st.room;
    ui.count.textContent = "–";
    document.title = `#${st.room} · wsd chat`;
  }

  function append(li) {
    const log = ui.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.appendChild(li);
    while (log.childElementCount > MAX_LOG) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // chatLine shows a chat line: the others' as the server sent them (at is their timestamp), the
  // page's own when it sends them (mine).
  function chatLine(user, text, at, mine) {
    const li = el("li", mine ? "msg mine" : "msg");
    li.dataset.user = user;
    const meta = el("span", "meta");
    const who = el("span", "who", user);
    who.style.setProperty("--hue", String(hue(user)));
    if (Number.isNaN(at.getTime())) at = new Date();
    const time = el("time", "", at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = at.toISOString();
    meta.append(who, time);
    li.append(meta, el("span", "text", text));
    append(li);
  }

  function notice(text, kind) {
    append(el("li", kind ? "notice " + kind : "notice", text));
  }

  function hue(s) {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  // ---- actions ----

  function join(name, room) {
    st.name = name;
    st.room = room;
    st.active = true;
    st.attempt = 0;
    st.everOpen = false;
    try { localStorage.setItem("wsd.name", name); } catch { /* private mode */ }
    ui.log.replaceChildren();
    ui.setup.hidden = true;
    ui.chat.hidden = false;
    ui.roomInfo.hidden = false;
    showRoom();
    connect();
    startPolling();
    ui.message.focus();
  }

  function leave() {
    st.active = false;
    clearTimeout(st.retryTimer);
    clearInterval(st.pollTimer);
    const ws = st.ws;
    st.ws = null;
    if (ws) ws.close(1000, "left");
    setState("closed");
    ui.chat.hidden = true;
    ui.roomInfo.hidden = true;
    ui.setup.hidden = false;
    ui.room.value = st.room;
    document.title = "wsd chat";
  }

  ui.setup.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = ui.name.value.trim(), room = ui.room.value.trim();
    if (name && room) join(name, room);
  });

  ui.send.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = ui.message.value.trim();
    if (!text || !send({ type: "message", content: text })) return;
    ui.message.value = "";
    chatLine(st.name, text, new Date(), true); // the server does not send it back
  });

  ui.switchForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = ui.nextRoom.value.trim();
    if (!next || next === st.room) return;
    if (send({ type: "join-room", room: next })) {
      st.switching = next;
      ui.nextRoom.value = "";
    }
  });

  ui.leave.addEventListener("click", leave);

  // Back online: retry now instead of waiting out the backoff.
  window.addEventListener("online", () => {
    if (st.active && !st.ws) { st.attempt = Math.max(st.attempt, 1); connect(); }
  });

  // ---- start ----

  ui.codecName.textContent = wantMsgPack ? "MessagePack" : "JSON";
  let saved = "";
  try { saved = localStorage.getItem("wsd.name") || ""; } catch { /* private mode */ }
  ui.name.value = params.get("user") || saved;
  ui.room.value = params.get("room") || ui.room.value;
  setState("closed");
  if (params.get("user") && params.get("room")) join(ui.name.value.trim(), ui.room.value.trim());
  else (ui.name.value ? ui.room : ui.name).focus();
})();
