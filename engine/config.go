package engine

import (
	"log/slog"
	"net"

	"github.com/openspeed/wsd/rooms"
	"runtime"
	"time"
)

// Config configures an App. It is copied by New; the zero value of every field selects the documented
// default, so engine.New(engine.Config{}) is a working server.
type Config struct {
	// Loops is the number of event loops. Default: runtime.NumCPU(). Each connection belongs to one loop
	// for its whole life; more loops than cores only adds context switches.
	Loops int

	// MaxMessageSize caps a reassembled message in bytes. Default: 1 MiB. A frame header that announces a
	// message over the cap closes the connection with 1009 before any of its payload is buffered.
	// Negative means no cap (only for trusted peers: a peer can then make the server buffer any size).
	MaxMessageSize int64

	// MaxHeaderBytes caps the request line plus headers of an HTTP request. Default: 8 KiB. Over it the
	// request is answered 431 (or 414 when the request line alone does not fit) and the socket closed.
	MaxHeaderBytes int

	// MaxBodyBytes caps a plain HTTP request body (Content-Length). Default: 1 MiB. Over it: 413.
	MaxBodyBytes int64

	// HandshakeTimeout bounds how long a socket may take to deliver a complete HTTP request (upgrade or
	// plain), and how long a keep-alive HTTP connection may sit idle between requests. Default: 10 s.
	// A socket that started a request and did not finish it in time gets 408; an idle one is closed.
	HandshakeTimeout time.Duration

	// CloseTimeout bounds the closing handshake: after the server starts a close (Conn.Close, idle
	// timeout, Shutdown) it waits this long for the peer's close frame (or EOF) before dropping the TCP
	// connection. A connection the server fails (protocol error, 1009, a SlowClose of a slow consumer,
	// ...) or whose close frame it answered is closed as soon as the server's close frame is written
	// (CloseTimeout then bounds that write). Default: 5 s.
	CloseTimeout time.Duration

	// PingInterval: a WebSocket that has sent nothing for this long gets a ping, and another every
	// PingInterval while it stays silent (measured from its last inbound byte on the 50 ms timer wheel:
	// never early, at most a tick late). Default: 30 s; negative disables pings.
	PingInterval time.Duration

	// IdleTimeout: a WebSocket that has sent nothing, not even a pong, for this long after its last
	// inbound byte is closed with 1001 "idle timeout" (its close handler fires), with the same
	// precision. Default: 2 × PingInterval (60 s); negative disables it.
	IdleTimeout time.Duration

	// ShutdownTimeout is how long Run gives connections to close after its context is done.
	// Default: 10 s.
	ShutdownTimeout time.Duration

	// ReadBufferSize is the size of each event loop's shared read buffer (gnet ReadBufferCap).
	// Default: 64 KiB. It is per loop, not per connection.
	ReadBufferSize int

	// TCPKeepAlive is the TCP keep-alive idle period. Default: 15 s. Negative disables it.
	TCPKeepAlive time.Duration

	// CheckOrigin, when set, alone decides whether a WebSocket upgrade request may proceed (false answers
	// 403), for routes that do not set their own. It runs on the event loop before the 101 answer.
	CheckOrigin func(ctx *Context) bool

	// AllowedOrigins lets browsers from these origins open WebSockets besides same-origin pages:
	// patterns such as "https://app.example.com", "https://*.example.com", "http://localhost:*", or "*"
	// for any. Default: same origin only (the Origin's host equals the Host header). Others get 403.
	AllowedOrigins []string

	// RejectMissingOrigin answers 403 to upgrade requests without an Origin header. Default false:
	// non-browser clients, which send none, are allowed.
	RejectMissingOrigin bool

	// MaxFrameSize caps one frame's payload (1009 when a header announces more). Default: 0, only
	// MaxMessageSize applies.
	MaxFrameSize int64

	// MaxFragments caps the frames of one message (1008 "too many fragments" past it). Default 0: no
	// cap (Autobahn sends 4 MiB in 64-byte frames).
	MaxFragments int

	// MaxConnections caps open sockets, WebSocket or plain HTTP. It is applied as gnet accepts a
	// socket: one over the cap is closed at once (answered 503 with Retry-After and Connection: close
	// when its request has already arrived), counted in Stats.Rejected[RejectTooMany] and reported to
	// OnReject (status 503, no path). So sockets that connect and send nothing cannot hold descriptors
	// past the cap. Default 0: no cap. Keep it below the process's descriptor limit (RLIMIT_NOFILE)
	// with room for the process's own descriptors: past the limit, accept(2) fails with EMFILE and
	// the acceptor backs off (retrying every 5 to 500 ms, new clients waiting in the listen backlog)
	// until descriptors are freed, while established connections are served as usual.
	MaxConnections int

	// MaxConnectionsPerIP caps open sockets per client IP address, applied at accept like
	// MaxConnections. Default 0: no cap. Behind a proxy every client has the proxy's address.
	MaxConnectionsPerIP int

	// RetryAfter is the Retry-After of 503 answers. Default: 5 s.
	RetryAfter time.Duration

	// RateLimit caps what each WebSocket may send (token buckets). Default: no limit.
	RateLimit RateLimit

	// ControlLimit caps the control frames (pings and pongs) each WebSocket may send, with a token
	// bucket; past it the connection is failed with 1008 "control frame flood" (CloseInfo.Err is
	// ErrControlFlood; counted in Stats.ControlFloods). RateLimit does not count control frames.
	// Default: DefaultControlRate per second (20) in bursts of DefaultControlBurst (50), far above any
	// keep-alive; a zero Burst is max(1, PerSecond); a negative PerSecond disables the limit.
	ControlLimit Rate

	// MaxBackpressure bounds each connection's outbound backlog in bytes (frames or HTTP answers queued
	// by the engine plus bytes gnet could not write yet). Default: 1 MiB; negative means no bound (a peer
	// that stops reading can then grow memory without limit). Over it, SlowConsumer decides for
	// WebSocket messages; a plain HTTP connection is not read (its pipelined requests wait) until its
	// answers drain to half of it, and one that pipelines more than MaxHeaderBytes + MaxBodyBytes
	// meanwhile is answered 429 and closed.
	MaxBackpressure int64

	// SlowConsumer is what happens to a message for a connection over MaxBackpressure. Default
	// SlowDrop: the message is skipped for that connection (counted; the drop event fires), the others
	// are not slowed. SlowClose closes the connection with 1008 "slow consumer" instead.
	SlowConsumer SlowConsumerPolicy

	// MaxRoomMembers caps every room's members (Conn.Join answers ErrRoomFull at the cap). Default 0:
	// no cap. The cap is fixed when a room is created, by the first Join.
	MaxRoomMembers int

	// History bounds what every room keeps of its publications, for Conn.JoinFrom (recovery after a
	// reconnect) and App.RoomInfo. Defaults: the last 1000 publications (Size), at most 1 MiB per room
	// (Bytes), for 5 minutes (TTL), publications over 64 KiB not kept (MaxEntry). A negative field
	// turns that bound off; a negative Size keeps nothing (no recovery beyond "nothing was missed").
	// A room that has no members left keeps its history (and its stream position) until it expires.
	History HistoryOptions

	// HistoryBudget caps the history bytes of all rooms together. Default: 64 MiB; negative: no cap.
	// Past it, the room being published to gives up its oldest publications first.
	HistoryBudget int64

	// MaxRoomName caps a room name, in bytes: Join, JoinFrom and Publish answer ErrRoomName past it (and
	// for an empty name or invalid UTF-8). Default: 200; negative: no cap.
	MaxRoomName int

	// Compression negotiates permessage-deflate for routes that do not set their own. Default: off.
	Compression Compression

	// Broker connects this App's rooms to other nodes (rooms/natsbroker). Default nil: single node.
	// Broadcasts are delivered locally, then handed to the broker; Count and RoomInfo include the members
	// the broker knows of on other nodes (eventually consistent), and so does MaxRoomMembers.
	Broker rooms.Broker

	// OnReject, when set, is told about every request refused before an upgrade (status >= 400 answered
	// by the engine, not by a handler): for logs. It runs on the event loop and must not block.
	OnReject func(reason RejectReason, status int, remote net.Addr, path string)

	// OnRateLimit, when set, is told about every message a RateLimit refuses: the route's pattern, the
	// peer, the limit in force on the route, and event: "" when the message caps (Messages, Bytes)
	// refused it, the custom event's type when limit.Events[event] did. For logs: it runs on the
	// event loop and must not block; limit is read-only.
	OnRateLimit func(route string, remote net.Addr, limit *RateLimit, event string)

	// Logger receives handler panics and engine errors. Default: slog.Default(). Nothing is logged per
	// message.
	Logger *slog.Logger
}

// RouteOptions tunes one WebSocket route. Zero fields inherit the App's Config.
type RouteOptions struct {
	// Subprotocols the route speaks, in the server's order of preference. The first subprotocol the client
	// offers (in the client's order) that is in this list is selected and echoed in the 101 answer.
	// At most 15 (Route panics beyond). Default: "json" and "msgpack".
	Subprotocols []string

	// RequireSubprotocol answers 400 before the upgrade when the client offers none of Subprotocols.
	// Default false: the handshake succeeds without a subprotocol.
	RequireSubprotocol bool

	// MaxMessageSize overrides Config.MaxMessageSize for this route.
	MaxMessageSize int64

	// CheckOrigin, AllowedOrigins and RejectMissingOrigin override the Config values for this route
	// (AllowedOrigins and RejectMissingOrigin apply only when the route sets AllowedOrigins or
	// RejectMissingOrigin).
	CheckOrigin         func(ctx *Context) bool
	AllowedOrigins      []string
	RejectMissingOrigin bool

	// Upgrade runs on the event loop after the request passed the protocol and origin checks and before
	// the 101 answer (authentication). It returns the user data the connection starts with (Conn.Data),
	// or an error: an *HTTPError answers its status and message (401, 403, 429, ...), any other error
	// answers 403. Headers set with ctx.SetHeader go into the answer, 101 or error.
	Upgrade func(ctx *Context) (data any, err error)

	// Compression overrides Config.Compression for this route.
	Compression *Compression

	// Numeric overrides: 0 inherits the Config value; a negative value turns the limit off for this
	// route (MaxFrameSize, MaxFragments, MaxRoomMembers, MaxBackpressure, MaxMessageSize, History fields).

	// MaxFrameSize and MaxFragments override the Config values for this route.
	MaxFrameSize int64
	MaxFragments int

	// RateLimit overrides Config.RateLimit for this route (a pointer to a zero RateLimit disables it).
	RateLimit *RateLimit

	// ControlLimit overrides Config.ControlLimit for this route when its PerSecond is not 0 (negative
	// disables the limit for the route).
	ControlLimit Rate

	// PingInterval and IdleTimeout override the Config values for this route (negative disables).
	PingInterval time.Duration
	IdleTimeout  time.Duration

	// MaxBackpressure overrides Config.MaxBackpressure for this route.
	MaxBackpressure int64

	// SlowConsumer overrides Config.SlowConsumer for this route (SlowDefault inherits).
	SlowConsumer SlowConsumerPolicy

	// MaxRoomMembers and History override the Config values (field by field) for rooms created by a
	// Join of a connection of this route.
	MaxRoomMembers int
	History        HistoryOptions

	// Presence lists the route's connections in the presence of the rooms they join (App.Presence),
	// with the user set by Conn.SetUser. PresenceEvents also sends the route's connections a message
	// when a connection that takes part in presence joins or leaves one of their rooms: it goes
	// through Render (Publication.Presence set), so it needs Render. Defaults: off.
	Presence       bool
	PresenceEvents bool

	// Render, when set, wraps every room publication this route's connections receive: it appends the
	// message to send for p to dst and returns it with its opcode (OpText or OpBinary). It runs once per
	// publication per node for all the route's members (not per member), on the publisher's goroutine
	// or a broker goroutine, with the room's publication lock held: it must not block and must not call
	// the App's or a Conn's room methods. At most 7 routes may set it. Default nil: members receive
	// publications as published.
	Render func(dst []byte, p Publication) ([]byte, Opcode)

	// ReleaseContext drops the engine's reference to the upgrade request's Context once the Open handler
	// returns, so Conn.Context returns nil afterwards. It saves the memory of the request headers on
	// every idle connection (measured in docs/memory.md); handlers that need request data later should
	// copy it into Conn.SetData during Open.
	ReleaseContext bool
}

// SlowConsumerPolicy is what happens to a message for a connection over its outbound limit.
type SlowConsumerPolicy uint8

// Slow-consumer policies.
const (
	SlowDefault SlowConsumerPolicy = iota // inherit (RouteOptions); SlowDrop in Config
	SlowDrop                              // skip the message for that connection, count it, fire drop
	SlowClose                             // close the connection with 1008 "slow consumer"
)

// Defaults applied by New.
const (
	DefaultMaxMessageSize   = 1 << 20
	DefaultMaxHeaderBytes   = 8 << 10
	DefaultMaxBodyBytes     = 1 << 20
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultReadBufferSize   = 64 << 10
	DefaultTCPKeepAlive     = 15 * time.Second
	DefaultMaxBackpressure  = 1 << 20
	DefaultPingInterval     = 30 * time.Second
	DefaultHistorySize      = 1000
	DefaultHistoryBytes     = 1 << 20
	DefaultHistoryTTL       = 5 * time.Minute
	DefaultHistoryMaxEntry  = 64 << 10
	DefaultHistoryBudget    = 64 << 20
	DefaultMaxRoomName      = 200
	DefaultControlRate      = 20 // Config.ControlLimit.PerSecond
	DefaultControlBurst     = 50 // Config.ControlLimit.Burst
)

// HistoryOptions bound a room's history: Size publications, Bytes per room, TTL of age, MaxEntry per
// publication. In Config a zero field takes its default and a negative one turns that bound off; in
// RouteOptions a zero field inherits the Config value.
type HistoryOptions = rooms.HistoryOptions

// resolve turns Config-style history options (0 default, negative off) into the room table's (0 off).
func resolveHistory(o HistoryOptions) HistoryOptions {
	o.Size = defaulted(o.Size, DefaultHistorySize)
	o.Bytes = defaulted(o.Bytes, DefaultHistoryBytes)
	o.TTL = defaulted(o.TTL, DefaultHistoryTTL)
	o.MaxEntry = defaulted(o.MaxEntry, DefaultHistoryMaxEntry)
	return o
}

// defaulted is def for 0, 0 (off) for a negative value, else v.
func defaulted[T int | int64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// inheritHistory fills the zero fields of a route's history options from the Config's.
func inheritHistory(route, app HistoryOptions) HistoryOptions {
	route.Size = pick(route.Size, app.Size)
	route.Bytes = pick(route.Bytes, app.Bytes)
	route.TTL = pick(route.TTL, app.TTL)
	route.MaxEntry = pick(route.MaxEntry, app.MaxEntry)
	return route
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.Loops <= 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * c.PingInterval
		if c.PingInterval < 0 {
			c.IdleTimeout = 2 * DefaultPingInterval
		}
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	if c.TCPKeepAlive == 0 {
		c.TCPKeepAlive = DefaultTCPKeepAlive
	}
	if c.MaxBackpressure == 0 {
		c.MaxBackpressure = DefaultMaxBackpressure
	}
	if c.ControlLimit.PerSecond == 0 {
		c.ControlLimit.PerSecond = DefaultControlRate
		if c.ControlLimit.Burst == 0 {
			c.ControlLimit.Burst = DefaultControlBurst
		}
	}
	if c.SlowConsumer == SlowDefault {
		c.SlowConsumer = SlowDrop
	}
	if c.HistoryBudget == 0 {
		c.HistoryBudget = DefaultHistoryBudget
	}
	if c.MaxRoomName == 0 {
		c.MaxRoomName = DefaultMaxRoomName
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
