package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openspeed/wsd/rooms/natsbroker"
)

// ClusterConfig connects several wsd nodes through NATS (docs/cluster.md): broadcasts reach the
// room's members on every node, and room counts (GET /rooms, GET /rooms/:room/info,
// max_room_members) cover the cluster. An empty nats URL keeps the node on its own.
type ClusterConfig struct {
	// NATS is the NATS server URL, or a comma-separated list of one NATS cluster's servers
	// (nats://n1:4222,nats://n2:4222). "" = single node.
	NATS string `yaml:"nats"`
	// NodeID names this node; it must be unique in the cluster. "" = the host name plus a random
	// suffix, new at every start (two processes on one host never share an id).
	NodeID string `yaml:"node_id"`
	// Prefix starts every subject (<prefix>.room.<room>, <prefix>.presence): clusters sharing one
	// NATS keep apart with different prefixes.
	Prefix string `yaml:"prefix"`
	// PresenceInterval is how often the node reports its room counts to the others; cluster-wide
	// counts lag by about this much.
	PresenceInterval Duration `yaml:"presence_interval"`
	// History is where positions and history live: auto (JetStream when the server offers it),
	// jetstream (required), off (live fan-out only: no recovery across nodes).
	History string `yaml:"history"`
	// StartTimeout bounds how long start-up waits for NATS and the stream (auto, jetstream).
	StartTimeout Duration `yaml:"start_timeout"`
	// Stream names the JetStream stream; "" = the prefix in upper case.
	Stream string `yaml:"stream"`
	// Storage is the stream's storage: file or memory.
	Storage string `yaml:"storage"`
	// Replicas is the stream's replica count in a clustered JetStream (1-5).
	Replicas int `yaml:"replicas"`
	// HistorySize, HistoryTTL and HistoryBytes are the stream's retention: stored messages per room,
	// their age, the stream's size (0: no cap).
	HistorySize  int      `yaml:"history_size"`
	HistoryTTL   Duration `yaml:"history_ttl"`
	HistoryBytes Size     `yaml:"history_bytes"`
	// PublishTimeout bounds how long a publication waits for the stream before it fails.
	PublishTimeout Duration `yaml:"publish_timeout"`
}

// clusterAliases are the short flags docs/cluster.md shows, besides the -cluster.* ones.
var clusterAliases = map[string]string{
	"nats":        "cluster.nats",
	"node-id":     "cluster.node_id",
	"nats-prefix": "cluster.prefix",
}

// maxNodeID is natsbroker's limit on a node id, in bytes.
const maxNodeID = 255

// validate checks the block with natsbroker's own rules, so a bad URL or prefix fails start-up
// with the key named instead of when the broker is built.
func (c *ClusterConfig) validate(fail func(key string, problem error) error) error {
	if c.NATS != "" {
		if _, err := natsbroker.New(natsbroker.Options{URL: c.NATS}); err != nil {
			return fail("cluster.nats", brokerProblem(err))
		}
	}
	if c.Prefix == "" {
		return fail("cluster.prefix", errors.New(`must not be empty (default "wsd")`))
	}
	if _, err := natsbroker.New(natsbroker.Options{Prefix: c.Prefix}); err != nil {
		return fail("cluster.prefix", brokerProblem(err))
	}
	if len(c.NodeID) > maxNodeID {
		return fail("cluster.node_id", errors.New("longer than 255 bytes"))
	}
	if c.PresenceInterval <= 0 {
		return fail("cluster.presence_interval", errPositive)
	}
	return c.validateStream(fail)
}

// validateStream checks the JetStream keys.
func (c *ClusterConfig) validateStream(fail func(key string, problem error) error) error {
	switch {
	case c.History != natsbroker.HistoryAuto && c.History != natsbroker.HistoryJetStream &&
		c.History != natsbroker.HistoryOff:
		return fail("cluster.history", errors.New("must be auto, jetstream or off"))
	case c.Storage != "file" && c.Storage != "memory":
		return fail("cluster.storage", errors.New("must be file or memory"))
	case c.Replicas < 1 || c.Replicas > 5:
		return fail("cluster.replicas", errors.New("must be 1 to 5"))
	case c.StartTimeout <= 0:
		return fail("cluster.start_timeout", errPositive)
	case c.PublishTimeout <= 0:
		return fail("cluster.publish_timeout", errPositive)
	case c.HistorySize < 1:
		return fail("cluster.history_size", errors.New("must be at least 1"))
	}
	return nil
}

// brokerProblem is a natsbroker error without its package prefix.
func brokerProblem(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "natsbroker: "))
}

// broker builds the NATS broker the block describes (nil without a nats URL). localCount is the
// App's LocalCount: the App is created after the broker, so the caller passes a closure over a
// variable it sets once engine.New returned (the broker calls it only after App.Start).
func (c *ClusterConfig) broker(log *slog.Logger, localCount func(room string) int) (*natsbroker.Broker, error) {
	if c.NATS == "" {
		return nil, nil
	}
	id := c.NodeID
	if id == "" {
		id = autoNodeID()
	}
	return natsbroker.New(natsbroker.Options{
		URL:              c.NATS,
		NodeID:           id,
		Prefix:           c.Prefix,
		PresenceInterval: time.Duration(c.PresenceInterval),
		LocalCount:       localCount,
		History:          c.History,
		StartTimeout:     time.Duration(c.StartTimeout),
		Stream:           c.Stream,
		Storage:          c.Storage,
		Replicas:         c.Replicas,
		HistorySize:      c.HistorySize,
		HistoryTTL:       off(time.Duration(c.HistoryTTL)),
		HistoryBytes:     off(int64(c.HistoryBytes)),
		PublishTimeout:   time.Duration(c.PublishTimeout),
		Logger:           log,
	})
}

// autoNodeID is the default node id: the host name (cut to fit) and 6 random hex digits.
func autoNodeID() string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	suffix := hex.EncodeToString(b[:])
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "wsd-" + suffix
	}
	return host[:min(len(host), maxNodeID-len(suffix)-1)] + "-" + suffix
}

// redactURLs hides the password (or the token: a user name without password) of every URL in a
// comma-separated NATS server list, for -print-config. The result still parses.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if p = strings.TrimSpace(p); !strings.Contains(p, "://") {
			p = "nats://" + p // as natsbroker reads a bare host:port
		}
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		} else {
			u.User = url.User(redacted)
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
