package engine

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
	"github.com/panjf2000/gnet/v2"
)

// ReadyState mirrors the browser WebSocket readyState values.
type ReadyState uint32

// The four ready states.
const (
	StateConnecting ReadyState = 0 // handshake not finished
	StateOpen       ReadyState = 1 // messages flow both ways
	StateClosing    ReadyState = 2 // a close frame was sent or received
	StateClosed     ReadyState = 3 // the TCP connection is gone
)

// String returns the browser name of the state ("CONNECTING", "OPEN", "CLOSING", "CLOSED"). Safe
// from any goroutine.
func (s ReadyState) String() string {
	switch s {
	case StateConnecting:
		return "CONNECTING"
	case StateOpen:
		return "OPEN"
	case StateClosing:
		return "CLOSING"
	case StateClosed:
		return "CLOSED"
	}
	return "UNKNOWN"
}

// Errors returned by Conn methods.
var (
	// ErrClosed: the connection is closing or closed; nothing was queued.
	ErrClosed = errors.New("engine: connection is closing or closed")
	// ErrControlTooLong: a ping payload over 125 bytes.
	ErrControlTooLong = errors.New("engine: control frame payload over 125 bytes")
	// ErrIdleTimeout is CloseInfo.Err of a connection closed for sending nothing within IdleTimeout.
	ErrIdleTimeout = errors.New("engine: idle timeout")
	// ErrBadOpcode: a Message to send or publish has an opcode other than OpText or OpBinary.
	ErrBadOpcode = errors.New("engine: a message must be OpText or OpBinary")
)

// phase is the connection's state machine position. On-loop only.
type phase uint8

const (
	phaseHTTP     phase = iota // reading an HTTP request (before upgrade, or plain HTTP keep-alive)
	phaseOpen                  // WebSocket open
	phaseClosing               // our close frame is queued or sent; waiting for the peer's (data dropped)
	phaseFailing               // we failed the connection: closing the socket once our close frame is out
	phaseDraining              // handshake finished: close the TCP connection once our bytes are out
	phaseClosed                // gnet closed the socket
)

// Conn is one WebSocket connection: the plugin's ws. Its methods that send, join, leave, publish,
// close or read its state are safe from any goroutine; the ones that register callbacks (On, OnX) or
// set per-connection values (SetData, SetUser) are for its own handlers, on its event loop. Callbacks
// run on the connection's event loop, one at a time, in arrival order. Calls made off the loop are
// handed to it, so a Send from a goroutine is ordered after the frames already queued and before any
// later ones.
type Conn struct {
	gc    gnet.Conn
	loop  *loop
	route *wsRoute
	state atomic.Uint32 // ReadyState

	phase  phase    // on-loop
	qflags uint8    // guarded by loop.mu
	flags  connFlag // on-loop
	mode   uint8    // codec index, compression bits (modeX) and subprotocol, fixed at the upgrade

	lastIn      uint32       // wheel tick of the last inbound bytes while open (on-loop; heartbeat.go)
	tidx        int32        // index in the timer wheel slot, -1 when not scheduled
	tdue        uint32       // wheel tick the timer is due at
	deadline    uint32       // wheel tick at which the current phase times out (0: none)
	qidx        int32        // index of its entry in loop.dirty while qDirty (guarded by loop.mu)
	outBuffered atomic.Int32 // gnet's outbound backlog, refreshed on-loop at each read and write

	ms rooms.Membership[member] // rooms this connection is in (guarded by the room table)

	// Facts of the upgrade, for readers on any goroutine: written before the Open handler runs, never
	// again (ctx once more, to nil, when the route releases it).
	remote *net.TCPAddr            // the peer's address (a copy of what gnet forgets at close)
	ctx    atomic.Pointer[Context] // the upgrade request; nil once released

	rd  *reader    // partial frame / message state; nil between messages
	hs  *handshake // HTTP request state; nil once upgraded
	ext *connExt   // per-connection handlers and user data; nil until used
}

type connFlag uint8

const (
	flagPeerClosed connFlag = 1 << iota // the peer's close frame arrived
	flagCloseSent                       // our close frame was handed to gnet
	flagUpgraded                        // the connection was a WebSocket (close handlers fire)
	flagTCPClosing                      // gnet was asked to close the socket
	flagCtlFree                         // this read came after a second of silence (ratelimit.go)
	flagCongested                       // messages were dropped; watching for the backlog to drain
)

// connExt holds what most idle connections never need, so that Conn stays small.
type connExt struct {
	onMessage func(Message)
	onClose   func(CloseInfo)
	onError   func(error)
	onPing    func([]byte)
	onPong    func([]byte)
	onDrop    func()
	onDrain   func()
	events    map[string]connEvent
	rate      *rateState
	deflate   *deflateState

	data       any
	id         uint64 // presence id (Conn.ID), assigned at the first use
	user       string
	peerCode   frame.CloseCode
	peerReason string
	failure    error
}

func (c *Conn) x() *connExt {
	if c.ext == nil {
		c.ext = new(connExt)
	}
	return c.ext
}

// ReadyState reports the connection's state. Safe from any goroutine.
func (c *Conn) ReadyState() ReadyState { return ReadyState(c.state.Load()) }

// RemoteAddr is the peer's address (a *net.TCPAddr), also after the connection is closed. Safe from
// any goroutine.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote == nil {
		return nil // not a TCP peer: never with gnet's TCP listener
	}
	return c.remote
}

// Subprotocol is the negotiated subprotocol ("" when none), also after the connection is closed.
// Safe from any goroutine.
func (c *Conn) Subprotocol() string {
	i := int(c.mode >> modeProtoShift)
	if i == 0 || c.route == nil {
		return ""
	}
	return c.route.protocols[i-1]
}

// Context returns the upgrade request's Context (path parameters, query, headers), also after the
// connection is closed, or nil when the route set RouteOptions.ReleaseContext and Open has returned.
// The Context is not modified after the upgrade, so its getters may be called from any goroutine too.
// Safe from any goroutine.
func (c *Conn) Context() *Context { return c.ctx.Load() }

// The subprotocol is stored as its 1-based index in the route's list in the high bits of Conn.mode
// (the low ones are the codec and compression bits, compress.go).
const (
	modeProtoShift  = 5
	maxSubprotocols = 1<<(8-modeProtoShift) - 1
)

// snapshotUpgrade records what the accessors answer from any goroutine, before the connection is
// handed out. On-loop only.
func (c *Conn) snapshotUpgrade(ctx *Context, proto string) {
	for i, p := range c.route.protocols {
		if p == proto {
			c.mode |= uint8(i+1) << modeProtoShift
			break
		}
	}
	c.ctx.Store(ctx)
	a, _ := c.gc.RemoteAddr().(*net.TCPAddr)
	if a != nil && a.Zone != "" {
		cp := *a
		cp.Zone = strings.Clone(a.Zone) // gnet recycles the zone's bytes at close
		a = &cp
	}
	c.remote = a
}

// connID is the connection's presence id: unique in the cluster (a random prefix per App, then a
// counter), assigned at the upgrade for routes with RouteOptions.Presence.
func (c *Conn) connID() string {
	var n uint64
	if c.ext != nil {
		n = c.ext.id
	}
	return c.loop.app.idBase + "." + strconv.FormatUint(n, 36)
}

// SetUser names the user of the connection in presence lists and events (RouteOptions.Presence).
// Call it from the Open handler, before the connection joins rooms: a presence entry does not change
// while the connection is in a room.
func (c *Conn) SetUser(user string) { c.x().user = user }

// user is the name set by SetUser.
func (c *Conn) user() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.user
}

// SetData attaches a user value to the connection. Call it on the connection's loop (from a handler);
// from another goroutine, synchronize with the handlers that read it yourself.
func (c *Conn) SetData(v any) { c.x().data = v }

// Data returns the value set with SetData, or nil. Same goroutine rules as SetData.
func (c *Conn) Data() any {
	if c.ext == nil {
		return nil
	}
	return c.ext.data
}

// Send queues v as one message: a string as a text message, a []byte as a binary message, a Message
// with its own opcode (the zero-allocation echo), anything else encoded with the connection's codec:
// JSON text (goccy/go-json) by default, MessagePack binary when the client negotiated the "msgpack"
// subprotocol. It copies v before returning. It returns ErrClosed once the connection is closing,
// ErrBadOpcode for a Message whose opcode is not OpText or OpBinary, ErrBackpressure when the slow-
// consumer policy refused it, or the codec's error. Safe from any goroutine.
func (c *Conn) Send(v any) error {
	switch v := v.(type) {
	case string:
		return c.sendString(frame.OpText, v)
	case []byte:
		return c.sendFrame(frame.OpBinary, v, itemData)
	case Message:
		op, data := v.Opcode(), v.Data()
		if op != frame.OpText && op != frame.OpBinary {
			return ErrBadOpcode
		}
		return c.sendFrame(op, data, itemData)
	}
	return c.sendValue(v)
}

// Ping queues a ping frame with data (at most 125 bytes, copied; ErrControlTooLong past that).
// The peer's pong runs the pong handler. Safe from any goroutine.
func (c *Conn) Ping(data []byte) error {
	if len(data) > frame.MaxControlPayload {
		return ErrControlTooLong
	}
	return c.sendFrame(frame.OpPing, data, itemData)
}

// Close closes the connection normally (1000), like the browser's ws.close(): see CloseWith.
// Safe from any goroutine.
func (c *Conn) Close() { c.CloseWith(CloseNormal, "") }

// CloseWith starts the closing handshake with code and reason (truncated to the 123 bytes a close
// frame holds): the close frame is queued after everything already queued, Send fails from then on,
// and the TCP connection is closed once the peer answers, or after Config.CloseTimeout. Closing a
// closing or closed connection does nothing. It panics when code may not be sent on the wire (1005,
// 1006, 1015, or outside 1000-4999 ranges RFC 6455 allows), as that is a programming error.
// Safe from any goroutine.
func (c *Conn) CloseWith(code CloseCode, reason string) {
	if !code.ValidOnWire() {
		panic(fmt.Sprintf("engine: CloseWith(%d): code not valid on the wire", code))
	}
	c.closeWith(code, reason)
}

// closeWith queues a close frame (code may be CloseNoStatus: an empty close frame).
func (c *Conn) closeWith(code CloseCode, reason string) {
	if err := c.enqueueClose(code, reason); err != nil {
		return // already closing
	}
	c.state.CompareAndSwap(uint32(StateOpen), uint32(StateClosing))
}

// OnMessage sets the connection's message handler, replacing the route's. Call it from a handler
// (usually the WS open handler) on the connection's loop.
func (c *Conn) OnMessage(fn func(m Message)) { c.x().onMessage = fn }

// OnClose sets the close handler: it runs once, on the loop, when the TCP connection is gone.
// Call it from a handler on the connection's loop.
func (c *Conn) OnClose(fn func(info CloseInfo)) { c.x().onClose = fn }

// OnError sets the error handler: protocol violations by the peer and handler panics are reported to it
// just before the connection is closed. Call it from a handler on the connection's loop.
func (c *Conn) OnError(fn func(err error)) { c.x().onError = fn }

// OnPing sets the handler for pings from the peer (the pong is sent automatically first). The bytes are
// valid until fn returns. Call it from a handler on the connection's loop.
func (c *Conn) OnPing(fn func(data []byte)) { c.x().onPing = fn }

// OnPong sets the handler for pongs from the peer. The bytes are valid until fn returns.
// Call it from a handler on the connection's loop.
func (c *Conn) OnPong(fn func(data []byte)) { c.x().onPong = fn }

// Message is one received data message. Its bytes belong to the engine and are valid only until the
// handler it was passed to returns: copy them (or use Text) to keep them. It is one pointer wide, so
// passing it to Send (an `any`) costs no allocation: the echo is allocation-free.
type Message struct{ m *msg }

// msg is a Message's content: the loop's reusable one for received messages (Conn.deliver), or one
// per NewMessage.
type msg struct {
	op   Opcode
	data []byte
}

// NewMessage builds a message with an explicit opcode (OpText or OpBinary), to Send or Publish bytes
// as text, or for tests of handlers. Safe from any goroutine.
func NewMessage(op Opcode, data []byte) Message { return Message{&msg{op: op, data: data}} }

// Opcode is OpText or OpBinary (0 for the zero Message). Safe from any goroutine that holds m.
func (m Message) Opcode() Opcode {
	if m.m == nil {
		return 0
	}
	return m.m.op
}

// Data returns the payload. It is valid until the handler returns; call it from the handler (or
// from any goroutine, for a Message built with NewMessage).
func (m Message) Data() []byte {
	if m.m == nil {
		return nil
	}
	return m.m.data
}

// Text returns the payload as a string (a copy, safe to keep). Call it where Data may be called.
func (m Message) Text() string { return string(m.Data()) }

// CloseInfo describes how a connection ended.
type CloseInfo struct {
	// Code is the peer's close code; CloseNoStatus (1005) when its close frame had none, CloseAbnormal
	// (1006) when the TCP connection ended without a close frame from the peer.
	Code CloseCode
	// Reason is the peer's close reason.
	Reason string
	// Err is why the server failed the connection, if it did: a protocol violation (its Error gives the
	// close code wsd sent and why), ErrControlFlood, or a *PanicError from a handler.
	Err error
}
