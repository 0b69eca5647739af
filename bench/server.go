package bench

import (
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/openspeed/wsd/loadtest"
)

// Server is one server of the comparison: a binary that takes -addr, logs msg="wsd listening"
// addr=... on stderr when it listens, serves WS /echo and the raw relay WS /rooms/:room, and exits with
// status 0 on SIGTERM.
type Server struct {
	Name string   // "wsd", "gorilla", "gws", "nbio"
	Bin  string   // the binary
	Env  []string // extra environment (KEY=value)
	Peer bool     // not wsd: no metrics endpoint, so allocation figures are n/a
}

// Names are the servers of the comparison, wsd first.
var Names = []string{"wsd", "gorilla", "gws", "nbio"}

// WSDEnv turns wsd's per-connection rate limits off (100 messages/s by default would throttle echo
// and the publisher); the peers have none.
var WSDEnv = []string{"WSD_RATE_LIMIT_MESSAGES=0", "WSD_RATE_LIMIT_BYTES=0"}

// Build compiles the named servers into dir: wsd from the repository at root (loadtest.BuildWSD), the
// peers from benchDir/servers/<name>.
func Build(names []string, root, benchDir, dir string) ([]Server, error) {
	var out []Server
	for _, name := range names {
		if name == "wsd" {
			bin, err := loadtest.BuildWSD(root, dir)
			if err != nil {
				return nil, err
			}
			out = append(out, Server{Name: name, Bin: bin, Env: WSDEnv})
			continue
		}
		bin := filepath.Join(dir, "peer-"+name)
		cmd := exec.Command("go", "build", "-o", bin, "./servers/"+name)
		cmd.Dir = benchDir
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./servers/%s: %v\n%s", name, err, b)
		}
		out = append(out, Server{Name: name, Bin: bin, Peer: true})
	}
	return out, nil
}

// Start starts a fresh process of s with pprof on (wsd: WSD_PPROF_ADDR; the peers honour the same
// variable), so memory samples force a garbage collection first in every server alike.
func (s Server) Start() (*loadtest.Server, error) {
	return loadtest.StartServer(loadtest.ServerOptions{Bin: s.Bin, Env: s.Env, Pprof: true})
}
