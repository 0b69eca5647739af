package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
)

// TestChatPageBrowser drives the page in headless Chromium against a wsd process (with presence
// events on, as the README's chat-page section asks): two tabs chat in "lobby", each line shown once
// in each tab (the sender's own marked as such, confirmed when wsd sends it back), a third tab in
// "other" sees none of it, join and leave notices and the live count follow, a room switch moves a
// tab there and back. Then wsd is stopped and killed (SIGKILL) and started again on the same port,
// while the tabs keep typing (outage): every line is shown exactly once, in the same order in both
// lobby tabs, and every tab says that it could not recover what was sent meanwhile (the restarted
// wsd is a new epoch). It saves screenshots (savePageScreenshots).
func TestChatPageBrowser(t *testing.T) {
	wsd := startWsdProcess(t, "-pubsub.presence-events")
	b := newBrowser(t)
	url := wsd.url()

	alice, bob, carol := b.join(t, url, "alice", "lobby"), b.join(t, url, "bob", "lobby"), b.join(t, url, "carol", "other")
	alice.waitLog(t, "* bob joined the room")
	alice.say(t, "hello from alice")
	bob.waitLog(t, "alice: hello from alice")
	bob.say(t, "hi alice")
	alice.waitLog(t, "bob: hi alice")
	settled(t, alice, bob)
	alice.once(t, "alice: hello from alice", true)
	alice.once(t, "bob: hi alice", false)
	bob.once(t, "alice: hello from alice", false)
	bob.once(t, "bob: hi alice", true)
	carol.say(t, "anyone in other?")
	settled(t, carol)
	carol.once(t, "carol: anyone in other?", true)
	carol.lacks(t, "alice: hello from alice", "bob: hi alice", "* bob joined the room", "* alice joined the room")
	alice.waitText(t, "count", "2")
	carol.waitText(t, "count", "1")
	// Chromium offers permessage-deflate and wsd compresses /ws by default (issue 9).
	if ext := alice.handshakes(); len(ext) != 1 || !strings.HasPrefix(ext[0], "permessage-deflate") {
		t.Errorf("alice's handshakes answered Sec-WebSocket-Extensions %q, want one with permessage-deflate", ext)
	}
	long := strings.TrimSpace(strings.Repeat("a long, compressible chat line ", 40))
	alice.say(t, long)
	bob.waitLog(t, "alice: "+long) // over the 256 B threshold: sent and received compressed

	bob.switchRoom(t, "other")
	carol.waitLog(t, "* bob joined the room")
	alice.waitLog(t, "* bob left the room")
	alice.say(t, "lobby only")
	carol.say(t, "welcome bob")
	bob.waitLog(t, "carol: welcome bob")
	settled(t, alice, carol)
	bob.lacks(t, "alice: lobby only", "carol: anyone in other?") // joined from now
	alice.waitText(t, "count", "1")
	bob.waitText(t, "count", "2")
	bob.switchRoom(t, "lobby")
	alice.waitLogCount(t, "* bob joined the room", 2)
	carol.waitLog(t, "* bob left the room")

	outage(t, wsd, []*tab{alice, bob}, carol)
	alice.waitText(t, "count", "2")
	carol.waitText(t, "count", "1")

	bob.say(t, `<img src=x onerror="document.title='xss'"> & <b>bold?</b>`)
	alice.waitLog(t, `bob: <img src=x onerror="document.title='xss'"> & <b>bold?</b>`)
	if eval[int](t, alice, `document.querySelectorAll("#log img, #log b").length`) != 0 {
		t.Error("user text became markup")
	}
	bob.say(t, "see you")
	alice.waitLog(t, "bob: see you")
	settled(t, alice, bob)
	savePageScreenshots(t, alice, bob)
}

// outage stops wsd while the first tab of pair sends a line (it gets no answer), kills it (the line
// is then unconfirmed), has every tab type while it is down, and starts wsd again while the second
// tab of pair is offline (the browser's emulation), so that it comes back after the others said what
// they typed. Each tab must say it could not recover (a new epoch); the first sends its unconfirmed
// line again; the late one must read what it missed since the restart from the room's history; every
// line must be shown exactly once, in one order for the tabs of pair (in one room).
func outage(t *testing.T, wsd *wsdProcess, pair []*tab, alone *tab) {
	t.Helper()
	early, late := pair[0], pair[1]
	tabs := []*tab{early, alone, late}
	wsd.pause(t)
	early.say(t, early.name+" as wsd stopped") // written to the socket, never answered
	wsd.kill(t)
	for _, tb := range tabs {
		tb.waitState(t, "reconnecting")
	}
	early.waitJS(t, `document.querySelector("#log li.pending.unsure") !== null`, "the line sent as wsd stopped marked unsure")
	for i := range 2 {
		for _, tb := range tabs {
			tb.say(t, fmt.Sprintf("%s while wsd was down %d", tb.name, i+1))
		}
	}
	for _, tb := range tabs {
		want := 2
		if tb == early {
			want = 3
		}
		if p := tb.pending(t); len(p) != want {
			t.Errorf("%s: %d lines waiting while wsd is down (%q), want %d", tb.name, len(p), p, want)
		}
	}
	late.offline(t, true)
	wsd.restart(t)
	const failed = "* Reconnected, but could not recover messages sent while you were away (epoch: "
	for _, tb := range []*tab{early, alone} {
		tb.waitLogPrefix(t, failed)
		tb.waitState(t, "open")
	}
	settled(t, early, alone)
	if s := eval[string](t, late, `document.getElementById("state").dataset.state`); s != "reconnecting" {
		t.Fatalf("%s is %s while offline", late.name, s)
	}
	late.offline(t, false)
	late.waitLogPrefix(t, failed)
	const read = "* Read 3 messages from the room's history" // what early said since the restart
	late.waitLog(t, read)
	settled(t, late)
	// The client sends the lines queued while offline first, then the page's resent one.
	want := []string{early.name + ": " + early.name + " while wsd was down 1", early.name + ": " + early.name + " while wsd was down 2",
		early.name + ": " + early.name + " as wsd stopped", late.name + ": " + late.name + " while wsd was down 1",
		late.name + ": " + late.name + " while wsd was down 2"}
	early.waitLog(t, want[4])
	if log := late.log(t); slices.Index(log, read) != slices.Index(log, want[0])-1 {
		t.Errorf("%s's log does not say %q right above the messages read: %q", late.name, read, log)
	}
	for _, tb := range tabs {
		n := len(want)
		if tb == alone {
			n = 2
		}
		checkLines(t, tb, "wsd", want[:n], tb == alone)
	}
}

// checkLines checks that the tab shows no line twice and, of the lines containing s, want in that
// order (anyOrder: that many).
func checkLines(t *testing.T, tb *tab, s string, want []string, anyOrder bool) {
	t.Helper()
	all := tb.lines(t)
	got := filterLines(all, s)
	if !anyOrder && !slices.Equal(got, want) || anyOrder && len(got) != len(want) {
		t.Errorf("%s shows the lines typed around the outage as %q, want %q", tb.name, got, want)
	}
	slices.Sort(all)
	if d := slices.Compact(slices.Clone(all)); len(d) != len(all) {
		t.Errorf("%s shows a line twice: %q", tb.name, all)
	}
}

// TestChatPageCluster runs the page on a two-node cluster sharing a JetStream (Debian's nats-server
// -js): tab A on node 1, tab B on node 2 chat across the nodes; node 1 is killed (SIGKILL) while B
// keeps chatting through node 2 and A keeps typing (queued), then node 1 starts again on the same
// port: A's page says it recovered the 3 messages it missed, and both tabs end with the same lines,
// in the same order, none missing or doubled. Its screenshot is the README's picture
// (updateDocScreenshot).
func TestChatPageCluster(t *testing.T) {
	nats := startNATSServer(t)
	args := []string{"-pubsub.presence-events", "-nats", nats, "-cluster.history", "jetstream",
		"-cluster.start-timeout", "30s", "-cluster.presence-interval", "500ms"}
	node1 := startWsdProcess(t, append(args, "-node-id", "node-1")...)
	node2 := startWsdProcess(t, append(args, "-node-id", "node-2")...)
	b := newBrowser(t)
	alice := b.join(t, node1.url(), "alice", "lobby")
	bob := b.join(t, node2.url(), "bob", "lobby")
	alice.waitLog(t, "* bob joined the room")
	alice.say(t, "hello from node 1")
	bob.waitLog(t, "alice: hello from node 1")
	bob.say(t, "hello from node 2")
	alice.waitLog(t, "bob: hello from node 2")
	settled(t, alice, bob)
	alice.waitText(t, "count", "2")

	node1.kill(t)
	alice.waitState(t, "reconnecting")
	for i := range 3 {
		bob.say(t, fmt.Sprintf("bob while node 1 was down %d", i+1))
	}
	settled(t, bob) // through node 2 and the stream
	for i := range 2 {
		alice.say(t, fmt.Sprintf("alice while node 1 was down %d", i+1))
	}
	if p := alice.pending(t); len(p) != 2 {
		t.Errorf("alice: %d lines waiting while node 1 is down (%q), want 2", len(p), p)
	}
	node1.restart(t)
	const back = "* Reconnected: recovered 3 missed messages"
	alice.waitLog(t, back)
	for i := range 2 {
		bob.waitLog(t, fmt.Sprintf("alice: alice while node 1 was down %d", i+1))
	}
	settled(t, alice, bob)
	a, bb := alice.lines(t), bob.lines(t)
	want := []string{"alice: hello from node 1", "bob: hello from node 2", "bob: bob while node 1 was down 1",
		"bob: bob while node 1 was down 2", "bob: bob while node 1 was down 3", "alice: alice while node 1 was down 1",
		"alice: alice while node 1 was down 2"}
	if !slices.Equal(a, want) || !slices.Equal(bb, want) {
		t.Errorf("alice shows %q,\nbob shows %q,\nwant %q", a, bb, want)
	}
	if log := alice.log(t); slices.Index(log, back) != slices.Index(log, want[2])-1 {
		t.Errorf("alice's log does not say %q right above the messages recovered: %q", back, log)
	}
	if n := eval[int](t, alice, `(`+logJS+`).filter((l) => l.includes("could not recover")).length`); n != 0 {
		t.Errorf("alice says %d times that she could not recover; log: %q", n, alice.log(t))
	}
	updateDocScreenshot(t, saveScreenshot(t, alice, "chat-page-cluster.png"))
}

// settled waits until no tab has a line waiting for wsd.
func settled(t *testing.T, tabs ...*tab) {
	t.Helper()
	for _, tb := range tabs {
		tb.waitSettled(t)
	}
}

// filterLines keeps the lines that contain s.
func filterLines(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// TestChatPageToken: with authentication on, the page passes ?token= on to the upgrade (presence
// shows the token's subject), and a switch to a room the token does not allow is refused: the page
// says so and goes back to the room it was in. Leave closes the connection; Join starts afresh.
func TestChatPageToken(t *testing.T) {
	c := svConfig()
	c.Auth.JWTSecret = auSecret
	_, addr := svStart(t, c, nil)
	tok := auToken(t, jwt.SigningMethodHS256, []byte(auSecret), auClaims("ada", time.Now().Add(time.Hour), []string{"lobby"}))
	tb := newBrowser(t).open(t, "http://"+addr+"/?user=Ada&room=lobby&token="+tok)
	tb.name = "Ada"
	tb.waitState(t, "open")
	tb.waitLog(t, "* You joined #lobby")
	tb.say(t, "hello with a token")
	settled(t, tb)
	tb.once(t, "Ada: hello with a token", true)
	tb.waitText(t, "count", "1")
	tb.waitJS(t, `document.getElementById("count-info").title === "connections in this room: ada"`, "the token's subject in presence")
	tb.run(t, "switch to secret", chromedp.SetValue(chromedp.ID("next-room"), "secret"), chromedp.Click(chromedp.ID("switch-btn")))
	tb.waitLog(t, "* Cannot join #secret: forbidden: the token does not allow room secret")
	tb.waitLog(t, "* Back in #lobby: nothing missed")
	tb.waitText(t, "room-label", "lobby")
	tb.say(t, "still in lobby")
	settled(t, tb)
	tb.once(t, "Ada: still in lobby", true)

	tb.run(t, "leave", chromedp.Click(chromedp.ID("leave")))
	tb.waitState(t, "closed")
	tb.run(t, "join again", chromedp.WaitVisible(chromedp.ID("setup")), chromedp.Click(chromedp.ID("join")))
	tb.waitState(t, "open")
	tb.waitLog(t, "* You joined #lobby")
	if log := tb.log(t); len(log) != 1 {
		t.Errorf("the log after joining again: %q, want the join alone", log)
	}
}
