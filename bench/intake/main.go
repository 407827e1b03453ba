// Command intake measures, in one run on one machine, how fast Firebreak's
// Alertmanager intake (POST /api/v1/ingest/alertmanager, answered only after
// commit) takes alerts compared with Alertmanager v0.28.1's own intake
// (POST /api/v2/alerts, which holds alerts in memory), and how much memory
// each server holds afterwards.
//
// From the repository root:
//
//	go run ./bench/intake                      # both targets, both shapes, 100,000 alerts
//	go run ./bench/intake -targets alertmanager
//	go run ./bench/intake -db postgres -pg-url postgres://…  # Firebreak on PostgreSQL
//	go run ./bench/intake -out bench/intake/RESULTS.md
//
// Every run starts a fresh server (fresh data directory or database, fresh
// Alertmanager) on a loopback port and sends distinct label sets, so no run
// dedups against another. Bodies are encoded before the clock starts, and a
// warm-up with its own alerts precedes each timed run. The load generator
// shares the machine's cores with the server under test.
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
	"strings"
	"syscall"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "intake bench:", err)
		os.Exit(1)
	}
}

type config struct {
	firebreak    string
	alertmanager string
	alerts       int
	db           string
	pgURL        string
	out          string
	targets      []string
	shapes       []shape
	warmup       int
	runTimeout   time.Duration
	keep         bool
	args         []string
}

// shape is how alerts are cut into requests.
type shape struct {
	Name        string
	PerRequest  int
	Concurrency int
}

var shapes = map[string]shape{
	"single": {Name: "single", PerRequest: 1, Concurrency: 8},
	"batch":  {Name: "batch", PerRequest: 100, Concurrency: 4},
}

const (
	targetFirebreak    = "firebreak"
	targetAlertmanager = "alertmanager"
)

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("intake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.firebreak, "firebreak", "", "firebreak binary (default: go build ./cmd/firebreak into a temp dir)")
	fs.StringVar(&c.alertmanager, "alertmanager", "", "alertmanager binary (default: the path scripts/alertmanager prints)")
	fs.IntVar(&c.alerts, "alerts", 100000, "distinct alerts per run")
	fs.StringVar(&c.db, "db", "sqlite", "Firebreak's storage: sqlite or postgres")
	fs.StringVar(&c.pgURL, "pg-url", os.Getenv("TEST_DATABASE_URL"), "with -db postgres: a postgres:// URL of a role that may CREATE DATABASE; each run gets a fresh database (default $TEST_DATABASE_URL)")
	fs.StringVar(&c.out, "out", "", "also write the Markdown report to this file")
	targets := fs.String("targets", "alertmanager,firebreak", "comma-separated: alertmanager, firebreak")
	shapeList := fs.String("shapes", "single,batch", "comma-separated: single (1 alert/request, 8 clients), batch (100 alerts/request, 4 clients)")
	fs.IntVar(&c.warmup, "warmup", 300, "untimed warm-up requests of the single shape before each run (batch runs send a tenth as many)")
	fs.DurationVar(&c.runTimeout, "run-timeout", 2*time.Minute, "stop a timed run after this long and report what was acknowledged")
	fs.BoolVar(&c.keep, "keep", false, "keep the servers' temp directories and logs")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.args = args
	if c.alerts < 100 {
		return c, errors.New("-alerts must be at least 100")
	}
	if c.db != "sqlite" && c.db != "postgres" {
		return c, fmt.Errorf("-db %q: want sqlite or postgres", c.db)
	}
	for _, t := range strings.Split(*targets, ",") {
		switch t = strings.TrimSpace(t); t {
		case targetFirebreak, targetAlertmanager:
			c.targets = append(c.targets, t)
		case "":
		default:
			return c, fmt.Errorf("-targets: unknown target %q", t)
		}
	}
	for _, s := range strings.Split(*shapeList, ",") {
		sh, ok := shapes[strings.TrimSpace(s)]
		if !ok {
			return c, fmt.Errorf("-shapes: unknown shape %q", s)
		}
		c.shapes = append(c.shapes, sh)
	}
	if len(c.targets) == 0 || len(c.shapes) == 0 {
		return c, errors.New("nothing to run")
	}
	if c.db == "postgres" && c.pgURL == "" && has(c.targets, targetFirebreak) {
		return c, errors.New("-db postgres needs -pg-url or $TEST_DATABASE_URL")
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "firebreak-intake-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		fmt.Fprintln(stderr, "keeping", work)
	} else {
		defer os.RemoveAll(work)
	}
	if has(c.targets, targetFirebreak) && c.firebreak == "" {
		fmt.Fprintln(stderr, "building ./cmd/firebreak")
		if c.firebreak, err = harness.BuildFirebreak(ctx, root, work); err != nil {
			return err
		}
	}
	if has(c.targets, targetAlertmanager) && c.alertmanager == "" {
		if c.alertmanager, err = harness.AlertmanagerBinary(ctx, root, stderr); err != nil {
			return err
		}
	}

	b := &bench{cfg: c, work: work, log: stderr}
	var results []result
	for _, sh := range c.shapes {
		for _, target := range c.targets {
			r, err := b.run(ctx, target, sh)
			if err != nil {
				return fmt.Errorf("%s %s: %w", target, sh.Name, err)
			}
			results = append(results, r)
		}
	}
	report := renderReport(c, results, machineInfo())
	fmt.Fprint(stdout, report)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "wrote", c.out)
	}
	return nil
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runDir is a fresh directory for one (target, shape) run.
func (b *bench) runDir(target string, sh shape) (string, error) {
	d := filepath.Join(b.work, target+"-"+sh.Name)
	return d, os.MkdirAll(d, 0o755)
}
