package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
)

// rmWait bounds every wait of the room tests: an upper bound for a hang, never a timing assertion.
const rmWait = 10 * time.Second

// rmServer is an App with the route /r?id=NAME[&room=R] the room tests drive:
//
//	open     records the connection under id (the test calls Join, Broadcast... on it directly) and
//	         joins room when given
//	message  "bs N": Broadcast "b-N" to the sender's room, then Send "s-N" to every other connection;
//	         anything else is relayed with Broadcast to the sender's room
//	close    Broadcasts "<id> left" to the room it is still in, forgets the connection, reports id
type rmServer struct {
	app    *engine.App
	addr   string
	mu     sync.Mutex
	conns  map[string]*engine.Conn
	closed chan string
}

// newRmServer starts an rmServer (engine.StartApp with cfg); extra, when set, registers more routes
// (on s.app) before the start.
func newRmServer(t *testing.T, cfg engine.Config, extra func(s *rmServer)) *rmServer {
	t.Helper()
	s := &rmServer{conns: make(map[string]*engine.Conn), closed: make(chan string, 1<<14)}
	_, s.addr = engine.StartApp(t, cfg, func(a *engine.App) {
		s.app = a // before Start: the handlers read it
		a.Route("/r", engine.Handlers{Open: s.open, Message: s.message, Close: s.close})
		if extra != nil {
			extra(s)
		}
	})
	return s
}

func (s *rmServer) open(ws *engine.Conn, ctx *engine.Context) {
	id := ctx.Query("id")
	ws.SetData(id)
	s.mu.Lock()
	s.conns[id] = ws
	s.mu.Unlock()
	if room := ctx.Query("room"); room != "" {
		if err := ws.Join(room); err != nil {
			panic(err)
		}
	}
}

func (s *rmServer) message(ws *engine.Conn, m engine.Message) {
	if n, ok := strings.CutPrefix(m.Text(), "bs "); ok && m.Opcode() == engine.OpText {
		_ = ws.Broadcast(ws.Room(), "b-"+n)
		for _, o := range s.others(ws) {
			_ = o.Send("s-" + n)
		}
		return
	}
	_ = ws.Broadcast(ws.Room(), m)
}

func (s *rmServer) close(ws *engine.Conn, _ engine.CloseInfo) {
	id, _ := ws.Data().(string)
	if room := ws.Room(); room != "" {
		_ = ws.Broadcast(room, id+" left")
	}
	s.mu.Lock()
	if s.conns[id] == ws {
		delete(s.conns, id)
	}
	s.mu.Unlock()
	engine.Report(s.closed, id)
}

// others lists every recorded connection but ws.
func (s *rmServer) others(ws *engine.Conn) []*engine.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*engine.Conn, 0, len(s.conns))
	for _, c := range s.conns {
		if c != ws {
			out = append(out, c)
		}
	}
	return out
}

// lookup returns the server side of connection id (nil when unknown).
func (s *rmServer) lookup(id string) *engine.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// conn is lookup that fails the test when id is unknown.
func (s *rmServer) conn(t *testing.T, id string) *engine.Conn {
	t.Helper()
	c := s.lookup(id)
	if c == nil {
		t.Fatalf("no server connection %q", id)
	}
	return c
}

func (s *rmServer) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// rmExpect reads the next message of a gorilla client and checks its type and payload.
func rmExpect(t *testing.T, c *gorilla.Conn, typ int, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(rmWait))
	got, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read (want %q): %v", want, err)
	}
	if got != typ || string(data) != want {
		t.Fatalf("got type %d %q, want type %d %q", got, data, typ, want)
	}
}

// rmCoderExpect is rmExpect for a coder client.
func rmCoderExpect(t *testing.T, ctx context.Context, c *websocket.Conn, typ websocket.MessageType,
	want string) {
	t.Helper()
	got, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read (want %q): %v", want, err)
	}
	if got != typ || string(data) != want {
		t.Fatalf("got %v %q, want %v %q", got, data, typ, want)
	}
}

// rmEventually polls cond until it holds (true) or rmWait passes (false).
func rmEventually(cond func() bool) bool {
	deadline := time.Now().Add(rmWait)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

func rmJoin(t *testing.T, ws *engine.Conn, room string) {
	t.Helper()
	if err := ws.Join(room); err != nil {
		t.Fatalf("join %s: %v", room, err)
	}
}

func rmSent(t *testing.T, what string, n int, err error, want int) {
	t.Helper()
	if err != nil || n != want {
		t.Fatalf("%s: queued for %d (err %v), want %d", what, n, err, want)
	}
}

func rmRooms(t *testing.T, ws *engine.Conn, last string, all ...string) {
	t.Helper()
	if got := ws.Room(); got != last {
		t.Fatalf("Room() = %q, want %q", got, last)
	}
	if got := ws.Rooms(); !slices.Equal(got, all) {
		t.Fatalf("Rooms() = %q, want %q", got, all)
	}
}

// TestRoomsJoinBroadcast: three clients in A, one in B. Broadcast reaches the two others in A only,
// BroadcastAll includes the sender, B sees nothing; Room/Rooms/Count/Rooms() report the membership;
// after Leave nothing more arrives.
func TestRoomsJoinBroadcast(t *testing.T) {
	s := newRmServer(t, engine.Config{}, nil)
	cl := map[string]*gorilla.Conn{}
	for _, id := range []string{"a1", "a2", "a3", "b1"} {
		cl[id], _ = engine.DialGorilla(t, s.addr, "/r?id="+id, engine.GorillaOpts{})
	}
	a1, a3, b1 := s.conn(t, "a1"), s.conn(t, "a3"), s.conn(t, "b1")
	for _, id := range []string{"a1", "a2", "a3"} {
		rmJoin(t, s.conn(t, id), "A")
	}
	rmJoin(t, b1, "B")
	rmJoin(t, a1, "X")
	rmRooms(t, a1, "X", "A", "X")
	rmJoin(t, a1, "A") // already a member: nothing changes
	rmRooms(t, a1, "X", "A", "X")
	if !a1.Leave("X") || a1.Leave("X") {
		t.Fatal("Leave(X) twice: want true then false")
	}
	rmRooms(t, a1, "A", "A")
	rmRooms(t, b1, "B", "B")
	want := []engine.RoomCount{{Name: "A", Members: 3}, {Name: "B", Members: 1}}
	if got := s.app.Rooms(); !slices.Equal(got, want) {
		t.Fatalf("app.Rooms() = %v, want %v", got, want)
	}
	if s.app.Count("A") != 3 || s.app.Count("B") != 1 || s.app.Count("X") != 0 {
		t.Fatalf("counts A %d B %d X %d", s.app.Count("A"), s.app.Count("B"), s.app.Count("X"))
	}

	rmSent(t, "Broadcast text", -1, a1.Broadcast("A", "hello"), -1)
	rmSent(t, "Broadcast binary", -1, a1.Broadcast("A", []byte{0, 1, 0xff}), -1)
	rmSent(t, "BroadcastAll JSON", -1, a1.BroadcastAll("A", map[string]int{"n": 1}), -1)
	for _, id := range []string{"a2", "a3"} {
		rmExpect(t, cl[id], gorilla.TextMessage, "hello")
		rmExpect(t, cl[id], gorilla.BinaryMessage, "\x00\x01\xff")
	}
	for _, id := range []string{"a1", "a2", "a3"} { // a1's first message: it got neither broadcast
		rmExpect(t, cl[id], gorilla.TextMessage, `{"n":1}`)
	}
	n, err := rmPublish(s.app, "B", "b-only")
	rmSent(t, "Publish B", n, err, 1)
	rmExpect(t, cl["b1"], gorilla.TextMessage, "b-only") // B's first message: A's never reached it

	if !a3.Leave("A") {
		t.Fatal("a3.Leave(A) = false")
	}
	rmRooms(t, a3, "")
	rmSent(t, "Broadcast after leave", -1, a1.Broadcast("A", "after"), -1)
	rmExpect(t, cl["a2"], gorilla.TextMessage, "after")
	if err := a3.Send("direct"); err != nil {
		t.Fatal(err)
	}
	rmExpect(t, cl["a3"], gorilla.TextMessage, "direct") // "after" would have come first
}

// TestRoomsBroadcastOrder: 1000 numbered messages from one sender, relayed by its message handler and
// then broadcast from a plain goroutine, reach every member complete and in order, and never the sender.
func TestRoomsBroadcastOrder(t *testing.T) {
	const count = 1000
	s := newRmServer(t, engine.Config{}, nil)
	sender, _ := engine.DialGorilla(t, s.addr, "/r?id=sender&room=O", engine.GorillaOpts{})
	var members []*websocket.Conn
	for i := range 4 {
		c, _ := engine.DialCoder(t, s.addr, fmt.Sprintf("/r?id=m%d&room=O", i), engine.CoderOpts{})
		members = append(members, c)
	}
	for i := range count {
		if err := sender.WriteMessage(gorilla.TextMessage, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), rmWait)
	defer cancel()
	for _, m := range members {
		for i := range count {
			rmCoderExpect(t, ctx, m, websocket.MessageText, strconv.Itoa(i))
		}
	}
	done := make(chan error, 1)
	go func() {
		ws := s.lookup("sender")
		for i := range count {
			if err := ws.Broadcast("O", "g-"+strconv.Itoa(i)); err != nil {
				done <- fmt.Errorf("broadcast %d: %v", i, err)
				return
			}
		}
		done <- nil
	}()
	for _, m := range members {
		for i := range count {
			rmCoderExpect(t, ctx, m, websocket.MessageText, "g-"+strconv.Itoa(i))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.conn(t, "sender").Send("end"); err != nil {
		t.Fatal(err)
	}
	rmExpect(t, sender, gorilla.TextMessage, "end")
}

// TestRoomsBroadcastThenSend: a message handler broadcasts "b-N" to the room and then sends "s-N" to
// each other member directly; every member receives b-N before s-N (a direct send never overtakes an
// earlier broadcast, whichever loop the member is on).
func TestRoomsBroadcastThenSend(t *testing.T) {
	const rounds = 200
	s := newRmServer(t, engine.Config{}, nil)
	sender, _ := engine.DialGorilla(t, s.addr, "/r?id=sender&room=S", engine.GorillaOpts{})
	var members []*gorilla.Conn
	for i := range 5 {
		c, _ := engine.DialGorilla(t, s.addr, fmt.Sprintf("/r?id=m%d&room=S", i), engine.GorillaOpts{})
		members = append(members, c)
	}
	for i := range rounds {
		if err := sender.WriteMessage(gorilla.TextMessage, []byte("bs "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		for i := range rounds {
			rmExpect(t, m, gorilla.TextMessage, "b-"+strconv.Itoa(i))
			rmExpect(t, m, gorilla.TextMessage, "s-"+strconv.Itoa(i))
		}
	}
}

// TestRoomsCapJoinStorm: with MaxRoomMembers 20, 60 clients connect at once and each joins in its open
// handler; exactly 20 joins succeed, the 40 others get ErrRoomFull ("full" then close 1013).
func TestRoomsCapJoinStorm(t *testing.T) {
	const clients, limit = 60, 20
	errs := make(chan error, clients)
	s := newRmServer(t, engine.Config{}, func(s *rmServer) {
		s.app.Route("/cap", engine.Handlers{
			Open: func(ws *engine.Conn, _ *engine.Context) {
				if err := ws.Join("cap"); err != nil {
					engine.Report(errs, err)
					_ = ws.Send("full")
					ws.CloseWith(engine.CloseTryAgainLater, "full")
					return
				}
				_ = ws.Send("ok")
			},
			Options: engine.RouteOptions{MaxRoomMembers: limit},
		})
	})
	start := make(chan struct{})
	results := make(chan string, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results <- rmCapClient(t, s)
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	got := map[string]int{}
	for r := range results {
		got[r]++
	}
	if got["ok"] != limit || got["full"] != clients-limit || len(got) != 2 {
		t.Fatalf("results %v, want %d ok and %d full", got, limit, clients-limit)
	}
	for range clients - limit {
		if err := <-errs; !errors.Is(err, engine.ErrRoomFull) {
			t.Fatalf("join error %v, want ErrRoomFull", err)
		}
	}
	if n := s.app.Count("cap"); n != limit {
		t.Fatalf("Count = %d, want %d", n, limit)
	}
}

// rmCapClient connects to /cap and returns "ok", "full" (after checking close 1013) or an error text.
// Connections that got "ok" stay open until the test's cleanup.
func rmCapClient(t *testing.T, s *rmServer) string {
	c, _, err := engine.CoderConnect(s.addr, "/cap", engine.CoderOpts{})
	if err != nil {
		return "dial: " + err.Error()
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	ctx, cancel := context.WithTimeout(context.Background(), rmWait)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil || string(data) != "ok" && string(data) != "full" {
		return fmt.Sprintf("first message %q: %v", data, err)
	}
	if string(data) == "full" {
		if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
			return fmt.Sprintf("after full: %v, want close 1013", err)
		}
	}
	return string(data)
}

// TestRoomsLeaveOnClose: a closing connection is still in its rooms while its close handler runs (which
// broadcasts "<id> left" to the others) and leaves them afterwards, whether the client closed cleanly or
// dropped the TCP connection. The last one out removes the room.
func TestRoomsLeaveOnClose(t *testing.T) {
	s := newRmServer(t, engine.Config{}, nil)
	a, _ := engine.DialGorilla(t, s.addr, "/r?id=a&room=L", engine.GorillaOpts{})
	b, _ := engine.DialGorilla(t, s.addr, "/r?id=b&room=L", engine.GorillaOpts{})
	c, _ := engine.DialGorilla(t, s.addr, "/r?id=c&room=L", engine.GorillaOpts{})
	if n := s.app.Count("L"); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	msg := gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, "")
	if err := c.WriteControl(gorilla.CloseMessage, msg, time.Now().Add(rmWait)); err != nil {
		t.Fatal(err)
	}
	rmExpect(t, a, gorilla.TextMessage, "c left")
	rmExpect(t, b, gorilla.TextMessage, "c left")
	engine.Poll(t, "Count(L) == 2", func() bool { return s.app.Count("L") == 2 })

	_ = b.UnderlyingConn().Close() // abrupt: no close frame
	rmExpect(t, a, gorilla.TextMessage, "b left")
	engine.Poll(t, "Count(L) == 1", func() bool { return s.app.Count("L") == 1 })

	_ = a.Close()
	engine.Poll(t, "room L removed", func() bool { return len(s.app.Rooms()) == 0 })
	info, err := s.app.RoomInfo("L", 0, 0) // no members left: the history stays, for recovery
	if err != nil || info.Connections != 0 || len(info.Messages) != 3 || info.Messages[2].Text != "a left" {
		t.Fatalf("RoomInfo of a room without members: %+v, %v", info, err)
	}
	if _, err := s.app.RoomInfo("never", 0, 0); !errors.Is(err, engine.ErrNoRoom) {
		t.Fatalf("RoomInfo of a room that never existed: %v, want ErrNoRoom", err)
	}
}

// TestRoomsPublish: App.Publish from a plain HTTP handler and from a goroutine reaches the room's
// members (text, binary, JSON) and nobody else; a Message sends an explicit opcode.
func TestRoomsPublish(t *testing.T) {
	s := newRmServer(t, engine.Config{}, func(s *rmServer) {
		s.app.POST("/pub/:room", func(ctx *engine.Context) error {
			n, err := rmPublish(s.app, ctx.Param("room"), string(ctx.Body()))
			if err != nil {
				return err
			}
			return ctx.JSON(http.StatusOK, map[string]int{"delivered": n})
		})
	})
	p1, _ := engine.DialCoder(t, s.addr, "/r?id=p1&room=P", engine.CoderOpts{})
	p2, _ := engine.DialCoder(t, s.addr, "/r?id=p2&room=P", engine.CoderOpts{})
	q, _ := engine.DialCoder(t, s.addr, "/r?id=q&room=Q", engine.CoderOpts{})

	if got := rmPost(t, s.addr, "/pub/P", "from http"); got != `{"delivered":2}` {
		t.Fatalf("POST /pub/P answered %s", got)
	}
	if got := rmPost(t, s.addr, "/pub/nobody", "lost"); got != `{"delivered":0}` {
		t.Fatalf("POST /pub/nobody answered %s", got)
	}
	errc := make(chan error, 1)
	go func() {
		if n, err := rmPublish(s.app, "P", []byte{1, 2, 3}); n != 2 || err != nil {
			errc <- fmt.Errorf("Publish binary: %d, %v", n, err)
			return
		}
		if n, err := rmPublish(s.app, "P", struct{ K string }{"v"}); n != 2 || err != nil {
			errc <- fmt.Errorf("Publish JSON: %d, %v", n, err)
			return
		}
		if _, err := rmPublish(s.app, "P", engine.NewMessage(frame.OpClose, []byte("no"))); !errors.Is(err, engine.ErrBadOpcode) {
			errc <- fmt.Errorf("Publish of a close frame: %v, want ErrBadOpcode", err)
			return
		}
		if n, err := rmPublish(s.app, "P", engine.NewMessage(frame.OpBinary, []byte("raw"))); n != 2 || err != nil {
			errc <- fmt.Errorf("Publish of a binary Message: %d, %v", n, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rmWait)
	defer cancel()
	for _, c := range []*websocket.Conn{p1, p2} {
		rmCoderExpect(t, ctx, c, websocket.MessageText, "from http")
		rmCoderExpect(t, ctx, c, websocket.MessageBinary, "\x01\x02\x03")
		rmCoderExpect(t, ctx, c, websocket.MessageText, `{"K":"v"}`)
		rmCoderExpect(t, ctx, c, websocket.MessageBinary, "raw")
	}
	if n, err := rmPublish(s.app, "Q", "q-only"); n != 1 || err != nil {
		t.Fatalf("Publish Q: %d, %v", n, err)
	}
	rmCoderExpect(t, ctx, q, websocket.MessageText, "q-only")
}

// rmPublish publishes v to room and returns how many connections it was queued for.
func rmPublish(app *engine.App, room string, v any) (int, error) {
	n := -1
	err := app.Publish(room, v, func(r engine.PublishResult) { n = r.Delivered })
	return n, err
}

// rmPost POSTs body to path and returns the answer's body, failing on a status other than 200.
func rmPost(t *testing.T, addr, path, body string) string {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: rmWait}
	resp, err := client.Post("http://"+addr+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %q %v", path, resp.StatusCode, got, err)
	}
	return strings.TrimSpace(string(got))
}
