package main

import (
	"fmt"
	"strings"
)

// keyHelp is the help text of one configuration key: wsd -h prints it under its group, and the tests
// check that the key is documented in that section of docs/configuration.md and shown in
// wsd.example.yaml.
//
// Adding a key: add the field to Config (its yaml tag makes the key, the WSD_ variable and the flag),
// its default to defaults(), a row to configHelp below, a row to the group's table in
// docs/configuration.md and a line to wsd.example.yaml; TestConfigHelp, TestConfigDocs and
// TestExampleConfig fail until all of them are there. A per-route override (a field of RouteConfig
// named like a top-level key) needs no row here: it is described from the top-level key.
type keyHelp struct {
	key   string // routes.<name>.enabled for the per-route keys
	group string // one of helpGroups' names
	arg   string // the flag's value placeholder; "" derives it from the type
	text  string // what the key does, one line, no trailing period
}

// The groups of wsd -h: the sections of docs/configuration.md that hold keys, in their order.
const (
	groupServer      = "Server"
	groupLogging     = "Logging"
	groupLimits      = "Limits"
	groupRateLimits  = "Rate limits"
	groupHistory     = "History"
	groupCompression = "Compression"
	groupAuth        = "Authentication"
	groupAPI         = "HTTP API"
	groupMetrics     = "Metrics"
	groupPprof       = "pprof"
	groupPubSub      = "/ws pub/sub"
	groupCluster     = "Cluster"
	groupRoutes      = "Routes"
)

// helpGroup is one group of flags with the note printed under its heading ("" for none).
type helpGroup struct{ name, note string }

// helpGroups are the groups in print order; notes quote defaults from d.
// helpGroups are the groups in print order; notes (lines of at most 98 columns) quote defaults
// from d.
func helpGroups(d *Config) []helpGroup {
	rl := d.RateLimit
	return []helpGroup{
		{groupServer, ""},
		{groupLogging, "Logs go to stderr; nothing is logged per message or per accepted connection."},
		{groupLimits, "Each also exists per route (see Routes) unless it is about HTTP or sockets."},
		{groupRateLimits, fmt.Sprintf("Per WebSocket. By default a connection may send %s messages/s (burst %d) "+
			"and %s/s;\nover that a message is dropped and the client gets the text message\n"+
			`{"type":"error","error":"rate limited"} (at most once a second), or with -rate-limit.close`+
			"\nit is closed with 1008. wsd logs it (see -log.rejects-per-second). Lift the limits for a"+
			"\nbenchmark: WSD_RATE_LIMIT_MESSAGES=0 WSD_RATE_LIMIT_BYTES=0 wsd",
			num(rl.Messages), rl.Burst, formatSize(float64(rl.Bytes)))},
		{groupHistory, "What rooms keep so that a client that reconnects gets back what it missed (/ws join with\n" +
			"\"since\"); with NATS JetStream the history lives in the cluster (docs/cluster.md)."},
		{groupCompression, "permessage-deflate (RFC 7692), for the routes that do not set their own."},
		{groupAuth, "JWT on every WebSocket upgrade, from ?token= or Authorization: Bearer; a missing or bad\n" +
			"token gets 401. Off while -auth.jwt-secret and -auth.jwt-key-file are both empty."},
		{groupAPI, ""},
		{groupMetrics, ""},
		{groupPprof, ""},
		{groupPubSub, ""},
		{groupCluster, "Several wsd nodes share their rooms through NATS (docs/cluster.md)."},
		{groupRoutes, "<name> is echo (/echo), rooms (/rooms/:room), chat (/chat/:room) or ws (/ws). An unset\n" +
			"override inherits the top-level key, 0 turns a limit off for the route, and a route's\n" +
			"rate_limit replaces the top-level block whole."},
	}
}

// configHelp describes every configuration key but the per-route overrides (see keyHelp).
var configHelp = []keyHelp{
	{"addr", groupServer, "host:port", "address to listen on (plain TCP: put a TLS-terminating proxy in front)"},
	{"loops", groupServer, "", "event loops serving the connections; 0 = one per CPU"},
	{"shutdown_grace", groupServer, "", "how long a drain (SIGTERM, SIGINT, SIGUSR1) lets connections close before dropping them"},
	{"drain_delay", groupServer, "", "before a drain, /readyz answers 503 this long while wsd still serves (for load balancers)"},

	{"log.level", groupLogging, "", "least severe log lines written: debug, info, warn or error"},
	{"log.format", groupLogging, "", "text (key=value lines) or json (one object per line)"},
	{"log.rejects_per_second", groupLogging, "", "log lines per second about refused requests (per reason) and rate-limited messages; 0 = none"},

	{"max_message_size", groupLimits, "", "largest message after reassembly: a header announcing more closes with 1009; 0 = no cap"},
	{"max_frame_size", groupLimits, "", "largest single frame (1009 past it); 0 = only -max-message-size applies"},
	{"max_fragments", groupLimits, "", "most frames in one message (1008 past it); 0 = no cap"},
	{"max_header_bytes", groupLimits, "", "largest request line plus headers (431 past it)"},
	{"max_body_bytes", groupLimits, "", "largest plain HTTP request body, such as a publish (413 past it)"},
	{"read_buffer_size", groupLimits, "", "each event loop's shared read buffer (not per connection)"},
	{"handshake_timeout", groupLimits, "", "time to send a complete HTTP request, and the idle time of keep-alive HTTP (408 after it)"},
	{"close_timeout", groupLimits, "", "how long wsd waits for the peer's close frame after sending its own"},
	{"ping_interval", groupLimits, "", "ping a WebSocket that has been silent this long; 0 = no pings"},
	{"idle_timeout", groupLimits, "", "close a WebSocket silent this long (not even a pong) with 1001; 0 = never"},
	{"tcp_keepalive", groupLimits, "", "TCP keep-alive idle period; 0 = off"},
	{"max_backpressure", groupLimits, "", "bytes queued for a client that does not read before -slow-consumer acts; 0 = no bound"},
	{"slow_consumer", groupLimits, "", "what happens to a client over -max-backpressure: drop its messages, or close it with 1008"},
	{"max_room_members", groupLimits, "", "members one room may have (joins past it fail); 0 = no cap"},
	{"max_room_name", groupLimits, "", "longest room name in bytes (joins and publishes past it are refused); 0 = no cap"},
	{"max_connections", groupLimits, "", "open sockets; past it new connections get 503 (Retry-After); 0 = from the open-file limit"},
	{"max_connections_per_ip", groupLimits, "", "open sockets per client IP (503 past it); 0 = no cap (keep 0 behind a proxy)"},
	{"retry_after", groupLimits, "", "Retry-After of the 503 answers to connections over a cap"},
	{"allowed_origins", groupLimits, "", "origins browsers may connect from besides same-origin pages (https://*.example.com, *)"},
	{"reject_missing_origin", groupLimits, "", "refuse (403) upgrades without an Origin header (only browsers send one)"},

	{"rate_limit.messages", groupRateLimits, "", "messages per second one WebSocket may send; 0 = no cap"},
	{"rate_limit.burst", groupRateLimits, "", "messages a WebSocket may send at once; 0 = max(1, messages)"},
	{"rate_limit.bytes", groupRateLimits, "", "payload bytes per second one WebSocket may send; 0 = no cap"},
	{"rate_limit.bytes_burst", groupRateLimits, "", "payload bytes a WebSocket may send at once; 0 = max(bytes, max-message-size)"},
	{"rate_limit.close", groupRateLimits, "", "close a client over a limit with 1008 instead of dropping its message with an error event"},
	{"rate_limit.events", groupRateLimits, "", "extra caps per custom event type, e.g. {publish: {per_second: 10, burst: 20}}"},

	{"control_limit.per_second", groupRateLimits, "", "pings and pongs per second one WebSocket may send (1008 past it); 0 = no cap"},
	{"control_limit.burst", groupRateLimits, "", "pings and pongs a WebSocket may send at once; 0 = max(1, per_second)"},
	{"history.size", groupHistory, "", "publications each room keeps for clients that rejoin from a position; 0 = none"},
	{"history.bytes", groupHistory, "", "bytes of publications one room keeps; 0 = no cap"},
	{"history.ttl", groupHistory, "", "how long a room keeps a publication; 0 = no limit"},
	{"history.max_entry", groupHistory, "", "publications larger than this are not kept (recovery past them fails); 0 = no cap"},
	{"history.budget", groupHistory, "", "bytes of publications all rooms together keep (not per route); 0 = no cap"},

	{"compression.enabled", groupCompression, "", "negotiate permessage-deflate with clients that offer it (chat and ws have it on)"},
	{"compression.threshold", groupCompression, "", "send messages shorter than this many bytes uncompressed; 0 = compress all"},
	{"compression.server_context_takeover", groupCompression, "", "keep a compressor per connection (~810 KiB each): a better ratio for much more memory"},
	{"compression.client_context_takeover", groupCompression, "", "let clients keep their compression context (wsd then keeps ~37 KiB per connection)"},

	{"auth.jwt_secret", groupAuth, "secret", "HS256 secret the tokens are signed with, at least 32 bytes (prefer the variable to the flag)"},
	{"auth.jwt_key_file", groupAuth, "file", "PEM public key (RS256 or ES256) the tokens are verified with"},
	{"auth.audience", groupAuth, "", "when set, a token's aud claim must contain this value (401 otherwise)"},
	{"auth.issuer", groupAuth, "", "when set, a token's iss claim must be this value (401 otherwise)"},

	{"api.enabled", groupAPI, "", "serve GET /rooms, GET /rooms/:room/info and POST /rooms/:room/publish"},
	{"api.key", groupAPI, "key", "key publishing needs (Authorization: Bearer or X-API-Key); prefer the variable to the flag"},
	{"api.publish_without_key", groupAPI, "", "with no -api.key, let anyone publish (otherwise publishing answers 403)"},
	{"api.protect_reads", groupAPI, "", "require the API key for the two GET routes too"},

	{"metrics.enabled", groupMetrics, "", "serve Prometheus metrics at GET /metrics on the main port"},
	{"metrics.lag_interval", groupMetrics, "", "how often wsd_loop_lag_seconds is updated from the loops' last timer tasks"},

	{"pprof.addr", groupPprof, "host:port", `serve net/http/pprof on this loopback address, e.g. 127.0.0.1:6060; "" = off`},

	{"pubsub.max_rooms", groupPubSub, "", "rooms one /ws connection may be in at once; 0 = no cap"},
	{"pubsub.presence_events", groupPubSub, "", `send /ws members {"type":"presence",...} when a /ws client joins or leaves their room`},

	{"cluster.nats", groupCluster, "url", `NATS server URL(s), comma-separated, that make this node part of a cluster; "" = single node`},
	{"cluster.node_id", groupCluster, "", `this node's name, unique in the cluster; "" = host name plus a random suffix`},
	{"cluster.prefix", groupCluster, "", "first token(s) of the NATS subjects; clusters sharing one NATS need different ones"},
	{"cluster.presence_interval", groupCluster, "", "how often this node reports its room counts to the others"},
	{"cluster.history", groupCluster, "", "auto: JetStream keeps positions and history when NATS offers it; jetstream: required; off"},
	{"cluster.start_timeout", groupCluster, "", "how long start-up waits for NATS and the stream (auto, jetstream)"},
	{"cluster.stream", groupCluster, "", `the JetStream stream; "" = the prefix in upper case (WSD)`},
	{"cluster.storage", groupCluster, "", "the stream's storage: file (survives NATS restarts) or memory"},
	{"cluster.replicas", groupCluster, "", "the stream's replicas in a clustered JetStream (1-5)"},
	{"cluster.history_size", groupCluster, "", "stored messages the stream keeps per room (each holds one or more publications)"},
	{"cluster.history_ttl", groupCluster, "", "age after which publications leave the stream; 0 = no limit"},
	{"cluster.history_bytes", groupCluster, "", "size cap of the whole stream (oldest of any room go first); 0 = no cap"},
	{"cluster.publish_timeout", groupCluster, "", "how long a publication waits for the stream (NATS down) before it fails"},

	{"routes.<name>.enabled", groupRoutes, "", "serve the route (404 when off)"},
}

// routeKey splits a per-route key: routes.echo.rate_limit.burst gives ("echo", "rate_limit.burst").
func routeKey(key string) (route, rest string, ok bool) {
	after, ok := strings.CutPrefix(key, "routes.")
	if !ok {
		return "", "", false
	}
	route, rest, ok = strings.Cut(after, ".")
	return route, rest, ok
}

// genericKey writes a per-route key with <name> for the route (routes.<name>.enabled); other keys
// are returned as they are.
func genericKey(key string) string {
	if _, rest, ok := routeKey(key); ok {
		return "routes.<name>." + rest
	}
	return key
}

// helpFor returns the help of a key: its configHelp row, or for a per-route override one made from
// the top-level key it overrides. ok is false when there is none (a key without help).
func helpFor(key string) (keyHelp, bool) {
	g := genericKey(key)
	for _, h := range configHelp {
		if h.key == g {
			return h, true
		}
	}
	_, rest, ok := routeKey(key)
	if !ok {
		return keyHelp{}, false
	}
	top, ok := helpFor(rest)
	if !ok {
		return keyHelp{}, false
	}
	text := "overrides -" + flagName(rest) + " for the route"
	return keyHelp{key: g, group: groupRoutes, arg: top.arg, text: text}, true
}

// flagName is the flag of a key: the key with - for _.
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }
