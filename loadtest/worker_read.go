package loadtest

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// members are a worker's broadcast members: one client.Poller reads them all (epoll on Linux), counts
// the messages of each and records their latency.
type members struct {
	mu      sync.Mutex // serializes reserve and poller creation
	poller  *client.Poller
	list    atomic.Pointer[[]*member] // copy-on-write: the poller reads it without a lock
	rec     *client.Recorder
	closing atomic.Bool
	ended   atomic.Int64
}

// member is one reading connection.
type member struct {
	room   int
	n      atomic.Int64  // messages received
	dead   atomic.Bool   // ended without our asking
	ended  atomic.Bool   // ended
	unused atomic.Bool   // its dial failed
	notify chan struct{} // a message arrived (the publisher's window uses the probes)
}

func newMembers() *members {
	m := &members{rec: client.NewRecorder()}
	m.list.Store(&[]*member{})
	return m
}

// all is the current list.
func (m *members) all() []*member { return *m.list.Load() }

// reserve adds n members, the i-th in room (first+i) % rooms, and returns the tag of the first.
func (m *members) reserve(n, first, rooms int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.all()
	list := make([]*member, len(old), len(old)+n)
	copy(list, old)
	for i := range n {
		list = append(list, &member{room: (first + i) % max(rooms, 1), notify: make(chan struct{}, 1)})
	}
	m.list.Store(&list)
	return len(old)
}

// add starts reading an upgraded connection as member tag.
func (m *members) add(nc net.Conn, leftover []byte, tag int) error {
	m.mu.Lock()
	if m.poller == nil {
		p, err := client.NewPoller(m.onMessage, m.onEnd)
		if err != nil {
			m.mu.Unlock()
			return err
		}
		m.poller = p
	}
	p := m.poller
	m.mu.Unlock()
	return p.Add(nc, leftover, tag)
}

// failed marks member tag as never connected.
func (m *members) failed(tag int) {
	r := m.all()[tag]
	r.unused.Store(true)
	r.ended.Store(true)
	m.ended.Add(1)
}

func (m *members) onMessage(tag int, op client.Opcode, p []byte) {
	r := m.all()[tag]
	if ts, _, ok := client.ReadStamp(op, p); ok {
		m.rec.RecordSince(ts)
	}
	r.n.Add(1)
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (m *members) onEnd(tag int, _ error) {
	r := m.all()[tag]
	r.dead.Store(!m.closing.Load())
	r.ended.Store(true)
	m.ended.Add(1)
}

// closeAll sends close frames to all members, waits (at most 10 s) until the server answered each,
// stops the poller and returns how many ended cleanly.
func (m *members) closeAll() int {
	list := m.all()
	if m.poller == nil {
		return 0
	}
	m.closing.Store(true)
	for tag, r := range list {
		if !r.ended.Load() {
			_ = m.poller.SendClose(tag)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.ended.Load() < int64(len(list)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	m.poller.Close()
	clean := 0
	for _, r := range list {
		if r.ended.Load() && !r.dead.Load() && !r.unused.Load() {
			clean++
		}
	}
	m.poller = nil
	m.list.Store(&[]*member{})
	m.ended.Store(0)
	m.closing.Store(false)
	return clean
}
