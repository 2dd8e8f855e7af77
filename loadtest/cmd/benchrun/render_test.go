package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeResult writes a generator result with one step per rate: p99 in
// ms, server CPU per message in µs, and lost messages.
func writeResult(t *testing.T, dir, name string, steps ...[4]float64) string {
	t.Helper()
	var r result
	for _, s := range steps {
		st := step{Rate: s[0], Sent: int64(s[0]) * 10, Scheduled: int64(s[0]) * 10, SentPerSec: s[0],
			Expected: int64(s[0]) * 10, Delivered: int64(s[0])*10 - int64(s[3]), DeliveredPerSec: s[0],
			Lost: int64(s[3]), ServerCPUPerMsgUS: s[2]}
		st.Latency.P99 = s[1]
		r.Steps = append(r.Steps, st)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRenderSetsTheFloorBesideBothServers(t *testing.T) {
	dir := t.TempDir()
	sc := scenarios(false)[0]
	if sc.Name != "direct-1k" || !sc.Floor {
		t.Fatalf("the first scenario is %s (floor %v): want direct-1k with the floor", sc.Name, sc.Floor)
	}
	m := &Manifest{Scenarios: []scenario{sc}, Runs: []Run{
		{Scenario: sc.Name, Target: "webchat", JSON: writeResult(t, dir, "w", [4]float64{3000, 40, 200, 0}, [4]float64{4000, 90, 180, 0}, [4]float64{5000, 900, 150, 0})},
		{Scenario: sc.Name, Target: "nchan", JSON: writeResult(t, dir, "n", [4]float64{3000, 30, 170, 0}, [4]float64{4000, 60, 150, 5})},
		{Scenario: sc.Name, Target: "floor", JSON: writeResult(t, dir, "f", [4]float64{3000, 10, 150, 7}, [4]float64{4000, 20, 130, 0}, [4]float64{5000, 30, 120, 0})},
	}}
	doc := render(m, dir, dir)

	for _, want := range []string{
		// At 4,000 msg/s, the highest rate webchat held that all three ran.
		"| direct, 1000 users, 4000 msg/s: server CPU per message; net/http alone (the floor) 130 µs | 180 µs (floor +50) | 150 µs (floor +20) | 1.20× | |",
		"| 5000 | floor (net/http alone) | 5000 |",
		"| 5000 | Nchan | not run (ladder stopped) |",
		// The floor's losses are not Nchan's.
		"| lost, every run and warm-up (goal 0 for webchat) | 0 | 5 | | yes |",
		"- The floor: `loadtest/cmd/floor`",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the doc lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "| 5000 | floor (net/http alone) | not run") {
		t.Error("a floor step that ran is shown as not run")
	}
}

func TestRenderWithoutTheFloorShowsNoFloor(t *testing.T) {
	dir := t.TempDir()
	sc := scenarios(false)[0]
	m := &Manifest{Scenarios: []scenario{sc}, Runs: []Run{
		{Scenario: sc.Name, Target: "webchat", JSON: writeResult(t, dir, "w", [4]float64{3000, 40, 200, 0})},
		{Scenario: sc.Name, Target: "nchan", JSON: writeResult(t, dir, "n", [4]float64{3000, 30, 170, 0})},
	}}
	if doc := render(m, dir, dir); strings.Contains(doc, "floor") {
		t.Errorf("a run without the floor mentions it:\n%s", doc)
	}
}
