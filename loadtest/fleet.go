package loadtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Fleet is a set of worker processes (this executable re-run with WSLOAD_WORKER set), each with its
// own source address and file descriptor budget.
type Fleet struct {
	procs []*workerProc
}

type workerProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
	src net.IP
}

// StartFleet starts one worker per source address (nil entries: the kernel chooses).
func StartFleet(srcs []net.IP) (*Fleet, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	f := &Fleet{}
	for _, src := range srcs {
		p, err := startWorker(exe, src)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.procs = append(f.procs, p)
	}
	return f, nil
}

func startWorker(exe string, src net.IP) (*workerProc, error) {
	cmd := exec.Command(exe)
	s := "any"
	if src != nil {
		s = src.String()
	}
	cmd.Env = append(os.Environ(), envWorker+"=1", envSource+"="+s)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &workerProc{cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReader(out)), src: src}, nil
}

// Size is the number of workers.
func (f *Fleet) Size() int { return len(f.procs) }

// Do sends cmds[i] to worker i (a nil Op skips the worker) and waits for every final reply. progress,
// when set, gets each worker's progress reports (worker index, done so far).
func (f *Fleet) Do(cmds []Cmd, progress func(worker int, done int64)) ([]Reply, error) {
	replies := make([]Reply, len(f.procs))
	errs := make([]error, len(f.procs))
	var wg sync.WaitGroup
	for i, p := range f.procs {
		if i >= len(cmds) || cmds[i].Op == "" {
			continue
		}
		wg.Go(func() {
			replies[i], errs[i] = p.do(cmds[i], func(d int64) {
				if progress != nil {
					progress(i, d)
				}
			})
		})
	}
	wg.Wait()
	var msgs []string
	for i, err := range errs {
		if err == nil && replies[i].Err != "" {
			err = errors.New(replies[i].Err)
		}
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("worker %d (%v): %v", i, f.procs[i].src, err))
		}
	}
	if len(msgs) > 0 {
		return replies, errors.New(strings.Join(msgs, "; "))
	}
	return replies, nil
}

// All sends the same command to every worker.
func (f *Fleet) All(c Cmd, progress func(int, int64)) ([]Reply, error) {
	cmds := make([]Cmd, len(f.procs))
	for i := range cmds {
		cmds[i] = c
	}
	return f.Do(cmds, progress)
}

func (p *workerProc) do(c Cmd, progress func(int64)) (Reply, error) {
	line, err := json.Marshal(c)
	if err != nil {
		return Reply{}, err
	}
	if _, err := p.in.Write(append(line, '\n')); err != nil {
		return Reply{}, fmt.Errorf("send %s: %w", c.Op, err)
	}
	for {
		var r Reply
		if err := p.out.Decode(&r); err != nil {
			return Reply{}, fmt.Errorf("reply to %s: %w", c.Op, err)
		}
		if r.Op == opProgress {
			progress(r.Done)
			continue
		}
		return r, nil
	}
}

// Close tells every worker to close its connections and exit, and waits (killing stragglers after
// 30 s).
func (f *Fleet) Close() {
	var wg sync.WaitGroup
	for _, p := range f.procs {
		wg.Go(func() {
			_, _ = p.do(Cmd{Op: opExit}, func(int64) {})
			_ = p.in.Close()
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
				<-done
			}
		})
	}
	wg.Wait()
	f.procs = nil
}

// SourceIPs returns n source addresses for workers: 127.0.0.2, 127.0.0.3, ... when the target host is
// a loopback address on Linux (every 127/8 address is local there), else n nils (kernel's choice; on
// macOS add aliases first, see README). A given first address counts up from there; 0.0.0.0 means
// the kernel's choice for every worker.
func SourceIPs(host string, n int, first net.IP) []net.IP {
	ips := make([]net.IP, n)
	if first != nil && first.IsUnspecified() {
		return ips
	}
	if first == nil {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil || !loopbackAliases {
			return ips
		}
		first = net.IPv4(127, 0, 0, 2)
	}
	base := first.To4()
	for i := range ips {
		ip := make(net.IP, 4)
		copy(ip, base)
		ip[3] += byte(i)
		ips[i] = ip
	}
	return ips
}

// loopbackAliases: every 127/8 address is usable as a source address without configuration.
var loopbackAliases = runtime.GOOS == "linux"

// split divides n into k near-equal shares.
func split(n, k int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = n/k + b2i(i < n%k)
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
