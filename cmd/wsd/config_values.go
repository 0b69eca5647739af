package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// scalar is a configuration type that parses itself from one string, whether it comes from a YAML
// scalar, an environment variable or a flag, so all three accept and refuse the same values.
type scalar interface{ set(s string) error }

// keyError is a decoding error that knows its key ("routes.echo.ping_interval").
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.key + ": " + e.err.Error() }

// unmarshalScalar decodes a YAML node into v (the yaml.NodeUnmarshaler of every scalar type).
func unmarshalScalar(n ast.Node, v scalar) error {
	s, ok := scalarText(n)
	if !ok {
		return &keyError{nodeKey(n), fmt.Errorf("want a single value, not %s", n.Type())}
	}
	if err := v.set(s); err != nil {
		return &keyError{nodeKey(n), err}
	}
	return nil
}

// scalarText is the text of a scalar node as written (a quoted string without its quotes).
func scalarText(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// nodeKey is the dotted key of a node: "$.routes.echo.ping_interval" becomes routes.echo.ping_interval,
// and the document itself is "(top level)".
func nodeKey(n ast.Node) string {
	p := n.GetPath()
	if p == "$" || p == "" {
		return "(top level)"
	}
	return strings.TrimPrefix(p, "$.")
}

// Duration is a time.Duration written as a Go duration string ("30s", "1m30s", "0").
type Duration time.Duration

func (d *Duration) set(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want a Go duration such as 30s or 1m)", s)
	}
	if v < 0 {
		return fmt.Errorf("must not be negative (got %s)", s)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (d *Duration) UnmarshalYAML(n ast.Node) error { return unmarshalScalar(n, d) }

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Size is a byte count: an integer, or a number with a binary unit (64KiB, 1MiB, 2GiB).
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"b", 1}}

func (z *Size) set(s string) error {
	text := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(text, u.suffix) {
			text, mult = strings.TrimSpace(strings.TrimSuffix(text, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid size %q (want bytes, or a number with KiB, MiB or GiB)", s)
	}
	if n < 0 {
		return fmt.Errorf("must not be negative (got %s)", s)
	}
	if n > math.MaxInt64/mult {
		return fmt.Errorf("size %q is too large", s)
	}
	*z = Size(n * mult)
	return nil
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (z *Size) UnmarshalYAML(n ast.Node) error { return unmarshalScalar(n, z) }

// formatSize writes a byte count with the largest binary unit that divides it (1MiB, 64KiB, 256).
func formatSize(n float64) string {
	for _, u := range []struct {
		name string
		mult float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n == float64(int64(n/u.mult))*u.mult {
			return strconv.FormatInt(int64(n/u.mult), 10) + u.name
		}
	}
	return num(n)
}

// SlowPolicy is the slow-consumer policy: drop or close.
type SlowPolicy string

func (p *SlowPolicy) set(s string) error {
	return setEnum((*string)(p), s, "drop", "close")
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (p *SlowPolicy) UnmarshalYAML(n ast.Node) error { return unmarshalScalar(n, p) }

// LogLevel is debug, info, warn or error.
type LogLevel string

func (l *LogLevel) set(s string) error {
	return setEnum((*string)(l), s, "debug", "info", "warn", "error")
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (l *LogLevel) UnmarshalYAML(n ast.Node) error { return unmarshalScalar(n, l) }

// slog is the level as a slog.Level.
func (l LogLevel) slog() slog.Level {
	switch l {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LogFormat is text (logfmt-like key=value) or json.
type LogFormat string

func (f *LogFormat) set(s string) error {
	return setEnum((*string)(f), s, "text", "json")
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (f *LogFormat) UnmarshalYAML(n ast.Node) error { return unmarshalScalar(n, f) }

// setEnum stores s in dst when it is one of allowed (compared case-insensitively).
func setEnum(dst *string, s string, allowed ...string) error {
	v := strings.ToLower(strings.TrimSpace(s))
	for _, a := range allowed {
		if v == a {
			*dst = a
			return nil
		}
	}
	return fmt.Errorf("invalid value %q (want %s)", s, strings.Join(allowed, " or "))
}

// errNegative is the problem of a negative number where only 0 and up make sense.
var errNegative = errors.New("must not be negative")
