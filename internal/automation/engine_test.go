package automation_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/automation"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/pgtest"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/postgres"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

func TestDiff(t *testing.T) {
	got := automation.Diff("a\nb\nc", "a\nx\nc\nd")
	want := "  a\n- b\n+ x\n  c\n+ d"
	if got != want {
		t.Fatalf("diff =\n%s\nwant\n%s", got, want)
	}
}

func TestRecoveryReadsWait(t *testing.T) {
	doc := "## Alert Response Procedures\n\n### 🟡 WARNING: Disk Full\n\n**Investigation:**\n1. **Usage:**\n   ```sql\n   SELECT 1 AS used;\n   ```\n\n" +
		"**Recovery:**\n1. **Check space again:**\n   ```sql\n   SELECT 2 AS used;\n   ```\n\n2. **Check at once:**\n   ```sql {\"auto\":true}\n   SELECT 3 AS used;\n   ```\n"
	pb, err := playbook.Parse("disk.md", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	m := &playbook.Match{Playbook: pb, Procedure: pb.Procedures[0]}
	_, steps := automation.Plan(1, m, automation.PlanOptions{Now: time.Now(), ApprovalTTL: time.Hour, DefaultTimeout: time.Second})
	want := map[string]bool{"investigation/1": true, "recovery/1": false, "recovery/2": true}
	for _, s := range steps {
		if s.Queued != want[s.TaskKey] || s.Status != run.StatusPending {
			t.Errorf("%s: %s queued=%v, want queued=%v", s.TaskKey, s.Status, s.Queued, want[s.TaskKey])
		}
	}
}

func TestPlanReference(t *testing.T) {
	lib, err := playbook.NewLibrary(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		alert  map[string]string
		task   string
		status run.Status
		queued bool
	}{
		{map[string]string{"alertname": "HighQueueDepth"}, "immediate-actions/1", run.StatusAwaitingApproval, false}, // scale
		{map[string]string{"alertname": "HighQueueDepth"}, "immediate-actions/3", run.StatusPending, true},           // stuck jobs
		{map[string]string{"alertname": "HighQueueDepth"}, "assessment/1", run.StatusPending, false},                 // checklist
		{map[string]string{"alertname": "HighDatabaseCPU"}, "investigation/1", run.StatusAwaitingApproval, false},    // EXPLAIN ANALYZE template
		{map[string]string{"alertname": "HighLicenseUsage"}, "investigation/1", run.StatusNeedsInput, false},         // $license_id missing
		{map[string]string{"alertname": "HighLicenseUsage", "license_id": "7"}, "investigation/1", run.StatusPending, true},
		{map[string]string{"alertname": "ServiceDown"}, "immediate-actions/1", run.StatusNeedsInput, false}, // <failed-pod>
		{map[string]string{"alertname": "ServiceDown", "pod": "tp-1"}, "immediate-actions/1", run.StatusPending, true},
	}
	for _, c := range cases {
		m, ok := lib.Match(c.alert)
		if !ok {
			t.Fatalf("%v matched nothing", c.alert)
		}
		_, steps := automation.Plan(1, m, automation.PlanOptions{Now: time.Now(), Labels: c.alert, ApprovalTTL: time.Hour, DefaultTimeout: time.Second})
		var s *run.Step
		for _, st := range steps {
			if st.TaskKey == c.task {
				s = st
			}
		}
		if s == nil || s.Status != c.status || s.Queued != c.queued {
			t.Errorf("%v %s = %+v, want %s queued=%v", c.alert, c.task, s, c.status, c.queued)
		}
	}
}

// counter wraps the real executors and counts how often each step runs.
type counter struct {
	*automation.Executors
	mu   *sync.Mutex
	runs map[int64]int
	mine int // steps this counter's instance ran
}

func newCounter(x *automation.Executors) *counter {
	return &counter{Executors: x, mu: new(sync.Mutex), runs: map[int64]int{}}
}

// twin shares the step counts but counts its own instance's runs apart.
func (c *counter) twin() *counter { return &counter{Executors: c.Executors, mu: c.mu, runs: c.runs} }

func (c *counter) Exec(ctx context.Context, s *run.Step, onProc func(run.Proc)) (*run.Result, bool, error) {
	c.mu.Lock()
	c.runs[s.ID]++
	c.mine++
	c.mu.Unlock()
	return c.Executors.Exec(ctx, s, onProc)
}

func TestTwoInstancesRunEachStepOnce(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	targets, err := sqlexec.NewTargets([]sqlexec.Target{{Name: "db", DSN: dsn}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer targets.Close()
	lib, err := playbook.NewLibrary(nil, "testdata/five.md")
	if err != nil {
		t.Fatal(err)
	}
	cnt := newCounter(&automation.Executors{SQL: targets, DefaultSQL: "db"})
	cntB := cnt.twin()
	engines := []*automation.Engine{
		automation.New(automation.Config{Store: a, Playbooks: lib, Exec: cnt, Instance: "a", Workers: 4, Sweep: 20 * time.Millisecond}),
		automation.New(automation.Config{Store: b, Playbooks: lib, Exec: cntB, Instance: "b", Workers: 4, Sweep: 20 * time.Millisecond}),
	}
	runCtx, stop := context.WithCancel(ctx)
	for _, e := range engines {
		e.Start(runCtx)
	}
	const incidents = 50
	var wg sync.WaitGroup
	for i := 0; i < incidents; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, e := []*postgres.DB{a, b}[i%2], engines[i%2]
			ev := incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: fmt.Sprint(i), Severity: incident.SeverityWarning,
				Labels: map[string]string{"alertname": "FiveChecks", "service": fmt.Sprintf("svc-%d", i)}}
			err := st.InTx(ctx, func(tx store.Tx) error {
				batch, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: time.Now()})
				if err != nil {
					return err
				}
				return e.OnChange(ctx, tx, &respond.Change{Opened: batch.Opened, FirstAlerts: map[int64]*incident.Event{batch.Opened[0].ID: &ev}})
			})
			if err != nil {
				t.Error(err)
				return
			}
			e.Poke()
		}(i)
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	var steps []run.Step
	for {
		steps = steps[:0]
		done := 0
		for id := int64(1); id <= incidents; id++ {
			ss, err := a.StepsOfIncident(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if s.Status.Final() {
					done++
				}
			}
			steps = append(steps, ss...)
		}
		if done == incidents*5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	for _, e := range engines {
		e.Wait()
	}
	if len(steps) != incidents*5 {
		t.Fatalf("%d steps, want %d", len(steps), incidents*5)
	}
	for _, s := range steps {
		if s.Status != run.StatusSucceeded || s.Attempts != 1 || s.Result == nil || len(s.Result.Rows) != 1 {
			t.Errorf("step %d: %s after %d attempts (%s)", s.ID, s.Status, s.Attempts, s.Error)
		}
		if n := cnt.runs[s.ID]; n != 1 {
			t.Errorf("step %d ran %d times", s.ID, n)
		}
	}
	if len(cnt.runs) != incidents*5 {
		t.Fatalf("%d distinct steps executed, want %d", len(cnt.runs), incidents*5)
	}
	// Both instances took work, or the test proves nothing about two.
	if cnt.mine == 0 || cntB.mine == 0 || cnt.mine+cntB.mine != incidents*5 {
		t.Fatalf("instance a ran %d steps, b %d: want both > 0, %d in all", cnt.mine, cntB.mine, incidents*5)
	}
}

// TestInterruptedWriteIsNotRerun claims a write step as an instance that
// then vanishes: after its lease runs out the step is interrupted, never
// run again, while a read step in the same state is retried.
func TestInterruptedWriteIsNotRerun(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t, engine)
			lib, err := playbook.NewLibrary(nil)
			if err != nil {
				t.Fatal(err)
			}
			clock := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
			now := func() time.Time { return clock }
			cnt := newCounter(&automation.Executors{})
			e := automation.New(automation.Config{Store: st, Playbooks: lib, Exec: cnt, Now: now, Instance: "survivor", Logger: slog.New(slog.DiscardHandler)})
			ev := incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: "x", Severity: incident.SeverityCritical,
				Labels: map[string]string{"alertname": "HighQueueDepth", "service": "job-worker"}}
			err = st.InTx(ctx, func(tx store.Tx) error {
				batch, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: now()})
				if err != nil {
					return err
				}
				return e.OnChange(ctx, tx, &respond.Change{Opened: batch.Opened, FirstAlerts: map[int64]*incident.Event{batch.Opened[0].ID: &ev}})
			})
			if err != nil {
				t.Fatal(err)
			}
			// A dead instance claimed everything queued, and a write step too.
			steps, _ := st.StepsOfIncident(ctx, 1)
			err = st.InTx(ctx, func(tx store.Tx) error {
				for _, s := range steps {
					if s.TaskKey == "immediate-actions/1" || s.TaskKey == "immediate-actions/3" {
						cur, err := tx.LockStep(ctx, s.ID)
						if err != nil {
							return err
						}
						cur.Status, cur.ClaimedBy, cur.LeaseUntil, cur.Attempts, cur.Queued = run.StatusRunning, "dead", clock.Add(30*time.Second), 1, false
						cur.MaxAttempts = 2 // a read may be tried twice; a write never is
						if err := tx.UpdateSteps(ctx, []*run.Step{cur}); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(10 * time.Second)
			if err := e.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if s := stepOf(t, st, "immediate-actions/1"); s.Status != run.StatusRunning {
				t.Fatalf("before the lease ran out the step is %s", s.Status)
			}
			clock = clock.Add(time.Minute)
			if err := e.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			w := stepOf(t, st, "immediate-actions/1")
			if w.Status != run.StatusInterrupted || !strings.Contains(w.Reason, "not re-run") {
				t.Fatalf("write step after its runner vanished: %s %q", w.Status, w.Reason)
			}
			r := stepOf(t, st, "immediate-actions/3")
			if r.Status != run.StatusPending || !r.Queued {
				t.Fatalf("read step after its runner vanished: %s queued=%v", r.Status, r.Queued)
			}
			if cnt.runs[w.ID] != 0 {
				t.Fatalf("the interrupted write ran %d times", cnt.runs[w.ID])
			}
		})
	}
}

func stepOf(t *testing.T, st run.Reader, key string) run.Step {
	t.Helper()
	steps, err := st.StepsOfIncident(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.TaskKey == key {
			return s
		}
	}
	t.Fatalf("no step %s", key)
	return run.Step{}
}

// Step texts survive storage byte for byte on both engines, NUL included
// (a shell step's error may hold one; PostgreSQL text cannot).
func TestStepTextsRoundTrip(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t, engine)
			lib, _ := playbook.NewLibrary(nil)
			e := automation.New(automation.Config{Store: st, Playbooks: lib, Exec: &automation.Executors{}})
			ev := incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: "k", Severity: incident.SeverityWarning,
				Labels: map[string]string{"alertname": "ServiceDown", "service": "api"}}
			err := st.InTx(ctx, func(tx store.Tx) error {
				b, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: time.Now()})
				if err != nil {
					return err
				}
				return e.OnChange(ctx, tx, &respond.Change{Opened: b.Opened, FirstAlerts: map[int64]*incident.Event{b.Opened[0].ID: &ev}})
			})
			if err != nil {
				t.Fatal(err)
			}
			odd := "a\x00b\x01c 'quote' ðŸ”´"
			err = st.InTx(ctx, func(tx store.Tx) error {
				s, err := tx.LockStep(ctx, 1)
				if err != nil {
					return err
				}
				s.Error, s.Reason, s.Actor = odd, odd, odd
				s.Result = &run.Result{Output: odd, Columns: []string{"x"}, Rows: [][]any{{odd}}}
				return tx.UpdateSteps(ctx, []*run.Step{s})
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.GetStep(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Error != odd || got.Reason != odd || got.Actor != odd || got.Result.Output != odd || got.Result.Rows[0][0] != odd {
				t.Fatalf("stored %q, read back %q / %q / %q / %+v", odd, got.Error, got.Reason, got.Actor, got.Result)
			}
		})
	}
}

// runStore is a store that holds incidents and runs.
type runStore = store.Store

// openStore opens a fresh, migrated store of the named engine for the test.
func openStore(t *testing.T, engine string) runStore {
	t.Helper()
	ctx := context.Background()
	var st runStore
	if engine == "sqlite" {
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
		if err != nil {
			t.Fatal(err)
		}
		st = db
	} else {
		db, err := postgres.Open(ctx, pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		st = db
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}
