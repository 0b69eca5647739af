package loadtest

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openspeed/wsd/internal/wstest"
	"go.uber.org/goleak"
)

// Scenario sizes and server settings for the benchmarks (go test -bench . -benchtime 1x -args ...).
var (
	flagIdleSteps = flag.String("idle-steps", "0,4000,8000,12000,16000,19000", "idle: cumulative connection counts")
	flagIdleRooms = flag.Int("idle-rooms", 100, "idle: rooms the connections spread over")
	flagEchoConns = flag.Int("echo-conns", 100, "echo: connections")
	flagEchoSizes = flag.String("echo-sizes", "64,1024", "echo: payload sizes (one sub-benchmark each)")
	flagEchoDepth = flag.Int("echo-depth", 1, "echo: messages in flight per connection")
	flagDuration  = flag.Duration("duration", 10*time.Second, "echo and broadcast: measured time per run")
	flagMembers   = flag.String("bcast-members", "1000,10000", "broadcast: members per room (one sub-benchmark each)")
	flagRooms     = flag.Int("bcast-rooms", 1, "broadcast: rooms")
	flagRates     = flag.String("bcast-rates", "10,max", "broadcast: messages/s per room, max = as fast as the window allows")
	flagBSize     = flag.Int("bcast-size", 64, "broadcast: payload bytes")
	flagStorm     = flag.Int("storm-conns", 15000, "storm: connections")
	flagHBConns   = flag.Int("hb-conns", 15000, "heartbeat: idle connections pinged by the server")
	flagHBHold    = flag.Duration("hb-hold", 30*time.Second, "heartbeat: how long the server CPU is measured")
	flagWorkers   = flag.Int("workers", 0, "client worker processes (0: scenario default)")
	flagWSDArgs   = flag.String("wsd-args", "", "extra wsd flags, space separated")
	flagWSDBin    = flag.String("wsd-bin", "", "use this wsd binary instead of building ./cmd/wsd")
	flagWSDEnv    = flag.String("wsd-env", "WSD_RATE_LIMIT_MESSAGES=0,WSD_RATE_LIMIT_BYTES=0",
		"wsd environment, comma separated KEY=value (default: the per-connection rate limits off)")
	flagJSON = flag.String("json", "", "write all results as JSON to this file")
	flagMD   = flag.String("md", "", "write all results as markdown tables to this file")
)

func TestMain(m *testing.M) {
	MaybeWorker()
	flag.Parse()
	dir, err := os.MkdirTemp("", "loadtest-wsd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	if code == 0 {
		// The project's goroutine-leak gate (wstest.VerifyTestMain), run here so cleanup follows.
		if err := goleak.Find(wstest.LeakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: leaked goroutines:", err)
			code = 1
		}
	}
	if err := writeResults(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		code = max(code, 1)
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	tmpDir  string
	wsdOnce sync.Once
	wsdBin  string
	wsdErr  error
	results = NewResults(Target{})
	resMu   sync.Mutex
)

// startWSD starts a fresh wsd (built once per test process) and stops it when tb ends.
func startWSD(tb testing.TB) *Server { return startWSDWith(tb) }

// startWSDWith starts wsd with extra environment variables (before -wsd-env, which overrides them).
func startWSDWith(tb testing.TB, extraEnv ...string) *Server {
	tb.Helper()
	env := append([]string(nil), extraEnv...)
	if *flagWSDEnv != "" {
		env = append(env, strings.Split(*flagWSDEnv, ",")...)
	}
	return startWSDEnv(tb, env)
}

// flagGiven reports whether the named flag was set on the command line.
func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// startWSDEnv starts wsd with exactly env added to the inherited environment.
func startWSDEnv(tb testing.TB, env []string) *Server {
	tb.Helper()
	wsdOnce.Do(func() {
		if wsdBin = *flagWSDBin; wsdBin != "" {
			return
		}
		var root string
		if root, wsdErr = FindRepoRoot("."); wsdErr == nil {
			wsdBin, wsdErr = BuildWSD(root, tmpDir)
		}
	})
	if wsdErr != nil {
		tb.Fatal(wsdErr)
	}
	s, err := StartServer(ServerOptions{Bin: wsdBin, Args: strings.Fields(*flagWSDArgs), Env: env, Pprof: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if s.Exited() {
			tb.Errorf("wsd exited during the run:\n%s", s.log.Tail())
		}
		if err := s.Stop(); err != nil {
			tb.Errorf("wsd stop: %v", err)
		}
		l := s.Log()
		if l.Warnings+l.Errors > 0 {
			tb.Logf("wsd logged %d warnings, %d errors; last:\n%s", l.Warnings, l.Errors, strings.Join(l.Tail, "\n"))
		}
		resMu.Lock()
		results.ServerLog = addLogs(results.ServerLog, l)
		resMu.Unlock()
	})
	return s
}

func addLogs(a *LogSummary, b LogSummary) *LogSummary {
	if a == nil {
		return &b
	}
	a.Lines += b.Lines
	a.Warnings += b.Warnings
	a.Errors += b.Errors
	a.Tail = append(a.Tail, b.Tail...)
	return a
}

// env is a scenario environment against s.
func env(s *Server, path string) Env {
	return Env{Target: s.Target(path), Workers: *flagWorkers}
}

// record adds a result to the ones written at the end.
func record(fn func(r *Results)) {
	resMu.Lock()
	defer resMu.Unlock()
	fn(results)
}

func writeResults() error {
	if *flagJSON == "" && *flagMD == "" {
		return nil
	}
	results.Target.URL = "ws://127.0.0.1 (wsd started per benchmark)"
	if *flagJSON != "" {
		f, err := os.Create(*flagJSON)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := results.WriteJSON(f); err != nil {
			return err
		}
	}
	if *flagMD != "" {
		f, err := os.Create(*flagMD)
		if err != nil {
			return err
		}
		defer f.Close()
		results.WriteMarkdown(f)
	}
	return nil
}

// ints parses a comma-separated list of integers; "max" is 0.
func ints(tb testing.TB, s string) []int {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "max" {
			out = append(out, 0)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			tb.Fatalf("bad list %q: %v", s, err)
		}
		out = append(out, n)
	}
	return out
}
