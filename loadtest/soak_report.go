package loadtest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/openspeed/wsd/loadtest/internal/plot"
)

// markdown writes the soak's tables: the drift figures, the client checks, the server counters, the
// failures.
func (r *SoakResult) markdown(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "Soak: %v of load (warm-up %v, windows %v, a sample every %v), %.0f s with the drain. "+
		"%d idle, %d echo at %.0f/s, %d rooms × %d members at %.0f/s of %d B, %d+%d slow-consumer rooms "+
		"(%d members, %d slow, %.0f/s of %d B), churn %.0f/s per worker, hostile clients.\n\n",
		c.Duration, c.Warmup, c.Window, c.Interval, r.Seconds, c.Idle, c.Echo, c.EchoRate, c.Rooms, c.Members,
		c.RoomRate, c.RoomSize, c.SlowRooms, c.SlowRooms, c.SlowGood, c.Slow, c.SlowRate, c.SlowSize, c.ChurnRate)
	fmt.Fprintln(w, "| after warm-up | first window | last window | drift | fit slope × span | min | max |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	d := r.Drift
	for _, row := range []struct {
		name  string
		d     Drift
		scale float64
		unit  string
	}{{"RSS", d.RSS, 1 << 20, " MiB"}, {"live Go heap (after GC)", d.LiveHeap, 1 << 20, " MiB"},
		{"Go heap in use", d.HeapInuse, 1 << 20, " MiB"}, {"goroutines", d.Goroutines, 1, ""},
		{"connections", d.Conns, 1, ""}} {
		fmt.Fprintf(w, "| %s | %.1f%s | %.1f%s | %+.2f%% | %+.2f%% | %.1f | %.1f |\n", row.name, row.d.First/row.scale,
			row.unit, row.d.Last/row.scale, row.unit, 100*row.d.Drift, 100*row.d.SlopeDrift, row.d.Min/row.scale,
			row.d.Max/row.scale)
	}
	cl := r.Clients
	lat := latencyOf(cl.Hist)
	fmt.Fprintf(w, "\nClients: %d echo replies and %d room deliveries verified (latency p50 %.1f ms, p99 %.1f ms, "+
		"max %.0f ms), %d publications, %d churn cycles, %d hostile clients, %d upgrades.\n\n", cl.Echoed,
		cl.Delivered, lat.P50/1e3, lat.P99/1e3, lat.Max/1e3, cl.Published, cl.Churned, cl.Hostile, cl.Upgrades)
	fmt.Fprintln(w, "| client | expected answer | runs | as expected | not |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, ch := range cl.Checks {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d |\n", ch.Name, strings.ReplaceAll(ch.Want, "|", "/"), ch.Runs, ch.OK,
			ch.Failed)
	}
	fmt.Fprintln(w)
	r.countersMarkdown(w)
	if len(r.Failures) == 0 {
		fmt.Fprintln(w, "Every assertion held.")
		return
	}
	fmt.Fprintf(w, "%d assertions failed:\n\n", len(r.Failures))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "- %s\n", f)
	}
	fmt.Fprintln(w)
}

func (r *SoakResult) countersMarkdown(w io.Writer) {
	var keys []string
	for k, v := range r.Counters {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "| server counter (change over the soak) | value |")
	fmt.Fprintln(w, "|---|---|")
	for _, k := range keys {
		fmt.Fprintf(w, "| `%s` | %.0f |\n", k, r.Counters[k])
	}
	fmt.Fprintf(w, "\nAfter the soak: %v connections, %v WebSockets, %d descriptors (%d before).\n\n",
		r.Final.Connections, r.Final.WebSockets, r.Final.FDs, r.Final.FDsBefore)
}

// SVG draws the soak's curves over time: memory, goroutines, connections and message rates, with the
// warm-up and the two drift windows shaded. It only reads r: safe from any goroutine that does not
// modify it.
func (r *SoakResult) SVG() string {
	c := r.Config
	w0, end := c.Warmup.Seconds(), c.Duration.Seconds()
	bands := []plot.Band{{From: 0, To: w0, Label: "warm-up", Fill: "#f4f4f4"},
		{From: w0, To: w0 + c.Window.Seconds(), Label: "first window", Fill: "#e3eefa"},
		{From: end - c.Window.Seconds(), To: end, Label: "last window", Fill: "#e3eefa"}}
	xmax := 0.0
	for _, p := range r.Points {
		xmax = math.Max(xmax, p.T)
	}
	chart := func(title, ylabel string, series []plot.Series, note string) plot.Chart {
		ch := plot.Chart{Title: title, X: plot.Axis{Label: "seconds since the load started"}, Y: plot.Axis{Label: ylabel},
			Series: series, Bands: bands, Note: note}
		hi := 0.0
		for _, s := range series {
			for _, p := range s.Pts {
				if !math.IsNaN(p[1]) {
					hi = math.Max(hi, p[1])
				}
			}
		}
		fmtv := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		ch.X.Ticks, ch.X.Min, ch.X.Max = plot.LinearTicks(0, xmax, 8, fmtv)
		ch.Y.Ticks, ch.Y.Min, ch.Y.Max = plot.LinearTicks(0, hi*1.05, 6, fmtv)
		return ch
	}
	series := func(name string, f func(SoakPoint) float64) plot.Series {
		s := plot.Series{Name: name}
		for _, p := range r.Points {
			if v := f(p); !math.IsNaN(v) {
				s.Pts = append(s.Pts, [2]float64{p.T, v})
			}
		}
		return s
	}
	m := func(v float64) float64 { return v / (1 << 20) }
	d := r.Drift
	mem := chart("wsd memory during the soak", "MiB", []plot.Series{
		series("RSS", func(p SoakPoint) float64 { return m(float64(p.RSS)) }),
		series("Go heap in use", func(p SoakPoint) float64 { return m(float64(p.HeapInuse)) }),
		series("live heap (after GC)", func(p SoakPoint) float64 { return m(float64(p.LiveHeap)) }),
	}, fmt.Sprintf("drift: RSS %+.1f%%\nlive heap %+.1f%%", 100*d.RSS.Drift, 100*d.LiveHeap.Drift))
	gor := chart("wsd goroutines", "goroutines", []plot.Series{
		series("go_goroutines", func(p SoakPoint) float64 { return float64(p.Goroutines) }),
	}, fmt.Sprintf("after warm-up: %v to %v", d.Goroutines.Min, d.Goroutines.Max))
	conns := chart("wsd connections", "connections", []plot.Series{
		series("sockets", func(p SoakPoint) float64 { return float64(p.Conns) }),
		series("WebSockets", func(p SoakPoint) float64 { return float64(p.WebSockets) }),
		series("descriptors", func(p SoakPoint) float64 { return float64(p.FDs) }),
	}, "")
	rates := chart("wsd messages per second", "per second", []plot.Series{
		rateSeries("frames out", r.Points, func(p SoakPoint) float64 { return float64(p.MsgsOut) }),
		rateSeries("messages in", r.Points, func(p SoakPoint) float64 { return float64(p.MsgsIn) }),
	}, fmt.Sprintf("server CPU: %.0f%% of a core", 100*cpuShare(r.Points)))
	return plot.Document([]plot.Chart{mem, gor, conns, rates})
}

// rateSeries is the per-second rate of a cumulative figure between consecutive samples.
func rateSeries(name string, pts []SoakPoint, f func(SoakPoint) float64) plot.Series {
	s := plot.Series{Name: name}
	for i := 1; i < len(pts); i++ {
		dt := pts[i].T - pts[i-1].T
		if dv := f(pts[i]) - f(pts[i-1]); dt > 0 && !math.IsNaN(dv) {
			s.Pts = append(s.Pts, [2]float64{pts[i].T, dv / dt})
		}
	}
	return s
}

// cpuShare is the server's average CPU use over the samples (1 = one core).
func cpuShare(pts []SoakPoint) float64 {
	if len(pts) < 2 || pts[len(pts)-1].T <= pts[0].T {
		return math.NaN()
	}
	return (pts[len(pts)-1].CPU - pts[0].CPU) / (pts[len(pts)-1].T - pts[0].T)
}
