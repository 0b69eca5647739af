package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/vmihailenco/msgpack/v5"
)

// pageWait bounds every wait of the page tests: an upper bound for a hang, never a timing assertion.
const pageWait = 15 * time.Second

// chromiumPath is Debian's chromium; `make test` installs it (scripts/install-test-deps.sh).
const chromiumPath = "/usr/bin/chromium"

// TestChatPageServe checks what GET / and GET /static/* answer: types, validators, security headers,
// 304 on a matching If-None-Match, HEAD, 404 for anything else, and no page when chat is off.
func TestChatPageServe(t *testing.T) {
	_, addr := svStart(t, svConfig(), nil)
	base := "http://" + addr
	resp, index := svHTTP(t, "GET", base+"/", "")
	checkAsset(t, resp, "text/html; charset=utf-8")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) != 3 {
		t.Fatalf("index.html references %d static files, want 3 (app.css, msgpack.js, app.js)", len(refs))
	}
	for _, ref := range refs {
		resp, body := svHTTP(t, "GET", base+ref[1], "")
		want := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
		checkAsset(t, resp, want[filepath.Ext(ref[1])])
		if body == "" {
			t.Errorf("GET %s: empty body", ref[1])
		}
	}
	resp, body := svHTTP(t, "GET", base+"/", "", "If-None-Match", `"x", `+etagOf(t, base))
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("GET / with a matching If-None-Match: %d %q, want 304 and no body", resp.StatusCode, body)
	}
	resp, body = svHTTP(t, "HEAD", base+"/", "")
	if resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength != int64(len(index)) {
		t.Errorf("HEAD /: %d, %d bytes, Content-Length %d; want 200, none, %d", resp.StatusCode, len(body), resp.ContentLength, len(index))
	}
	for _, p := range []string{"/static/index.html", "/static/", "/static/nope.js", "/static/../page.go", "/index.html"} {
		if resp, _ := svHTTP(t, "GET", base+p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	c := svConfig()
	c.Routes.Chat.Enabled = false
	_, off := svStart(t, c, nil)
	if resp, _ := svHTTP(t, "GET", "http://"+off+"/", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / with chat off: %d, want 404", resp.StatusCode)
	}
}

func etagOf(t *testing.T, base string) string {
	t.Helper()
	resp, _ := svHTTP(t, "GET", base+"/", "")
	return resp.Header.Get("ETag")
}

func checkAsset(t *testing.T, resp *http.Response, ctype string) {
	t.Helper()
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Content-Type") != ctype || h.Get("Cache-Control") != "no-cache" ||
		!regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(h.Get("ETag")) || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: %d %v; want 200, %s, no-cache, an ETag, nosniff", resp.Request.URL.Path, resp.StatusCode, h, ctype)
	}
}

// TestChatPageBrowser drives the page in headless Chromium: two tabs chat in "lobby", each line shown
// once in each tab (the sender's own, marked as such, by the page itself: the server sends a line to
// the others only), a third in "other" sees none of it, a room switch moves a tab, the live count
// follows, the tabs survive a server restart on the same port (reconnecting, then open, back in the
// room they were in), and a MessagePack tab chats with a JSON one. It saves screenshots (see
// savePageScreenshots).
func TestChatPageBrowser(t *testing.T) {
	ps := startPageServer(t, "127.0.0.1:0")
	b := newBrowser(t)
	url := "http://" + ps.addr + "/"

	alice, bob, carol := b.join(t, url, "alice", "lobby"), b.join(t, url, "bob", "lobby"), b.join(t, url, "carol", "other")
	alice.waitLog(t, "* bob joined the room")
	alice.say(t, "hello from alice")
	bob.waitLog(t, "alice: hello from alice")
	bob.say(t, "hi alice")
	alice.waitLog(t, "bob: hi alice")
	// Anything the server sent alice about her own line came before bob's: her log is final for it.
	alice.once(t, "alice: hello from alice", true)
	alice.once(t, "bob: hi alice", false)
	bob.once(t, "alice: hello from alice", false)
	carol.say(t, "anyone in other?")
	carol.waitLog(t, "carol: anyone in other?")
	carol.lacks(t, "alice: hello from alice", "bob: hi alice", "* bob joined the room", "* alice joined the room")
	alice.waitText(t, "count", "2")
	carol.waitText(t, "count", "1")
	// Chromium offers permessage-deflate and wsd compresses /chat by default (issue 9).
	alice.waitJS(t, `(document.getElementById("state").dataset.extensions || "").startsWith("permessage-deflate")`,
		"permessage-deflate negotiated")
	long := strings.TrimSpace(strings.Repeat("a long, compressible chat line ", 40))
	alice.say(t, long)
	bob.waitLog(t, "alice: "+long) // over the 256 B threshold: sent and received compressed

	bob.switchRoom(t, "other")
	carol.waitLog(t, "* bob joined the room")
	carol.once(t, "carol: anyone in other?", true) // the notice came after anything about that line
	alice.waitLog(t, "* bob left the room")
	alice.say(t, "lobby only")
	alice.waitLog(t, "alice: lobby only")
	carol.say(t, "welcome bob")
	bob.waitLog(t, "carol: welcome bob")
	bob.once(t, "bob: hi alice", true)
	carol.once(t, "carol: welcome bob", true)
	bob.lacks(t, "alice: lobby only", "carol: anyone in other?")
	alice.waitText(t, "count", "1")
	bob.waitText(t, "count", "2")

	ps.restart(t, alice, bob, carol)
	for _, back := range []struct {
		tb   *tab
		room string // the room it was in, not the one it first joined
	}{{alice, "lobby"}, {bob, "other"}, {carol, "other"}} {
		back.tb.waitLog(t, "* Reconnected to #"+back.room)
		back.tb.waitState(t, "open")
		back.tb.waitText(t, "room-label", back.room)
	}
	bob.say(t, "bob is back")
	carol.waitLog(t, "bob: bob is back")
	alice.say(t, "alice is back")
	alice.waitLog(t, "alice: alice is back")
	alice.lacks(t, "bob: bob is back")
	bob.waitText(t, "count", "2")

	dave := b.open(t, url+"?codec=msgpack&user=dave&room=lobby")
	dave.waitState(t, "open")
	dave.waitJS(t, `document.getElementById("state").title === "msgpack"`, "the msgpack subprotocol")
	alice.waitLog(t, "* dave joined the room")
	dave.say(t, "hello in MessagePack")
	alice.waitLog(t, "dave: hello in MessagePack")
	alice.say(t, "JSON to MessagePack")
	dave.waitLog(t, "alice: JSON to MessagePack")
	dave.once(t, "dave: hello in MessagePack", true)
	dave.once(t, "alice: JSON to MessagePack", false)
	alice.once(t, "dave: hello in MessagePack", false)
	alice.waitText(t, "count", "2")
	savePageScreenshots(t, alice, carol)
	dave.say(t, `<img src=x onerror="document.title='xss'"> & <b>bold?</b>`)
	alice.waitLog(t, `dave: <img src=x onerror="document.title='xss'"> & <b>bold?</b>`)
	if eval[int](t, alice, `document.querySelectorAll("#log img, #log b").length`) != 0 {
		t.Error("user text became markup")
	}
	alice.once(t, "alice: JSON to MessagePack", true)
	dave.switchRoom(t, "other")
	carol.waitLog(t, "* dave joined the room")
}

// pageServer is the wsd under test; restart replaces it by a new one on the same address.
type pageServer struct {
	s    *server
	addr string
	logs *syncBuffer
}

// startPageServer starts wsd with the default configuration (two loops) on addr; the test's cleanup
// shuts down whichever server is current then.
func startPageServer(t *testing.T, addr string) *pageServer {
	ps := &pageServer{logs: &syncBuffer{}}
	ps.start(t, addr)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), pageWait)
		defer cancel()
		if err := ps.s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ps.logs.String())
		}
	})
	return ps
}

// start starts a new server on addr, retrying while the address is still taken (an upper bound,
// not a timing assertion).
func (ps *pageServer) start(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(pageWait)
	for {
		c := defaults()
		c.Addr, c.Loops = addr, 2
		c.resolve()
		s, err := newServer(c, newLogger(c.Log, ps.logs))
		if err != nil {
			t.Fatal(err)
		}
		if err = s.Start(addr); err == nil {
			ps.s, ps.addr = s, s.Addr().String()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("start on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart shuts the server down (every WebSocket gets 1001), waits until each of tabs shows
// "reconnecting", and starts a new server on the same port.
func (ps *pageServer) restart(t *testing.T, tabs ...*tab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pageWait)
	defer cancel()
	if err := ps.s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, tb := range tabs {
		tb.waitState(t, "reconnecting")
	}
	ps.start(t, ps.addr)
}

// browser is one headless Chromium; each tab is a chromedp context (a target) of it.
type browser struct {
	ctx context.Context
}

// newBrowser starts Chromium (skipping the test when it is missing, unless WSD_REQUIRE_CHROMIUM=1);
// the test's cleanup closes every tab, then the browser, and waits for the process to exit.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("WSD_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("WSD_REQUIRE_CHROMIUM=1 but %s is missing (scripts/install-test-deps.sh installs it)", chromiumPath)
		}
		t.Skipf("%s is missing: apt-get install chromium (or run make test)", chromiumPath)
	}
	dataDir, err := os.MkdirTemp("", "wsd-page-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(dataDir),
		chromedp.WindowSize(1000, 700),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // kills Chromium and waits for it
		_ = os.RemoveAll(dataDir)
	})
	// The first Do starts the browser, which lives as long as the context of that call: no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return &browser{ctx: ctx}
}

// tab is one page of the browser.
type tab struct {
	ctx  context.Context
	name string
}

// open opens url in a new 1000x700 tab.
func (b *browser) open(t *testing.T, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx, name: url}
	if err := chromedp.Do(ctx); err != nil { // opens the tab, which lives as long as ctx: no timeout
		t.Fatalf("new tab: %v", err)
	}
	tb.run(t, "open "+url, chromedp.EmulateViewport(1000, 700), chromedp.Navigate(url))
	return tb
}

// join opens the page, fills in name and room, presses Join and waits for the connection.
func (b *browser) join(t *testing.T, url, name, room string) *tab {
	t.Helper()
	tb := b.open(t, url)
	tb.name = name
	tb.run(t, "join", chromedp.WaitVisible(chromedp.ID("setup")),
		chromedp.SetValue(chromedp.ID("name"), name), chromedp.SetValue(chromedp.ID("room"), room),
		chromedp.Click(chromedp.ID("join")))
	tb.waitState(t, "open")
	tb.waitText(t, "room-label", room)
	return tb
}

// run runs steps in the tab, bounded by pageWait.
func (tb *tab) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	runIn(t, tb, what, chromedp.Steps(steps...))
}

// runIn runs one action in the tab, bounded by pageWait, and returns its value.
func runIn[T any](t *testing.T, tb *tab, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
	return v
}

// eval evaluates the JavaScript expression expr in the tab.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	return runIn(t, tb, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// say types text into the message box and presses Enter.
func (tb *tab) say(t *testing.T, text string) {
	t.Helper()
	tb.run(t, "say "+text, chromedp.SendKeys(chromedp.ID("message"), text+kb.Enter))
}

// switchRoom sends join-room through the switch form and waits until the page shows the room.
func (tb *tab) switchRoom(t *testing.T, room string) {
	t.Helper()
	tb.run(t, "switch to "+room, chromedp.SetValue(chromedp.ID("next-room"), room),
		chromedp.Click(chromedp.ID("switch-btn")))
	tb.waitText(t, "room-label", room)
	tb.waitLog(t, "* You are now in #"+room)
}

// logJS lists the log: "user: text" for chat lines, "* text" for notices.
const logJS = `Array.from(document.querySelectorAll("#log li"), (li) => li.classList.contains("msg")
	? li.dataset.user + ": " + li.querySelector(".text").textContent : "* " + li.textContent)`

// once checks that the log has the chat line "user: text" exactly once, marked as the tab's own
// (class "mine") when mine, and not marked otherwise.
func (tb *tab) once(t *testing.T, line string, mine bool) {
	t.Helper()
	q, _ := json.Marshal(line)
	got := eval[[]bool](t, tb, fmt.Sprintf(`Array.from(document.querySelectorAll("#log li.msg"))
		.filter((li) => li.dataset.user + ": " + li.querySelector(".text").textContent === %s)
		.map((li) => li.classList.contains("mine"))`, q))
	if len(got) != 1 || got[0] != mine {
		t.Errorf("%s: %s shown %d times (mine: %v), want once (mine: %v); log: %q", tb.name, q, len(got), got, mine, tb.log(t))
	}
}

func (tb *tab) log(t *testing.T) []string {
	t.Helper()
	return eval[[]string](t, tb, logJS)
}

// waitLog waits until the log has the line want.
func (tb *tab) waitLog(t *testing.T, want string) {
	t.Helper()
	q, _ := json.Marshal(want)
	tb.waitJS(t, fmt.Sprintf("(%s).includes(%s)", logJS, q), "log line "+string(q))
}

// lacks checks that the log has none of the lines.
func (tb *tab) lacks(t *testing.T, lines ...string) {
	t.Helper()
	log := tb.log(t)
	for _, l := range lines {
		if slices.Contains(log, l) {
			t.Errorf("%s sees %q; log: %q", tb.name, l, log)
		}
	}
}

func (tb *tab) waitState(t *testing.T, state string) {
	t.Helper()
	tb.waitJS(t, fmt.Sprintf(`document.getElementById("state").dataset.state === %q`, state), "state "+state)
}

func (tb *tab) waitText(t *testing.T, id, want string) {
	t.Helper()
	tb.waitJS(t, fmt.Sprintf(`document.getElementById(%q).textContent === %q`, id, want), "#"+id+" = "+want)
}

// waitJS evaluates the boolean expression expr until it is true. It polls from Go, so the page's
// timers (throttled in background tabs) play no part.
func (tb *tab) waitJS(t *testing.T, expr, what string) {
	t.Helper()
	deadline := time.Now().Add(pageWait)
	for {
		if eval[bool](t, tb, expr) {
			return
		}
		if time.Now().After(deadline) {
			state := eval[string](t, tb, `document.getElementById("state").dataset.state`)
			t.Fatalf("%s: no %s within %v (state %s); log: %q", tb.name, what, pageWait, state, tb.log(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// savePageScreenshots saves the desktop view of desk and the phone view of phone (which must then
// not scroll sideways) as PNG files in $WSD_SCREENSHOT_DIR (default: the system temp directory).
// docs/chat-page.png, the README's picture, is written when missing or when
// WSD_UPDATE_SCREENSHOT=1: it changes on every run (times, counts), so the test does not rewrite it.
func savePageScreenshots(t *testing.T, desk, phone *tab) {
	t.Helper()
	dir := os.Getenv("WSD_SCREENSHOT_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	png := runIn(t, desk, "screenshot", chromedp.CaptureScreenshot())
	phone.run(t, "phone view", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	phone.waitJS(t, `document.documentElement.scrollWidth <= window.innerWidth`, "no sideways scrolling on a phone")
	small := runIn(t, phone, "phone screenshot", chromedp.CaptureScreenshot())
	phone.run(t, "desktop view", chromedp.EmulateViewport(1000, 700))
	for name, b := range map[string][]byte{"chat-page.png": png, "chat-page-phone.png": small} {
		if !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Fatalf("%s is not a PNG", name)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(b))
	}
	doc := filepath.Join("..", "..", "docs", "chat-page.png")
	if _, err := os.Stat(doc); err == nil && os.Getenv("WSD_UPDATE_SCREENSHOT") != "1" {
		return
	}
	if err := os.WriteFile(doc, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", doc)
}

// TestChatPageMsgPackCodec checks msgpack.js against the Go library the server uses, both ways, in
// the browser: values Go encodes decode to the same JSON in JavaScript, what JavaScript encodes
// decodes in Go to the same value, 64-bit integers past 2^53 become BigInts, and malformed input
// (truncated, trailing bytes, a lying length, nesting past the limit, the unused type 0xc1) throws.
func TestChatPageMsgPackCodec(t *testing.T) {
	ps := startPageServer(t, "127.0.0.1:0")
	tb := newBrowser(t).open(t, "http://"+ps.addr+"/")
	eval[bool](t, tb, `window.fromHex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
		window.toHex = (u) => Array.from(u, (x) => x.toString(16).padStart(2, "0")).join(""); true`)
	values := []any{
		nil, true, false, 0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<53 - 1,
		-1, -32, -33, -128, -129, -32768, -32769, -1 << 31, -1<<31 - 1, -(1<<53 - 1), 1.5, -0.25, 1e300, float32(0.5),
		"", "héllo ✓", strings.Repeat("a", 31), strings.Repeat("b", 32), strings.Repeat("c", 300), strings.Repeat("d", 70000),
		[]any{1, []any{"two", []any{3.5}}}, map[string]any{"user": "alice", "message": "<b>hi</b>"},
		map[string]any{"type": "joined", "room": "other"}, []byte{0, 1, 2, 255},
	}
	encoded := make([]string, len(values))
	for i, v := range values {
		enc, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		encoded[i] = hex.EncodeToString(enc)
	}
	in, _ := json.Marshal(encoded)
	back := eval[[]string](t, tb, fmt.Sprintf(`%s.map((h) => {
		const v = MsgPack.decode(fromHex(h));
		return JSON.stringify([v instanceof Uint8Array ? Array.from(v) : v, toHex(MsgPack.encode(v))]); })`, in))
	for i, v := range values {
		checkRoundTrip(t, v, encoded[i], back[i])
	}
	bad := `["a5616263", "0102", "dd7fffffff", "c1", "91".repeat(65) + "c0", "c70101"]`
	if n := eval[int](t, tb, bad+`.filter((h) => { try { MsgPack.decode(fromHex(h)); return true; } catch { return false; } }).length`); n != 0 {
		t.Errorf("%d malformed inputs decoded without an error", n)
	}
	if !eval[bool](t, tb, `MsgPack.decode(fromHex("cfffffffffffffffff")) === 2n ** 64n - 1n &&
		toHex(MsgPack.encode(-(2n ** 63n))) === "d38000000000000000"`) {
		t.Error("64-bit integers past 2^53 do not round-trip as BigInt")
	}
}

// checkRoundTrip compares what JavaScript decoded from enc (as JSON) with v, and decodes in Go what
// JavaScript encoded again.
func checkRoundTrip(t *testing.T, v any, enc, back string) {
	t.Helper()
	var got [2]json.RawMessage
	if err := json.Unmarshal([]byte(back), &got); err != nil {
		t.Fatalf("%v: %s: %v", v, back, err)
	}
	want := v
	if b, ok := v.([]byte); ok {
		want = []int{int(b[0]), int(b[1]), int(b[2]), int(b[3])}
	}
	wantJSON, _ := json.Marshal(want)
	if !jsonEqual(t, wantJSON, got[0]) {
		t.Errorf("JS decoded %s as %s, want %s", enc, got[0], wantJSON)
	}
	var hexStr string
	_ = json.Unmarshal(got[1], &hexStr)
	again, err := hex.DecodeString(hexStr)
	if err != nil {
		t.Fatal(err)
	}
	var dec any
	if err := msgpack.Unmarshal(again, &dec); err != nil {
		t.Fatalf("Go cannot decode what JS encoded for %v (%x): %v", v, again, err)
	}
	if _, isBin := v.([]byte); isBin {
		dec = []int{int(dec.([]byte)[0]), int(dec.([]byte)[1]), int(dec.([]byte)[2]), int(dec.([]byte)[3])}
	}
	decJSON, _ := json.Marshal(dec)
	if !jsonEqual(t, wantJSON, decJSON) {
		t.Errorf("JS encoded %v as %x, which Go decodes as %s", v, again, decJSON)
	}
}

// jsonEqual compares two JSON texts as values (numbers as float64).
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.NewDecoder(bytes.NewReader(a)).Decode(&x); err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&y); err != nil {
		t.Fatal(err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}
