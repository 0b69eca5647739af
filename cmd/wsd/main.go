// Command wsd is a WebSocket server: `go run ./cmd/wsd` serves on :3000 with built-in defaults.
//
// Configuration: defaults < YAML file (-config wsd.yaml or $WSD_CONFIG) < environment (WSD_*) <
// flags; `wsd -h` lists every flag by group with its default and variable (config_help.go holds the
// descriptions), `wsd -print-config` shows the effective configuration, docs/configuration.md every
// key.
//
// Routes (each WebSocket route and the API can be turned off):
//
//	GET  /echo                  WebSocket: every data message is sent back unchanged (same opcode)
//	GET  /rooms/:room           WebSocket raw relay: data messages go unchanged to the room's other members
//	GET  /chat/:room?user=      WebSocket chat: join/leave notices, messages as JSON {"user","message"}
//	GET  /ws                    WebSocket JSON pub/sub: join, leave, publish (docs/protocol.md)
//	GET  /rooms                 JSON list of rooms and their connection counts
//	GET  /rooms/:room/info      JSON {"room","connections","messages"} (?messages=0: the count only)
//	POST /rooms/:room/publish   the request body is sent to every member of the room (API key)
//	GET  /                      the chat page (with /static/*), when the /ws route is on
//	GET  /healthz               200 "ok" while the process serves
//	GET  /readyz                200 while accepting connections, 503 once draining
//	GET  /metrics               Prometheus metrics (wsd_*, go_*, process_*)
//
// permessage-deflate is negotiated on /chat and /ws by default (compression, routes.<name>.compression).
// Several nodes share their rooms through NATS: -nats nats://host:4222 -node-id ws-1 (docs/cluster.md).
//
// Signals: SIGTERM and SIGINT drain with 1001, SIGUSR1 with 1012 (service restart: clients should
// reconnect soon); a second signal cuts the drain short.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/openspeed/wsd/engine"
)

// defaultGCPercent is wsd's GOGC when the environment sets none. The engine's hot paths do not
// allocate, so collections are rare whatever the setting, and a lower one keeps the heap (and RSS)
// close to the live set of connection state: measured with the load suite's idle scenario, the RSS
// per idle connection falls from ≈930 B at GOGC=100 to ≈675 B at 25 (docs/memory.md).
const defaultGCPercent = 25

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wsd:", err)
		os.Exit(1)
	}
}

// options are the command line: the actions and the configuration flags.
type options struct {
	configFile  string
	printConfig bool
	version     bool
	help        bool
	settings    []setting
}

// parseArgs reads the command line. Every configuration key is a flag (-log.level debug,
// -routes.echo.enabled=false), described by configHelp; -config, -print-config, -version and -h
// (-help) are the others. wsd -h prints writeUsage; a bad flag is an error that points to it.
func parseArgs(args []string) (options, error) {
	var o options
	fs := flagSet(&o)
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w (wsd -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; wsd -h lists them)", fs.Arg(0))
	}
	if o.configFile == "" {
		o.configFile = os.Getenv(envConfigFile)
	}
	return o, nil
}

// flagSet defines wsd's flags over o: the actions, one flag per configuration key, and the
// cluster aliases. It prints nothing itself (run prints writeUsage for -h).
func flagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("wsd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.configFile, "config", "", "YAML configuration file (default $"+envConfigFile+")")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.help, "h", false, "print the help and exit")
	fs.BoolVar(&o.help, "help", false, "print the help and exit")
	for _, l := range configLeaves() {
		h, _ := helpFor(l.key) // every key has help: TestConfigHelp
		add := func(v string) error {
			o.settings = append(o.settings, setting{leaf: l, value: v})
			return nil
		}
		if l.isBool() {
			fs.BoolFunc(l.flag, h.text, add)
		} else {
			fs.Func(l.flag, h.text, add)
		}
	}
	for alias, key := range clusterAliases {
		l := leafByKey(key)
		fs.Func(alias, "same as -"+l.flag, func(v string) error {
			o.settings = append(o.settings, setting{leaf: l, value: v, flag: alias})
			return nil
		})
	}
	return fs
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	if o.help {
		return writeUsage(stdout)
	}
	if o.version {
		_, err := fmt.Fprint(stdout, versionText())
		return err
	}
	cfg, warnings, err := loadConfig(loadInput{file: o.configFile, env: os.Environ(), flags: o.settings})
	if err != nil {
		return err
	}
	if o.printConfig {
		return printConfig(stdout, cfg)
	}
	logger := newLogger(cfg.Log, stderr)
	for _, w := range warnings {
		logger.Warn(w)
	}
	s, err := newServer(cfg, logger)
	if err != nil {
		return err
	}
	return serve(s, logger)
}

// serve starts s and drains it on SIGTERM/SIGINT (1001) or SIGUSR1 (1012). The drain gets
// drain_delay + shutdown_grace; a second signal cuts it short. If the engine stops on its own (every
// connection is lost then), serve returns its error, so wsd exits non-zero and a supervisor restarts it.
func serve(s *server, logger *slog.Logger) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	if err := s.Start(s.cfg.Addr); err != nil {
		return err
	}
	attrs := []any{"addr", s.Addr().String(), "version", version}
	if s.pprof != nil {
		attrs = append(attrs, "pprof", s.pprof.Addr().String())
	}
	if s.broker != nil {
		attrs = append(attrs, "node", s.broker.NodeID(), "nats", redactURLs(s.cfg.Cluster.NATS))
	}
	logger.Info("wsd listening", attrs...)
	var sig os.Signal
	select {
	case sig = <-sigs:
	case <-s.Done():
		s.stopExtras()
		err := s.Err()
		if err == nil {
			err = errors.New("engine stopped")
		}
		logger.Error("wsd stopped: the engine stopped on its own", "err", err)
		return err
	}
	code, reason := engine.CloseGoingAway, "server shutting down"
	if sig == syscall.SIGUSR1 {
		code, reason = engine.CloseServiceRestart, "server restarting"
	}
	grace := time.Duration(s.cfg.DrainDelay + s.cfg.ShutdownGrace)
	logger.Info("wsd draining", "signal", sig.String(), "code", int(code), "grace", grace.String())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	rep, err := s.Drain(ctx, code, reason)
	logger.Info("wsd stopped", "connections", rep.Connections, "closed", rep.Closed, "dropped", rep.Dropped)
	if err != nil {
		logger.Warn("drain cut short", "err", err)
	}
	return nil
}

// printConfig writes the effective configuration as YAML, secrets redacted.
func printConfig(w io.Writer, c *Config) error {
	shown := *c
	for _, secret := range []*string{&shown.Auth.JWTSecret, &shown.API.Key} {
		if *secret != "" {
			*secret = redacted
		}
	}
	shown.Cluster.NATS = redactURLs(shown.Cluster.NATS)
	out, err := yaml.MarshalWithOptions(&shown, yaml.Indent(2))
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// redacted replaces secrets in -print-config output.
const redacted = "<redacted>"
