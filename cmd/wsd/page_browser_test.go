package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// pageWait bounds every wait of the page tests, reconnects after a restart included (the client's
// backoff reaches 10 s): an upper bound for a hang, never a timing assertion.
const pageWait = 60 * time.Second

// chromiumPath is Debian's chromium; `make test` installs it (scripts/install-test-deps.sh).
const chromiumPath = "/usr/bin/chromium"

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

	mu         sync.Mutex
	extensions []string // Sec-WebSocket-Extensions of each WebSocket handshake the page made
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
	if err := chromedp.Listen(ctx, tb.onEvent); err != nil {
		t.Fatal(err)
	}
	tb.run(t, "open "+url, chromedp.EmulateViewport(1000, 700), chromedp.Navigate(url))
	return tb
}

// onEvent runs on chromedp's reader of the tab: it only records.
func (tb *tab) onEvent(ev any) {
	if e, ok := ev.(*network.EventWebSocketHandshakeResponseReceived); ok && e.Response != nil {
		ext, _ := e.Response.Headers["Sec-WebSocket-Extensions"].(string)
		tb.mu.Lock()
		tb.extensions = append(tb.extensions, ext)
		tb.mu.Unlock()
	}
}

// handshakes returns the Sec-WebSocket-Extensions answers the page's WebSocket handshakes got.
func (tb *tab) handshakes() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.extensions)
}

// offline cuts the tab off the network (new connections fail; the emulation leaves open ones alone),
// or connects it again.
func (tb *tab) offline(t *testing.T, off bool) {
	t.Helper()
	var rules []*network.Conditions
	if off {
		rules = []*network.Conditions{{Offline: true}}
	}
	ctx, cancel := context.WithTimeout(tb.ctx, pageWait)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule,
		network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules}); err != nil {
		t.Fatalf("%s: offline %v: %v", tb.name, off, err)
	}
}

// join opens the page, fills in name and room, presses Join and waits until the room is joined.
func (b *browser) join(t *testing.T, url, name, room string) *tab {
	t.Helper()
	tb := b.open(t, url)
	tb.name = name
	tb.run(t, "join", chromedp.WaitVisible(chromedp.ID("setup")),
		chromedp.SetValue(chromedp.ID("name"), name), chromedp.SetValue(chromedp.ID("room"), room),
		chromedp.Click(chromedp.ID("join")))
	tb.waitState(t, "open")
	tb.waitText(t, "room-label", room)
	tb.waitLog(t, "* You joined #"+room)
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

// say puts text in the message box and presses Enter (the text is set at once, not typed key by
// key: a long line would take seconds on a loaded machine).
func (tb *tab) say(t *testing.T, text string) {
	t.Helper()
	what := text
	if len(what) > 60 {
		what = what[:60] + "…"
	}
	tb.run(t, "say "+what, chromedp.SetValue(chromedp.ID("message"), text),
		chromedp.SendKeys(chromedp.ID("message"), kb.Enter))
}

// switchRoom switches to room with the switch form and waits until the page is in it.
func (tb *tab) switchRoom(t *testing.T, room string) {
	t.Helper()
	done := "* You are now in #" + room
	n := tb.count(t, done)
	tb.run(t, "switch to "+room, chromedp.SetValue(chromedp.ID("next-room"), room),
		chromedp.Click(chromedp.ID("switch-btn")))
	tb.waitText(t, "room-label", room)
	tb.waitLogCount(t, done, n+1)
}

// logJS lists the log: "user: text" for chat lines (the page's own too, sent or not), "* text" for
// notices.
const logJS = `Array.from(document.querySelectorAll("#log li"), (li) => li.classList.contains("msg")
	? li.dataset.user + ": " + li.querySelector(".text").textContent : "* " + li.textContent)`

// linesJS lists the chat lines that are settled: neither waiting for wsd nor refused.
const linesJS = `Array.from(document.querySelectorAll("#log li.msg:not(.pending):not(.failed)"),
	(li) => li.dataset.user + ": " + li.querySelector(".text").textContent)`

func (tb *tab) log(t *testing.T) []string {
	t.Helper()
	return eval[[]string](t, tb, logJS)
}

// lines returns the settled chat lines, in the log's order.
func (tb *tab) lines(t *testing.T) []string {
	t.Helper()
	return eval[[]string](t, tb, linesJS)
}

// once checks that the log has the chat line "user: text" exactly once, settled, marked as the
// tab's own (class "mine") when mine and not marked otherwise.
func (tb *tab) once(t *testing.T, line string, mine bool) {
	t.Helper()
	q, _ := json.Marshal(line)
	got := eval[[]string](t, tb, fmt.Sprintf(`Array.from(document.querySelectorAll("#log li.msg"))
		.filter((li) => li.dataset.user + ": " + li.querySelector(".text").textContent === %s)
		.map((li) => li.className)`, q))
	want := "msg"
	if mine {
		want = "msg mine"
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("%s: %s shown with classes %q, want once with %q; log: %q", tb.name, q, got, want, tb.log(t))
	}
}

// count is how many times the log has the line.
func (tb *tab) count(t *testing.T, line string) int {
	t.Helper()
	q, _ := json.Marshal(line)
	return eval[int](t, tb, fmt.Sprintf("(%s).filter((l) => l === %s).length", logJS, q))
}

// waitLog waits until the log has the line want.
func (tb *tab) waitLog(t *testing.T, want string) {
	t.Helper()
	tb.waitLogCount(t, want, 1)
}

// waitLogCount waits until the log has the line want n times (or more).
func (tb *tab) waitLogCount(t *testing.T, want string, n int) {
	t.Helper()
	q, _ := json.Marshal(want)
	tb.waitJS(t, fmt.Sprintf("(%s).filter((l) => l === %s).length >= %d", logJS, q, n), fmt.Sprintf("log line %s ×%d", q, n))
}

// waitLogPrefix waits until a line of the log starts with prefix, and returns it.
func (tb *tab) waitLogPrefix(t *testing.T, prefix string) string {
	t.Helper()
	q, _ := json.Marshal(prefix)
	expr := fmt.Sprintf("(%s).find((l) => l.startsWith(%s))", logJS, q)
	tb.waitJS(t, expr+" !== undefined", "a log line starting with "+string(q))
	return eval[string](t, tb, expr)
}

// waitSettled waits until none of the tab's own lines is waiting for wsd; it fails on a refused one.
func (tb *tab) waitSettled(t *testing.T) {
	t.Helper()
	tb.waitJS(t, `document.querySelector("#log li.pending") === null`, "every own line confirmed")
	if failed := eval[[]string](t, tb, `Array.from(document.querySelectorAll("#log li.failed"), (li) => li.textContent)`); len(failed) > 0 {
		t.Errorf("%s: lines not sent: %q", tb.name, failed)
	}
}

// pending lists the tab's own lines still waiting for wsd.
func (tb *tab) pending(t *testing.T) []string {
	t.Helper()
	return eval[[]string](t, tb, `Array.from(document.querySelectorAll("#log li.pending .text"), (e) => e.textContent)`)
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
		time.Sleep(50 * time.Millisecond)
	}
}

// savePageScreenshots saves the desktop view of desk and the phone view of phone (which must then
// not scroll sideways) as chat-page.png and chat-page-phone.png (saveScreenshot).
func savePageScreenshots(t *testing.T, desk, phone *tab) {
	t.Helper()
	saveScreenshot(t, desk, "chat-page.png")
	phone.run(t, "phone view", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	phone.waitJS(t, `document.documentElement.scrollWidth <= window.innerWidth`, "no sideways scrolling on a phone")
	saveScreenshot(t, phone, "chat-page-phone.png")
	phone.run(t, "desktop view", chromedp.EmulateViewport(1000, 700))
}

// updateDocScreenshot writes png as docs/chat-page.png, the README's picture, when it is missing or
// when WSD_UPDATE_SCREENSHOT=1: it changes on every run (times), so the test does not rewrite it.
func updateDocScreenshot(t *testing.T, png []byte) {
	t.Helper()
	doc := filepath.Join("..", "..", "docs", "chat-page.png")
	if _, err := os.Stat(doc); err == nil && os.Getenv("WSD_UPDATE_SCREENSHOT") != "1" {
		return
	}
	if err := os.WriteFile(doc, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", doc)
}

// saveScreenshot saves a screenshot of the tab as name in $WSD_SCREENSHOT_DIR (default: the system
// temp directory) and returns it.
func saveScreenshot(t *testing.T, tb *tab, name string) []byte {
	t.Helper()
	dir := os.Getenv("WSD_SCREENSHOT_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	png := runIn(t, tb, "screenshot", chromedp.CaptureScreenshot())
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("%s is not a PNG", name)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
	return png
}
