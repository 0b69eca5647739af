package main

import (
	"errors"
	"fmt"
	"net"
	"reflect"
)

// validate checks what the parsers cannot see alone: numbers that must not be negative, values that
// must be positive, addresses, and combinations. The error names the key and where its value came
// from.
func (c *Config) validate(src sources) error {
	fail := func(key string, problem error) error {
		return &configError{src.of(key), key, problem.Error()}
	}
	for _, l := range configLeaves() {
		if err := checkLeaf(c, l); err != nil {
			return fail(l.key, err)
		}
	}
	for _, p := range []struct {
		key string
		ok  bool
	}{
		{"handshake_timeout", c.HandshakeTimeout > 0}, {"close_timeout", c.CloseTimeout > 0},
		{"retry_after", c.RetryAfter > 0}, {"metrics.lag_interval", c.Metrics.LagInterval > 0},
		{"max_header_bytes", c.MaxHeaderBytes > 0}, {"max_body_bytes", c.MaxBodyBytes > 0},
		{"read_buffer_size", c.ReadBufferSize > 0},
	} {
		if !p.ok {
			return fail(p.key, errPositive)
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fail("addr", fmt.Errorf("invalid address %q (want host:port, e.g. :3000)", c.Addr))
	}
	if c.Auth.JWTSecret != "" && c.Auth.JWTKeyFile != "" {
		return fail("auth.jwt_key_file", errors.New("set either auth.jwt_secret or auth.jwt_key_file, not both"))
	}
	if n := len(c.Auth.JWTSecret); n > 0 && n < minHS256Secret {
		return fail("auth.jwt_secret", errShortSecret(n))
	}
	if c.API.ProtectReads && c.API.Key == "" {
		return fail("api.protect_reads", errors.New("needs api.key"))
	}
	if err := checkLoopback(c.Pprof.Addr); err != nil {
		return fail("pprof.addr", err)
	}
	return c.Cluster.validate(fail)
}

var errPositive = errors.New("must be positive")

// checkLeaf refuses negative numbers, in plain fields, route overrides and event rates alike.
func checkLeaf(c *Config, l leaf) error {
	v, ok := l.value(c, false)
	if !ok {
		return nil
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64:
		if v.Int() < 0 {
			return errNegative
		}
	case reflect.Float64:
		if v.Float() < 0 {
			return errNegative
		}
	case reflect.Map:
		if rates, ok := v.Interface().(map[string]EventRate); ok {
			return checkEventRates(rates)
		}
	}
	return nil
}

func checkEventRates(rates map[string]EventRate) error {
	for typ, r := range rates {
		if typ == "" {
			return errors.New("an event type must not be empty")
		}
		if r.PerSecond < 0 || r.Burst < 0 {
			return fmt.Errorf("event %q: %w", typ, errNegative)
		}
	}
	return nil
}

// checkLoopback accepts "" (off) and host:port addresses whose host is localhost or a loopback IP.
func checkLoopback(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q (want host:port)", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: pprof is served on 127.0.0.1, [::1] or localhost only", addr)
	}
	return nil
}
