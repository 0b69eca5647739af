package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/openspeed/wsd/engine"
)

// writeFile writes a configuration file in the test's temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadArgs loads a configuration from a file (may be ""), an environment and command-line flags.
func loadArgs(t *testing.T, file string, env []string, args ...string) (*Config, error) {
	t.Helper()
	o, err := parseArgs(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	if o.configFile == "" {
		o.configFile = file
	}
	c, _, err := loadConfig(loadInput{file: o.configFile, env: env, flags: o.settings})
	return c, err
}

// TestConfigPrecedence: defaults < file < environment < flags, key by key; keys nobody sets keep
// their defaults.
func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "wsd.yaml", `
addr: "127.0.0.1:4001"
log: {level: debug, format: json}
max_message_size: 64KiB
ping_interval: 10s
rate_limit: {messages: 5, events: {publish: {per_second: 2, burst: 4}}}
routes:
  echo: {enabled: false}
  ws: {max_message_size: 1KiB}
`)
	env := []string{
		"WSD_LOG_LEVEL=warn", "WSD_PING_INTERVAL=20s", "WSD_ROUTES_CHAT_ENABLED=false",
		"WSD_ALLOWED_ORIGINS=https://a.example, https://b.example", "WSD_RATE_LIMIT_BURST=9",
		"PATH=/bin", "WSD_TEST_MAIN=0",
	}
	c, err := loadArgs(t, "", env, "-config", file, "-ping-interval", "40s",
		"-routes.echo.enabled", "-routes.ws.rate-limit.messages=3", "-log.format=text")
	if err != nil {
		t.Fatal(err)
	}
	d := defaults()
	checks := []struct {
		key       string
		got, want any
	}{
		{"addr (file)", c.Addr, "127.0.0.1:4001"},
		{"log.level (env over file)", c.Log.Level, LogLevel("warn")},
		{"log.format (flag over file)", c.Log.Format, LogFormat("text")},
		{"max_message_size (file)", c.MaxMessageSize, Size(64 << 10)},
		{"ping_interval (flag over env over file)", c.PingInterval, Duration(40 * time.Second)},
		{"rate_limit.messages (file)", c.RateLimit.Messages, 5.0},
		{"rate_limit.burst (env)", c.RateLimit.Burst, 9},
		{"rate_limit.bytes (default)", c.RateLimit.Bytes, d.RateLimit.Bytes},
		{"rate_limit.events (file)", c.RateLimit.Events, map[string]EventRate{"publish": {2, 4}}},
		{"allowed_origins (env)", c.AllowedOrigins, []string{"https://a.example", "https://b.example"}},
		{"routes.echo.enabled (flag over file)", c.Routes.Echo.Enabled, true},
		{"routes.chat.enabled (env)", c.Routes.Chat.Enabled, false},
		{"routes.ws.max_message_size (file)", *c.Routes.WS.MaxMessageSize, Size(1 << 10)},
		{"routes.ws.rate_limit (flag, a new block)", *c.Routes.WS.RateLimit, RateLimitConfig{Messages: 3}},
		{"routes.rooms.rate_limit (inherits)", c.Routes.Rooms.RateLimit, (*RateLimitConfig)(nil)},
		{"idle_timeout (default)", c.IdleTimeout, d.IdleTimeout},
		{"history.size (default)", c.History.Size, 1000},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %#v, want %#v", ch.key, ch.got, ch.want)
		}
	}
	if c.Loops <= 0 || c.MaxConnections <= 0 {
		t.Errorf("loops %d, max_connections %d: want them resolved", c.Loops, c.MaxConnections)
	}
}

// TestConfigErrors: every invalid configuration stops start-up with an error naming where the
// value came from (the file, the variable, the flag) and the key.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, file string
		env, args  []string
		want       string // after the source
	}{
		{"unknown key", "addr: :1\nbogus: 1\n", nil, nil, "bogus: unknown key"},
		{"unknown nested key", "routes:\n  echo:\n    enabeld: true\n", nil, nil, "routes.echo.enabeld: unknown key"},
		{"unknown event field", "rate_limit: {events: {publish: {rate: 1}}}\n", nil, nil, "rate_limit.events.publish.rate: unknown key"},
		{"bad duration", "handshake_timeout: 10 seconds\n", nil, nil, `handshake_timeout: invalid duration "10 seconds"`},
		{"duration without unit", "close_timeout: 5\n", nil, nil, `close_timeout: invalid duration "5"`},
		{"negative duration", "routes: {ws: {ping_interval: -1s}}\n", nil, nil, "routes.ws.ping_interval: must not be negative"},
		{"negative size", "max_message_size: -1\n", nil, nil, "max_message_size: must not be negative"},
		{"bad size", "max_backpressure: 1 lot\n", nil, nil, `max_backpressure: invalid size "1 lot"`},
		{"negative int", "max_room_members: -5\n", nil, nil, "max_room_members: must not be negative"},
		{"negative float", "rate_limit: {messages: -1}\n", nil, nil, "rate_limit.messages: must not be negative"},
		{"negative event rate", "rate_limit: {events: {join: {per_second: -2}}}\n", nil, nil, `rate_limit.events: event "join": must not be negative`},
		{"bad slow_consumer", "slow_consumer: block\n", nil, nil, `slow_consumer: invalid value "block" (want drop or close)`},
		{"bad log level", "log: {level: loud}\n", nil, nil, `log.level: invalid value "loud" (want debug or info or warn or error)`},
		{"bad log format", "log: {format: xml}\n", nil, nil, `log.format: invalid value "xml"`},
		{"wrong type", "loops: many\n", nil, nil, `loops: invalid value "many" (want an integer)`},
		{"list expected", "allowed_origins: 5\n", nil, nil, "allowed_origins:"},
		{"duplicate key", "addr: :1\naddr: :2\n", nil, nil, "addr: duplicate key"},
		{"zero timeout", "handshake_timeout: 0s\n", nil, nil, "handshake_timeout: must be positive"},
		{"bad addr", "addr: localhost\n", nil, nil, `addr: invalid address "localhost"`},
		{"public pprof", "pprof: {addr: 0.0.0.0:6060}\n", nil, nil, "pprof.addr: \"0.0.0.0:6060\" is not a loopback address"},
		{"two jwt keys", "auth: {jwt_secret: s, jwt_key_file: k.pem}\n", nil, nil, "auth.jwt_key_file: set either"},
		{"reads without key", "api: {protect_reads: true}\n", nil, nil, "api.protect_reads: needs api.key"},
		{"env bad value", "", []string{"WSD_IDLE_TIMEOUT=soon"}, nil, `idle_timeout: invalid duration "soon"`},
		{"env negative", "", []string{"WSD_ROUTES_ROOMS_MAX_BACKPRESSURE=-3"}, nil, "routes.rooms.max_backpressure: must not be negative"},
		{"env bad bool", "", []string{"WSD_API_ENABLED=perhaps"}, nil, `api.enabled: invalid boolean "perhaps"`},
		{"flag bad level", "", nil, []string{"-log.level=verbose"}, `log.level: invalid value "verbose"`},
		{"flag negative int", "", nil, []string{"-loops=-2"}, "loops: must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var file, source string
			switch {
			case tc.file != "":
				file = writeFile(t, "bad.yaml", tc.file)
				source = file
			case tc.env != nil:
				source = "environment " + strings.SplitN(tc.env[0], "=", 2)[0]
			default:
				source = "flag " + strings.SplitN(tc.args[0], "=", 2)[0]
			}
			_, err := loadArgs(t, file, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if want := source + ": " + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got  %q\nwant %q...", err, want)
			}
		})
	}
}

// TestConfigEnvWarnings: WSD_ variables that are not keys are reported, not silently ignored.
func TestConfigEnvWarnings(t *testing.T) {
	_, warnings, err := loadConfig(loadInput{env: []string{"WSD_LOG_LVL=debug", "WSD_CONFIG=", "WSD_ADDR=:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "WSD_LOG_LVL") {
		t.Fatalf("warnings %q, want one about WSD_LOG_LVL", warnings)
	}
}

// TestConfigRouteOptions: route overrides reach engine.RouteOptions; a route's 0 turns a limit off
// even when the top level sets it; absent keys inherit (zero RouteOptions fields).
func TestConfigRouteOptions(t *testing.T) {
	file := writeFile(t, "wsd.yaml", `
max_frame_size: 4096
allowed_origins: ["https://a.example"]
routes:
  echo:
    max_message_size: 0
    max_frame_size: 0
    ping_interval: 0s
    history: {}
    slow_consumer: close
    rate_limit: {}
    reject_missing_origin: true
`)
	c, err := loadArgs(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := c.routeOptions(&c.Routes.Echo)
	want := engine.RouteOptions{
		MaxMessageSize: -1, MaxFrameSize: -1, PingInterval: -1,
		History:      engine.HistoryOptions{Size: -1, Bytes: -1, TTL: -1, MaxEntry: -1},
		SlowConsumer: engine.SlowClose, RateLimit: &engine.RateLimit{},
		AllowedOrigins: []string{"https://a.example"}, RejectMissingOrigin: true,
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("echo options\n got %+v\nwant %+v", o, want)
	}
	chat := engine.RouteOptions{Compression: &engine.Compression{Enabled: true, Threshold: 256}}
	if o := c.routeOptions(&c.Routes.Chat); !reflect.DeepEqual(o, chat) {
		t.Fatalf("chat options %+v, want all inherited but compression (on by default)", o)
	}
	ec := c.engineConfig(nil, nil)
	if ec.MaxFrameSize != 4096 || ec.RateLimit.Messages != 100 || ec.History.Size != 1000 || ec.MaxFragments != 0 {
		t.Fatalf("engine config %+v", ec)
	}
}

// TestExampleConfig: wsd.example.yaml loads, equals the defaults, and shows every key (the route
// overrides in its commented block).
func TestExampleConfig(t *testing.T) {
	const path = "../../wsd.example.yaml"
	c, err := loadArgs(t, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := defaults()
	d.resolve()
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("example differs from the defaults:\n%+v\n%+v", c, d)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := sources{}
	if err := decodeFile(defaults(), path, data, src); err != nil {
		t.Fatal(err)
	}
	for _, l := range configLeaves() {
		if name, ok := routeOverride(l.key); ok {
			if !strings.Contains(string(data), "# "+name+":") {
				t.Errorf("example: no commented route override %s", name)
			}
		} else if _, ok := src[l.key]; !ok {
			t.Errorf("example: key %s missing", l.key)
		}
	}
}

// routeOverride reports whether key is a route override (routes.<route>.<name>, not enabled) and
// returns name (the first part after the route).
func routeOverride(key string) (string, bool) {
	parts := strings.Split(key, ".")
	if len(parts) < 3 || parts[0] != "routes" || parts[2] == "enabled" {
		return "", false
	}
	return parts[2], true
}

// TestConfigDocs: docs/configuration.md names every key with its environment variable and flag
// (route keys once, with <name> for the route).
func TestConfigDocs(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, l := range configLeaves() {
		key, env, flag := l.key, l.env, "-"+l.flag
		if parts := strings.Split(key, "."); parts[0] == "routes" {
			key = strings.Replace(key, "."+parts[1]+".", ".<name>.", 1)
			env = strings.Replace(env, "_"+strings.ToUpper(parts[1])+"_", "_<NAME>_", 1)
			flag = strings.Replace(flag, "."+parts[1]+".", ".<name>.", 1)
		}
		for _, s := range []string{"`" + key + "`", "`" + env + "`", "`" + flag + "`"} {
			if !strings.Contains(doc, s) {
				t.Errorf("docs/configuration.md lacks %s", s)
			}
		}
	}
}

// TestPrintConfig: -print-config writes YAML that loads back (strictly) into the same configuration,
// with secrets redacted.
func TestPrintConfig(t *testing.T) {
	t.Setenv("WSD_API_KEY", "s3cret")
	var out strings.Builder
	if err := run([]string{"-print-config", "-addr", "127.0.0.1:9", "-routes.ws.history.size", "7"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Fatalf("the API key is printed:\n%s", out.String())
	}
	var back Config
	if err := yaml.UnmarshalWithOptions([]byte(out.String()), &back, yaml.Strict()); err != nil {
		t.Fatalf("output does not load back: %v\n%s", err, out.String())
	}
	want, err := loadArgs(t, "", []string{"WSD_API_KEY=" + redacted}, "-addr", "127.0.0.1:9", "-routes.ws.history.size", "7")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, want) {
		t.Fatalf("loaded back:\n%+v\nwant\n%+v", back, *want)
	}
}

// TestVersion: -version prints wsd's, Go's and gnet's versions.
func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != "wsd "+version || !strings.HasPrefix(lines[1], "go go1.") ||
		!strings.HasPrefix(lines[2], "gnet ") {
		t.Fatalf("-version printed %q", out.String())
	}
}
