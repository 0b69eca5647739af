package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyEngine: wsd and the example programs use the engine through package engine alone
// (wsd also builds its cluster broker with rooms/natsbroker): frame, dispatch, rooms and the engine's
// internals stay out of their imports, so everything they need is declared by engine.
func TestImportsOnlyEngine(t *testing.T) {
	const mod = "github.com/openspeed/wsd/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`,
		".", "../../examples/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{mod + "engine": true}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list listed %d packages, want wsd and the examples:\n%s", len(lines), out)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pkg, own := f[0], 0
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			ok := allowed[imp] || pkg == mod+"cmd/wsd" && imp == mod+"rooms/natsbroker" ||
				strings.HasPrefix(pkg, mod+"examples/") && imp == mod+"examples/internal/extest"
			if !ok {
				t.Errorf("%s imports %s", pkg, imp)
			}
			own++
		}
		if own == 0 {
			t.Errorf("%s imports nothing of wsd", pkg)
		}
	}
}
