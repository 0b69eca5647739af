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
