package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildWSD builds the wsd binary of the repository at root (go build ./cmd/wsd) into dir.
func BuildWSD(root, dir string) (string, error) {
	bin := filepath.Join(dir, "wsd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/wsd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/wsd: %v\n%s", err, out)
	}
	return bin, nil
}

// FindRepoRoot walks up from dir to the directory whose go.mod declares module github.com/openspeed/wsd.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/openspeed/wsd\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("loadtest: no github.com/openspeed/wsd go.mod above the working directory")
		}
		dir = parent
	}
}

// ServerOptions start a wsd process.
type ServerOptions struct {
	Bin  string   // the wsd binary (BuildWSD)
	Args []string // extra flags; -addr 127.0.0.1:0 is always passed first
	Env  []string // extra environment (KEY=value), after the inherited one
	// Pprof turns on wsd's pprof server on a free loopback port (WSD_PPROF_ADDR), so memory samples
	// can force a garbage collection first (Target.GCURL).
	Pprof bool
}

// Server is a running wsd process.
type Server struct {
	cmd   *exec.Cmd
	addr  string
	pprof string // host:port of the pprof server, "" when off
	log   *serverLog
	done  chan struct{}
	err   error // exit status, valid after done is closed
}

var listenRE = regexp.MustCompile(`msg="wsd listening" addr=(\S+)`)

// serverEnviron is this process's environment without the test suite's own WSD_REQUIRE_* switches
// (make test sets them for the tests; wsd would warn that they are not configuration variables).
func serverEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WSD_REQUIRE_") {
			env = append(env, kv)
		}
	}
	return env
}

// StartServer starts wsd and waits until it logs that it listens.
func StartServer(o ServerOptions) (*Server, error) {
	args := append([]string{"-addr", "127.0.0.1:0"}, o.Args...)
	cmd := exec.Command(o.Bin, args...)
	cmd.Env = append(serverEnviron(), o.Env...)
	pprofAddr := ""
	if o.Pprof {
		var err error
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "WSD_PPROF_ADDR="+pprofAddr)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, pprof: pprofAddr, log: &serverLog{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go s.readLog(stderr, addr)
	select {
	case a := <-addr:
		s.addr = a
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("wsd exited before listening (%v):\n%s", s.err, s.log.Tail())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-s.done
		return nil, fmt.Errorf("wsd did not listen within 30 s:\n%s", s.log.Tail())
	}
}

// readLog keeps the log, sends the listening address once, and reaps the process at EOF.
func (s *Server) readLog(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		s.log.add(line)
		if m := listenRE.FindStringSubmatch(line); m != nil && !sent {
			addr <- m[1]
			sent = true
		}
	}
	_, _ = io.Copy(io.Discard, r)
	s.err = s.cmd.Wait()
	close(s.done)
}

// Addr is the host:port wsd listens on.
func (s *Server) Addr() string { return s.addr }

// PID is the process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Target is the scenario target for path (which may hold {room}).
func (s *Server) Target(path string) Target {
	t := Target{URL: "ws://" + s.addr + path, PID: s.PID(), MetricsURL: "http://" + s.addr + "/metrics"}
	if s.pprof != "" {
		t.GCURL = "http://" + s.pprof + "/debug/pprof/heap?gc=1"
	}
	return t
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// Log reports the server's log: warnings and errors counted, the last lines kept.
func (s *Server) Log() LogSummary { return s.log.summary() }

// Stop sends SIGTERM and waits for the exit (SIGKILL after 30 s). It returns the exit error.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("wsd did not exit within 30 s of SIGTERM")
	}
	return s.err
}

// Exited reports whether the process has ended (crashed, if the caller did not stop it).
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// LogSummary is what the server logged.
type LogSummary struct {
	Lines    int      `json:"lines"`
	Warnings int      `json:"warnings"`
	Errors   int      `json:"errors"`
	Tail     []string `json:"tail,omitempty"` // last lines that were warnings or errors
}

// serverLog keeps counts and the last warning/error lines.
type serverLog struct {
	mu   sync.Mutex
	sum  LogSummary
	last []string // last lines of any level
}

const logKeep = 20

func (l *serverLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sum.Lines++
	l.last = keepLast(l.last, line)
	switch {
	case strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"ERROR"`):
		l.sum.Errors++
	case strings.Contains(line, "level=WARN") || strings.Contains(line, `"level":"WARN"`):
		l.sum.Warnings++
	default:
		return
	}
	l.sum.Tail = keepLast(l.sum.Tail, line)
}

func keepLast(s []string, line string) []string {
	if len(s) == logKeep {
		s = append(s[:0], s[1:]...)
	}
	return append(s, line)
}

func (l *serverLog) summary() LogSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sum
	s.Tail = append([]string(nil), s.Tail...)
	return s
}

// Tail is the last lines of the log.
func (l *serverLog) Tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}
