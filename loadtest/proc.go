package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// clockTicks is sysconf(_SC_CLK_TCK), USER_HZ: 100 on every Linux architecture Go supports.
const clockTicks = 100

// pageSize is the unit of /proc/net/sockstat "mem".
var pageSize = int64(os.Getpagesize())

// ProcStats are a process's resource counters.
type ProcStats struct {
	CPU  time.Duration `json:"cpu"`  // user + system
	RSS  int64         `json:"rss"`  // resident bytes
	Anon int64         `json:"anon"` // resident anonymous bytes (Linux RssAnon)
	FDs  int           `json:"fds"`  // open file descriptors (Linux; -1 unknown)
}

// ReadProc reads pid's counters: /proc on Linux, ps(1) elsewhere (CPU and RSS only).
func ReadProc(pid int) (ProcStats, error) {
	if runtime.GOOS != "linux" {
		return readPS(pid)
	}
	var st ProcStats
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command name (which may hold spaces) start at field 3; utime, stime are 14, 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return st, errors.New("loadtest: short /proc/pid/stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	st.CPU = time.Duration(ut+stime) * time.Second / clockTicks
	if b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err != nil {
		return st, err
	}
	st.RSS = statusKB(b, "VmRSS:")
	st.Anon = statusKB(b, "RssAnon:")
	st.FDs = countFDs(pid)
	return st, nil
}

// statusKB is the value of a "Key: N kB" line of /proc/pid/status, in bytes.
func statusKB(b []byte, key string) int64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+len(key) : i+len(key)+bytes.IndexByte(b[i+len(key):], '\n')]))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n << 10
}

func countFDs(pid int) int {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names)
}

// readPS asks ps(1) for RSS (KiB) and CPU time ([[dd-]hh:]mm:ss[.cc]).
func readPS(pid int) (ProcStats, error) {
	out, err := exec.Command("ps", "-o", "rss=,time=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return ProcStats{}, err
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return ProcStats{}, errors.New("loadtest: unexpected ps output")
	}
	kb, _ := strconv.ParseInt(f[0], 10, 64)
	return ProcStats{RSS: kb << 10, CPU: parseClock(f[1]), FDs: -1}, nil
}

// parseClock parses ps's [[dd-]hh:]mm:ss[.cc].
func parseClock(s string) time.Duration {
	var days int64
	if d, rest, ok := strings.Cut(s, "-"); ok {
		days, _ = strconv.ParseInt(d, 10, 64)
		s = rest
	}
	var total float64
	for part := range strings.SplitSeq(s, ":") {
		v, _ := strconv.ParseFloat(part, 64)
		total = total*60 + v
	}
	return time.Duration((total + float64(days)*86400) * float64(time.Second))
}

// SockStat is the TCP line of /proc/net/sockstat (this network namespace, both ends of loopback
// connections) and the kernel's slab memory (the whole machine).
type SockStat struct {
	InUse    int64 `json:"inuse"`
	TimeWait int64 `json:"tw"`
	MemBytes int64 `json:"mem_bytes"` // kernel socket buffer memory (pages × page size)
	Slab     int64 `json:"slab"`      // /proc/meminfo Slab: socket, inode, file... structures, machine-wide
}

// ReadSockStat reads /proc/net/sockstat and /proc/meminfo (Linux only).
func ReadSockStat() (SockStat, error) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return SockStat{}, err
	}
	var st SockStat
	if m, err := os.ReadFile("/proc/meminfo"); err == nil {
		st.Slab = statusKB(m, "Slab:")
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseInt(f[i+1], 10, 64)
			switch f[i] {
			case "inuse":
				st.InUse = v
			case "tw":
				st.TimeWait = v
			case "mem":
				st.MemBytes = v * pageSize
			}
		}
	}
	return st, nil
}

// Metrics maps a metric family name to the sum of its samples (counters, gauges, untyped); for
// summaries and histograms name_sum and name_count. A labeled sample is also there on its own, under
// its name and labels as the text format writes them: wsd_websocket_closes_total{code="1002"}.
type Metrics map[string]float64

// metricsClient keeps no idle connections: no goroutines outlive a scrape.
var metricsClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// Scrape fetches and parses Prometheus text metrics. A 404 answers (nil, nil): no metrics endpoint.
func Scrape(url string) (Metrics, error) {
	resp, err := metricsClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadtest: %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	m := Metrics{}
	for name, f := range fams {
		for _, s := range f.GetMetric() {
			v, scalar := 0.0, true
			switch {
			case s.Counter != nil:
				v = s.Counter.GetValue()
			case s.Gauge != nil:
				v = s.Gauge.GetValue()
			case s.Untyped != nil:
				v = s.Untyped.GetValue()
			default:
				scalar = false
			}
			if scalar {
				m[name] += v
				if len(s.GetLabel()) > 0 {
					m[labeledName(name, s.GetLabel())] += v
				}
			}
			switch {
			case s.Summary != nil:
				m[name+"_sum"] += s.Summary.GetSampleSum()
				m[name+"_count"] += float64(s.Summary.GetSampleCount())
			case s.Histogram != nil:
				m[name+"_sum"] += s.Histogram.GetSampleSum()
				m[name+"_count"] += float64(s.Histogram.GetSampleCount())
			}
		}
	}
	return m, nil
}

// labeledName is name{a="x",b="y"}.
func labeledName(name string, labels []*dto.LabelPair) string {
	var b strings.Builder
	b.WriteString(name)
	for i, l := range labels {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", l.GetName(), l.GetValue())
	}
	b.WriteByte('}')
	return b.String()
}

// Get returns a metric's value and whether it exists.
func (m Metrics) Get(name string) (float64, bool) {
	v, ok := m[name]
	return v, ok
}
