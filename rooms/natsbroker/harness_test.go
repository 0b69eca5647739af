package natsbroker_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// wait bounds every wait of these tests: an upper bound for a hang, never a timing assertion.
const wait = 15 * time.Second

// testInterval is the presence interval of the test nodes.
const testInterval = 100 * time.Millisecond

var quiet = slog.New(slog.DiscardHandler)

// startNATS starts an embedded NATS server on 127.0.0.1 (port -1: a random free port), without
// JetStream. The test's cleanup shuts it down.
func startNATS(tb testing.TB, port int) *server.Server {
	tb.Helper()
	return runNATS(tb, &server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
}

// startJS starts an embedded NATS server with JetStream storing in dir (tb.TempDir() when "").
func startJS(tb testing.TB, port int, dir string) *server.Server {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	return runNATS(tb, &server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: dir})
}

func runNATS(tb testing.TB, o *server.Options) *server.Server {
	tb.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(wait) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { stopNATS(s) })
	return s
}

func stopNATS(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

func natsPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// subsFor is the number of subscriptions the NATS server would deliver a message on subject to.
func subsFor(tb testing.TB, s *server.Server, subject string) int {
	tb.Helper()
	sz, err := s.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject})
	if err != nil {
		tb.Fatalf("subsz: %v", err)
	}
	return sz.Total
}

// node is one wsd engine with a NATS broker and three routes:
//
//	/room/:room  open joins the room; a text message starting with "all:" is relayed with
//	             BroadcastAll, any other with Broadcast; members receive publications as published.
//	/rec/:room   open joins from the position in the query (?offset=N&epoch=E) and sends
//	             "joined <recovered> <offset> <epoch> <missed> <reason>"; every text message is
//	             published with BroadcastAll; members receive "<offset> <epoch> <text>".
//	/p/:room     presence (?user=U): open joins, members receive "msg <text>", "join <user> <conn>"
//	             and "leave <user> <conn>".
type node struct {
	app  *engine.App
	b    *natsbroker.Broker
	addr string
}

// startNode starts a node on url; o's zero fields get test values (presence every 100 ms, LocalCount
// from the App, no logging). url "" starts a single node without a broker. The test's cleanup shuts it
// down.
func startNode(tb testing.TB, url string, o natsbroker.Options) *node {
	tb.Helper()
	n, err := tryNode(tb, url, o)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	return n
}

// tryNode is startNode that returns Start's error.
func tryNode(tb testing.TB, url string, o natsbroker.Options) (*node, error) {
	tb.Helper()
	n := &node{}
	o.URL = url
	if o.PresenceInterval == 0 {
		o.PresenceInterval = testInterval
	}
	if o.LocalCount == nil && o.Counts == nil {
		o.LocalCount = func(room string) int { return n.app.LocalCount(room) }
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	cfg := engine.Config{Loops: 2, Logger: quiet}
	if url != "" {
		b, err := natsbroker.New(o)
		if err != nil {
			tb.Fatalf("natsbroker.New: %v", err)
		}
		n.b, cfg.Broker = b, b
	}
	n.app = engine.New(cfg)
	n.app.Route("/room/:room", engine.Handlers{Open: n.open, Message: n.message})
	n.app.Route("/rec/:room", engine.Handlers{Open: n.openFrom, Message: n.publishAll,
		Options: engine.RouteOptions{Render: renderPositions}})
	n.app.Route("/p/:room", engine.Handlers{Open: n.openPresence, Message: n.publishAll,
		Options: engine.RouteOptions{Presence: true, PresenceEvents: true, Render: renderPresence}})
	if err := n.app.Start("127.0.0.1:0"); err != nil {
		if n.b != nil {
			_ = n.b.Close()
		}
		return nil, err
	}
	n.addr = n.app.Addr().String()
	tb.Cleanup(func() { n.stop(tb) })
	return n, nil
}

// stop shuts the node down (its broker too). Safe to call twice.
func (n *node) stop(tb testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.app.Shutdown(ctx); err != nil {
		tb.Errorf("shutdown: %v", err)
	}
	if n.b != nil {
		_ = n.b.Close()
	}
}

func (n *node) open(ws *engine.Conn, ctx *engine.Context) {
	room := ctx.Param("room")
	ws.SetData(room)
	if err := ws.Join(room); err != nil {
		ws.CloseWith(1011, err.Error())
	}
}

func (n *node) message(ws *engine.Conn, m engine.Message) {
	room, _ := ws.Data().(string)
	text := m.Text()
	if strings.HasPrefix(text, "all:") {
		_ = ws.BroadcastAll(room, text)
		return
	}
	_ = ws.Broadcast(room, text)
}

func (n *node) publishAll(ws *engine.Conn, m engine.Message) {
	room, _ := ws.Data().(string)
	_ = ws.BroadcastAll(room, m.Text())
}

func (n *node) openFrom(ws *engine.Conn, ctx *engine.Context) {
	room := ctx.Param("room")
	ws.SetData(room)
	off, _ := strconv.ParseUint(ctx.Query("offset"), 10, 64)
	since := engine.Position{Offset: off, Epoch: ctx.Query("epoch")}
	ws.JoinFrom(room, since, func(rec engine.Recovery, err error) {
		if err != nil {
			ws.CloseWith(1011, err.Error())
			return
		}
		_ = ws.Send(fmt.Sprintf("joined %v %d %s %d %s", rec.Recovered, rec.Position.Offset,
			rec.Position.Epoch, rec.Missed, rec.Reason))
	})
}

func (n *node) openPresence(ws *engine.Conn, ctx *engine.Context) {
	room := ctx.Param("room")
	ws.SetData(room)
	ws.SetUser(ctx.Query("user"))
	if err := ws.Join(room); err != nil {
		ws.CloseWith(1011, err.Error())
	}
}

func renderPositions(dst []byte, p engine.Publication) ([]byte, engine.Opcode) {
	if p.Presence != nil {
		return append(dst, "presence"...), engine.OpText
	}
	dst = strconv.AppendUint(dst, p.Position.Offset, 10)
	dst = append(dst, ' ')
	dst = append(dst, p.Position.Epoch...)
	dst = append(dst, ' ')
	return append(dst, p.Message.Data()...), engine.OpText
}

func renderPresence(dst []byte, p engine.Publication) ([]byte, engine.Opcode) {
	if c := p.Presence; c != nil {
		ev := "leave "
		if p.Joined {
			ev = "join "
		}
		return append(append(append(append(dst, ev...), c.User...), ' '), c.Conn...), engine.OpText
	}
	return append(append(dst, "msg "...), p.Message.Data()...), engine.OpText
}

// flush waits until every node's broker has handed its queued work to NATS and the server processed it.
func flush(tb testing.TB, nodes ...*node) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, n := range nodes {
		if err := n.b.Flush(ctx); err != nil {
			tb.Fatalf("flush %s: %v", n.b.NodeID(), err)
		}
	}
}

// waitFor polls cond until it holds, failing the test after wait.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until node i has local[i] members in room, then flushes every broker: afterwards the
// NATS server knows every node's subscription.
func settle(tb testing.TB, room string, nodes []*node, local []int) {
	tb.Helper()
	for i, n := range nodes {
		waitFor(tb, "local members of "+room, func() bool { return n.app.LocalCount(room) == local[i] })
	}
	flush(tb, nodes...)
}

// client is a gorilla WebSocket client whose messages a goroutine reads into msgs.
type client struct {
	c    *gorilla.Conn
	msgs chan string
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// dial connects a client to room on n. The test's cleanup closes it.
func dial(tb testing.TB, n *node, room string) *client {
	tb.Helper()
	return dialURL(tb, "ws://"+n.addr+"/room/"+url.PathEscape(room))
}

// dialURL connects a client to u. The test's cleanup closes it.
func dialURL(tb testing.TB, u string) *client {
	tb.Helper()
	c, _, err := gorilla.DefaultDialer.Dial(u, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", u, err)
	}
	cl := &client{c: c, msgs: make(chan string, 1<<14), stop: make(chan struct{}), done: make(chan struct{})}
	go cl.read()
	tb.Cleanup(cl.close)
	return cl
}

func (cl *client) read() {
	defer close(cl.done)
	for {
		_, data, err := cl.c.ReadMessage()
		if err != nil {
			return
		}
		select {
		case cl.msgs <- string(data):
		case <-cl.stop:
			return
		}
	}
}

// close drops the connection (the server sees it go and removes it from its rooms).
func (cl *client) close() {
	cl.once.Do(func() {
		close(cl.stop)
		_ = cl.c.Close()
		<-cl.done
	})
}

func (cl *client) send(tb testing.TB, s string) {
	tb.Helper()
	if err := cl.write(s); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// write sends a text message; safe from one goroutine at a time.
func (cl *client) write(s string) error { return cl.c.WriteMessage(gorilla.TextMessage, []byte(s)) }

// timeout is the upper bound of one wait.
func timeout() <-chan time.Time { return time.After(wait) }

// next returns the client's next message.
func (cl *client) next(tb testing.TB) string {
	tb.Helper()
	select {
	case m := <-cl.msgs:
		return m
	case <-time.After(wait):
		tb.Fatal("timed out waiting for a message")
		return ""
	}
}

// expect reads the client's next messages and compares them with want, in order.
func (cl *client) expect(tb testing.TB, want ...string) {
	tb.Helper()
	for i, w := range want {
		if got := cl.next(tb); got != w {
			tb.Fatalf("message %d: got %q, want %q", i, got, w)
		}
	}
}

// sink is an Inbound that records what a broker delivers.
type sink struct {
	fp    *rooms.FramePool
	ch    chan delivery
	syncs chan syncAnswer
}

type delivery struct {
	room     string
	pos      rooms.Position
	variants [][]byte
}

type syncAnswer struct {
	room string
	pos  rooms.Position
	err  error
}

func newSink() *sink {
	return &sink{fp: rooms.NewFramePool(new(frame.Pool)), ch: make(chan delivery, 1<<14), syncs: make(chan syncAnswer, 1024)}
}

func (s *sink) NewPub(room string) *rooms.Pub {
	p := new(rooms.Pub)
	p.Room = room
	return p
}

func (s *sink) FromWire(wire []byte) *rooms.Frame { return s.fp.FromWire(wire) }

func (s *sink) Deliver(p *rooms.Pub) {
	d := delivery{room: p.Room, pos: p.Position}
	for _, f := range []*rooms.Frame{p.Main, p.Alt} {
		var v []byte
		if f != nil {
			v = append(v, f.Wire()...)
		}
		d.variants = append(d.variants, v)
	}
	s.ch <- d
	p.Finish(rooms.PubResult{Position: p.Position})
}

func (s *sink) PresenceEvent(rooms.PresenceChange) {}

func (s *sink) Sync(room string, pos rooms.Position, err error) {
	s.syncs <- syncAnswer{room, pos, err}
}

func (s *sink) next(tb testing.TB) delivery {
	tb.Helper()
	select {
	case d := <-s.ch:
		return d
	case <-time.After(wait):
		tb.Fatal("timed out waiting for a delivery")
		return delivery{}
	}
}

func (s *sink) nextSync(tb testing.TB) syncAnswer {
	tb.Helper()
	select {
	case a := <-s.syncs:
		return a
	case <-time.After(wait):
		tb.Fatal("timed out waiting for a Sync")
		return syncAnswer{}
	}
}

// startBroker starts a broker without an engine: what it receives goes to the returned sink.
func startBroker(tb testing.TB, url string, o natsbroker.Options) (*natsbroker.Broker, *sink) {
	tb.Helper()
	o.URL = url
	if o.PresenceInterval == 0 {
		o.PresenceInterval = testInterval
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	b, err := natsbroker.New(o)
	if err != nil {
		tb.Fatalf("natsbroker.New: %v", err)
	}
	s := newSink()
	if err := b.Start(s); err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b, s
}

// textPub is a publication of payload to room as one text frame, the way the engine encodes a string.
func textPub(fp *rooms.FramePool, room, payload string) *rooms.Pub {
	buf := fp.Buffer()
	buf.B = append(buf.B, payload...)
	p := new(rooms.Pub)
	p.Room, p.Main = room, fp.Finish(buf, frame.OpText)
	return p
}
