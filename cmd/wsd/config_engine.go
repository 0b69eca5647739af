package main

import (
	"log/slog"
	"net"
	"time"

	"github.com/openspeed/wsd/engine"
)

// engineConfig maps the configuration to the engine's. wsd's 0 ("off") becomes the engine's
// negative value where the engine reads 0 as "default". onReject may be nil.
func (c *Config) engineConfig(log *slog.Logger, onReject func(engine.RejectReason, int, net.Addr, string)) engine.Config {
	return engine.Config{
		Loops:               c.Loops,
		MaxMessageSize:      off(int64(c.MaxMessageSize)),
		MaxHeaderBytes:      int(c.MaxHeaderBytes),
		MaxBodyBytes:        int64(c.MaxBodyBytes),
		HandshakeTimeout:    time.Duration(c.HandshakeTimeout),
		CloseTimeout:        time.Duration(c.CloseTimeout),
		PingInterval:        off(time.Duration(c.PingInterval)),
		IdleTimeout:         off(time.Duration(c.IdleTimeout)),
		ReadBufferSize:      int(c.ReadBufferSize),
		TCPKeepAlive:        off(time.Duration(c.TCPKeepAlive)),
		AllowedOrigins:      c.AllowedOrigins,
		RejectMissingOrigin: c.RejectMissingOrigin,
		MaxFrameSize:        int64(c.MaxFrameSize),
		MaxFragments:        c.MaxFragments,
		MaxConnections:      c.MaxConnections,
		MaxConnectionsPerIP: c.MaxConnectionsPerIP,
		RetryAfter:          time.Duration(c.RetryAfter),
		RateLimit:           c.RateLimit.engine(),
		ControlLimit:        c.ControlLimit.engine(),
		MaxBackpressure:     off(int64(c.MaxBackpressure)),
		SlowConsumer:        c.SlowConsumer.engine(),
		MaxRoomMembers:      c.MaxRoomMembers,
		History:             c.History.engine(),
		HistoryBudget:       off(int64(c.History.Budget)),
		MaxRoomName:         off(c.MaxRoomName),
		Compression:         c.Compression.engine(),
		OnReject:            onReject,
		Logger:              log,
	}
}

// off maps wsd's 0 (off) to the engine's negative value for a limit the engine reads 0 as default
// (or, in RouteOptions, as "inherit").
func off[T int | int64 | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// engine maps the history bounds (0: off) to the engine's (0 inherits or takes the default, negative
// is off).
func (h HistoryConfig) engine() engine.HistoryOptions {
	return engine.HistoryOptions{Size: off(h.Size), Bytes: off(int64(h.Bytes)), TTL: off(time.Duration(h.TTL)),
		MaxEntry: off(int(h.MaxEntry))}
}

func (r RateLimitConfig) engine() engine.RateLimit {
	rl := engine.RateLimit{
		Messages:   r.Messages,
		Burst:      r.Burst,
		Bytes:      float64(r.Bytes),
		BytesBurst: int64(r.BytesBurst),
		Close:      r.Close,
	}
	if len(r.Events) > 0 {
		rl.Events = make(map[string]engine.Rate, len(r.Events))
		for typ, e := range r.Events {
			rl.Events[typ] = engine.Rate{PerSecond: e.PerSecond, Burst: e.Burst}
		}
	}
	return rl
}

// engine maps the control-frame limit; wsd's per_second 0 (off) is the engine's negative rate.
func (r ControlLimitConfig) engine() engine.Rate {
	if r.PerSecond == 0 {
		return engine.Rate{PerSecond: -1}
	}
	return engine.Rate{PerSecond: r.PerSecond, Burst: r.Burst}
}

func (p SlowPolicy) engine() engine.SlowConsumerPolicy {
	if p == "close" {
		return engine.SlowClose
	}
	return engine.SlowDrop
}

// routeOptions maps a route's overrides to engine.RouteOptions: nil fields inherit; a route's 0
// turns the limit off for the route (the engine's negative value) even when the top level sets it.
func (c *Config) routeOptions(r *RouteConfig) engine.RouteOptions {
	var o engine.RouteOptions
	if r.MaxMessageSize != nil {
		o.MaxMessageSize = off(int64(*r.MaxMessageSize))
	}
	if r.MaxFrameSize != nil {
		o.MaxFrameSize = off(int64(*r.MaxFrameSize))
	}
	if r.MaxFragments != nil {
		o.MaxFragments = off(*r.MaxFragments)
	}
	if r.PingInterval != nil {
		o.PingInterval = off(time.Duration(*r.PingInterval))
	}
	if r.IdleTimeout != nil {
		o.IdleTimeout = off(time.Duration(*r.IdleTimeout))
	}
	if r.MaxBackpressure != nil {
		o.MaxBackpressure = off(int64(*r.MaxBackpressure))
	}
	if r.SlowConsumer != nil {
		o.SlowConsumer = r.SlowConsumer.engine()
	}
	if r.MaxRoomMembers != nil {
		o.MaxRoomMembers = off(*r.MaxRoomMembers)
	}
	if h := r.History; h != nil {
		o.History = HistoryConfig{Size: h.Size, Bytes: h.Bytes, TTL: h.TTL, MaxEntry: h.MaxEntry}.engine()
	}
	if r.RateLimit != nil {
		rl := r.RateLimit.engine()
		o.RateLimit = &rl
	}
	if r.ControlLimit != nil {
		o.ControlLimit = r.ControlLimit.engine()
	}
	o.Compression = c.routeCompression(r)
	c.routeOrigins(r, &o)
	return o
}

// routeOrigins fills the origin policy of a route that overrides either origin key; the engine
// takes both from the route then, so the other one is copied from the top level.
func (c *Config) routeOrigins(r *RouteConfig, o *engine.RouteOptions) {
	if r.AllowedOrigins == nil && r.RejectMissingOrigin == nil {
		return
	}
	o.AllowedOrigins, o.RejectMissingOrigin = c.AllowedOrigins, c.RejectMissingOrigin
	if r.AllowedOrigins != nil {
		o.AllowedOrigins = *r.AllowedOrigins
	}
	if r.RejectMissingOrigin != nil {
		o.RejectMissingOrigin = *r.RejectMissingOrigin
	}
	if o.AllowedOrigins == nil {
		o.AllowedOrigins = []string{} // non-nil: the route's policy applies
	}
}
