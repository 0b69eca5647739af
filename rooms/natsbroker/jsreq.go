package natsbroker

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// requests sends JetStream API requests (stored-message publishes, direct gets) without waiting:
// every reply comes back on one inbox subscription (<inbox>.<id>), whose nats.go goroutine calls the
// request's callback. A sweep fails the requests whose reply did not come in time. This keeps every
// JetStream exchange off the event loops and off the broker's own goroutines: no goroutine per
// request, no blocking call.
type requests struct {
	nc      *nats.Conn
	inbox   string // "<inbox>."
	sub     *nats.Subscription
	timeout time.Duration

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*request
	closed  bool
}

// request is one request waiting for its reply.
type request struct {
	deadline time.Time
	done     func(m *nats.Msg, err error) // called once, on the inbox goroutine or the sweeper's
}

// Errors of requests.
var (
	errTimeout = errors.New("natsbroker: no reply from JetStream in time")
	errClosed  = errors.New("natsbroker: closed")
)

func newRequests(nc *nats.Conn, timeout time.Duration) (*requests, error) {
	rq := &requests{nc: nc, inbox: nc.NewInbox() + ".", timeout: timeout, pending: make(map[uint64]*request)}
	sub, err := nc.Subscribe(rq.inbox+"*", rq.onReply)
	if err != nil {
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1) // replies are bounded by the requests in flight
	rq.sub = sub
	return rq, nil
}

// send publishes m with a reply subject of its own; done runs once with the reply or an error
// (errTimeout, errClosed, or the publish error, then before send returns).
func (rq *requests) send(m *nats.Msg, done func(*nats.Msg, error)) {
	rq.mu.Lock()
	if rq.closed {
		rq.mu.Unlock()
		done(nil, errClosed)
		return
	}
	rq.next++
	id := rq.next
	rq.pending[id] = &request{deadline: time.Now().Add(rq.timeout), done: done}
	rq.mu.Unlock()
	m.Reply = rq.inbox + strconv.FormatUint(id, 36)
	if err := rq.nc.PublishMsg(m); err != nil {
		if r := rq.take(id); r != nil {
			r.done(nil, err)
		}
	}
}

// take removes and returns the request id, or nil when it already completed.
func (rq *requests) take(id uint64) *request {
	rq.mu.Lock()
	defer rq.mu.Unlock()
	r := rq.pending[id]
	delete(rq.pending, id)
	return r
}

// onReply hands a reply to its request (on the inbox subscription's goroutine).
func (rq *requests) onReply(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], 36, 64)
	if err != nil {
		return
	}
	if r := rq.take(id); r != nil {
		r.done(m, nil)
	}
}

// sweep fails the requests past their deadline.
func (rq *requests) sweep(now time.Time) {
	var late []*request
	rq.mu.Lock()
	for id, r := range rq.pending {
		if now.After(r.deadline) {
			late = append(late, r)
			delete(rq.pending, id)
		}
	}
	rq.mu.Unlock()
	for _, r := range late {
		r.done(nil, errTimeout)
	}
}

// close fails every pending request and refuses new ones.
func (rq *requests) close() {
	rq.mu.Lock()
	rq.closed = true
	all := rq.pending
	rq.pending = nil
	rq.mu.Unlock()
	for _, r := range all {
		r.done(nil, errClosed)
	}
	_ = rq.sub.Unsubscribe()
}

// replyStatus returns the status of a reply without a JetStream message ("404", "503"), or "".
func replyStatus(m *nats.Msg) string {
	if m == nil || len(m.Data) > 0 {
		return ""
	}
	return m.Header.Get(hdrStatus)
}
