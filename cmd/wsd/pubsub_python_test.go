package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// TestPubSubRecoveryPython: Debian's python3-websockets, as a /ws client, is away for 5 seconds while
// 1,000 publications are made, rejoins from the last position it received and gets all 1,000, in
// order, none repeated, then the acknowledgement saying it recovered (testdata/python/ws_recover.py).
func TestPubSubRecoveryPython(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import websockets").Run() != nil {
		if os.Getenv("WSD_REQUIRE_PYTHON") == "1" {
			t.Fatal("python3-websockets is not installed (make test installs it)")
		}
		t.Skip("python3-websockets is not installed")
	}
	c := svConfig()
	c.API.Key = "k"
	_, addr := svStart(t, c, nil)
	out, err := exec.Command(py, "testdata/python/ws_recover.py", "ws://"+addr, "http://"+addr, "k").CombinedOutput()
	if err != nil {
		t.Fatalf("ws_recover.py: %v\n%s", err, out)
	}
	var r struct {
		Version     string  `json:"websockets_version"`
		Recovered   bool    `json:"recovered"`
		Missed      int     `json:"missed"`
		InOrder     bool    `json:"in_order"`
		DataInOrder bool    `json:"data_in_order"`
		Received    int     `json:"received"`
		Away        float64 `json:"away_seconds"`
		RecoveryMS  float64 `json:"recovery_ms"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !r.Recovered || r.Missed != 1000 || r.Received != 1000 || !r.InOrder || !r.DataInOrder || r.Away < 5 {
		t.Fatalf("python3-websockets %s: %s", r.Version, out)
	}
	t.Logf("python3-websockets %s: 1000 missed publications recovered in %.1f ms after %.1f s away", r.Version, r.RecoveryMS, r.Away)
}
