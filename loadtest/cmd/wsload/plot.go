package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/openspeed/wsd/loadtest"
	"github.com/openspeed/wsd/loadtest/client"
	"github.com/openspeed/wsd/loadtest/internal/plot"
)

// runPlot is `wsload plot -in results.json[,more.json] -out plot.svg`.
func runPlot(args []string) error {
	fs := flag.NewFlagSet("wsload plot", flag.ContinueOnError)
	in := fs.String("in", "results.json", "result files written with -json, comma separated")
	out := fs.String("out", "plot.svg", "SVG file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var all []*loadtest.Results
	for p := range strings.SplitSeq(*in, ",") {
		r, err := loadtest.ReadResults(p)
		if err != nil {
			return err
		}
		all = append(all, r)
	}
	for _, r := range all {
		if r.Soak != nil && len(all) == 1 {
			return os.WriteFile(*out, []byte(r.Soak.SVG()), 0o644) // the soak's own curves
		}
	}
	var charts []plot.Chart
	if c, ok := latencyChart(all); ok {
		charts = append(charts, c)
	}
	if c, ok := memoryChart(all); ok {
		charts = append(charts, c)
	}
	if len(charts) == 0 {
		return errors.New("plot: no latency histograms or idle points in the input")
	}
	return os.WriteFile(*out, []byte(plot.Document(charts)), 0o644)
}

// latencyChart plots latency against percentile ("nines" on the x axis) for every echo and broadcast
// run, the way HdrHistogram's percentile distribution plots do.
func latencyChart(all []*loadtest.Results) (plot.Chart, bool) {
	c := plot.Chart{Title: "Latency by percentile", X: plot.Axis{Label: "percentile"}, Y: plot.Axis{Label: "latency (µs)", Log: true}}
	lo, hi, maxNines := math.Inf(1), 0.0, 1.0
	add := func(name string, h *client.Histogram) {
		if h == nil || h.Count == 0 {
			return
		}
		sr := plot.Series{Name: name}
		top := math.Log10(float64(h.Count))
		for k := 0.0; k < top; k += 0.05 {
			v := float64(h.Quantile(1-math.Pow(10, -k))) / 1e3
			sr.Pts = append(sr.Pts, [2]float64{k, v})
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		sr.Pts = append(sr.Pts, [2]float64{top, float64(h.Max) / 1e3})
		hi, maxNines = math.Max(hi, float64(h.Max)/1e3), math.Max(maxNines, math.Ceil(top))
		c.Series = append(c.Series, sr)
	}
	for _, r := range all {
		for _, e := range r.Echo {
			add(fmt.Sprintf("echo %d×%dB d%d", e.Conns, e.Size, e.Depth), e.Hist)
		}
		for _, b := range r.Broadcast {
			rate := strconv.FormatFloat(b.Rate, 'f', -1, 64) + "/s"
			if b.Rate == 0 {
				rate = "max"
			}
			add(fmt.Sprintf("bcast %d×%d %s", b.Rooms, b.Members, rate), b.Hist)
		}
	}
	if len(c.Series) == 0 {
		return c, false
	}
	c.Y.Ticks, c.Y.Min, c.Y.Max = plot.LogTicks(lo, hi, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	c.X.Min, c.X.Max = 0, maxNines
	for k := 0.0; k <= maxNines; k++ {
		c.X.Ticks = append(c.X.Ticks, plot.Tick{V: k, Label: ninesLabel(k)})
	}
	c.X.Ticks = append(c.X.Ticks, plot.Tick{V: math.Log10(2), Label: "50%"})
	return c, true
}

// ninesLabel names the percentile 1 - 10^-k: 0%, 90%, 99%, 99.9%...
func ninesLabel(k float64) string {
	if k == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100*(1-math.Pow(10, -k)), 'f', int(k)-2+boolInt(k < 2), 64) + "%"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// memoryChart plots the server's memory against open idle connections, with the RSS fit.
func memoryChart(all []*loadtest.Results) (plot.Chart, bool) {
	var idle *loadtest.IdleResult
	for _, r := range all {
		if r.Idle != nil && len(r.Idle.Points) > 1 {
			idle = r.Idle
		}
	}
	if idle == nil {
		return plot.Chart{}, false
	}
	mibOf := func(b float64) float64 { return b / (1 << 20) }
	rss, anon, heap, kern := plot.Series{Name: "RSS", Markers: true}, plot.Series{Name: "RSS anon", Markers: true},
		plot.Series{Name: "Go heap in use", Markers: true}, plot.Series{Name: "kernel TCP (both ends)", Markers: true}
	hi, maxConns := 0.0, 0.0
	for _, p := range idle.Points {
		x := float64(p.Conns)
		maxConns = math.Max(maxConns, x)
		rss.Pts = append(rss.Pts, [2]float64{x, mibOf(float64(p.RSS))})
		anon.Pts = append(anon.Pts, [2]float64{x, mibOf(float64(p.Anon))})
		kern.Pts = append(kern.Pts, [2]float64{x, mibOf(float64(p.KernelMem))})
		if p.HeapInuse.Known() {
			heap.Pts = append(heap.Pts, [2]float64{x, mibOf(float64(p.HeapInuse))})
		}
		hi = math.Max(hi, math.Max(mibOf(float64(p.RSS)), mibOf(float64(p.KernelMem))))
	}
	f := idle.RSSFit
	fit := plot.Series{Name: fmt.Sprintf("RSS fit: %.0f B/conn", f.Slope), Dash: true,
		Pts: [][2]float64{{0, mibOf(f.Intercept)}, {maxConns, mibOf(f.Intercept + f.Slope*maxConns)}}}
	c := plot.Chart{Title: "Server memory by idle connections", X: plot.Axis{Label: "open idle connections"},
		Y: plot.Axis{Label: "MiB"}, Note: fmt.Sprintf("connect rate %.0f/s", idle.ConnectRate)}
	for _, s := range []plot.Series{rss, anon, heap, kern, fit} {
		if len(s.Pts) > 0 {
			c.Series = append(c.Series, s)
		}
	}
	c.X.Ticks, c.X.Min, c.X.Max = plot.LinearTicks(0, maxConns, 6, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	c.Y.Ticks, c.Y.Min, c.Y.Max = plot.LinearTicks(0, hi, 6, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	return c, true
}
