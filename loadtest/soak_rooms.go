package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// A soak room: one publisher, well-behaved members that must receive every publication in order, and
// slow consumers that stop reading for a while and then check what the slow-consumer policy did to
// them. /rooms/<name> is wsd's raw relay (policy drop: a slow consumer's stream has gaps, the server
// counts each skipped message); /chat/<name> is the chat route, which the soak configures with policy
// close (a slow consumer is closed with 1008 "slow consumer").

type soakRoom struct {
	s    *soak
	id   int
	plan RoomPlan
	pub  atomic.Int64 // last publication sent

	poller  *client.Poller
	members []*soakMember
	joined  int // members added to the poller
	closing atomic.Bool
}

func (s *soak) newRoom(id int, p RoomPlan) *soakRoom { return &soakRoom{s: s, id: id, plan: p} }

// msgKind is what a room message turned out to be.
type msgKind int

const (
	publication  msgKind = iota
	announcement         // chat: "<user> joined the room" / "<user> left the room"
)

// chatPublisher is the user name of chat publishers.
const chatPublisher = "soak-publisher"

// roomMsg is a message received in a room, checked.
type roomMsg struct {
	kind msgKind
	seq  int64 // publication number
	ts   int64 // publication time (UnixNano)
}

// parse checks one message received in the room.
func (r *soakRoom) parse(op client.Opcode, p []byte) (roomMsg, error) {
	if r.plan.Chat {
		return r.parseChat(op, p)
	}
	if op != client.OpBinary {
		return roomMsg{}, fmt.Errorf("unexpected message: opcode %d, %d bytes: %.60q", op, len(p), p)
	}
	return r.checkPublication(op, p)
}

// checkPublication checks a publication's size, stamp and content.
func (r *soakRoom) checkPublication(op client.Opcode, p []byte) (roomMsg, error) {
	ts, seq, ok := client.ReadStamp(op, p)
	if !ok || len(p) != r.plan.Size {
		return roomMsg{}, fmt.Errorf("publication without a stamp or of %d bytes: %.60q", len(p), p)
	}
	want := make([]byte, len(p))
	echoPayload(want, r.id, seq)
	if !bytes.Equal(p[client.StampSize:], want[client.StampSize:]) {
		return roomMsg{}, fmt.Errorf("publication %d: content differs", seq)
	}
	return roomMsg{kind: publication, seq: seq, ts: ts}, nil
}

func (r *soakRoom) parseChat(op client.Opcode, p []byte) (roomMsg, error) {
	if op != client.OpText {
		return roomMsg{}, fmt.Errorf("chat: unexpected opcode %d", op)
	}
	if bytes.HasSuffix(p, []byte(" joined the room")) || bytes.HasSuffix(p, []byte(" left the room")) {
		return roomMsg{kind: announcement}, nil
	}
	var line struct{ User, Message string }
	if err := json.Unmarshal(p, &line); err != nil || line.User != chatPublisher {
		return roomMsg{}, fmt.Errorf("chat: unexpected message %.80q", p)
	}
	return r.checkPublication(client.OpText, []byte(line.Message))
}

// path is the room's URL path for a client called user (chat shows it).
func (r *soakRoom) path(user string) string {
	if r.plan.Chat {
		return r.plan.Path + "?user=" + user
	}
	return r.plan.Path
}

// run joins the members, publishes until the load phase ends (slow consumers cycling meanwhile), then
// waits for the last deliveries and checks every member.
func (r *soakRoom) run() {
	s := r.s
	name, want := r.checkNames()
	if err := r.join(); err != nil {
		s.fail(name, want, "join: %v", err)
		r.closeMembers()
		return
	}
	var wg sync.WaitGroup
	for i := range r.plan.Slow {
		wg.Go(func() { r.slowConsumer(i) })
	}
	pubErr := r.publish()
	wg.Wait()
	r.await()
	for i, m := range r.members[:r.joined] {
		if err := m.verdict(r.pub.Load()); err != nil {
			s.fail(name, want, "member %d of %s: %v", i, r.plan.Path, err)
		} else {
			s.pass(name, want)
		}
	}
	r.closeMembers()
	s.result("room publisher", "publishes for the whole run within the rate limits", pubErr)
}

func (r *soakRoom) checkNames() (string, string) {
	if r.plan.Chat {
		return "chat member", "every publication, in order, among join/leave lines"
	}
	return "room member", "every publication, in order"
}

// join dials the members and starts polling them.
func (r *soakRoom) join() error {
	p, err := client.NewPoller(r.onMessage, r.onEnd)
	if err != nil {
		return err
	}
	r.poller = p
	r.members = make([]*soakMember, r.plan.Members)
	for i := range r.members {
		r.members[i] = newSoakMember()
	}
	scratch := make([]byte, 4096)
	for i := range r.members {
		nc, n, err := r.s.dialer.DialRaw(r.s.ctx, r.s.ep, r.path(fmt.Sprintf("member-%d-%d", r.id, i)), scratch)
		if err != nil {
			return err
		}
		r.s.upgrades.Add(1)
		if err := p.Add(nc, scratch[:n], i); err != nil {
			_ = nc.Close()
			return err
		}
		r.joined = i + 1
	}
	return nil
}

func (r *soakRoom) onMessage(tag int, op client.Opcode, p []byte) {
	m := r.members[tag]
	msg, err := r.parse(op, p)
	switch {
	case err != nil:
		m.deviate(r.s.since(), "%v", err)
	case msg.kind == publication && m.receive(msg.seq, r.s.since()):
		r.s.delivered.Add(1)
		r.s.progress.Add(1)
		r.s.rec.RecordSince(msg.ts)
	}
}

func (r *soakRoom) onEnd(tag int, _ error) {
	m := r.members[tag]
	m.dead.Store(!r.closing.Load())
	m.ended.Store(true)
}

// publish sends the room's publications at its rate until the load phase ends. The publisher reads
// too (it answers pings; in chat it gets its own lines back and checks them like a member).
func (r *soakRoom) publish() error {
	s := r.s
	c, err := s.dial(r.path(chatPublisher), nil)
	if err != nil {
		return err
	}
	op := client.OpBinary
	if r.plan.Chat {
		op = client.OpText
	}
	readDone := make(chan error, 1)
	go func() { readDone <- r.publisherReads(c) }()
	interval := time.Duration(float64(time.Second) / r.plan.Rate)
	payload := make([]byte, r.plan.Size)
	var frame []byte
	next := time.Now()
	var werr error
	for seq := int64(1); s.sleep(time.Until(next)); seq++ {
		next = pace(next, interval)
		echoPayload(payload, r.id, seq)
		client.PutStamp(op, payload, time.Now().UnixNano(), seq)
		frame = client.AppendFrame(frame[:0], op, payload, c.Key())
		if werr = c.Write(frame); werr != nil {
			werr = fmt.Errorf("publication %d: %w", seq, werr)
			break
		}
		r.pub.Store(seq)
		s.published.Add(1)
	}
	cerr := c.SendClose()
	rerr := <-readDone
	_ = c.Abort()
	return errors.Join(werr, cerr, rerr)
}

// publisherReads reads the publisher's connection until the server answers its close: in a raw room
// nothing may arrive (the relay skips the sender); in chat its own lines arrive in order. It keeps
// reading after a deviation (which it returns at the end), so the publisher never stops reading.
func (r *soakRoom) publisherReads(c *client.Conn) error {
	next := int64(1)
	var first error
	for {
		op, p, err := c.ReadMessage()
		var ce *client.CloseError
		if errors.As(err, &ce) {
			return first
		}
		if err != nil {
			return errors.Join(first, err)
		}
		switch msg, perr := r.parse(op, p); {
		case !r.plan.Chat:
			err = fmt.Errorf("raw relay sent the publisher a message: %.60q", p)
		case perr != nil:
			err = perr
		case msg.kind == publication && msg.seq != next:
			err = fmt.Errorf("publisher got its publication %d back when %d was due", msg.seq, next)
			next = msg.seq + 1
		case msg.kind == publication:
			next++
		}
		if first == nil {
			first = err
		}
	}
}

// await waits until every member has every publication, or nothing arrived for 10 s.
func (r *soakRoom) await() {
	last, since := int64(-1), time.Now()
	for time.Since(since) < 10*time.Second {
		var total int64
		done := true
		for _, m := range r.members[:r.joined] {
			got := m.received()
			total += got
			if got < r.pub.Load() && !m.ended.Load() {
				done = false
			}
		}
		if done {
			return
		}
		if total != last {
			last, since = total, time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// closeMembers closes every member with a closing handshake (at most 10 s) and stops the poller.
func (r *soakRoom) closeMembers() {
	if r.poller == nil {
		return
	}
	r.closing.Store(true)
	joined := r.members[:r.joined]
	for i, m := range joined {
		if !m.ended.Load() {
			_ = r.poller.SendClose(i)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		open := 0
		for _, m := range joined {
			if !m.ended.Load() {
				open++
			}
		}
		if open == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.poller.Close()
}
