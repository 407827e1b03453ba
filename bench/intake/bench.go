package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
	_ "modernc.org/sqlite"
)

type bench struct {
	cfg  config
	work string
	log  io.Writer
}

// result is one timed run.
type result struct {
	Target   string
	Shape    shape
	Requests int // answered 2xx
	Alerts   int // acknowledged alerts
	Failed   int // requests with a transport error or a non-2xx answer
	FirstErr string
	Elapsed  time.Duration
	P50, P99 time.Duration
	RSS      int64 // bytes, after the run
	PeakRSS  int64
	Held     string // how many alerts the server says it holds, or why unknown
	TimedOut bool
	// OtherCPU is the share of the machine's CPU time during the timed run
	// used by neither the server nor the bench: other work skews the numbers.
	OtherCPU float64
}

func (r result) AlertsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Alerts) / r.Elapsed.Seconds()
}

// sender posts one pre-encoded body.
type sender func(ctx context.Context, body []byte) error

// server is a target under test for one run.
type server struct {
	proc  *harness.Process
	send  sender
	held  func(ctx context.Context) string
	stop  func()
	bodyf func(alerts []harness.Alert) ([]byte, error)
}

func (b *bench) run(ctx context.Context, target string, sh shape) (result, error) {
	res := result{Target: target, Shape: sh}
	tag := target + "-" + sh.Name // in every label set: fresh fingerprints per run
	dir, err := b.runDir(target, sh)
	if err != nil {
		return res, err
	}
	client := harness.NewClient(sh.Concurrency)
	defer client.CloseIdleConnections()

	fmt.Fprintf(b.log, "%s %s: starting server\n", target, sh.Name)
	var srv *server
	switch target {
	case targetFirebreak:
		srv, err = b.startFirebreak(ctx, dir, sh, client)
	case targetAlertmanager:
		srv, err = b.startAlertmanager(ctx, dir, client)
	}
	if err != nil {
		return res, err
	}
	defer srv.stop()

	// Encode everything before the clock starts.
	warmupReqs := b.cfg.warmup
	if sh.PerRequest > 1 {
		warmupReqs = max(b.cfg.warmup/10, 4)
	}
	warm, err := encode(srv.bodyf, alerts(tag+"-warmup", "IntakeWarmup", warmupReqs*sh.PerRequest), sh.PerRequest)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(b.log, "%s %s: encoding %d alerts\n", target, sh.Name, b.cfg.alerts)
	bodies, err := encode(srv.bodyf, alerts(tag, "IntakeBench", b.cfg.alerts), sh.PerRequest)
	if err != nil {
		return res, err
	}

	fmt.Fprintf(b.log, "%s %s: warm-up, %d requests\n", target, sh.Name, len(warm))
	if w := load(ctx, srv.send, warm, sh.Concurrency, time.Now().Add(b.cfg.runTimeout)); w.failed > 0 {
		return res, fmt.Errorf("warm-up: %d of %d requests failed, first: %s\nserver log:\n%s",
			w.failed, len(warm), w.firstErr, srv.proc.LogTail(4000))
	}

	fmt.Fprintf(b.log, "%s %s: timed run, %d requests of %d alerts, %d clients\n", target, sh.Name, len(bodies), sh.PerRequest, sh.Concurrency)
	// With PostgreSQL, the database server's processes are part of the
	// target, not other work.
	withPG := target == targetFirebreak && b.cfg.db == "postgres"
	cpu0 := sampleCPU(srv.proc.PID(), withPG)
	l := load(ctx, srv.send, bodies, sh.Concurrency, time.Now().Add(b.cfg.runTimeout))
	res.OtherCPU = sampleCPU(srv.proc.PID(), withPG).otherSince(cpu0)
	res.Elapsed = l.elapsed
	res.Requests = len(l.ok)
	res.Alerts = countAlerts(len(l.ok), sh.PerRequest, b.cfg.alerts, len(bodies))
	res.Failed = l.failed
	res.FirstErr = l.firstErr
	res.TimedOut = l.timedOut
	res.P50, res.P99 = percentile(l.ok, 0.50), percentile(l.ok, 0.99)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	// Let in-flight work (Alertmanager's dispatcher, Firebreak's jobs)
	// settle before reading memory and counts.
	time.Sleep(2 * time.Second)
	res.RSS, _ = srv.proc.RSS()
	res.PeakRSS, _ = srv.proc.PeakRSS()
	res.Held = srv.held(ctx)
	fmt.Fprintf(b.log, "%s %s: %.0f alerts/s, p50 %s, p99 %s, RSS %s, holds %s, %d failed\n",
		target, sh.Name, res.AlertsPerSec(), res.P50, res.P99, mib(res.RSS), res.Held, res.Failed)
	if res.Failed > 0 {
		fmt.Fprintf(b.log, "first failure: %s\n", res.FirstErr)
	}
	return res, nil
}

// countAlerts handles a last body that is shorter than PerRequest.
func countAlerts(okReqs, perReq, total, bodies int) int {
	if okReqs == bodies {
		return total
	}
	return okReqs * perReq
}

func (b *bench) startFirebreak(ctx context.Context, dir string, sh shape, client *http.Client) (*server, error) {
	o := harness.FirebreakOptions{Bin: b.cfg.firebreak, DataDir: filepath.Join(dir, "data"), ReadyTimeout: time.Minute}
	var dropDB func()
	var pgURL string
	if b.cfg.db == "postgres" {
		var err error
		if pgURL, dropDB, err = freshDatabase(ctx, b.cfg.pgURL, "fbbench_"+sh.Name); err != nil {
			return nil, err
		}
		o.DB = pgURL
	}
	fb, err := harness.StartFirebreak(ctx, o)
	if err != nil {
		if dropDB != nil {
			dropDB()
		}
		return nil, err
	}
	in, err := fb.CreateIntegration(ctx, "alertmanager", "intake-bench")
	if err != nil {
		_ = fb.Kill()
		if dropDB != nil {
			dropDB()
		}
		return nil, err
	}
	return &server{
		proc: fb.Process,
		bodyf: func(as []harness.Alert) ([]byte, error) {
			return harness.WebhookV4("firebreak", as)
		},
		send: func(ctx context.Context, body []byte) error {
			r, err := harness.PostIngest(ctx, client, fb.URL, "alertmanager", in.Key, body)
			if err != nil {
				return err
			}
			if r.Status/100 != 2 {
				return fmt.Errorf("%d %.300s", r.Status, r.Body)
			}
			return nil
		},
		held: func(ctx context.Context) string {
			if b.cfg.db == "postgres" {
				return countPostgres(ctx, pgURL)
			}
			return countSQLite(ctx, filepath.Join(o.DataDir, "firebreak.db"))
		},
		stop: func() {
			if err := fb.Stop(30 * time.Second); err != nil {
				fmt.Fprintf(b.log, "firebreak: %v\n", err)
			}
			if dropDB != nil {
				dropDB()
			}
		},
	}, nil
}

// alertmanagerConfig routes everything to a receiver with no integrations,
// so the run measures intake and grouping, not notification delivery.
// resolve_timeout keeps every alert active for the whole run.
const alertmanagerConfig = `global:
  resolve_timeout: 1h
route:
  receiver: blackhole
  group_by: [alertname, service]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: blackhole
`

func (b *bench) startAlertmanager(ctx context.Context, dir string, client *http.Client) (*server, error) {
	am, err := harness.StartAlertmanager(ctx, harness.AlertmanagerOptions{
		Bin: b.cfg.alertmanager, Dir: dir, Config: alertmanagerConfig, ReadyTimeout: time.Minute,
	})
	if err != nil {
		return nil, err
	}
	return &server{
		proc:  am.Process,
		bodyf: harness.AlertmanagerV2,
		send: func(ctx context.Context, body []byte) error {
			return harness.PostAlertmanager(ctx, client, am.URL, body)
		},
		held: func(ctx context.Context) string {
			// New alerts stay "unprocessed" until their group's first flush.
			var sum float64
			for _, state := range []string{"active", "suppressed", "unprocessed"} {
				v, err := harness.MetricValue(ctx, client, am.URL+"/metrics", `alertmanager_alerts{state="`+state+`"}`)
				if err != nil {
					return "? (" + err.Error() + ")"
				}
				sum += v
			}
			return fmt.Sprintf("%.0f in memory", sum)
		},
		stop: func() {
			if err := am.Stop(30 * time.Second); err != nil {
				fmt.Fprintf(b.log, "alertmanager: %v\n", err)
			}
		},
	}, nil
}

// alerts makes n distinct alerts: 100 alert names × n/100 instances, each
// with a service and a severity, tagged with the run so that no two runs
// share a fingerprint.
func alerts(run, prefix string, n int) []harness.Alert {
	perName := (n + 99) / 100
	startsAt := time.Now().Add(-5 * time.Minute).UTC().Truncate(time.Second)
	out := make([]harness.Alert, n)
	for i := range out {
		name := i / perName
		sev := "warning"
		if name%3 == 0 {
			sev = "critical"
		}
		labels := map[string]string{
			"alertname": fmt.Sprintf("%s%02d", prefix, name),
			"instance":  fmt.Sprintf("host-%05d:9100", i%perName),
			"service":   fmt.Sprintf("svc-%d", name%10),
			"severity":  sev,
			"bench_run": run,
		}
		out[i] = harness.Alert{
			Labels: labels,
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s%02d firing on host-%05d", prefix, name, i%perName),
				"description": "Synthetic alert from bench/intake.",
			},
			StartsAt:     startsAt,
			GeneratorURL: "http://prometheus.invalid/graph?g0.expr=up",
			Fingerprint:  harness.Fingerprint(labels),
		}
	}
	return out
}

func encode(f func([]harness.Alert) ([]byte, error), as []harness.Alert, per int) ([][]byte, error) {
	bodies := make([][]byte, 0, (len(as)+per-1)/per)
	for i := 0; i < len(as); i += per {
		b, err := f(as[i:min(i+per, len(as))])
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, b)
	}
	return bodies, nil
}

type loadResult struct {
	ok       []time.Duration
	failed   int
	firstErr string
	elapsed  time.Duration
	timedOut bool
}

// load sends every body once from conc workers, in order, and stops early at
// deadline.
func load(ctx context.Context, send sender, bodies [][]byte, conc int, deadline time.Time) loadResult {
	lat := make([]time.Duration, len(bodies))
	var (
		next     atomic.Int64
		failed   atomic.Int64
		timedOut atomic.Bool
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				if time.Now().After(deadline) {
					timedOut.Store(true)
					return
				}
				t0 := time.Now()
				err := send(ctx, bodies[i])
				if err != nil {
					lat[i] = -1
					failed.Add(1)
					errOnce.Do(func() { firstErr = err.Error() })
					continue
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start), failed: int(failed.Load()), firstErr: firstErr, timedOut: timedOut.Load()}
	for _, d := range lat {
		if d > 0 {
			r.ok = append(r.ok, d)
		}
	}
	return r
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s)) + 0.5)
	return s[min(max(i-1, 0), len(s)-1)]
}

func countSQLite(ctx context.Context, path string) string {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM alerts`).Scan(&n); err != nil {
		return "? (" + err.Error() + ")"
	}
	return fmt.Sprintf("%d stored", n)
}

func countPostgres(ctx context.Context, dbURL string) string {
	out, err := exec.CommandContext(ctx, "psql", "-X", "-At", "-d", dbURL, "-c", "SELECT count(*) FROM alerts").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("? (psql: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)) + " stored"
}

// freshDatabase creates an empty database next to the one base names, with
// psql, and returns its URL and a function that drops it.
func freshDatabase(ctx context.Context, base, prefix string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("-pg-url must be a postgres:// URL")
	}
	name := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e6)
	psql := func(sql string) error {
		out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", base, "-c", sql).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql %q: %w: %s", sql, err, out)
		}
		return nil
	}
	if err := psql("CREATE DATABASE " + name); err != nil {
		return "", nil, err
	}
	fresh := *u
	fresh.Path = "/" + name
	return fresh.String(), func() { _ = psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") }, nil
}

// cpuSample is CPU time in clock ticks: the whole machine's from /proc/stat,
// the server's (and PostgreSQL's, when it serves the target) and this
// process's from /proc/PID/stat.
type cpuSample struct {
	busy, total, server, self int64
	ok                        bool
}

func sampleCPU(serverPID int, withPostgres bool) cpuSample {
	var s cpuSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	v := make([]int64, 9)
	for i := 1; i < 9; i++ {
		v[i], _ = strconv.ParseInt(f[i], 10, 64)
	}
	s.busy = v[1] + v[2] + v[3] + v[6] + v[7] + v[8]
	s.total = s.busy + v[4] + v[5]
	var ok1, ok2 bool
	s.server, ok1 = procCPUTicks(fmt.Sprintf("/proc/%d/stat", serverPID))
	s.self, ok2 = procCPUTicks("/proc/self/stat")
	s.ok = ok1 && ok2
	if withPostgres {
		s.server += postgresTicks()
	}
	return s
}

// postgresTicks sums the CPU time of every process named postgres. A
// backend that exits between two samples is missed, but the server under
// test keeps its pool's connections open.
func postgresTicks() int64 {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var sum int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), " (postgres) ") {
			continue
		}
		if t, ok := procCPUTicks(p); ok {
			sum += t
		}
	}
	return sum
}

// procCPUTicks is utime+stime of a process, all threads.
func procCPUTicks(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:])) // from field 3, state
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + st, err1 == nil && err2 == nil
}

// otherSince is the share of all CPU time since before that neither the
// server nor the bench used, or -1 when unknown.
func (s cpuSample) otherSince(before cpuSample) float64 {
	total := s.total - before.total
	if !s.ok || !before.ok || total <= 0 {
		return -1
	}
	other := (s.busy - before.busy) - (s.server - before.server) - (s.self - before.self)
	return max(float64(other)/float64(total), 0)
}
