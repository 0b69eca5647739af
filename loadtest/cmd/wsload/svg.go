package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A small hand-written SVG line-chart renderer: enough for latency-by-percentile and memory-by-
// connections charts, no dependencies.

type svg struct{ b strings.Builder }

func (s *svg) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) line(x1, y1, x2, y2 float64, stroke string, width float64, dash bool) {
	d := ""
	if dash {
		d = ` stroke-dasharray="6 4"`
	}
	s.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"%s/>`+"\n",
		x1, y1, x2, y2, stroke, width, d)
}

func (s *svg) text(x, y float64, anchor string, size int, str string) {
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" font-family="sans-serif">%s</text>`+"\n",
		x, y, anchor, size, html.EscapeString(str))
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// tick is an axis mark at v.
type tick struct {
	v     float64
	label string
}

// axis maps data values to a pixel range, linearly or on a log10 scale.
type axis struct {
	label    string
	min, max float64
	log      bool
	ticks    []tick
}

func (a axis) frac(v float64) float64 {
	lo, hi := a.min, a.max
	if a.log {
		v, lo, hi = math.Log10(math.Max(v, 1e-12)), math.Log10(lo), math.Log10(hi)
	}
	if hi == lo {
		return 0.5
	}
	return (v - lo) / (hi - lo)
}

type series struct {
	name    string
	pts     [][2]float64
	dash    bool
	markers bool
}

type chart struct {
	title  string
	note   string
	x, y   axis
	series []series
}

// Layout of one chart panel.
const (
	panelW, panelH         = 900.0, 420.0
	padL, padR, padT, padB = 80.0, 220.0, 40.0, 60.0
)

// render draws the chart with its top-left corner at (0, oy).
func (c chart) render(s *svg, oy float64) {
	pw, ph := panelW-padL-padR, panelH-padT-padB
	px := func(v float64) float64 { return padL + c.x.frac(v)*pw }
	py := func(v float64) float64 { return oy + padT + (1-c.y.frac(v))*ph }
	s.text(panelW/2-padR/2+padL/2, oy+24, "middle", 16, c.title)
	s.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", padL, oy+padT, pw, ph)
	for _, t := range c.x.ticks {
		x := px(t.v)
		s.line(x, oy+padT, x, oy+padT+ph, "#ddd", 1, false)
		s.text(x, oy+padT+ph+18, "middle", 12, t.label)
	}
	for _, t := range c.y.ticks {
		y := py(t.v)
		s.line(padL, y, padL+pw, y, "#ddd", 1, false)
		s.text(padL-6, y+4, "end", 12, t.label)
	}
	s.text(padL+pw/2, oy+panelH-14, "middle", 13, c.x.label)
	s.printf(`<text x="18" y="%.1f" transform="rotate(-90 18 %.1f)" text-anchor="middle" font-size="13" font-family="sans-serif">%s</text>`+"\n",
		oy+padT+ph/2, oy+padT+ph/2, html.EscapeString(c.y.label))
	for i, sr := range c.series {
		color := palette[i%len(palette)]
		c.drawSeries(s, sr, color, px, py)
		ly := oy + padT + 10 + float64(i)*18
		s.line(padL+pw+12, ly-4, padL+pw+36, ly-4, color, 2.5, sr.dash)
		s.text(padL+pw+42, ly, "start", 12, sr.name)
	}
	if c.note != "" {
		s.text(padL+pw+12, oy+padT+ph-6, "start", 11, c.note)
	}
}

func (c chart) drawSeries(s *svg, sr series, color string, px, py func(float64) float64) {
	var pts []string
	for _, p := range sr.pts {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		if sr.markers {
			s.printf(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", px(p[0]), py(p[1]), color)
		}
	}
	dash := ""
	if sr.dash {
		dash = ` stroke-dasharray="6 4"`
	}
	s.printf(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), color, dash)
}

// document wraps the charts stacked vertically into one SVG file.
func document(charts []chart) string {
	var s svg
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`+"\n",
		panelW, panelH*float64(len(charts)), panelW, panelH*float64(len(charts)))
	s.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	for i, c := range charts {
		c.render(&s, float64(i)*panelH)
	}
	s.printf("</svg>\n")
	return s.b.String()
}

// linearTicks returns about n round ticks covering [lo, hi], and the widened range.
func linearTicks(lo, hi float64, n int, format func(float64) string) ([]tick, float64, float64) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	var ts []tick
	for v := lo; v <= hi+step/2; v += step {
		ts = append(ts, tick{v, format(v)})
	}
	return ts, lo, hi
}

// logTicks returns 1-2-5 ticks per decade covering [lo, hi], and the widened range.
func logTicks(lo, hi float64, format func(float64) string) ([]tick, float64, float64) {
	lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1e-3))))
	hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, lo*10))))
	var ts []tick
	for d := lo; d < hi*1.01; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= hi*1.01 {
				ts = append(ts, tick{v, format(v)})
			}
		}
	}
	return ts, lo, hi
}
