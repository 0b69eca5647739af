package main

import (
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// usageIntro opens wsd -h: what wsd is, where configuration comes from, and the actions.
const usageIntro = `wsd is a WebSocket server for very many connections: /echo, /rooms/:room (raw relay),
/chat/:room (chat, with a page at /), /ws (JSON pub/sub), an HTTP API for rooms, /healthz, /readyz
and /metrics, all on one port. With no configuration it serves on :3000.

Usage: wsd [flags]

Configuration: built-in defaults < YAML file (-config, or $WSD_CONFIG) < environment variables
(WSD_ + the key in upper case: rate_limit.messages is WSD_RATE_LIMIT_MESSAGES) < flags. Every key
below is all three; docs/configuration.md describes each one, wsd.example.yaml is a commented file
with the defaults. Durations are Go durations (30s, 1m30s), sizes bytes or KiB, MiB, GiB, lists
"a, b"; a boolean flag alone means true (-api.protect-reads). Limits: 0 means off where that makes
sense; negative values are refused.

Actions:
  -config file
        YAML configuration file (default $WSD_CONFIG)
  -print-config
        print the effective configuration as YAML and exit
  -version
        print the versions of wsd, Go and gnet and exit
  -h, -help
        print this help and exit
`

// writeUsage writes wsd -h: the intro, then every configuration flag under its group, each with its
// value placeholder, default, environment variable and description. The per-route flags are shown
// once, with <name> for the route.
func writeUsage(w io.Writer) error {
	var b strings.Builder
	b.WriteString(usageIntro)
	d := defaults()
	aliases := map[string]string{}
	for alias, key := range clusterAliases {
		aliases[key] = alias
	}
	for _, g := range helpGroups(d) {
		fmt.Fprintf(&b, "\n%s:\n", g.name)
		for line := range strings.Lines(g.note) {
			b.WriteString("  " + line)
		}
		if g.note != "" {
			b.WriteString("\n")
		}
		seen := map[string]bool{}
		for _, l := range configLeaves() {
			h, ok := helpFor(l.key)
			if !ok || h.group != g.name || seen[h.key] {
				continue
			}
			seen[h.key] = true
			writeFlag(&b, l, h, d, aliases[l.key])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFlag writes one flag: "  -flag arg (default X, env WSD_X)" and the description under it.
func writeFlag(b *strings.Builder, l leaf, h keyHelp, d *Config, alias string) {
	flag, env := "-"+flagName(h.key), l.env
	if route, _, ok := routeKey(l.key); ok {
		env = strings.Replace(env, "_"+strings.ToUpper(route)+"_", "_<NAME>_", 1)
	}
	if alias != "" {
		flag += ", -" + alias
	}
	if arg := argFor(l, h); arg != "" {
		flag += " " + arg
	}
	fmt.Fprintf(b, "  %s (default %s; env %s)\n        %s\n", flag, defaultFor(l, d), env, h.text)
}

// argFor is the placeholder of a flag's value: the help's, else one named after the type ("" for
// a boolean flag, which needs no value).
func argFor(l leaf, h keyHelp) string {
	if h.arg != "" || l.isBool() {
		return h.arg
	}
	t := l.typ
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[Duration]():
		return "duration"
	case reflect.TypeFor[Size]():
		return "size"
	case reflect.TypeFor[SlowPolicy]():
		return "drop|close"
	case reflect.TypeFor[LogLevel]():
		return "level"
	case reflect.TypeFor[LogFormat]():
		return "text|json"
	}
	switch t.Kind() {
	case reflect.Int:
		return "n"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list"
	case reflect.Map:
		return "mapping"
	}
	return "string"
}

// defaultFor is the default of a flag as wsd -h shows it; for a per-route flag, the routes'
// defaults ("inherit", or "inherit (chat, ws: true)" when they differ).
func defaultFor(l leaf, d *Config) string {
	_, rest, ok := routeKey(l.key)
	if !ok {
		return defaultText(l, d)
	}
	var order []string
	routes := map[string][]string{}
	for _, r := range []string{"echo", "rooms", "chat", "ws"} {
		text := defaultText(leafByKey("routes."+r+"."+rest), d)
		if routes[text] == nil {
			order = append(order, text)
		}
		routes[text] = append(routes[text], r)
	}
	if len(order) == 1 {
		return order[0]
	}
	var others []string
	for _, text := range order[1:] {
		others = append(others, strings.Join(routes[text], ", ")+": "+text)
	}
	return order[0] + " (" + strings.Join(others, "; ") + ")"
}

// defaultText is the value of l in d written as a flag would take it ("inherit" for an unset
// per-route override).
func defaultText(l leaf, d *Config) string {
	v, ok := l.value(d, false)
	if !ok {
		return "inherit"
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "inherit"
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case Duration:
		return time.Duration(x).String()
	case Size:
		return formatSize(float64(x))
	case float64:
		return num(x)
	case []string:
		if len(x) == 0 {
			return "[]"
		}
		return strings.Join(x, ",")
	case map[string]EventRate:
		if len(x) == 0 {
			return "{}"
		}
		keys := slices.Sorted(maps.Keys(x))
		return "{" + strings.Join(keys, ", ") + "}"
	}
	if v.Kind() == reflect.String {
		if v.String() == "" {
			return `""`
		}
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}
