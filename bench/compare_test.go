package bench

import (
	"os"
	"testing"

	"github.com/openspeed/wsd/loadtest"
)

// BenchmarkCompare measures wsd and the peers in the same run, scenario by scenario (each scenario
// runs against every server before the next starts, so the machine's load drifts alike for all), a
// fresh server process per scenario; with -rounds N, echo and broadcast scenarios run N times through
// every server in turn, and the table shows each figure's median:
//
//	cd bench && go test -run '^$' -bench Compare -benchtime 1x -timeout 60m -args -rounds 3 -readme
//
// Each sub-benchmark reports its scenario's figures; the table (stdout, and -readme / -md / -json)
// follows the last one.
func BenchmarkCompare(b *testing.B) {
	cfg := flagConfig(b)
	srvs := servers(b)
	rep := NewReport(cfg, command())
	for _, s := range srvs {
		rep.Results = append(rep.Results, NewResult(s))
	}
	for _, sc := range cfg.Scenarios() {
		for round := range sc.rounds(cfg) {
			for i, s := range srvs {
				b.Run(sc.subName(cfg, round, s.Name), func(b *testing.B) {
					err := Measure(s, sc, cfg, rep.Results[i])
					b.ReportMetric(0, "ns/op")
					for unit, v := range sc.Figures(rep.Results[i]) {
						b.ReportMetric(v, unit)
					}
					switch {
					case err != nil && s.Peer:
						b.Logf("%s failed %s (recorded in the table): %v", s.Name, sc.Name, err)
					case err != nil:
						b.Errorf("%s: %v", sc.Name, err)
					}
				})
			}
		}
	}
	rep.LoadEnd = loadtest.LoadAvg()
	writeReport(b, rep)
}

// writeReport prints the table and writes the files the flags ask for.
func writeReport(b *testing.B, rep *Report) {
	rep.Markdown(os.Stdout)
	if *flagReadme {
		if err := rep.UpdateReadme("README.md"); err != nil {
			b.Error(err)
		}
	}
	if *flagMD != "" {
		f, err := os.Create(*flagMD)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		rep.Markdown(f)
	}
	if *flagJSON != "" {
		f, err := os.Create(*flagJSON)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := rep.WriteJSON(f); err != nil {
			b.Error(err)
		}
	}
}
