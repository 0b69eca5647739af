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
	var charts []chart
	if c, ok := latencyChart(all); ok {
		charts = append(charts, c)
	}
	if c, ok := memoryChart(all); ok {
		charts = append(charts, c)
	}
	if len(charts) == 0 {
		return errors.New("plot: no latency histograms or idle points in the input")
	}
	return os.WriteFile(*out, []byte(document(charts)), 0o644)
}

// latencyChart plots latency against percentile ("nines" on the x axis) for every echo and broadcast
// run, the way HdrHistogram's percentile distribution plots do.
func latencyChart(all []*loadtest.Results) (chart, bool) {
	c := chart{title: "Latency by percentile", x: axis{label: "percentile"}, y: axis{label: "latency (µs)", log: true}}
	lo, hi, maxNines := math.Inf(1), 0.0, 1.0
	add := func(name string, h *client.Histogram) {
		if h == nil || h.Count == 0 {
			return
		}
		sr := series{name: name}
		top := math.Log10(float64(h.Count))
		for k := 0.0; k < top; k += 0.05 {
			v := float64(h.Quantile(1-math.Pow(10, -k))) / 1e3
			sr.pts = append(sr.pts, [2]float64{k, v})
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		sr.pts = append(sr.pts, [2]float64{top, float64(h.Max) / 1e3})
		hi, maxNines = math.Max(hi, float64(h.Max)/1e3), math.Max(maxNines, math.Ceil(top))
		c.series = append(c.series, sr)
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
	if len(c.series) == 0 {
		return c, false
	}
	c.y.ticks, c.y.min, c.y.max = logTicks(lo, hi, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	c.x.min, c.x.max = 0, maxNines
	for k := 0.0; k <= maxNines; k++ {
		c.x.ticks = append(c.x.ticks, tick{k, ninesLabel(k)})
	}
	c.x.ticks = append(c.x.ticks, tick{math.Log10(2), "50%"})
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
func memoryChart(all []*loadtest.Results) (chart, bool) {
	var idle *loadtest.IdleResult
	for _, r := range all {
		if r.Idle != nil && len(r.Idle.Points) > 1 {
			idle = r.Idle
		}
	}
	if idle == nil {
		return chart{}, false
	}
	mibOf := func(b float64) float64 { return b / (1 << 20) }
	rss, anon, heap, kern := series{name: "RSS", markers: true}, series{name: "RSS anon", markers: true},
		series{name: "Go heap in use", markers: true}, series{name: "kernel TCP (both ends)", markers: true}
	hi, maxConns := 0.0, 0.0
	for _, p := range idle.Points {
		x := float64(p.Conns)
		maxConns = math.Max(maxConns, x)
		rss.pts = append(rss.pts, [2]float64{x, mibOf(float64(p.RSS))})
		anon.pts = append(anon.pts, [2]float64{x, mibOf(float64(p.Anon))})
		kern.pts = append(kern.pts, [2]float64{x, mibOf(float64(p.KernelMem))})
		if p.HeapInuse.Known() {
			heap.pts = append(heap.pts, [2]float64{x, mibOf(float64(p.HeapInuse))})
		}
		hi = math.Max(hi, math.Max(mibOf(float64(p.RSS)), mibOf(float64(p.KernelMem))))
	}
	f := idle.RSSFit
	fit := series{name: fmt.Sprintf("RSS fit: %.0f B/conn", f.Slope), dash: true,
		pts: [][2]float64{{0, mibOf(f.Intercept)}, {maxConns, mibOf(f.Intercept + f.Slope*maxConns)}}}
	c := chart{title: "Server memory by idle connections", x: axis{label: "open idle connections"},
		y: axis{label: "MiB"}, note: fmt.Sprintf("connect rate %.0f/s", idle.ConnectRate)}
	for _, s := range []series{rss, anon, heap, kern, fit} {
		if len(s.pts) > 0 {
			c.series = append(c.series, s)
		}
	}
	c.x.ticks, c.x.min, c.x.max = linearTicks(0, maxConns, 6, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	c.y.ticks, c.y.min, c.y.max = linearTicks(0, hi, 6, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	return c, true
}
