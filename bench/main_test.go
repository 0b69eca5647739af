package bench

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
	"github.com/openspeed/wsd/loadtest"
	"go.uber.org/goleak"
)

// Sizes and outputs of the comparison (go test -bench Compare -benchtime 1x -args ...).
var (
	flagServers   = flag.String("servers", strings.Join(Names, ","), "servers to compare, wsd first")
	flagEchoConns = flag.Int("echo-conns", 100, "echo: connections")
	flagEchoSizes = flag.String("echo-sizes", "64,1024", "echo: payload sizes")
	flagMembers   = flag.Int("bcast-members", 1000, "broadcast: members of the room")
	flagRate      = flag.Float64("bcast-rate", 10, "broadcast latency run: messages/s")
	flagBSize     = flag.Int("bcast-size", 64, "broadcast: payload bytes")
	flagDuration  = flag.Duration("duration", 10*time.Second, "echo and broadcast: measured time per run")
	flagRateTime  = flag.Duration("bcast-rate-duration", 0, "the light-load broadcast's measured time (0: 3 × -duration)")
	flagIdleSteps = flag.String("idle-steps", "0,4000,8000,12000,16000,19000", "idle: cumulative connection counts")
	flagIdleRooms = flag.Int("idle-rooms", 100, "idle: rooms the connections spread over")
	flagWorkers   = flag.Int("workers", 0, "client worker processes (0: each scenario's default)")
	flagRounds    = flag.Int("rounds", 1, "echo and broadcast: rounds through every server; the table shows medians")
	flagWSDBin    = flag.String("wsd-bin", "", "use this wsd binary instead of building ../cmd/wsd")
	flagReadme    = flag.Bool("readme", false, "write the table into README.md (between the compare markers)")
	flagJSON      = flag.String("json", "", "write the report as JSON to this file")
	flagMD        = flag.String("md", "", "write the table as markdown to this file")
)

func TestMain(m *testing.M) {
	loadtest.MaybeWorker() // the load clients are this binary re-run as workers
	flag.Parse()
	dir, err := os.MkdirTemp("", "wsd-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(wstest.LeakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "bench: leaked goroutines:", err)
			code = 1
		}
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	tmpDir    string
	buildOnce sync.Once
	built     []Server
	buildErr  error
)

// servers builds the servers named by -servers once per test process.
func servers(tb testing.TB) []Server {
	tb.Helper()
	buildOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			buildErr = err
			return
		}
		root, err := loadtest.FindRepoRoot(wd)
		if err != nil {
			buildErr = err
			return
		}
		names := strings.Split(*flagServers, ",")
		if *flagWSDBin != "" && len(names) > 0 && names[0] == "wsd" {
			built = []Server{{Name: "wsd", Bin: *flagWSDBin, Env: WSDEnv}}
			names = names[1:]
		}
		peers, err := Build(names, root, wd, tmpDir)
		built, buildErr = append(built, peers...), err
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return built
}

// flagConfig is the comparison's configuration from the flags.
func flagConfig(tb testing.TB) Config {
	return Config{EchoConns: *flagEchoConns, EchoSizes: ints(tb, *flagEchoSizes), Members: *flagMembers,
		Rate: *flagRate, BcastSize: *flagBSize, Duration: *flagDuration, RateTime: *flagRateTime, IdleSteps: ints(tb, *flagIdleSteps),
		IdleRooms: *flagIdleRooms, Workers: *flagWorkers, Rounds: *flagRounds}
}

// command is the command line of this run, as a user types it.
func command() string {
	cmd := "cd bench && go test -run '^$' -bench Compare -benchtime 1x -timeout 60m"
	var extra []string
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-test.") {
			extra = append(extra, a)
		}
	}
	if len(extra) > 0 {
		cmd += " -args " + strings.Join(extra, " ")
	}
	return cmd
}

func ints(tb testing.TB, s string) []int {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			tb.Fatalf("bad list %q: %v", s, err)
		}
		out = append(out, n)
	}
	return out
}
