//go:build linux

package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// Descriptor exhaustion (issue 13.1), reproduced for real: a child process (this test binary re-run
// with afChildEnv set) lowers its RLIMIT_NOFILE to afLimit and serves /echo with MaxConnections far
// above the limit, so its acceptor runs out of descriptors.

const (
	afChildEnv = "WSD_TEST_ACCEPT_CHILD"
	afLimit    = 200 // the child's descriptor limit
	afIdle     = 300 // idle sockets opened at it: more than it can hold
	afWS       = 4   // WebSockets established before the storm
)

// TestAcceptDescriptorExhaustion: the child accepts until accept(2) fails with EMFILE; the
// WebSockets established before keep echoing, the process stays alive without spinning, a socket that
// connects meanwhile waits in the listen backlog, and once the idle sockets close the child accepts
// again: the waiting socket and a new one upgrade and echo.
func TestAcceptDescriptorExhaustion(t *testing.T) {
	if os.Getenv(afChildEnv) == "1" {
		afChild(t)
		return
	}
	ch := afStartChild(t)
	established := make([]*ptClient, afWS)
	for i := range established {
		established[i] = newPTClient(t, ch.addr, "/echo", nil)
		if err := established[i].roundTrip(fmt.Sprint("before ", i)); err != nil {
			t.Fatal(err)
		}
	}
	idle := alIdle(t, ch.addr, net.IPv4(127, 0, 0, 2), afIdle)
	poll(t, "the child to log EMFILE", func() bool { return ch.logged("too many open files") > 0 })

	cpu0 := afCPU(t, ch.pid())
	time.Sleep(3 * time.Second)
	used := afCPU(t, ch.pid()) - cpu0
	t.Logf("the child used %v of CPU in 3 s with its descriptors exhausted", used)
	if used > 600*time.Millisecond {
		t.Errorf("the child used %v of CPU in 3 s with its descriptors exhausted: it spins", used)
	}
	if err := ch.exited(); err != nil {
		t.Fatalf("the child exited while exhausted: %v", err)
	}
	for i, p := range established {
		if err := p.roundTrip(fmt.Sprint("exhausted ", i)); err != nil {
			t.Errorf("established WebSocket %d while descriptors are exhausted: %v", i, err)
		}
	}
	waiting := make(chan error, 1)
	var late *websocket.Conn
	go func() {
		c, _, err := gorillaConnect(ch.addr, "/echo", gorillaOpts{Dialer: &websocket.Dialer{HandshakeTimeout: 30 * time.Second}})
		late = c
		waiting <- err
	}()
	select {
	case err := <-waiting:
		t.Fatalf("a new WebSocket dial finished while descriptors were exhausted (err %v); want it to wait "+
			"in the listen backlog", err)
	case <-time.After(time.Second):
	}
	if n := ch.logged("too many open files"); n > 3 {
		t.Errorf("EMFILE logged %d times in a few seconds; want once per interval", n)
	}

	for _, c := range idle {
		_ = c.Close()
	}
	if err := recv(t, waiting, "the WebSocket that waited in the backlog"); err != nil {
		t.Fatalf("after the idle sockets closed, the waiting WebSocket: %v", err)
	}
	afEcho(t, late, "from the backlog")
	_ = late.Close()
	fresh := newPTClient(t, ch.addr, "/echo", nil)
	if err := fresh.roundTrip("after the storm"); err != nil {
		t.Fatal(err)
	}
	for i, p := range established {
		if err := p.roundTrip(fmt.Sprint("after ", i)); err != nil {
			t.Errorf("established WebSocket %d after the storm: %v", i, err)
		}
	}
	ch.stop(t)
}

// afChild is the child's side: lower the limit, then serve (afServe).
func afChild(t *testing.T) {
	hard := unix.Rlimit{}
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &hard); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: afLimit, Max: hard.Max}); err != nil {
		t.Fatal(err)
	}
	afServe(t, Config{
		Loops:            2,
		MaxConnections:   5 * afLimit,
		HandshakeTimeout: 2 * time.Minute, // idle sockets hold their descriptors for the whole test
	})
}

// afServe is a child's server: /echo with cfg (logging to stderr), its address printed as
// "child-addr", served until stdin closes; if the engine stops first, the child fails and exits.
func afServe(t *testing.T, cfg Config) {
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	app := New(cfg)
	app.WS("/echo", echoOpen)
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("child-addr %s\n", app.Addr())
	stdin := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case <-stdin:
	case <-app.Done():
		t.Fatalf("the engine stopped: %v", app.Err()) // the parent sees the child exit
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// afChildProc is the parent's handle on the child.
type afChildProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	done  chan struct{}
	err   error // Wait's result, after done

	mu   sync.Mutex
	logs []string
}

func afStartChild(t *testing.T) *afChildProc {
	t.Helper()
	return afStartChildCmd(t, nil, "TestAcceptDescriptorExhaustion", afChildEnv)
}

// afStartChildCmd starts this test binary as a child running only the test named run, with env=1 set,
// prefixed by the command line wrap (e.g. strace and its options), and waits for its "child-addr".
func afStartChildCmd(t *testing.T, wrap []string, run, env string) *afChildProc {
	t.Helper()
	args := append(append([]string(nil), wrap...), os.Args[0], "-test.run=^"+run+"$", "-test.count=1")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &afChildProc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); ch.collect(stderr) }()
	addrc := make(chan string, 1)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "child-addr "); ok {
				addrc <- a
			}
			ch.add(sc.Text())
		}
	}()
	go func() {
		readers.Wait()
		ch.err = cmd.Wait()
		close(ch.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-ch.done
		if t.Failed() {
			t.Logf("child output:\n%s", strings.Join(ch.lines(), "\n"))
		}
	})
	select {
	case ch.addr = <-addrc:
	case <-ch.done:
		t.Fatalf("child exited before listening: %v\n%s", ch.err, strings.Join(ch.lines(), "\n"))
	case <-time.After(30 * time.Second):
		t.Fatal("child did not start listening")
	}
	return ch
}

func (ch *afChildProc) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ch.add(sc.Text())
	}
}

func (ch *afChildProc) add(line string) {
	ch.mu.Lock()
	ch.logs = append(ch.logs, line)
	ch.mu.Unlock()
}

func (ch *afChildProc) lines() []string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return append([]string(nil), ch.logs...)
}

// logged counts the child's output lines containing s.
func (ch *afChildProc) logged(s string) int {
	n := 0
	for _, l := range ch.lines() {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func (ch *afChildProc) pid() int { return ch.cmd.Process.Pid }

// exited returns an error when the child has exited.
func (ch *afChildProc) exited() error {
	select {
	case <-ch.done:
		return fmt.Errorf("exited: %v", ch.err)
	default:
		return nil
	}
}

// stop closes the child's stdin (it shuts down) and expects a clean exit.
func (ch *afChildProc) stop(t *testing.T) {
	t.Helper()
	_ = ch.stdin.Close()
	select {
	case <-ch.done:
	case <-time.After(30 * time.Second):
		t.Fatal("child did not exit after its stdin closed")
	}
	if ch.err != nil {
		t.Fatalf("child: %v", ch.err)
	}
}

// afCPU is the user+system CPU time a process has used, from /proc/<pid>/stat (USER_HZ = 100).
func afCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)              // field 14: utime
	st, err2 := strconv.ParseInt(fields[12], 10, 64)              // field 15: stime
	if err1 != nil || err2 != nil {
		t.Fatalf("parse %s: %v %v", s, err1, err2)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// afEcho sends msg on a gorilla connection and expects it back.
func afEcho(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if typ, p, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || string(p) != msg {
		t.Fatalf("echo of %q: %d %q %v", msg, typ, p, err)
	}
}
