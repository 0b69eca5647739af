package natsbroker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configures a Broker. It is copied by New; the zero value of every field selects the documented
// default.
type Options struct {
	// URL is the NATS server to connect to, or a comma-separated list of servers of one NATS cluster
	// ("nats://a:4222,nats://b:4222"). Schemes: nats, tls, ws, wss; a bare host:port means nats://.
	// Default: nats://127.0.0.1:4222.
	URL string

	// NodeID names this node in the cluster: it tags every message this node publishes (so the node
	// ignores its own messages) and its presence reports. It must be unique per running node and at most
	// 255 bytes. Default: 12 random hex digits, new at every start. Two nodes with the same id do not
	// receive each other's broadcasts.
	NodeID string

	// Prefix starts every subject the broker uses: <Prefix>.room.<room> and <Prefix>.presence. Clusters
	// sharing one NATS keep apart by using different prefixes. Dot-separated tokens, no wildcards or
	// whitespace. Default: "wsd".
	Prefix string

	// PresenceInterval is how often this node publishes its per-room member counts. Default: 2 s.
	// Counts on other nodes lag by about one interval; a shorter interval costs more NATS traffic
	// (one report of all local rooms per node per interval).
	PresenceInterval time.Duration

	// PresenceTTL is how long a node's last report counts after it stopped reporting (a crashed node).
	// Default: 3 × PresenceInterval. A node that closes cleanly says goodbye and is dropped at once.
	PresenceTTL time.Duration

	// LocalCount returns the number of members of room on this node (engine: App.LocalCount). The
	// broker asks it, once per PresenceInterval, for every room this node has members in (the rooms
	// Interest turned on). Called from the broker's goroutine, never with engine locks held.
	LocalCount func(room string) int

	// Counts, when set, replaces LocalCount: it returns every room with members on this node and their
	// local counts (not cluster-wide counts). Called like LocalCount. With neither set, the node reports
	// no members and other nodes' Count does not include this node's members.
	Counts func() map[string]int

	// PublishQueue bounds, in bytes, the broadcasts waiting for the broker's goroutine to hand them to
	// NATS. Default: 8 MiB. Publish never blocks: past the bound a broadcast is not sent to other nodes
	// and counted in Stats.PublishFailures.
	PublishQueue int

	// InboundQueue is the number of messages from other nodes each receive worker buffers. Default:
	// 16384. When a worker falls that far behind, NATS drops messages for this node (counted in
	// Stats.SlowConsumer, logged).
	InboundQueue int

	// History selects where room positions and history live: HistoryAuto (the zero value "" or
	// "auto"), HistoryJetStream ("jetstream") or HistoryOff ("off").
	//
	//   - off: core NATS only (a relay): live fan-out across nodes, every node numbers what it
	//     delivers itself, so a client can recover only on the node it was on. Start never waits.
	//   - jetstream: NATS JetStream is the authority for offsets and history (a sequencer): recovery
	//     works on every node and across node restarts. Start waits up to StartTimeout for NATS and
	//     fails when JetStream is not available there.
	//   - auto: jetstream when the NATS server offers JetStream at Start (Start waits up to
	//     StartTimeout for the first connection), else off.
	//
	// The mode is fixed once Start returns, and logged once. Every node of a cluster must run the
	// same mode: nodes in different modes do not exchange publications.
	History string

	// StartTimeout bounds how long Start waits for the first connection and the JetStream stream
	// (History auto or jetstream). Default: 5 s.
	StartTimeout time.Duration

	// Stream is the JetStream stream holding the rooms' publications (History jetstream). Default:
	// the Prefix in upper case with dots as underscores ("WSD"). Clusters sharing one NATS use
	// different prefixes, hence different streams.
	Stream string

	// Storage is the stream's storage: "file" (the default: history survives NATS restarts) or
	// "memory".
	Storage string

	// Replicas is the stream's replica count in a clustered JetStream (1 to 5). Default: 1.
	Replicas int

	// HistorySize is the number of stored messages kept per room (MaxMsgsPerSubject): at least that
	// many publications, more when several publications of a room were committed together. Default:
	// DefaultHistorySize (the engine's default history size); negative: no cap.
	HistorySize int

	// HistoryTTL drops publications older than this from the stream (MaxAge). Default:
	// DefaultHistoryTTL (the engine's); negative: no age limit.
	HistoryTTL time.Duration

	// HistoryBytes caps the whole stream (MaxBytes, oldest publications of any room go first).
	// Default: DefaultHistoryBytes (the engine's default history budget); negative: no cap.
	HistoryBytes int64

	// PublishTimeout is how long a publication may wait for the stream (NATS or JetStream down, or
	// the publish queue ahead of it) before it fails with an error (History jetstream). Default: 10 s.
	PublishTimeout time.Duration

	// Logger receives connection events and errors. Default: slog.Default(). Nothing is logged per message.
	Logger *slog.Logger

	// NATS are extra nats.go options (credentials, TLS, ReconnectWait, ReconnectBufSize...), applied
	// after the broker's defaults: nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
	// nats.ReconnectWait(1s), nats.NoEcho(), nats.Name("wsd <node id>"). Connection handlers set here are
	// still called (the broker wraps them).
	NATS []nats.Option
}

// Defaults applied by New.
const (
	DefaultURL              = nats.DefaultURL
	DefaultPrefix           = "wsd"
	DefaultPresenceInterval = 2 * time.Second
	DefaultPublishQueue     = 8 << 20
	DefaultInboundQueue     = 1 << 14
	DefaultStartTimeout     = 5 * time.Second
	DefaultPublishTimeout   = 10 * time.Second
	// DefaultHistorySize, DefaultHistoryTTL and DefaultHistoryBytes equal the engine's
	// DefaultHistorySize, DefaultHistoryTTL and DefaultHistoryBudget.
	DefaultHistorySize   = 1000
	DefaultHistoryTTL    = 5 * time.Minute
	DefaultHistoryBytes  = 64 << 20
	defaultReconnectWait = time.Second
)

// History modes (Options.History).
const (
	HistoryAuto      = "auto"
	HistoryJetStream = "jetstream"
	HistoryOff       = "off"
)

// withDefaults validates o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	servers, err := parseURLs(o.URL)
	if err != nil {
		return o, err
	}
	o.URL = strings.Join(servers, ",")
	if o.NodeID == "" {
		o.NodeID = randomID()
	}
	if len(o.NodeID) > 255 {
		return o, errors.New("natsbroker: NodeID longer than 255 bytes")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := validPrefix(o.Prefix); err != nil {
		return o, err
	}
	if o.PresenceInterval <= 0 {
		o.PresenceInterval = DefaultPresenceInterval
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = 3 * o.PresenceInterval
	}
	if o.PublishQueue <= 0 {
		o.PublishQueue = DefaultPublishQueue
	}
	if o.InboundQueue <= 0 {
		o.InboundQueue = DefaultInboundQueue
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o.jetStreamDefaults()
}

// jetStreamDefaults validates and fills in the JetStream fields.
func (o Options) jetStreamDefaults() (Options, error) {
	switch o.History {
	case "":
		o.History = HistoryAuto
	case HistoryAuto, HistoryJetStream, HistoryOff:
	default:
		return o, fmt.Errorf("natsbroker: invalid History %q: auto, jetstream or off", o.History)
	}
	o.StartTimeout = defaulted(o.StartTimeout, DefaultStartTimeout)
	o.PublishTimeout = defaulted(o.PublishTimeout, DefaultPublishTimeout)
	if o.Stream == "" {
		o.Stream = streamName(o.Prefix)
	}
	if strings.ContainsAny(o.Stream, ".*> \t\r\n/\\") {
		return o, fmt.Errorf("natsbroker: invalid Stream %q", o.Stream)
	}
	switch o.Storage {
	case "":
		o.Storage = "file"
	case "file", "memory":
	default:
		return o, fmt.Errorf("natsbroker: invalid Storage %q: file or memory", o.Storage)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return o, fmt.Errorf("natsbroker: invalid Replicas %d: 1 to 5", o.Replicas)
	}
	o.HistorySize = defaulted(o.HistorySize, DefaultHistorySize)
	o.HistoryTTL = defaulted(o.HistoryTTL, DefaultHistoryTTL)
	o.HistoryBytes = defaulted(o.HistoryBytes, DefaultHistoryBytes)
	return o, nil
}

func defaulted[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// streamName derives a stream name from a subject prefix: upper case, characters other than
// letters, digits, '-' and '_' as '_'.
func streamName(prefix string) string {
	b := []byte(strings.ToUpper(prefix))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// parseURLs splits a comma-separated server list and checks every entry.
func parseURLs(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("natsbroker: invalid URL %q: %w", s, err)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return nil, fmt.Errorf("natsbroker: invalid URL %q: scheme must be nats, tls, ws or wss", s)
		}
		if u.Hostname() == "" {
			return nil, fmt.Errorf("natsbroker: invalid URL %q: no host", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("natsbroker: invalid URL %q", list)
	}
	return out, nil
}

// validPrefix reports whether p is a valid literal subject prefix.
func validPrefix(p string) error {
	for _, tok := range strings.Split(p, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n\f\v") {
			return fmt.Errorf("natsbroker: invalid Prefix %q: dot-separated tokens without wildcards or spaces", p)
		}
	}
	return nil
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
