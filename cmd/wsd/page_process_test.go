package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wsdProcess is wsd run as a child process (the test binary again, with WSD_TEST_MAIN=1: TestMain
// then runs main), so that a test can SIGKILL it and start it again on the same address.
type wsdProcess struct {
	args   []string
	addr   string
	logs   syncBuffer // the stderr of every run
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current run's process has exited
}

// startWsdProcess runs wsd on 127.0.0.1 with two loops and args, and waits until it listens. The
// test's cleanup kills it and, when the test failed, logs what it wrote.
func startWsdProcess(t *testing.T, args ...string) *wsdProcess {
	t.Helper()
	p := &wsdProcess{args: args}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("wsd %s log:\n%s", strings.Join(args, " "), p.logs.String())
		}
	})
	if err := p.run("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return p
}

// url is the page's address.
func (p *wsdProcess) url() string { return "http://" + p.addr + "/" }

// run starts wsd on addr and waits until it logs that it listens, or exits.
func (p *wsdProcess) run(addr string) error {
	cmd := exec.Command(os.Args[0], append([]string{"-addr", addr, "-loops", "2"}, p.args...)...)
	cmd.Env = append(childEnv(), "WSD_TEST_MAIN=1")
	var out syncBuffer
	cmd.Stderr = io.MultiWriter(&out, &p.logs)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(pageWait)
	for {
		if m := listenRE.FindStringSubmatch(out.String()); m != nil {
			p.cmd, p.exited, p.addr = cmd, exited, m[1]
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("wsd on %s exited before listening:\n%s", addr, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("wsd on %s not listening within %v:\n%s", addr, pageWait, out.String())
		}
	}
}

// pause stops wsd (SIGSTOP): its sockets still take what clients send, nothing is answered.
func (p *wsdProcess) pause(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("stop wsd: %v", err)
	}
}

// kill ends wsd with SIGKILL (no drain, no close frames: the clients see their connections drop)
// and waits for the process to exit.
func (p *wsdProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill wsd: %v", err)
	}
	<-p.exited
	p.cmd = nil
}

// restart starts wsd again on the address it had, retrying while the port is still taken (an upper
// bound, not a timing assertion).
func (p *wsdProcess) restart(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(pageWait)
	for {
		err := p.run(p.addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart on %s: %v", p.addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *wsdProcess) stop() {
	if p.cmd != nil {
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.cmd = nil
	}
}

// childEnv is this process's environment without the WSD_ variables of the test run (wsd would
// read them as configuration).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return env
}

// startNATSServer runs the nats-server binary (Debian's package: on PATH, or /usr/sbin, which is not
// on every user's PATH) with JetStream in a temporary directory on a random port, and returns its
// URL; the test's cleanup kills it. Without one the test is skipped, unless WSD_REQUIRE_NATS=1
// (`make test` installs it: scripts/install-test-deps.sh).
func startNATSServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("WSD_REQUIRE_NATS") == "1" {
				t.Fatal("WSD_REQUIRE_NATS=1 but there is no nats-server (apt-get install nats-server)")
			}
			t.Skip("no nats-server on PATH or in /usr/sbin: apt-get install nats-server (or run make test)")
		}
	}
	cmd := exec.Command(bin, "-js", "-sd", t.TempDir(), "-a", "127.0.0.1", "-p", "-1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	var logs syncBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		listening := regexp.MustCompile(`Listening for client connections on (\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&logs, sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-copied
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("nats-server log:\n%s", logs.String())
		}
	})
	select {
	case hostport := <-found:
		return "nats://" + hostport
	case <-copied:
		t.Fatalf("nats-server exited:\n%s", logs.String())
	case <-time.After(pageWait):
		t.Fatalf("nats-server not listening within %v:\n%s", pageWait, logs.String())
	}
	return ""
}
