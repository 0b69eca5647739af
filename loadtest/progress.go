package loadtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Num is a float64 that is JSON null when unknown (NaN): figures the target cannot provide, such as
// allocations without a metrics endpoint.
type Num float64

// NaN is the unknown Num.
var NaN = Num(math.NaN())

// Known reports whether n holds a value.
func (n Num) Known() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// MarshalJSON writes null for unknown values.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.Known() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', -1, 64), nil
}

// UnmarshalJSON reads null as unknown.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = NaN
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*n = Num(v)
	return err
}

// String formats with 3 significant digits, "-" when unknown.
func (n Num) String() string {
	if !n.Known() {
		return "-"
	}
	return strconv.FormatFloat(float64(n), 'g', 4, 64)
}

// progress aggregates the workers' progress reports and shows them: a bar redrawn in place (CLI) or a
// line every few seconds (benchmarks, logs).
type progress struct {
	env   Env
	label string
	total int64         // expected count; 0: unknown
	dur   time.Duration // timed run: the bar shows elapsed time against dur
	start time.Time

	mu   sync.Mutex
	per  []int64
	last time.Time
	drew bool
}

func (e Env) progress(label string, total int64, workers int) *progress {
	return &progress{env: e, label: label, total: total, start: time.Now(), per: make([]int64, workers)}
}

// timed is a progress display for a run of fixed duration d that counts messages.
func (e Env) timed(label string, d time.Duration, workers int) *progress {
	p := e.progress(label, 0, workers)
	p.dur = d
	return p
}

// update records worker i's count; it fits Fleet.Do's progress callback.
func (p *progress) update(i int, done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < len(p.per) {
		p.per[i] = done
	}
	every := 3 * time.Second
	if p.env.Bar {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	p.draw()
}

// done finishes the display.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew && p.env.Bar {
		fmt.Fprintln(p.env.out())
	}
}

func (p *progress) draw() {
	var sum int64
	for _, v := range p.per {
		sum += v
	}
	el := time.Since(p.start).Truncate(100 * time.Millisecond)
	count := fmt.Sprintf("%d/%d", sum, p.total)
	frac := 0.0
	switch {
	case p.dur > 0:
		count, frac = fmt.Sprintf("%d msgs", sum), min(float64(el)/float64(p.dur), 1)
	case p.total > 0:
		frac = min(float64(sum)/float64(p.total), 1)
	}
	if !p.env.Bar {
		fmt.Fprintf(p.env.out(), "wsload: %s: %s after %v\n", p.label, count, el)
		return
	}
	const width = 30
	n := int(frac * width)
	bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
	fmt.Fprintf(p.env.out(), "\r%-22s [%s] %5.1f%% %s %v   ", p.label, bar, frac*100, count, el)
	p.drew = true
}
