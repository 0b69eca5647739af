package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// Environment of a worker process.
const (
	envWorker = "WSLOAD_WORKER" // set: the process is a load worker
	envSource = "WSLOAD_SOURCE" // its source address ("" or "any": chosen by the kernel)
)

// SweepInterval is how often a worker drains its idle connections and answers pings.
const SweepInterval = 5 * time.Second

// MaybeWorker turns the process into a load worker when it was started as one (by a Fleet): it then
// serves commands on stdin/stdout and exits. Call it first thing in main and in TestMain.
func MaybeWorker() {
	if os.Getenv(envWorker) == "" {
		return
	}
	if err := runWorker(os.Stdin, os.Stdout, net.ParseIP(os.Getenv(envSource))); err != nil {
		fmt.Fprintln(os.Stderr, "wsload worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// worker is the state of one worker process.
type worker struct {
	dialer client.Dialer
	outMu  sync.Mutex
	out    *json.Encoder

	idle      *client.IdlePool
	stopSweep chan struct{}
	sweepDone chan struct{}
	sweep     atomic.Pointer[client.SweepStats]

	echo    []*client.Conn
	members *members
}

func runWorker(in io.Reader, out io.Writer, src net.IP) error {
	w := &worker{
		dialer:  client.Dialer{LocalIP: src},
		out:     json.NewEncoder(out),
		idle:    client.NewIdlePool(),
		members: newMembers(),
	}
	dec := json.NewDecoder(in)
	for {
		var c Cmd
		if err := dec.Decode(&c); err != nil {
			w.closeAll()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		r := w.do(c)
		r.Op, r.CPU = c.Op, processCPU()
		w.send(r)
		if c.Op == opExit {
			return nil
		}
	}
}

func (w *worker) send(r Reply) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.out.Encode(r)
}

func (w *worker) do(c Cmd) Reply {
	switch c.Op {
	case opDial:
		return w.dial(c)
	case opEcho:
		return w.runEcho(c)
	case opPublish:
		return w.publish(c)
	case opCollect:
		return w.collect(c)
	case opSoak:
		return w.runSoak(c)
	case opClose, opExit:
		return w.closeAll()
	}
	return Reply{Err: "unknown op " + c.Op}
}

// progress reports *done every 500 ms until the returned stop function is called (which waits, so
// no progress line follows the command's reply).
func (w *worker) progress(done *atomic.Int64) (stop func()) {
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				w.send(Reply{Op: opProgress, Done: done.Load()})
			}
		}
	}()
	return func() { close(quit); <-exited }
}

// dial opens c.N connections with c.Conc parallel dialers.
func (w *worker) dial(c Cmd) Reply {
	ep, err := client.ParseURL(c.URL)
	if err != nil {
		return Reply{Err: err.Error()}
	}
	if c.Mode == modeIdle {
		w.startSweeper()
	}
	var next, done, failed atomic.Int64
	var errMu sync.Mutex
	firstErr := ""
	stop := w.progress(&done)
	start := time.Now()
	base := 0
	if c.Mode == modeRead {
		base = w.members.reserve(c.N, c.First, c.Rooms)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range max(c.Conc, 1) {
		wg.Go(func() {
			scratch := make([]byte, 4096)
			for i := int(next.Add(1)) - 1; i < c.N; i = int(next.Add(1)) - 1 {
				room := (c.First + i) % max(c.Rooms, 1)
				err := errTooManyFailures
				if failed.Load() < maxDialFailures {
					err = w.dialOne(c.Mode, ep, ep.RoomPath(room), base+i, scratch, &mu)
				}
				if err != nil && c.Mode == modeRead {
					w.members.failed(base + i)
				}
				if err != nil {
					errMu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					errMu.Unlock()
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	stop()
	return Reply{Conns: w.conns(), Failed: int(failed.Load()), FirstErr: firstErr, Elapsed: time.Since(start)}
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxDialFailures stops a dial command early: the server is down or refusing.
const maxDialFailures = 200

var errTooManyFailures = errors.New("not dialed: too many failures")

// dialOne opens one connection of the given mode (tag: its member number); mu guards w.echo.
func (w *worker) dialOne(mode string, ep client.Endpoint, path string, tag int, scratch []byte, mu *sync.Mutex) error {
	ctx := context.Background()
	if mode == modeEcho {
		conn, err := w.dialer.Dial(ctx, ep, path)
		if err != nil {
			return err
		}
		mu.Lock()
		w.echo = append(w.echo, conn)
		mu.Unlock()
		return nil
	}
	nc, n, err := w.dialer.DialRaw(ctx, ep, path, scratch)
	if err != nil {
		return err
	}
	if mode == modeRead {
		return w.members.add(nc, scratch[:n], tag)
	}
	return w.idle.Add(nc, scratch[:n])
}

func (w *worker) conns() int { return w.idle.Len() + len(w.echo) + len(w.members.all()) }

// startSweeper starts the idle sweeps once.
func (w *worker) startSweeper() {
	if w.stopSweep != nil {
		return
	}
	w.stopSweep, w.sweepDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.sweepDone)
		buf := make([]byte, 64<<10)
		t := time.NewTicker(SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-w.stopSweep:
				w.sweepOnce(buf)
				return
			case <-t.C:
				w.sweepOnce(buf)
			}
		}
	}()
}

// sweepOnce sweeps the idle pool and accumulates what the sweeps saw.
func (w *worker) sweepOnce(buf []byte) {
	st := w.idle.Sweep(buf)
	if prev := w.sweep.Load(); prev != nil {
		st.Closed += prev.Closed
		st.Pings += prev.Pings
		st.Messages += prev.Messages
	}
	w.sweep.Store(&st)
}

// closeAll closes every connection with a closing handshake.
func (w *worker) closeAll() Reply {
	start := time.Now()
	if w.stopSweep != nil {
		close(w.stopSweep)
		<-w.sweepDone
		w.stopSweep = nil
	}
	r := Reply{Sweep: w.sweep.Load()}
	r.Closed = w.idle.CloseAll(16, 10*time.Second)
	var wg sync.WaitGroup
	var clean atomic.Int64
	for _, c := range w.echo {
		wg.Go(func() {
			if c.Close(5*time.Second) == nil {
				clean.Add(1)
			}
		})
	}
	wg.Wait()
	w.echo = nil
	r.Closed += int(clean.Load()) + w.members.closeAll()
	r.Elapsed = time.Since(start)
	return r
}
