package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Results collects the outcome of one or more scenarios, for JSON and markdown.
type Results struct {
	Date      time.Time          `json:"date"`
	Machine   string             `json:"machine"`
	LoadAvg   string             `json:"loadavg,omitempty"` // /proc/loadavg 1-minute load when the results were written
	Command   string             `json:"command,omitempty"`
	Target    Target             `json:"target"`
	Idle      *IdleResult        `json:"idle,omitempty"`
	Echo      []*EchoResult      `json:"echo,omitempty"`
	Broadcast []*BroadcastResult `json:"broadcast,omitempty"`
	Storm     *StormResult       `json:"storm,omitempty"`
	Soak      *SoakResult        `json:"soak,omitempty"`
	ServerLog *LogSummary        `json:"server_log,omitempty"`
}

// NewResults stamps the date and the machine.
func NewResults(t Target) *Results {
	return &Results{Date: time.Now().UTC().Truncate(time.Second), Machine: Machine(), Target: t,
		Command: strings.Join(os.Args, " ")}
}

// Machine describes this host: OS, CPU model and count, memory.
func Machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf(", %.0f GiB RAM", kb/(1<<20))
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs %s%s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, mem,
		runtime.Version())
}

// LoadAvg is the 1, 5 and 15-minute load averages (Linux; "" elsewhere): other work on the machine
// skews every figure, so the results record it.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// WriteJSON writes r indented.
func (r *Results) WriteJSON(w io.Writer) error {
	if r.LoadAvg == "" {
		r.LoadAvg = LoadAvg()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadResults reads a JSON file written by WriteJSON.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	return &r, json.Unmarshal(b, &r)
}

// WriteMarkdown writes one table per scenario.
func (r *Results) WriteMarkdown(w io.Writer) {
	if r.LoadAvg == "" {
		r.LoadAvg = LoadAvg()
	}
	fmt.Fprintf(w, "Measured %s on %s against %s; load average at the end %s.\n\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.Machine, r.Target.URL, r.LoadAvg)
	if r.Idle != nil {
		r.Idle.markdown(w)
	}
	if len(r.Echo) > 0 {
		fmt.Fprintln(w, "| echo conns | size | depth | msgs/s | p50 µs | p99 µs | p999 µs | max µs | server CPU s/M msgs | allocs/msg | CPU s server / clients | dead |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, e := range r.Echo {
			fmt.Fprintf(w, "| %d | %d | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %v | %v | %.2f / %.2f | %d |\n", e.Conns, e.Size,
				e.Depth, e.MsgsPerSec, e.Latency.P50, e.Latency.P99, e.Latency.P999, e.Latency.Max, e.CPUPerMillion,
				e.AllocsPerMsg, e.ServerCPU, e.ClientCPU, e.Dead)
		}
		fmt.Fprintln(w)
	}
	if len(r.Broadcast) > 0 {
		broadcastMarkdown(w, r.Broadcast)
	}
	if s := r.Storm; s != nil {
		s.markdown(w)
	}
	if s := r.Soak; s != nil {
		s.markdown(w)
	}
	if l := r.ServerLog; l != nil {
		fmt.Fprintf(w, "Server log: %d lines, %d warnings, %d errors.\n", l.Lines, l.Warnings, l.Errors)
	}
}

func (r *IdleResult) markdown(w io.Writer) {
	fmt.Fprintln(w, "| idle conns | RSS MiB | anon MiB | Go heap MiB | kernel TCP MiB | kernel slab MiB | goroutines | server fds |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, p := range r.Points {
		heap := "-"
		if p.HeapInuse.Known() {
			heap = fmt.Sprintf("%.1f", float64(p.HeapInuse)/(1<<20))
		}
		fmt.Fprintf(w, "| %d | %.1f | %.1f | %s | %.1f | %.1f | %v | %d |\n", p.Conns, mib(p.RSS), mib(p.Anon), heap,
			mib(p.KernelMem), mib(p.KernelSlab), p.Goroutines, p.FDs)
	}
	fmt.Fprintf(w, "\nPer connection (least-squares slope): RSS %v B (R² %.3f), anon %v B, Go heap %v B; kernel "+
		"socket buffers %v B, kernel slab %v B (both loopback ends, machine-wide). Connect rate %.0f/s. "+
		"Goroutines %v → %v. Failed %d, lost %d, pings answered %d.\n\n", r.RSSPerConn, r.RSSFit.R2, r.AnonPerConn,
		r.HeapPerConn, r.KernelPerConn, r.SlabPerConn, r.ConnectRate, r.GoroutinesStart, r.GoroutinesEnd, r.Failed, r.Lost,
		r.Pings)
}

func broadcastMarkdown(w io.Writer, bs []*BroadcastResult) {
	fmt.Fprintln(w, "| rooms×members | size | rate/s | sent | deliveries/s | p50 µs | p99 µs | p999 µs | max µs | lost | server drops | server CPU s/M deliveries | allocs/delivery | CPU s server / clients |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, b := range bs {
		rate := fmt.Sprintf("%.0f", b.Rate)
		if b.Rate == 0 {
			rate = fmt.Sprintf("max (%.0f)", b.PublishRate)
		}
		fmt.Fprintf(w, "| %d×%d | %d | %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %v | %v | %v | %.2f / %.2f |\n",
			b.Rooms, b.Members, b.Size, rate, b.Sent, b.DeliveriesRate, b.Latency.P50, b.Latency.P99, b.Latency.P999,
			b.Latency.Max, b.Lost, b.ServerDropped, b.CPUPerMillion, b.AllocsPerDeliv, b.ServerCPU, b.ClientCPU)
	}
	fmt.Fprintln(w)
}

func (s *StormResult) markdown(w io.Writer) {
	fmt.Fprintln(w, "| storm conns | failed | open/s | close/s | clean closes | RSS MiB before / open / after | "+
		"Go heap MiB before / open / after | fds after | goroutines before→after |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	fmt.Fprintf(w, "| %d | %d | %.0f | %.0f | %d | %.1f / %.1f / %.1f | %v / %v / %v | %d | %v→%v |\n\n", s.Conns, s.Failed,
		s.OpenRate, s.CloseRate, s.CleanCloses, mib(s.RSSBefore), mib(s.RSSPeak), mib(s.RSSAfter),
		numMiB(s.HeapBefore), numMiB(s.HeapOpen), numMiB(s.HeapAfter), s.FDsAfter, s.GoroutinesB, s.GoroutinesA)
}

// numMiB converts a byte count to MiB, keeping unknown values unknown.
func numMiB(n Num) Num { return n / (1 << 20) }
