// Command playbooks measures how long Firebreak takes to load a
// collection of one-file runbooks, and to reload it after one file
// changes, against the targets of issue 12: 1,000 runbooks load in under
// 1 s, and a reload after one of them changes takes under 50 ms. Each
// figure is reported as a ratio to its target, next to a reference
// measured in the same run: reading the same files without parsing them.
//
// From the repository root:
//
//	go run ./bench/playbooks                 # 1,000 runbooks, 7 runs each
//	go run ./bench/playbooks -files 5000 -runs 3
//	go run ./bench/playbooks -out bench/playbooks/RESULTS.md
//
// The runbooks are generated into a temporary folder (ten groups of
// files, each with Hugo front matter, Meaning and Impact, Diagnosis
// commands in inline spans and a console session, and Mitigation
// writes), so each run measures the parser on the shape it was built
// for. The same benchmarks run under go test -bench (main_test.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// Targets from issue 12.
const (
	loadTarget   = time.Second
	reloadTarget = 50 * time.Millisecond
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "playbooks bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("playbooks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	files := fs.Int("files", 1000, "runbooks to generate")
	runs := fs.Int("runs", 7, "timed runs of each measurement (the median is reported)")
	out := fs.String("out", "", "also write the report to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *files < 10 || *runs < 1 {
		return errors.New("-files must be at least 10 and -runs at least 1")
	}
	dir, err := os.MkdirTemp("", "fb-runbooks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	paths, err := Generate(dir, *files)
	if err != nil {
		return err
	}
	m, err := Measure(ctx, dir, paths, *runs)
	if err != nil {
		return err
	}
	report := m.Report(*files, *runs)
	fmt.Fprint(stdout, report)
	if *out != "" {
		return os.WriteFile(*out, []byte(report), 0o644)
	}
	return nil
}

// Generate writes n runbooks under dir, in ten group folders, and returns
// their paths.
func Generate(dir string, n int) ([]string, error) {
	groups := []string{"kubernetes", "node", "etcd", "network", "storage", "apps", "monitoring", "database", "ingress", "general"}
	var paths []string
	for i := 0; i < n; i++ {
		g := groups[i%len(groups)]
		name := fmt.Sprintf("Bench%sAlert%04d", strings.ToUpper(g[:1])+g[1:], i)
		p := filepath.Join(dir, g, name+".md")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(Runbook(name, i, 0)), 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Runbook is one generated runbook; version changes its text, as an edit
// would.
func Runbook(name string, i, version int) string {
	return fmt.Sprintf(`---
title: %[1]s
weight: %[2]d
bookHidden: false
---
# %[1]s

## Meaning

Synthetic alert %[2]d of the benchmark collection (version %[3]d). It fires
when the workload named in its labels stops answering its probes.

## Impact

Requests routed to the workload fail until it recovers.

## Diagnosis

- Check the pod's events with `+"`kubectl -n $NAMESPACE describe pod $POD`"+`.
- List the pods of the namespace: `+"`kubectl get pods -n ${NAMESPACE} -o wide`"+`.
- Read the container's last lines:

  `+"```console"+`
  $ kubectl logs -n $NAMESPACE $POD --tail=100
  2024-01-01T00:00:00Z started
  2024-01-01T00:00:01Z listening on :8080
  `+"```"+`

- See whether the node is under pressure: `+"`kubectl top pods -n <namespace>`"+`.
- Ask whether a deploy went out in the last hour.

## Mitigation

- Restart the workload: `+"`kubectl -n $NAMESPACE rollout restart deployment {{ $labels.deployment }}`"+`.
- Scale it out: `+"`kubectl -n $NAMESPACE scale deployment $DEPLOYMENT --replicas=%[4]d`"+`.
`, name, i, version, 3+version%5)
}

// Measurement holds the timed runs.
type Measurement struct {
	Read, Load, Reload []time.Duration
	Procedures, Steps  int
}

// Measure times, runs times each: reading every file (the reference),
// loading the whole collection into a fresh library, and reloading it
// after one file changed.
func Measure(ctx context.Context, dir string, paths []string, runs int) (*Measurement, error) {
	m := &Measurement{}
	// Untimed warm-up: the page cache, and the parser's first use.
	if _, err := playbook.NewLibrary(nil, dir); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	for r := 0; r < runs; r++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		runtime.GC()
		start := time.Now()
		for _, p := range paths {
			if _, err := os.ReadFile(p); err != nil {
				return nil, err
			}
		}
		m.Read = append(m.Read, time.Since(start))

		runtime.GC()
		start = time.Now()
		lib, err := playbook.NewLibrary(nil, dir)
		d := time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		m.Load = append(m.Load, d)
		m.Procedures, m.Steps = count(lib)
		if m.Procedures != len(paths) {
			return nil, fmt.Errorf("loaded %d procedures from %d runbooks", m.Procedures, len(paths))
		}

		changed := paths[(r*37)%len(paths)]
		name := strings.TrimSuffix(filepath.Base(changed), ".md")
		if err := os.WriteFile(changed, []byte(Runbook(name, r, r+1)), 0o644); err != nil {
			return nil, err
		}
		runtime.GC()
		start = time.Now()
		err = lib.Reload()
		d = time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("reload: %w", err)
		}
		m.Reload = append(m.Reload, d)
		mt, ok := lib.MatchAlert(map[string]string{"alertname": name}, nil)
		if !ok || !strings.Contains(mt.Procedure.Context[0].Text, fmt.Sprintf("(version %d)", r+1)) {
			return nil, fmt.Errorf("reload did not pick up the change to %s", changed)
		}
	}
	return m, nil
}

func count(lib *playbook.Library) (procs, steps int) {
	for _, pb := range lib.Playbooks() {
		for _, pr := range pb.Procedures {
			procs++
			for _, t := range pr.Tasks() {
				if t.Step != nil {
					steps++
				}
			}
		}
	}
	return procs, steps
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Report renders the measurement as Markdown, each figure as a ratio to
// its target.
func (m *Measurement) Report(files, runs int) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## Loading one-file runbooks\n\n`go run ./bench/playbooks -files %d -runs %d`\n\n", files, runs)
	fmt.Fprintf(&b, "%s, %d CPUs, %s, %s; %d runbooks, %d procedures, %d steps; median of %d runs.\n\n",
		host, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"), files, m.Procedures, m.Steps, runs)
	b.WriteString("| measurement | median | min | max | target | median / target |\n|---|---:|---:|---:|---:|---:|\n")
	row := func(name string, ds []time.Duration, target time.Duration) {
		med := median(ds)
		verdict := "✔"
		if med >= target {
			verdict = "✘"
		}
		targetText, ratio := "-", "-"
		if target > 0 {
			targetText = "< " + target.String()
			ratio = fmt.Sprintf("**%.2f×** %s", float64(med)/float64(target), verdict)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name, ms(med), ms(slices.Min(ds)), ms(slices.Max(ds)), targetText, ratio)
	}
	row(fmt.Sprintf("read the %d files (reference)", files), m.Read, 0)
	row(fmt.Sprintf("load %d runbooks", files), m.Load, loadTarget)
	row("reload after one file changed", m.Reload, reloadTarget)
	fmt.Fprintf(&b, "\nLoad is %.1f× the time to read the files; reload is %.1f× it (a reload reads every file, and parses only the changed one).\n",
		float64(median(m.Load))/float64(median(m.Read)), float64(median(m.Reload))/float64(median(m.Read)))
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
