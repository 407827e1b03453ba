package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// The generated runbooks are what the benchmark claims: each loads
// without errors as one runbook with its Diagnosis reads and Mitigation
// writes.
func TestGeneratedRunbooks(t *testing.T) {
	dir := t.TempDir()
	paths, err := Generate(dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := playbook.LoadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pbs) != 20 || len(paths) != 20 {
		t.Fatalf("%d documents", len(pbs))
	}
	for _, pb := range pbs {
		if pb.HasErrors() || pb.Shape != playbook.ShapeRunbook || len(pb.Procedures) != 1 {
			t.Fatalf("%s: shape %q, %v", pb.Path, pb.Shape, pb.Diagnostics)
		}
		var kinds []string
		for _, tk := range pb.Procedures[0].Tasks() {
			if tk.Step == nil {
				kinds = append(kinds, string(tk.Kind))
				continue
			}
			kinds = append(kinds, string(tk.Step.Executor)+"/"+string(tk.Step.Risk))
		}
		if got := strings.Join(kinds, " "); got != "kube/read kube/read kube/read kube/read checklist kube/write kube/write" {
			t.Fatalf("%s: tasks %s", pb.Path, got)
		}
	}
}

// A short run of the program, for its report; nothing here is timed.
func TestRunReports(t *testing.T) {
	var out bytes.Buffer
	report := filepath.Join(t.TempDir(), "r.md")
	if err := run(context.Background(), []string{"-files", "30", "-runs", "2", "-out", report}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| load 30 runbooks |", "| reload after one file changed |", "< 1s", "< 50ms", "30 runbooks, 30 procedures, 180 steps"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if b, err := os.ReadFile(report); err != nil || string(b) != out.String() {
		t.Errorf("-out: %v", err)
	}
	if err := run(context.Background(), []string{"-files", "3"}, &out, &out); err == nil {
		t.Error("too few files accepted")
	}
}

// BenchmarkLoad1000Runbooks loads 1,000 generated runbooks; the
// ratio_to_target metric is the time per load over the 1 s target.
func BenchmarkLoad1000Runbooks(b *testing.B) {
	dir := b.TempDir()
	if _, err := Generate(dir, 1000); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		lib, err := playbook.NewLibrary(nil, dir)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(lib.Playbooks()); n != 1000 {
			b.Fatalf("%d runbooks", n)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(loadTarget), "ratio_to_target")
}

// BenchmarkReloadOneOf1000 reloads the collection after one runbook
// changed; ratio_to_target is over the 50 ms target.
func BenchmarkReloadOneOf1000(b *testing.B) {
	dir := b.TempDir()
	paths, err := Generate(dir, 1000)
	if err != nil {
		b.Fatal(err)
	}
	lib, err := playbook.NewLibrary(nil, dir)
	if err != nil {
		b.Fatal(err)
	}
	name := strings.TrimSuffix(filepath.Base(paths[500]), ".md")
	var spent time.Duration
	i := 0
	for b.Loop() {
		i++
		b.StopTimer()
		if err := os.WriteFile(paths[500], []byte(Runbook(name, 500, i)), 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := lib.Reload(); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(start)
	}
	b.ReportMetric(float64(spent/time.Duration(b.N))/float64(reloadTarget), "ratio_to_target")
}
