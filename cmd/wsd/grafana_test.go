package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
)

// The Grafana dashboard deploy/grafana/wsd.json, checked against a real wsd: its structure (a
// dashboard Grafana imports, a Prometheus datasource variable, unique panel ids, a datasource and a
// PromQL target on every panel), and every metric its expressions use, scraped from /metrics of a
// cluster node after some traffic.

const dashboardFile = "../../deploy/grafana/wsd.json"

type gfDashboard struct {
	Title         string    `json:"title"`
	UID           string    `json:"uid"`
	SchemaVersion int       `json:"schemaVersion"`
	Panels        []gfPanel `json:"panels"`
	Templating    struct {
		List []gfVariable `json:"list"`
	} `json:"templating"`
}

type gfVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *gfDatasource   `json:"datasource"`
}

type gfDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gfPanel struct {
	ID         int           `json:"id"`
	Type       string        `json:"type"`
	Title      string        `json:"title"`
	GridPos    *gfGridPos    `json:"gridPos"`
	Datasource *gfDatasource `json:"datasource"`
	Targets    []gfTarget    `json:"targets"`
	Panels     []gfPanel     `json:"panels"` // a row's panels (collapsed rows)
}

type gfGridPos struct{ H, W, X, Y int }

type gfTarget struct {
	Expr       string        `json:"expr"`
	RefID      string        `json:"refId"`
	Datasource *gfDatasource `json:"datasource"`
}

// loadDashboard reads and decodes the dashboard and checks its structure; it returns every PromQL
// expression (variable queries included) by the panel that uses it.
func loadDashboard(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d gfDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 || len(d.Panels) == 0 {
		t.Fatalf("not a dashboard: title %q, uid %q, schemaVersion %d, %d panels", d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	ds := ""
	exprs := map[string][]string{}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			if string(v.Query) == `"prometheus"` {
				ds = "${" + v.Name + "}"
			}
		case "query":
			exprs["variable "+v.Name] = append(exprs["variable "+v.Name], v.Definition)
		}
	}
	if ds == "" {
		t.Fatal("no Prometheus datasource variable (type datasource, query prometheus)")
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != ds) {
			t.Errorf("variable %s: datasource %+v, want %s", v.Name, v.Datasource, ds)
		}
	}
	ids := map[int]string{}
	var walk func(ps []gfPanel)
	walk = func(ps []gfPanel) {
		for _, p := range ps {
			checkPanel(t, p, ds, ids)
			for _, tg := range p.Targets {
				exprs[p.Title] = append(exprs[p.Title], tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return exprs
}

// checkPanel: a unique positive id, a place on the 24-column grid, and unless it is a row the
// dashboard's Prometheus datasource and at least one target, each with an expression and a unique
// refId.
func checkPanel(t *testing.T, p gfPanel, ds string, ids map[int]string) {
	t.Helper()
	if p.ID <= 0 || ids[p.ID] != "" {
		t.Errorf("panel %q: id %d is not positive or not unique (also %q)", p.Title, p.ID, ids[p.ID])
	}
	ids[p.ID] = p.Title
	if g := p.GridPos; g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
		t.Errorf("panel %q: gridPos %+v off the 24-column grid", p.Title, p.GridPos)
	}
	if p.Type == "row" {
		return
	}
	if p.Title == "" || p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != ds {
		t.Errorf("panel %d %q: datasource %+v, want prometheus %s", p.ID, p.Title, p.Datasource, ds)
	}
	if len(p.Targets) == 0 {
		t.Errorf("panel %q: no target", p.Title)
	}
	refs := map[string]bool{}
	for _, tg := range p.Targets {
		if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" || refs[tg.RefID] {
			t.Errorf("panel %q: target %+v: an expression and a unique refId wanted", p.Title, tg)
		}
		refs[tg.RefID] = true
		if tg.Datasource != nil && tg.Datasource.UID != ds {
			t.Errorf("panel %q: target datasource %+v, want %s", p.Title, tg.Datasource, ds)
		}
	}
}

// grafanaScrape starts a cluster node, gives it some traffic (echo, a room broadcast, a 404, a
// close) and scrapes /metrics.
func grafanaScrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	ns := clNATS(t)
	_, addr := clStart(t, ns.ClientURL(), "grafana-1")
	echo := svDial(t, addr, "/echo", nil)
	svWrite(t, echo, "hello")
	_ = echo.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := echo.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	a, b := svDial(t, addr, "/rooms/g", nil), svDial(t, addr, "/rooms/g", nil)
	svWrite(t, a, "to b")
	_ = b.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := b.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	svStatus(t, http.StatusNotFound, http.MethodGet, "http://"+addr+"/nowhere", "")
	closeWith(t, echo, websocket.CloseNormalClosure)
	return scrape(t, addr)
}

// TestGrafanaDashboard: the dashboard is valid, and every metric its expressions use is served by
// wsd with the type the expression assumes (rate and increase over counters only, counters only
// under them), grouped by labels the metrics have; every wsd_ metric has a panel.
func TestGrafanaDashboard(t *testing.T) {
	exprs := loadDashboard(t)
	fams := grafanaScrape(t)
	used := map[string]bool{}
	for panel, list := range exprs {
		for _, expr := range list {
			for _, err := range checkExpr(expr, fams, used) {
				t.Errorf("%s: %s: %v", panel, expr, err)
			}
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "wsd_") && !strings.HasSuffix(name, "_info") && !used[name] {
			t.Errorf("metric %s has no panel in %s", name, dashboardFile)
		}
	}
}

var labelValuesRE = regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)

// checkExpr checks one expression (or a label_values variable query) against the scrape and marks
// the metrics it uses.
func checkExpr(expr string, fams map[string]*dto.MetricFamily, used map[string]bool) []error {
	if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
		expr = m[1] // the label is the target's, added by Prometheus
	}
	refs, err := scanPromQL(expr)
	if err != nil {
		return []error{err}
	}
	if len(refs.metrics) == 0 {
		return []error{fmt.Errorf("no metric")}
	}
	var errs []error
	labels := map[string]bool{"instance": true, "job": true} // added by Prometheus when it scrapes
	for _, m := range refs.metrics {
		mf, counter := family(fams, m.name)
		if mf == nil {
			errs = append(errs, fmt.Errorf("%s is not in wsd's /metrics", m.name))
			continue
		}
		used[mf.GetName()] = true
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
		if perSecond := slices.Contains([]string{"rate", "irate", "increase"}, m.fn); perSecond != counter {
			errs = append(errs, fmt.Errorf("%s (%s) under %q: rate, irate and increase take counters, and counters need them",
				m.name, mf.GetType(), m.fn))
		}
	}
	for _, l := range refs.labels {
		if !labels[l] {
			errs = append(errs, fmt.Errorf("grouped by %q, a label none of its metrics has", l))
		}
	}
	return errs
}

// family finds the metric family of a series name (go_gc_duration_seconds_count is the summary
// go_gc_duration_seconds); counter is true for a counter or a summary's or histogram's count, sum
// or buckets.
func family(fams map[string]*dto.MetricFamily, name string) (mf *dto.MetricFamily, counter bool) {
	if mf := fams[name]; mf != nil {
		return mf, mf.GetType() == dto.MetricType_COUNTER
	}
	for _, suffix := range []string{"_count", "_sum", "_bucket"} {
		base, ok := strings.CutSuffix(name, suffix)
		if mf := fams[base]; ok && mf != nil && (mf.GetType() == dto.MetricType_SUMMARY || mf.GetType() == dto.MetricType_HISTOGRAM) {
			return mf, true
		}
	}
	return nil, false
}
