// Command wsload runs the wsd load-test scenarios against any WebSocket server:
//
//	wsload echo      -url ws://127.0.0.1:3000/echo -conns 100 -size 64,1024 -duration 10s
//	wsload idle      -url 'ws://127.0.0.1:3000/rooms/idle-{room}' -steps 0,4000,8000,12000,16000,19000
//	wsload broadcast -url 'ws://127.0.0.1:3000/rooms/bcast-{room}' -members 1000 -rate 10
//	wsload storm     -url 'ws://127.0.0.1:3000/rooms/storm-{room}' -conns 15000
//	wsload soak      -spawn -duration 10m -svg soak.svg
//	wsload plot      -in results.json -out plot.svg
//
// {room} in a URL becomes a room number per connection. -pid names the server process for CPU and
// memory figures; -metrics its Prometheus endpoint (allocations, goroutines, Go heap). -spawn builds and
// starts wsd from the enclosing repository instead of using -url's host. Results go to -json and -md;
// progress to stderr.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/openspeed/wsd/loadtest"
	"github.com/openspeed/wsd/loadtest/client"
)

func main() {
	loadtest.MaybeWorker()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

const usage = `usage: wsload <idle|echo|broadcast|storm|soak|plot> [flags]; wsload <command> -h lists the flags`

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	if cmd == "plot" {
		return runPlot(args)
	}
	sc, ok := scenarios[cmd]
	if !ok {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("wsload "+cmd, flag.ContinueOnError)
	var c common
	c.register(fs, sc.url)
	do := sc.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cmd == "soak" && !given(fs, "wsd-env") {
		c.wsdEnv = strings.Join(loadtest.SoakConfig{}.ServerEnv(), ",") // the limits the soak expects
	}
	env, stop, err := c.env()
	if err != nil {
		if stop != nil {
			stop()
		}
		return err
	}
	res := loadtest.NewResults(env.Target)
	runErr := do(env, res)
	if stop != nil {
		l := stop()
		res.ServerLog = &l
	}
	if err := c.write(res); err != nil {
		return err
	}
	return runErr
}

// given reports whether flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// scenario is one subcommand: its default URL and its flags, returning the function that runs it.
type scenario struct {
	url   string
	flags func(fs *flag.FlagSet) func(loadtest.Env, *loadtest.Results) error
}

var scenarios = map[string]scenario{
	"idle":      {"ws://127.0.0.1:3000/rooms/idle-{room}", idleFlags},
	"echo":      {"ws://127.0.0.1:3000/echo", echoFlags},
	"broadcast": {"ws://127.0.0.1:3000/rooms/bcast-{room}", broadcastFlags},
	"storm":     {"ws://127.0.0.1:3000/rooms/storm-{room}", stormFlags},
	"soak":      {"ws://127.0.0.1:3000/", soakFlags},
}

// common are the flags every scenario takes.
type common struct {
	url, metrics, gcURL, src, jsonOut, mdOut, wsdEnv, wsdBin string
	pid, workers                                             int
	quiet, spawn                                             bool
}

func (c *common) register(fs *flag.FlagSet, url string) {
	fs.StringVar(&c.url, "url", url, "server URL; {room} becomes the room number of each connection")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for CPU and memory figures (local servers only)")
	fs.StringVar(&c.metrics, "metrics", "auto", `Prometheus metrics URL ("auto": http://<host>/metrics when -pid or -spawn is set; "": none)`)
	fs.StringVar(&c.gcURL, "gc-url", "", "URL fetched before memory samples to force a GC (wsd: http://<pprof addr>/debug/pprof/heap?gc=1)")
	fs.IntVar(&c.workers, "workers", 0, "client worker processes (0: the scenario's default)")
	fs.StringVar(&c.src, "src", "", "first source address of the workers (127.0.0.2 for loopback on Linux; 'any': kernel's choice)")
	fs.StringVar(&c.jsonOut, "json", "", "write results as JSON to this file")
	fs.StringVar(&c.mdOut, "md", "", "write results as markdown tables to this file")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar (periodic progress lines instead)")
	fs.BoolVar(&c.spawn, "spawn", false, "build and start wsd from the enclosing repository on 127.0.0.1:<free port>")
	fs.StringVar(&c.wsdBin, "wsd-bin", "", "with -spawn: run this wsd binary instead of building ./cmd/wsd")
	fs.StringVar(&c.wsdEnv, "wsd-env", "WSD_RATE_LIMIT_MESSAGES=0,WSD_RATE_LIMIT_BYTES=0", "with -spawn: wsd environment, comma separated")
}

// env builds the scenario environment; with -spawn it starts wsd and returns its stop function.
func (c *common) env() (loadtest.Env, func() loadtest.LogSummary, error) {
	env := loadtest.Env{Target: loadtest.Target{URL: c.url, PID: c.pid}, Workers: c.workers, Bar: !c.quiet}
	var stop func() loadtest.LogSummary
	if c.spawn {
		ep, err := client.ParseURL(c.url)
		if err != nil {
			return env, nil, err
		}
		srv, stopSrv, err := spawn(c.wsdBin, c.wsdEnv)
		if err != nil {
			return env, nil, err
		}
		env.Target, stop = srv.Target(ep.Path), stopSrv
	}
	if c.metrics == "auto" {
		c.metrics = ""
		if ep, err := client.ParseURL(env.Target.URL); err == nil && env.Target.PID > 0 {
			c.metrics = "http://" + ep.Addr + "/metrics"
		}
	}
	env.Target.MetricsURL = c.metrics
	if c.gcURL != "" {
		env.Target.GCURL = c.gcURL
	}
	switch c.src {
	case "", "any":
	default:
		if env.Source = net.ParseIP(c.src); env.Source == nil {
			return env, stop, fmt.Errorf("-src %q is not an IP address", c.src)
		}
	}
	if c.src == "any" {
		env.Source = net.IPv4zero
	}
	return env, stop, nil
}

// spawn starts wsd: bin, or a build of the repository around the working directory (in a temporary
// directory that stop removes).
func spawn(bin, envList string) (srv *loadtest.Server, stop func() loadtest.LogSummary, err error) {
	dir := ""
	if bin == "" {
		root, err := loadtest.FindRepoRoot(".")
		if err != nil {
			return nil, nil, err
		}
		if dir, err = os.MkdirTemp("", "wsload-"); err != nil {
			return nil, nil, err
		}
		if bin, err = loadtest.BuildWSD(root, dir); err != nil {
			_ = os.RemoveAll(dir)
			return nil, nil, err
		}
	}
	var env []string
	if envList != "" {
		env = strings.Split(envList, ",")
	}
	if srv, err = loadtest.StartServer(loadtest.ServerOptions{Bin: bin, Env: env, Pprof: true}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	return srv, func() loadtest.LogSummary {
		_ = srv.Stop()
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
		return srv.Log()
	}, nil
}

// write saves the results where the flags say and prints the markdown to stdout.
func (c *common) write(res *loadtest.Results) error {
	res.WriteMarkdown(os.Stdout)
	if c.jsonOut != "" {
		if err := writeFile(c.jsonOut, res.WriteJSON); err != nil {
			return err
		}
	}
	if c.mdOut != "" {
		return writeFile(c.mdOut, func(w io.Writer) error { res.WriteMarkdown(w); return nil })
	}
	return nil
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// intList parses "64,1024" (and "max" as 0).
func intList(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "max" {
			out = append(out, 0)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad number %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}
