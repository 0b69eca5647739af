package loadtest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// soakMember is a well-behaved room member read by the room's poller: it keeps track of every
// publication it misses, gets late (out of order) or twice, so a deviation says which it was.
type soakMember struct {
	ended atomic.Bool
	dead  atomic.Bool // ended without our asking

	mu        sync.Mutex
	next      int64              // highest publication received + 1
	got       int64              // distinct publications received
	missing   map[int64]struct{} // skipped so far (bounded by maxMissing)
	overflow  int64              // skipped beyond maxMissing
	reordered int64              // arrived after a later one
	dups      int64
	first     string // the first deviation, with the time since the soak started
}

// maxMissing bounds the skipped publications a member remembers individually.
const maxMissing = 10000

func newSoakMember() *soakMember { return &soakMember{next: 1, missing: map[int64]struct{}{}} }

// receive records publication seq and reports whether it is new (not a duplicate). at is the time
// since the soak started. Runs on the poller goroutine.
func (m *soakMember) receive(seq int64, at time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case seq == m.next:
		m.next++
	case seq > m.next:
		m.noteLocked(at, "publication %d arrived when %d was due", seq, m.next)
		for k := m.next; k < seq; k++ {
			if len(m.missing) < maxMissing {
				m.missing[k] = struct{}{}
			} else {
				m.overflow++
			}
		}
		m.next = seq + 1
	default:
		if _, ok := m.missing[seq]; !ok {
			m.dups++
			m.noteLocked(at, "publication %d arrived again", seq)
			return false
		}
		delete(m.missing, seq)
		m.reordered++
		m.noteLocked(at, "publication %d arrived after %d", seq, m.next-1)
	}
	m.got++
	return true
}

// deviate records something unexpected other than the order.
func (m *soakMember) deviate(at time.Duration, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noteLocked(at, format, args...)
}

func (m *soakMember) noteLocked(at time.Duration, format string, args ...any) {
	if m.first == "" {
		m.first = fmt.Sprintf(format, args...) + fmt.Sprintf(" (at %.1fs)", at.Seconds())
	}
}

// received is how many distinct publications arrived.
func (m *soakMember) received() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.got
}

// verdict is nil when the member got all sent publications, each once, in order.
func (m *soakMember) verdict(sent int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	lost := sent - m.got
	switch {
	case m.first != "" || lost != 0:
		return fmt.Errorf("%d of %d publications lost, %d out of order, %d twice; first: %s", lost, sent,
			m.reordered, m.dups, m.first)
	case m.dead.Load():
		return fmt.Errorf("closed by the server after all %d publications", sent)
	}
	return nil
}
