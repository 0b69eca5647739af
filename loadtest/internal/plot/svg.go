// Package plot is a small hand-written SVG line-chart renderer for the load-test reports (latency by
// percentile, memory by connections, the soak's curves over time): stacked panels, linear or log
// axes, no dependencies. Everything here is a plain value: safe from any goroutine that owns it.
package plot

import (
	"fmt"
	"html"
	"math"
	"strings"
)

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

// Tick is an axis mark at V.
type Tick struct {
	V     float64
	Label string
}

// Axis maps data values to a pixel range, linearly or on a log10 scale.
type Axis struct {
	Label    string
	Min, Max float64
	Log      bool
	Ticks    []Tick
}

func (a Axis) frac(v float64) float64 {
	lo, hi := a.Min, a.Max
	if a.Log {
		v, lo, hi = math.Log10(math.Max(v, 1e-12)), math.Log10(lo), math.Log10(hi)
	}
	if hi == lo {
		return 0.5
	}
	return (v - lo) / (hi - lo)
}

// Series is one line: points (x, y) in data units.
type Series struct {
	Name    string
	Pts     [][2]float64
	Dash    bool
	Markers bool
}

// Band is a shaded range of x values with a label at its top (a warm-up, a measuring window).
type Band struct {
	From, To float64
	Label    string
	Fill     string // CSS colour; default light grey
}

// Chart is one panel.
type Chart struct {
	Title  string
	Note   string
	X, Y   Axis
	Series []Series
	Bands  []Band
}

// Layout of one chart panel.
const (
	panelW, panelH         = 900.0, 420.0
	padL, padR, padT, padB = 80.0, 220.0, 40.0, 60.0
)

// render draws the chart with its top-left corner at (0, oy).
func (c Chart) render(s *svg, oy float64) {
	pw, ph := panelW-padL-padR, panelH-padT-padB
	px := func(v float64) float64 { return padL + c.X.frac(v)*pw }
	py := func(v float64) float64 { return oy + padT + (1-c.Y.frac(v))*ph }
	s.text(panelW/2-padR/2+padL/2, oy+24, "middle", 16, c.Title)
	for _, b := range c.Bands {
		fill := b.Fill
		if fill == "" {
			fill = "#eeeeee"
		}
		x1, x2 := px(math.Max(b.From, c.X.Min)), px(math.Min(b.To, c.X.Max))
		s.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x1, oy+padT, x2-x1, ph, fill)
		s.text((x1+x2)/2, oy+padT+12, "middle", 10, b.Label)
	}
	s.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", padL, oy+padT, pw, ph)
	for _, t := range c.X.Ticks {
		x := px(t.V)
		s.line(x, oy+padT, x, oy+padT+ph, "#ddd", 1, false)
		s.text(x, oy+padT+ph+18, "middle", 12, t.Label)
	}
	for _, t := range c.Y.Ticks {
		y := py(t.V)
		s.line(padL, y, padL+pw, y, "#ddd", 1, false)
		s.text(padL-6, y+4, "end", 12, t.Label)
	}
	s.text(padL+pw/2, oy+panelH-14, "middle", 13, c.X.Label)
	s.printf(`<text x="18" y="%.1f" transform="rotate(-90 18 %.1f)" text-anchor="middle" font-size="13" font-family="sans-serif">%s</text>`+"\n",
		oy+padT+ph/2, oy+padT+ph/2, html.EscapeString(c.Y.Label))
	for i, sr := range c.Series {
		color := palette[i%len(palette)]
		drawSeries(s, sr, color, px, py)
		ly := oy + padT + 10 + float64(i)*18
		s.line(padL+pw+12, ly-4, padL+pw+36, ly-4, color, 2.5, sr.Dash)
		s.text(padL+pw+42, ly, "start", 12, sr.Name)
	}
	if c.Note != "" {
		for i, line := range strings.Split(c.Note, "\n") {
			s.text(padL+pw+12, oy+padT+ph-6-14*float64(strings.Count(c.Note, "\n")-i), "start", 11, line)
		}
	}
}

func drawSeries(s *svg, sr Series, color string, px, py func(float64) float64) {
	var pts []string
	for _, p := range sr.Pts {
		if math.IsNaN(p[1]) {
			continue
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		if sr.Markers {
			s.printf(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", px(p[0]), py(p[1]), color)
		}
	}
	dash := ""
	if sr.Dash {
		dash = ` stroke-dasharray="6 4"`
	}
	s.printf(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), color, dash)
}

// Document wraps the charts stacked vertically into one SVG file.
func Document(charts []Chart) string {
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

// LinearTicks returns about n round ticks covering [lo, hi], and the widened range.
func LinearTicks(lo, hi float64, n int, format func(float64) string) ([]Tick, float64, float64) {
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
	var ts []Tick
	for v := lo; v <= hi+step/2; v += step {
		ts = append(ts, Tick{v, format(v)})
	}
	return ts, lo, hi
}

// LogTicks returns 1-2-5 ticks per decade covering [lo, hi], and the widened range.
func LogTicks(lo, hi float64, format func(float64) string) ([]Tick, float64, float64) {
	lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1e-3))))
	hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, lo*10))))
	var ts []Tick
	for d := lo; d < hi*1.01; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= hi*1.01 {
				ts = append(ts, Tick{v, format(v)})
			}
		}
	}
	return ts, lo, hi
}
