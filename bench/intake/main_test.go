package main

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
)

func TestAlertsAreDistinct(t *testing.T) {
	as := alerts("run", "IntakeBench", 100000)
	fps := map[string]bool{}
	names := map[string]bool{}
	for _, a := range as {
		if a.Fingerprint != harness.Fingerprint(a.Labels) {
			t.Fatalf("fingerprint %s does not match labels %v", a.Fingerprint, a.Labels)
		}
		fps[a.Fingerprint] = true
		names[a.Labels["alertname"]] = true
		if a.Labels["service"] == "" {
			t.Fatalf("no service label: %v", a.Labels)
		}
	}
	if len(fps) != 100000 || len(names) != 100 {
		t.Errorf("%d distinct fingerprints and %d alert names, want 100000 and 100", len(fps), len(names))
	}
	other := alerts("other-run", "IntakeBench", 10)
	if other[0].Fingerprint == as[0].Fingerprint {
		t.Error("two runs share a fingerprint")
	}
}

func TestEncodeBatches(t *testing.T) {
	as := alerts("run", "IntakeBench", 250)
	bodies, err := encode(harness.AlertmanagerV2, as, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 3 {
		t.Fatalf("%d bodies, want 3", len(bodies))
	}
	var last []json.RawMessage
	if err := json.Unmarshal(bodies[2], &last); err != nil || len(last) != 50 {
		t.Errorf("last body has %d alerts (%v), want 50", len(last), err)
	}
	if countAlerts(3, 100, 250, 3) != 250 || countAlerts(2, 100, 250, 3) != 200 {
		t.Error("countAlerts miscounts a short last batch")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond)
	}
	if p := percentile(ds, 0.5); p != 50*time.Millisecond {
		t.Errorf("p50 = %s", p)
	}
	if p := percentile(ds, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %s", p)
	}
	if p := percentile(nil, 0.99); p != 0 {
		t.Errorf("p99 of nothing = %s", p)
	}
}

func TestCommandLineQuotes(t *testing.T) {
	got := commandLine([]string{"-db", "postgres", "-pg-url", "postgres:///x?host=/run&user=pg"})
	want := `go run ./bench/intake -db postgres -pg-url 'postgres:///x?host=/run&user=pg'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-db", "mysql"},
		{"-targets", "prometheus"},
		{"-shapes", "huge"},
		{"-alerts", "10"},
		{"-db", "postgres", "-pg-url", "", "-targets", "firebreak"},
		{"stray"},
	} {
		t.Setenv("TEST_DATABASE_URL", "")
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	c, err := parseFlags([]string{"-targets", "alertmanager", "-shapes", "batch"}, io.Discard)
	if err != nil || len(c.targets) != 1 || len(c.shapes) != 1 || c.shapes[0].PerRequest != 100 || c.shapes[0].Concurrency != 4 {
		t.Errorf("parseFlags = %+v, %v", c, err)
	}
}
