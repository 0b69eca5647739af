// app.js: the wsd chat page, an ES module on wsd's /ws protocol (docs/protocol.md) through
// @wsd/client: wsd-client.js is clients/js/index.js, copied by `go generate ./cmd/wsd` (a test fails
// when the copy differs). One client, one room at a time.
//   - A chat line is published as {"user","text","id","time"}: the id is made here, so the page knows
//     its own line when wsd sends it back (every member receives every publication, the publisher
//     included) and drops a line it already shows (one resent after a reconnect).
//   - The log is in the room's order (offsets), the same in every tab: the page's own lines wait at
//     the bottom, marked "sending…", and take their place among the others when they come back.
//   - After a reconnect the client rejoins from the last message it delivered: wsd replays what was
//     missed (the page says how many) or says that it cannot (the page says why). Then the page reads
//     what the room's history still holds (GET /rooms/:room/info): after a restart of wsd, what the
//     others said between the restart and this page's rejoin. A line whose acknowledgement was lost
//     in the drop is resent unless it came back; its id keeps it from being shown twice.
//   - Join and leave notices come from presence events (wsd's pubsub.presence_events); the live count
//     is the room's presence list, asked for on every change and every few seconds.
// User text only ever reaches the DOM through textContent.
import { connect } from "./wsd-client.js";

const POLL_EVERY = 3000; // ms between presence requests (the live count)
const MAX_LOG = 500;     // log entries kept (lines still sending are never dropped)
const MAX_SEEN = 5000;   // ids and positions of what was shown, remembered to drop it when it comes again
const MAX_SENDS = 5;     // sends of one line whose acknowledgement timed out
// Half of wsd's default per-connection limit (100 messages/s, burst 200): lines queued while offline
// go out paced instead of being dropped by the server.
const RATE = { messages: 50, burst: 100 };
const REASONS = {
  epoch: "the room's history was lost, e.g. in a server restart",
  expired: "you were away longer than the room's history reaches back",
  ahead: "the server's history is behind this page",
  failed: "the cluster's history could not be read",
};

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"), setup: $("setup"), name: $("name"), room: $("room"),
  chat: $("chat"), roomInfo: $("room-info"), roomLabel: $("room-label"), count: $("count"),
  countInfo: $("count-info"), switchForm: $("switch"), nextRoom: $("next-room"), leave: $("leave"),
  log: $("log"), send: $("send"), message: $("message"),
};
const params = new URLSearchParams(location.search);
const token = params.get("token") || undefined; // passed on to the upgrade when auth is on

const st = {
  client: null,     // the current client; events of older ones are ignored
  name: "", room: "",
  everOpen: false,  // a connection was open: later ones are reconnections
  mine: new Map(),  // id -> own line not confirmed yet: {id, room, line, li, status, sends, acked, resend}
  seen: new Map(),  // ids of the chat lines shown (insertion order: the oldest go first)
  shown: new Map(), // positions ("epoch offset") of the publications shown
  pollTimer: 0, counting: false, countAgain: false, countTimer: 0,
};
const idPrefix = randomHex(8);
let lastId = 0;

// ---- the client ----

function start(name, room) {
  st.name = name;
  st.room = room;
  st.everOpen = false;
  st.mine.clear();
  st.seen.clear();
  st.shown.clear();
  try { localStorage.setItem("wsd.name", name); } catch { /* private mode */ }
  ui.log.replaceChildren();
  ui.setup.hidden = true;
  ui.chat.hidden = false;
  ui.roomInfo.hidden = false;
  showRoom();
  setState("connecting");
  const client = connect("/ws", { user: name, token, rateLimit: RATE });
  st.client = client;
  const on = (type, fn) => client.on(type, (ev) => { if (st.client === client) fn(ev); });
  on("connected", () => {
    st.everOpen = true;
    setState("open");
    refreshCount();
  });
  on("disconnected", ({ code, reason }) => {
    notice(`Disconnected (${code}${reason ? " " + reason : ""}); reconnecting…`, "error");
    setState("reconnecting");
  });
  on("reconnecting", ({ attempt, delay }) => {
    setState(st.everOpen ? "reconnecting" : "connecting", `attempt ${attempt}: next in ${(delay / 1000).toFixed(1)} s`);
  });
  on("recovered", (ev) => { if (ev.room === st.room) recovered(ev); });
  on("recoveryFailed", (ev) => { if (ev.room === st.room) recoveryFailed(ev); });
  on("error", (err) => notice(err.code === "rejoin" ? err.message : `Server: ${err.message}`, "error"));
  enter(room);
  clearInterval(st.pollTimer);
  st.pollTimer = setInterval(refreshCount, POLL_EVERY);
  ui.message.focus();
}

// enter joins room (recovering from since when given); when wsd refuses it, the page goes back to
// back.room, recovering what it missed there meanwhile.
async function enter(room, { since, back } = {}) {
  const client = st.client;
  try {
    await client.join(room, {
      since,
      onMessage: (data, msg) => received(room, data, msg),
      onPresence: (ev) => presence(room, ev),
    });
  } catch (err) {
    if (client !== st.client || err.code === "closed" || err.code === "left") return;
    notice(`Cannot join #${room}: ${err.message}`, "error");
    if (back && room === st.room) {
      st.room = back.room;
      showRoom();
      enter(back.room, { since: back.since });
    }
    return;
  }
  if (client !== st.client || room !== st.room) return;
  notice(back ? `You are now in #${room}` : `You joined #${room}`);
  refreshCount();
}

// switchTo leaves the room and joins next over the same connection.
function switchTo(next) {
  const prev = st.room, client = st.client;
  if (!client || !next || next === prev) return;
  const since = client.position(prev);
  st.room = next;
  showRoom();
  for (const e of [...st.mine.values()]) {
    if (e.room === prev && e.resend) fail(e, "the connection was lost before wsd confirmed it");
  }
  client.leave(prev).catch(() => { /* the next connection is not in the room either */ });
  enter(next, { back: { room: prev, since } });
}

function leave() {
  const client = st.client;
  st.client = null;
  clearInterval(st.pollTimer);
  clearTimeout(st.countTimer);
  if (client) client.close(1000, "left");
  setState("closed");
  ui.chat.hidden = true;
  ui.roomInfo.hidden = true;
  ui.setup.hidden = false;
  ui.room.value = st.room;
  document.title = "wsd chat";
}

// ---- what arrives ----

// received shows a publication the client delivered in room.
function received(room, data, msg) {
  if (room === st.room) show(data, msg.epoch, msg.offset, msg.binary);
}

// show shows a publication at its position (epoch, offset) unless the page shows it already, and
// says whether it did: a chat line (the page's own is confirmed where it belongs), or whatever else
// another route or the HTTP API published to the room, as a notice.
function show(data, epoch, offset, binary) {
  const pos = offset ? `${epoch} ${offset}` : "";
  if (pos && st.shown.has(pos)) return false;
  if (pos) remember(st.shown, pos);
  const line = binary === undefined ? chatLine(data) : null;
  if (!line) {
    const text = binary !== undefined ? `(a binary message of ${binary.length} bytes)` :
      typeof data === "string" ? data : JSON.stringify(data).slice(0, 500);
    place(at(noticeItem(text), epoch, offset));
    return true;
  }
  const own = line.id && st.mine.get(line.id);
  if (own) {
    confirm(own, epoch, offset);
    return true;
  }
  if (line.id) {
    if (st.seen.has(line.id)) return false; // sent again after a reconnect: shown already
    remember(st.seen, line.id);
  }
  place(at(lineItem(line, false), epoch, offset));
  return true;
}

// chatLine reads a chat line: the page's {"user","text"}, or the /chat route's {"user","message"}.
function chatLine(d) {
  if (d === null || typeof d !== "object" || Array.isArray(d) || typeof d.user !== "string") return null;
  const id = typeof d.id === "string" ? d.id : "";
  if (typeof d.text === "string") return { user: d.user, text: d.text, id, time: d.time };
  if ("message" in d) return { user: d.user, text: String(d.message), id, time: d.timestamp };
  return null;
}

function presence(room, { event, client }) {
  if (room !== st.room) return;
  notice(`${client?.user ?? "someone"} ${event === "join" ? "joined" : "left"} the room`);
  clearTimeout(st.countTimer);
  st.countTimer = setTimeout(refreshCount, 100);
}

// recovered reports a recovery above the messages it delivered (half an offset before the first of
// them sorts the notice there).
function recovered({ room, missed, cause, position }) {
  const n = missed === 0 ? "nothing missed" : `recovered ${missed} missed message${missed === 1 ? "" : "s"}`;
  const text = {
    reconnect: `Reconnected: ${n}`,
    gap: `Recovered ${missed} message${missed === 1 ? "" : "s"} that the server had dropped for this page`,
    join: `Back in #${room}: ${n}`,
  }[cause] ?? `Back: ${n}`;
  place(at(noticeItem(text, "ok"), position.epoch, missed > 0 ? position.offset - missed + 0.5 : 0));
  afterRejoin(room);
  refreshCount();
}

function recoveryFailed({ room, reason, cause, since, position }) {
  const why = `${reason}: ${REASONS[reason] ?? "no reason given"}`;
  const text = {
    reconnect: `Reconnected, but could not recover messages sent while you were away (${why})`,
    gap: `Messages the server dropped for this page could not be recovered (${why})`,
    join: `Back in #${room}, but could not recover messages sent meanwhile (${why})`,
  }[cause] ?? `Could not recover missed messages (${why})`;
  notice(text, "error");
  afterRejoin(room);
  refreshCount();
  if (reason === "epoch") reload(room, 0, position.epoch); // the new stream, from its start
  else if (reason === "expired") reload(room, since.offset, position.epoch); // what is left of it
}

// reload reads the room's history after offset (GET /rooms/:room/info, with the page's token when
// there is one) and shows the publications of epoch the page does not show yet, in their place.
async function reload(room, after, epoch) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  let info;
  try {
    const r = await fetch(`/rooms/${encodeURIComponent(room)}/info?after=${after}`, { headers, cache: "no-store" });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    info = await r.json();
  } catch (err) {
    notice(`The room's history could not be read either (${err.message})`, "error");
    return;
  }
  if (room !== st.room || info.epoch !== epoch) return; // moved on, or wsd restarted again
  let n = 0, first = 0;
  for (const m of info.messages ?? []) {
    let data = m.text ?? "";
    try { data = JSON.parse(data); } catch { /* text that is not JSON */ }
    if (!show(data, epoch, m.offset, typeof m.binary === "string" ? atob(m.binary) : undefined)) continue;
    n++;
    first ||= m.offset;
  }
  if (n > 0) {
    place(at(noticeItem(`Read ${n} message${n === 1 ? "" : "s"} from the room's history`, "ok"), epoch, first - 0.5));
  }
}

// afterRejoin settles the page's lines of room once the rejoin delivered what it recovered: a line
// wsd acknowledged is in the room (its message was not recovered: confirmed where it is); a line
// whose acknowledgement was lost in the drop did not come back, so it is sent again (same id: a page
// that got it the first time drops the copy).
function afterRejoin(room) {
  for (const e of [...st.mine.values()]) {
    if (e.room !== room) continue;
    if (e.acked) confirm(e, "", 0);
    else if (e.resend) publish(e);
  }
}

// ---- the page's own lines ----

function say(text) {
  const line = { user: st.name, text, id: `${idPrefix}-${(++lastId).toString(36)}`, time: new Date().toISOString() };
  const li = lineItem(line, true);
  const status = el("span", "status", "sending…");
  li.querySelector(".meta").append(status);
  li.classList.add("pending");
  const e = { id: line.id, room: st.room, line, li, status, sends: 0, acked: false, resend: false };
  st.mine.set(e.id, e);
  ui.log.appendChild(li); // the pending lines stay below the others until they come back
  ui.log.scrollTop = ui.log.scrollHeight;
  publish(e);
}

// publish sends e; the client queues it while offline. Its message confirms it; the acknowledgement
// only says it is in the room (it may arrive before the room's earlier messages, in a cluster).
function publish(e) {
  const client = st.client;
  if (!client) {
    fail(e, "you left");
    return;
  }
  e.sends++;
  e.resend = false;
  e.li.classList.remove("unsure");
  e.status.textContent = "sending…";
  client.publish(e.room, e.line).then(() => {
    e.acked = true;
    if (st.mine.get(e.id) === e && e.room !== st.room) confirm(e, "", 0); // left: its message never comes
  }, (err) => {
    if (st.mine.get(e.id) !== e) return;
    if (err.code === "disconnected") {
      e.resend = true; // settled by afterRejoin
      e.li.classList.add("unsure");
      e.status.textContent = "connection lost: checking after the reconnect…";
    } else if (err.code === "timeout" && e.sends < MAX_SENDS) {
      publish(e);
    } else {
      fail(e, err.code === "closed" ? "you left" : err.message);
    }
  });
}

function confirm(e, epoch, offset) {
  st.mine.delete(e.id);
  remember(st.seen, e.id);
  e.status.remove();
  e.li.classList.remove("pending", "unsure");
  place(at(e.li, epoch, offset));
}

function fail(e, why) {
  st.mine.delete(e.id);
  e.li.classList.remove("pending", "unsure");
  e.li.classList.add("failed");
  e.status.textContent = `not sent: ${why}`;
  place(e.li);
}

function remember(set, key) {
  set.set(key, true);
  if (set.size > MAX_SEEN) set.delete(set.keys().next().value);
}

// ---- live count ----

async function refreshCount() {
  const client = st.client, room = st.room;
  if (!client || client.state !== "open") return;
  if (st.counting) {
    st.countAgain = true;
    return;
  }
  st.counting = true;
  try {
    const list = await client.presence(room);
    if (client === st.client && room === st.room) {
      ui.count.textContent = String(list.length);
      const users = [...new Set(list.map((c) => c.user))].sort();
      ui.countInfo.title = `connections in this room: ${users.join(", ")}`;
    }
  } catch { /* not in the room (yet), or the connection dropped: keep the last count */ }
  st.counting = false;
  if (st.countAgain) {
    st.countAgain = false;
    refreshCount();
  }
}

// ---- UI ----

function setState(s, detail) {
  const labels = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", closed: "closed" };
  ui.state.dataset.state = s;
  ui.state.textContent = labels[s];
  ui.state.title = detail || "";
}

function showRoom() {
  ui.roomLabel.textContent = st.room;
  ui.count.textContent = "–";
  document.title = `#${st.room} · wsd chat`;
}

// place puts li at the end of the log's settled part, above the page's lines still sending, or, for a
// publication, before the first one of the same epoch with a later offset (one read from the history
// after others arrived live).
function place(li) {
  const log = ui.log;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  let before = log.querySelector(":scope > li.pending");
  const epoch = li.dataset.epoch, offset = Number(li.dataset.offset);
  if (epoch) {
    for (const x of log.querySelectorAll(":scope > li[data-epoch]")) {
      if (x !== li && x.dataset.epoch === epoch && Number(x.dataset.offset) > offset) {
        before = x;
        break;
      }
    }
  }
  log.insertBefore(li, before);
  while (log.childElementCount > MAX_LOG && !log.firstElementChild.classList.contains("pending")) {
    log.firstElementChild.remove();
  }
  if (atBottom) log.scrollTop = log.scrollHeight;
}

// at marks li with the position of its publication (none when offset is 0); a notice about
// publications gets half an offset less than the first of them, so that place puts it above them.
function at(li, epoch, offset) {
  if (offset) {
    li.dataset.epoch = epoch;
    li.dataset.offset = String(offset);
  }
  return li;
}

function lineItem(line, mine) {
  const li = el("li", mine ? "msg mine" : "msg");
  li.dataset.user = line.user;
  if (line.id) li.dataset.id = line.id;
  const who = el("span", "who", line.user);
  who.style.setProperty("--hue", String(hue(line.user)));
  let at = new Date(typeof line.time === "string" ? line.time : NaN);
  if (Number.isNaN(at.getTime())) at = new Date();
  const time = el("time", "", at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = at.toISOString();
  const meta = el("span", "meta");
  meta.append(who, time);
  li.append(meta, el("span", "text", line.text));
  return li;
}

function notice(text, kind) {
  place(noticeItem(text, kind));
}

function noticeItem(text, kind) {
  return el("li", kind ? "notice " + kind : "notice", text);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function hue(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h % 360;
}

// randomHex uses getRandomValues, which works on plain http (crypto.randomUUID needs a secure context).
function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- actions ----

ui.setup.addEventListener("submit", (e) => {
  e.preventDefault();
  const name = ui.name.value.trim(), room = ui.room.value.trim();
  if (name && room) start(name, room);
});

ui.send.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.message.value.trim();
  if (!text || !st.client) return;
  ui.message.value = "";
  say(text);
});

ui.switchForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const next = ui.nextRoom.value.trim();
  ui.nextRoom.value = "";
  switchTo(next);
});

ui.leave.addEventListener("click", leave);

// ---- start ----

let saved = "";
try { saved = localStorage.getItem("wsd.name") || ""; } catch { /* private mode */ }
ui.name.value = params.get("user") || saved;
ui.room.value = params.get("room") || ui.room.value;
setState("closed");
if (params.get("user") && params.get("room")) start(ui.name.value.trim(), ui.room.value.trim());
else (ui.name.value ? ui.room : ui.name).focus();
