// Command steps measures how long a read step waits: the time from an
// intake request's 2xx to the first read step of the incident it opened
// starting to run, p50 and p99, on SQLite and on PostgreSQL, idle (one
// incident at a time) and under load (100 incidents opened at once, each
// with 5 read steps); and, on PostgreSQL, across two instances: the alert
// arrives on instance A, whose only worker is busy, and the step starts on
// idle instance B, woken by LISTEN/NOTIFY.
//
//	go run ./bench/steps [-idle 200] [-burst 100] [-pg postgres://…]
//
// It builds Firebreak's intake, store and step runner in process, behind a
// real HTTP server on loopback; the read steps run against the PostgreSQL
// at -pg (default TEST_DATABASE_URL).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/automation"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/intake"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/postgres"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

func main() {
	idle := flag.Int("idle", 200, "incidents opened one at a time")
	burst := flag.Int("burst", 100, "incidents opened at once")
	only := flag.String("only", "", "run only this part: single or two")
	pg := flag.String("pg", os.Getenv("TEST_DATABASE_URL"), "PostgreSQL server for the postgres store and the steps' SQL")
	flag.Parse()
	if *pg == "" {
		*pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	fmt.Printf("# Step start latency (intake 2xx → first read step running)\n\n")
	fmt.Printf("`go run ./bench/steps -idle %d -burst %d` on %d CPUs, %s\n\n", *idle, *burst, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	fmt.Println("| store | load | incidents | p50 | p99 | max | p99 vs 50 ms target |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, engine := range []string{"sqlite", "postgres"} {
		if *only == "two" {
			break
		}
		for _, shape := range []struct {
			name string
			n    int
			conc int
		}{{"idle", *idle, 1}, {fmt.Sprintf("%d at once × 5 steps", *burst), *burst, *burst}} {
			lat, err := measure(engine, *pg, shape.n, shape.conc, false)
			if err != nil {
				fmt.Fprintln(os.Stderr, "steps:", engine, shape.name, err)
				os.Exit(1)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*q))] }
			fmt.Printf("| %s | %s | %d | %s | %s | %s | %.2f× |\n", engine, shape.name, len(lat),
				ms(p(0.50)), ms(p(0.99)), ms(lat[len(lat)-1]), float64(p(0.99))/float64(50*time.Millisecond))
		}
	}
	if *only == "single" {
		return
	}
	lat, err := measure("postgres", *pg, *idle, 1, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "steps: two instances:", err)
		os.Exit(1)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*q))] }
	fmt.Printf("| postgres | two instances: intake on busy A, step on idle B | %d | %s | %s | %s | %.2f× |\n", len(lat),
		ms(p(0.50)), ms(p(0.99)), ms(lat[len(lat)-1]), float64(p(0.99))/float64(50*time.Millisecond))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// freshDatabase creates a database for one measurement and returns its URL
// and a function that drops it.
func freshDatabase(base string) (string, func(), error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("fb_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	drop := func() {
		c, err := pgx.Connect(ctx, base)
		if err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	return url, drop, nil
}

// measure opens n incidents, conc at a time, and returns how long each
// waited for its first step. With two, the store is PostgreSQL and a
// second instance B on the same database runs the steps while A, which
// takes the alerts, has its one worker busy.
func measure(engine, base string, n, conc int, two bool) ([]time.Duration, error) {
	ctx := context.Background()
	dsn, drop, err := freshDatabase(base)
	if err != nil {
		return nil, err
	}
	defer drop()
	var st store.Store
	if engine == "sqlite" && !two {
		dir, err := os.MkdirTemp("", "fb-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		db, err := sqlite.Open(ctx, filepath.Join(dir, "fb.db"))
		if err != nil {
			return nil, err
		}
		st = db
	} else {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		st = db
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	_, file, _, _ := runtime.Caller(0)
	lib, err := playbook.NewLibrary(nil, filepath.Join(filepath.Dir(file), "..", "..", "internal", "automation", "testdata", "five.md"))
	if err != nil {
		return nil, err
	}
	targets, err := sqlexec.NewTargets([]sqlexec.Target{{Name: "db", DSN: dsn, MaxConns: 16}}, nil)
	if err != nil {
		return nil, err
	}
	defer targets.Close()

	var mu sync.Mutex
	started := map[int64]time.Time{}
	onA := 0
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("BENCH_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	record := func(s *run.Step) {
		now := time.Now()
		mu.Lock()
		if _, ok := started[s.IncidentID]; !ok {
			started[s.IncidentID] = now
		}
		mu.Unlock()
	}
	cfg := automation.Config{Store: st, Playbooks: lib, Exec: &automation.Executors{SQL: targets, DefaultSQL: "db"}, Logger: log, Workers: 8, OnStart: record}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var waitB func()
	var eng *automation.Engine
	if two {
		// A: one worker, held by a job that blocks until the end.
		qa := job.New(job.Config[store.Tx]{Workers: 1, Instance: "A", Logger: log, Watch: st.WatchJobs, InTx: st.InTx})
		busy := make(chan struct{})
		qa.Handle("bench.block", func(ctx context.Context, _ *job.Job) error {
			close(busy)
			<-runCtx.Done()
			return nil
		})
		cfg.Queue, cfg.Instance = qa, "A"
		cfg.OnStart = func(*run.Step) { mu.Lock(); onA++; mu.Unlock() }
		eng = automation.New(cfg) // registers its handler before the queue starts
		if err := qa.Start(runCtx); err != nil {
			return nil, err
		}
		defer func() { stop(); qa.Wait() }()
		err := st.InTx(ctx, func(tx store.Tx) error {
			_, err := qa.Insert(ctx, tx, job.NewJob{Kind: "bench.block", Priority: -1, MaxAttempts: 1})
			return err
		})
		if err != nil {
			return nil, err
		}
		<-busy
		// B: a second instance on the same database, idle.
		stB, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		defer stB.Close()
		engB := automation.New(automation.Config{Store: stB, Playbooks: lib, Exec: &automation.Executors{SQL: targets, DefaultSQL: "db"},
			Logger: log, Workers: 4, Instance: "B", OnStart: record})
		engB.Start(runCtx)
		waitB = engB.Wait
	}
	if eng == nil {
		eng = automation.New(cfg)
	}
	committers := 1
	if engine == "postgres" {
		committers = 4
	}
	in := intake.New(intake.Config{Store: st, Logger: log, AutoResolve: true, Committers: committers,
		OnCommit:    respond.New(respond.Config{Store: st, Hooks: []respond.Hook{eng}, Automation: eng}).Ingested,
		AfterCommit: eng.Poke,
	})
	in.Start()
	defer in.Stop()
	defer func() {
		stop()
		eng.Wait()
		if waitB != nil {
			waitB()
		}
	}()
	eng.Start(runCtx)
	secret, hash := auth.NewSecret(auth.IntegrationPrefix)
	err = st.InTx(ctx, func(tx store.Tx) error {
		return tx.CreateToken(ctx, &auth.Token{Name: "bench", Role: auth.RoleIngest, Source: incident.SourceGeneric, Hash: hash, Prefix: "x", CreatedAt: time.Now()})
	})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{Store: st, Ingester: in, Tokens: auth.NewTokens(st, time.Minute, time.Now),
		Playbooks: lib, Runs: eng, Metrics: httpapi.NewMetrics(st), Logger: log, MaxBodyBytes: 1 << 20}))
	defer srv.Close()

	acked := make(map[int64]time.Time, n)
	send := func(i int) error {
		body, _ := json.Marshal(map[string]any{"name": "FiveChecks", "service": fmt.Sprintf("svc-%d", i)})
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/ingest/generic", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var out struct{ Incidents []int64 }
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		at := time.Now()
		if err != nil || resp.StatusCode != 200 || len(out.Incidents) != 1 {
			return fmt.Errorf("intake answered %d (%v)", resp.StatusCode, err)
		}
		mu.Lock()
		acked[out.Incidents[0]] = at
		mu.Unlock()
		return nil
	}
	// Warm up: connections, prepared statements.
	for i := 0; i < 5; i++ {
		if err := send(-1 - i); err != nil {
			return nil, err
		}
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	clear(acked)
	mu.Unlock()
	if conc == 1 {
		for i := 0; i < n; i++ {
			if err := send(i); err != nil {
				return nil, err
			}
			time.Sleep(5 * time.Millisecond) // idle: let each settle
		}
	} else {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := send(i); err != nil {
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		done := 0
		for id := range acked {
			if _, ok := started[id]; ok {
				done++
			}
		}
		mu.Unlock()
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d incidents had no step started after 60 s", n-done, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var out []time.Duration
	mu.Lock()
	defer mu.Unlock()
	if onA > 0 {
		return nil, fmt.Errorf("busy instance A started %d steps", onA)
	}
	for id, at := range acked {
		// A step may start before the client has read the answer: that
		// counts as no wait at all.
		out = append(out, max(started[id].Sub(at), 0))
	}
	return out, nil
}
