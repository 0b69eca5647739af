package main

import (
	"runtime"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

// Config is wsd's configuration: defaults, then a YAML file (-config, or $WSD_CONFIG), then
// environment variables (WSD_ + the key path in upper case, joined with _), then flags (-key.path,
// with - for _). docs/configuration.md lists every key; wsd.example.yaml shows the defaults.
//
// Limits follow one rule: 0 turns a limit off where off makes sense (max_frame_size, ping_interval,
// history.size, ...), and negative values are refused. Per-route overrides under routes.<name> are
// pointers: absent (nil) inherits the top-level value.
type Config struct {
	Addr          string   `yaml:"addr"`
	Loops         int      `yaml:"loops"`
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	DrainDelay    Duration `yaml:"drain_delay"`

	Log LogConfig `yaml:"log"`

	MaxMessageSize      Size            `yaml:"max_message_size"`
	MaxFrameSize        Size            `yaml:"max_frame_size"`
	MaxFragments        int             `yaml:"max_fragments"`
	MaxHeaderBytes      Size            `yaml:"max_header_bytes"`
	MaxBodyBytes        Size            `yaml:"max_body_bytes"`
	ReadBufferSize      Size            `yaml:"read_buffer_size"`
	HandshakeTimeout    Duration        `yaml:"handshake_timeout"`
	CloseTimeout        Duration        `yaml:"close_timeout"`
	PingInterval        Duration        `yaml:"ping_interval"`
	IdleTimeout         Duration        `yaml:"idle_timeout"`
	TCPKeepAlive        Duration        `yaml:"tcp_keepalive"`
	MaxBackpressure     Size            `yaml:"max_backpressure"`
	SlowConsumer        SlowPolicy      `yaml:"slow_consumer"`
	MaxRoomMembers      int             `yaml:"max_room_members"`
	MaxRoomName         int             `yaml:"max_room_name"`
	MaxConnections      int             `yaml:"max_connections"`
	MaxConnectionsPerIP int             `yaml:"max_connections_per_ip"`
	RetryAfter          Duration        `yaml:"retry_after"`
	RateLimit           RateLimitConfig `yaml:"rate_limit"`
	AllowedOrigins      []string        `yaml:"allowed_origins"`
	RejectMissingOrigin bool            `yaml:"reject_missing_origin"`

	History      HistoryConfig      `yaml:"history"`
	ControlLimit ControlLimitConfig `yaml:"control_limit"`

	Compression CompressionConfig `yaml:"compression"`

	Auth    AuthConfig    `yaml:"auth"`
	API     APIConfig     `yaml:"api"`
	Metrics MetricsConfig `yaml:"metrics"`
	Pprof   PprofConfig   `yaml:"pprof"`
	PubSub  PubSubConfig  `yaml:"pubsub"`
	Cluster ClusterConfig `yaml:"cluster"`
	Routes  RoutesConfig  `yaml:"routes"`
}

// LogConfig configures log/slog output on stderr.
type LogConfig struct {
	Level  LogLevel  `yaml:"level"`  // debug, info, warn, error
	Format LogFormat `yaml:"format"` // text or json
	// RejectsPerSecond caps the log lines about refused requests, per reason and second; the lines
	// after the cap are counted and reported in the next line ("suppressed"). 0: no such lines.
	RejectsPerSecond int `yaml:"rejects_per_second"`
}

// RateLimitConfig is engine.RateLimit in configuration form; 0 turns each cap off.
type RateLimitConfig struct {
	Messages   float64              `yaml:"messages"`    // messages per second
	Burst      int                  `yaml:"burst"`       // 0: max(1, messages)
	Bytes      Size                 `yaml:"bytes"`       // payload bytes per second
	BytesBurst Size                 `yaml:"bytes_burst"` // 0: max(bytes, max_message_size)
	Close      bool                 `yaml:"close"`       // close with 1008 instead of dropping
	Events     map[string]EventRate `yaml:"events"`      // per custom event type, e.g. publish
}

// HistoryConfig bounds what each room keeps of its publications, for clients that rejoin with the
// position of the last message they received (recovery) and for GET /rooms/:room/info; 0 turns each
// bound off (size 0 keeps nothing).
type HistoryConfig struct {
	Size     int      `yaml:"size"`      // publications kept per room
	Bytes    Size     `yaml:"bytes"`     // bytes kept per room
	TTL      Duration `yaml:"ttl"`       // how long a publication is kept
	MaxEntry Size     `yaml:"max_entry"` // larger publications are not kept
	Budget   Size     `yaml:"budget"`    // bytes kept by all rooms together
}

// RouteHistory is a route's history block: HistoryConfig without the server-wide budget.
type RouteHistory struct {
	Size     int      `yaml:"size"`
	Bytes    Size     `yaml:"bytes"`
	TTL      Duration `yaml:"ttl"`
	MaxEntry Size     `yaml:"max_entry"`
}

// EventRate caps one custom event type.
type EventRate struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// ControlLimitConfig is engine.Config.ControlLimit in configuration form: control frames (pings and
// pongs) a WebSocket may send; past it the connection is closed with 1008. per_second 0 turns it off.
type ControlLimitConfig struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"` // 0: max(1, per_second)
}

// AuthConfig turns on JWT authentication of WebSocket upgrades (see auth.go).
type AuthConfig struct {
	JWTSecret  string `yaml:"jwt_secret"`   // HS256 secret, at least minHS256Secret bytes
	JWTKeyFile string `yaml:"jwt_key_file"` // PEM public key (RS256 or ES256)
	Audience   string `yaml:"audience"`     // when set, the aud claim must contain it
	Issuer     string `yaml:"issuer"`       // when set, the iss claim must equal it
}

// APIConfig configures the HTTP API: GET /rooms, GET /rooms/:room/info, POST /rooms/:room/publish.
type APIConfig struct {
	Enabled bool   `yaml:"enabled"`
	Key     string `yaml:"key"` // Authorization: Bearer <key> or X-API-Key: <key>
	// PublishWithoutKey lets anyone publish when no key is set (otherwise publish answers 403).
	PublishWithoutKey bool `yaml:"publish_without_key"`
	// ProtectReads requires the key for GET /rooms and GET /rooms/:room/info too.
	ProtectReads bool `yaml:"protect_reads"`
}

// MetricsConfig configures GET /metrics (Prometheus text format, on the main port).
type MetricsConfig struct {
	Enabled bool `yaml:"enabled"`
	// LagInterval is how often wsd_loop_lag_seconds is updated from the loops' last timer tasks.
	LagInterval Duration `yaml:"lag_interval"`
}

// PprofConfig serves net/http/pprof on a separate, loopback-only address ("" turns it off).
type PprofConfig struct {
	Addr string `yaml:"addr"`
}

// PubSubConfig tunes the /ws JSON pub/sub protocol.
type PubSubConfig struct {
	MaxRooms       int  `yaml:"max_rooms"`       // rooms one /ws connection may be in; 0: no cap
	PresenceEvents bool `yaml:"presence_events"` // send members {"type":"presence",...} on joins and leaves
}

// RoutesConfig turns the built-in WebSocket routes on and off and tunes each.
type RoutesConfig struct {
	Echo  RouteConfig `yaml:"echo"`  // /echo
	Rooms RouteConfig `yaml:"rooms"` // /rooms/:room, raw relay
	Chat  RouteConfig `yaml:"chat"`  // /chat/:room
	WS    RouteConfig `yaml:"ws"`    // /ws, JSON pub/sub
}

// RouteConfig is one WebSocket route: on/off, and overrides of the top-level limits (nil inherits;
// the values mean what the top-level keys mean). A rate_limit or control_limit block replaces the
// top-level one whole: rate_limit: {} turns rate limiting off for the route; so does a history block
// (without its budget, which is the server's).
type RouteConfig struct {
	Enabled             bool             `yaml:"enabled"`
	MaxMessageSize      *Size            `yaml:"max_message_size,omitempty"`
	MaxFrameSize        *Size            `yaml:"max_frame_size,omitempty"`
	MaxFragments        *int             `yaml:"max_fragments,omitempty"`
	PingInterval        *Duration        `yaml:"ping_interval,omitempty"`
	IdleTimeout         *Duration        `yaml:"idle_timeout,omitempty"`
	MaxBackpressure     *Size            `yaml:"max_backpressure,omitempty"`
	SlowConsumer        *SlowPolicy      `yaml:"slow_consumer,omitempty"`
	MaxRoomMembers      *int             `yaml:"max_room_members,omitempty"`
	History             *RouteHistory    `yaml:"history,omitempty"`
	RateLimit           *RateLimitConfig `yaml:"rate_limit,omitempty"`
	AllowedOrigins      *[]string        `yaml:"allowed_origins,omitempty"`
	RejectMissingOrigin *bool            `yaml:"reject_missing_origin,omitempty"`
	Compression         RouteCompression `yaml:"compression,omitempty"`

	ControlLimit *ControlLimitConfig `yaml:"control_limit,omitempty"`
}

// defaults is the configuration before any file, environment variable or flag. Unlike the engine's
// library defaults, wsd limits rates out of the box, keeps room history for GET /rooms/:room/info,
// and negotiates permessage-deflate on /chat and /ws (text-heavy routes where it pays; /echo and the
// raw /rooms relay stay uncompressed unless configured).
func defaults() *Config {
	on := RouteConfig{Enabled: true}
	// a function, not a value: the two routes must not share the *bool (decoding may write through it)
	compressed := func() RouteConfig {
		return RouteConfig{Enabled: true, Compression: RouteCompression{Enabled: ptr(true)}}
	}
	return &Config{
		Addr:             ":3000",
		ShutdownGrace:    Duration(10 * time.Second),
		Log:              LogConfig{Level: "info", Format: "text", RejectsPerSecond: 5},
		MaxMessageSize:   1 << 20,
		MaxHeaderBytes:   8 << 10,
		MaxBodyBytes:     1 << 20,
		ReadBufferSize:   64 << 10,
		HandshakeTimeout: Duration(10 * time.Second),
		CloseTimeout:     Duration(5 * time.Second),
		PingInterval:     Duration(30 * time.Second),
		IdleTimeout:      Duration(60 * time.Second),
		TCPKeepAlive:     Duration(15 * time.Second),
		MaxBackpressure:  1 << 20,
		SlowConsumer:     "drop",
		MaxRoomName:      200,
		History: HistoryConfig{Size: 1000, Bytes: 1 << 20, TTL: Duration(5 * time.Minute), MaxEntry: 64 << 10,
			Budget: 256 << 20},
		RetryAfter:     Duration(5 * time.Second),
		RateLimit:      RateLimitConfig{Messages: 100, Burst: 200, Bytes: 1 << 20, Events: map[string]EventRate{}},
		ControlLimit:   ControlLimitConfig{PerSecond: engine.DefaultControlRate, Burst: engine.DefaultControlBurst},
		AllowedOrigins: []string{},
		Compression:    CompressionConfig{Threshold: 256},
		API:            APIConfig{Enabled: true},
		Metrics:        MetricsConfig{Enabled: true, LagInterval: Duration(5 * time.Second)},
		PubSub:         PubSubConfig{MaxRooms: 100},
		Cluster: ClusterConfig{Prefix: "wsd", PresenceInterval: Duration(2 * time.Second), History: "auto",
			StartTimeout: Duration(5 * time.Second), Storage: "file", Replicas: 1, HistorySize: 1000,
			HistoryTTL: Duration(5 * time.Minute), HistoryBytes: 64 << 20, PublishTimeout: Duration(10 * time.Second)},
		Routes: RoutesConfig{Echo: on, Rooms: on, Chat: compressed(), WS: compressed()},
	}
}

// ptr returns a pointer to a copy of v (route overrides in defaults and tests).
func ptr[T any](v T) *T { return &v }

// resolve replaces the "automatic" zero values with what they stand for on this machine, so
// -print-config shows what the server will use: loops 0 is the number of CPUs, max_connections 0 is
// the open-file limit minus fdHeadroom.
func (c *Config) resolve() {
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = autoMaxConnections(c.Loops)
	}
}

// autoMaxConnections is maxConnectionsFor the soft RLIMIT_NOFILE (which Go raises to the hard limit
// at start-up), counting an unlimited limit as 1<<24 and an unknown one as 1024.
func autoMaxConnections(loops int) int {
	var rl syscall.Rlimit
	limit := uint64(1024)
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 0 {
		limit = min(uint64(rl.Cur), 1<<24)
	}
	return maxConnectionsFor(limit, loops)
}

// maxConnectionsFor is the default max_connections under a descriptor limit: the limit minus
// fdHeadroom.
func maxConnectionsFor(limit uint64, loops int) int {
	return int(limit - fdHeadroom(limit, loops))
}

// fdHeadroom is what the default max_connections leaves of the descriptor limit, so that sockets are
// refused at the cap (closed at once, counted) before accept(2) ever fails with EMFILE:
//
//   - 128 for the process's own descriptors: stdio, the Go runtime's poller, the listener, NATS,
//     the pprof listener and its connections, files opened at start-up, with room to spare;
//   - 2 per event loop and 2 for gnet's main reactor (an epoll and an eventfd each);
//   - limit/64 for sockets in flight in a connection storm: accepted by the main reactor but not
//     yet refused by their loop, each holding a descriptor meanwhile (16k at a 1M limit).
//
// It is at most half the limit, so tiny limits still serve connections. Measured against 1k-16M
// limits in TestMaxConnectionsDefault.
func fdHeadroom(limit uint64, loops int) uint64 {
	h := 128 + 2*uint64(max(loops, 1)+1) + limit/64
	return min(h, limit/2)
}
