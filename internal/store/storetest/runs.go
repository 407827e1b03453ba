package storetest

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// runRuns is the conformance suite of the run and step tables.
func runRuns(t *testing.T, f Factory, second SecondHandle) {
	t.Run("StepRoundTrip", func(t *testing.T) { testStepRoundTrip(t, f) })
	t.Run("ClaimOrderAndState", func(t *testing.T) { testClaimOrder(t, f) })
	t.Run("StaleAndExpired", func(t *testing.T) { testStaleAndExpired(t, f) })
	t.Run("ClaimsNeverOverlap", func(t *testing.T) { testClaimsNeverOverlap(t, f, second) })
}

// newRun opens an incident and inserts a run with steps on it.
func (b *bundle) newRun(t *testing.T, fp string, steps ...*run.Step) (*run.Run, []*run.Step) {
	t.Helper()
	res := b.apply(t, am("Probe", "svc-"+fp, fp))
	r := &run.Run{IncidentID: res[0].IncidentID, PlaybookID: "pb", PlaybookHash: "abc", ProcedureKey: "probe",
		ProcedureTitle: "Probe", MatchReason: "alertname", TwoPerson: true, CreatedAt: t0}
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		if err := tx.InsertRun(b.ctx, r); err != nil {
			return err
		}
		for i, s := range steps {
			s.RunID, s.IncidentID, s.Position = r.ID, r.IncidentID, i+1
			if s.CreatedAt.IsZero() {
				s.CreatedAt, s.UpdatedAt = t0, t0
			}
		}
		return tx.InsertSteps(b.ctx, steps)
	})
	if err != nil {
		t.Fatalf("insert run: %v", err)
	}
	return r, steps
}

func queued(key string) *run.Step {
	return &run.Step{TaskKey: key, Section: "Investigation", Name: key, Kind: run.KindStep, Executor: run.ExecSQL,
		Risk: run.RiskRead, Status: run.StatusPending, Queued: true, Auto: true, Language: "sql", Text: "SELECT 1", MaxAttempts: 2}
}

// Every field of a step survives the store, NULs and all.
func testStepRoundTrip(t *testing.T, f Factory) {
	b := setup(t, f)
	v := "10.1.2.3"
	one := 1
	s := &run.Step{TaskKey: "immediate-actions/2", Section: "Immediate Actions", Name: "Block\x00 it", Kind: run.KindStep,
		Executor: run.ExecShell, Risk: run.RiskWrite, Status: run.StatusAwaitingApproval, Reason: "write step: waits",
		Language: "bash", Text: "iptables -A INPUT -s \"$FB_PARAM_IP\" -j DROP", Edited: true, Target: "host", Namespace: "ns",
		Params: []run.Param{{Name: "IP", Type: run.TypeIP, Value: &v, From: "label:ip", Interpreted: true,
			Sources: []run.Source{{Kind: run.SourceLabel, Names: []string{"ip"}}}, Choices: []string{"10.1.2.3"}}},
		NeedsEditing: "", Approvals: []run.Approval{{Actor: "alice", At: t0, Digest: "d1"}}, Approvers: 2, ApproversRule: 2,
		ExpiresAt: t0.Add(30 * time.Minute), Attempts: 1, MaxAttempts: 1, Timeout: 30 * time.Second,
		Result: &run.Result{Output: "done", ExitCode: &one, Before: "a", After: "b", Duration: "1s"}, Error: "e", Actor: "alice",
		Proc: &run.Proc{Host: "h", BootID: "b", PGID: 4242, Dir: "/tmp/firebreak-step-1"}, Parsed: json.RawMessage(`{"step":{}}`),
		CreatedAt: t0, UpdatedAt: t0, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
	r, _ := b.newRun(t, "rt", s)
	got, err := b.s.GetStep(b.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("step after the store:\n%+v\nwant\n%+v", got, s)
	}
	runs, err := b.s.RunsOfIncident(b.ctx, r.IncidentID)
	if err != nil || len(runs) != 1 || !reflect.DeepEqual(runs[0], *r) {
		t.Fatalf("runs = %+v, %v; want %+v", runs, err, *r)
	}
	// An update changes every field the same way.
	got.Status, got.Approvals, got.Proc, got.Parsed = run.StatusCancelled, nil, nil, nil
	if err := b.s.InTx(b.ctx, func(tx store.Tx) error { return tx.UpdateSteps(b.ctx, []*run.Step{got}) }); err != nil {
		t.Fatal(err)
	}
	again, err := b.s.GetStep(b.ctx, s.ID)
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("after update:\n%+v\nwant\n%+v (%v)", again, got, err)
	}
}

// Queued steps list earliest position first; a claim takes a queued
// pending step once, marks it running with a lease and counts the attempt.
func testClaimOrder(t *testing.T, f Factory) {
	b := setup(t, f)
	waiting := queued("waiting")
	waiting.Status, waiting.Queued = run.StatusAwaitingApproval, false
	b.newRun(t, "a", queued("a1"), waiting, queued("a3"))
	b.newRun(t, "b", queued("b1"))
	var list []*run.Step
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		list, err = tx.QueuedSteps(b.ctx, 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range list {
		order = append(order, s.TaskKey)
	}
	// Each run's first step before any run's third.
	if want := []string{"a1", "b1", "a3"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("queued order = %v, want %v", order, want)
	}
	claim := func(id int64) *run.Step {
		var s *run.Step
		err := b.s.InTx(b.ctx, func(tx store.Tx) error {
			var err error
			s, err = tx.ClaimStep(b.ctx, id, "me", t0, t0.Add(time.Minute))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, q := range list {
		s := claim(q.ID)
		if s == nil || s.Status != run.StatusRunning || s.ClaimedBy != "me" || !s.LeaseUntil.Equal(t0.Add(time.Minute)) || s.Attempts != 1 {
			t.Fatalf("claimed %+v", s)
		}
		if again := claim(q.ID); again != nil {
			t.Fatalf("step %d claimed twice", q.ID)
		}
	}
	if s := claim(list[0].ID + 1); s != nil && s.TaskKey == "waiting" {
		t.Fatal("a step awaiting approval was claimed")
	}
	err = b.s.InTx(b.ctx, func(tx store.Tx) error {
		left, err := tx.QueuedSteps(b.ctx, 10)
		if err == nil && len(left) != 0 {
			t.Errorf("%d steps still queued after claiming all", len(left))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testStaleAndExpired(t *testing.T, f Factory) {
	b := setup(t, f)
	expiring := queued("expiring")
	expiring.Status, expiring.Queued, expiring.ExpiresAt = run.StatusAwaitingApproval, false, t0.Add(time.Minute)
	_, steps := b.newRun(t, "s", queued("runs"), expiring)
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		_, err := tx.ClaimStep(b.ctx, steps[0].ID, "me", t0, t0.Add(time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = b.s.InTx(b.ctx, func(tx store.Tx) error {
		if stale, err := tx.StaleSteps(b.ctx, t0.Add(30*time.Second), 10); err != nil || len(stale) != 0 {
			t.Errorf("stale before the lease ends: %d, %v", len(stale), err)
		}
		if err := tx.ExtendLease(b.ctx, steps[0].ID, "me", t0.Add(2*time.Minute)); err != nil {
			return err
		}
		stale, err := tx.StaleSteps(b.ctx, t0.Add(90*time.Second), 10)
		if err != nil || len(stale) != 0 {
			t.Errorf("stale after the lease was extended: %d, %v", len(stale), err)
		}
		stale, err = tx.StaleSteps(b.ctx, t0.Add(3*time.Minute), 10)
		if err != nil || len(stale) != 1 || stale[0].ID != steps[0].ID {
			t.Errorf("stale after the lease ended: %+v, %v", stale, err)
		}
		exp, err := tx.ExpiredApprovals(b.ctx, t0.Add(2*time.Minute), 10)
		if err != nil || len(exp) != 1 || exp[0].ID != steps[1].ID {
			t.Errorf("expired approvals: %+v, %v", exp, err)
		}
		open, err := tx.OpenSteps(b.ctx, steps[0].IncidentID)
		if err != nil || len(open) != 1 || open[0].ID != steps[1].ID {
			t.Errorf("open steps (waiting, not running): %+v, %v", open, err)
		}
		if err := tx.SetSetting(b.ctx, "k", "v1"); err != nil {
			return err
		}
		if err := tx.SetSetting(b.ctx, "k", "v2"); err != nil {
			return err
		}
		v, err := tx.GetSetting(b.ctx, "k")
		if err != nil || v != "v2" {
			t.Errorf("setting = %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Concurrent claimers, on one handle or two on the same database, never
// take the same step.
func testClaimsNeverOverlap(t *testing.T, f Factory, second SecondHandle) {
	b := setup(t, f)
	handles := []store.Store{b.s}
	if second != nil {
		if s2 := second(t, b.s); s2 != nil {
			handles = append(handles, s2)
		}
	}
	const n = 40
	var ids []int64
	for i := range n {
		_, steps := b.newRun(t, "c"+string(rune('a'+i%26))+string(rune('a'+i/26)), queued("only"))
		ids = append(ids, steps[0].ID)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := handles[w%len(handles)]
			// Every worker tries every step, as racing job handlers would.
			for _, id := range ids {
				var s *run.Step
				err := st.InTx(b.ctx, func(tx store.Tx) error {
					var err error
					s, err = tx.ClaimStep(b.ctx, id, "w", t0, t0.Add(time.Minute))
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				if s != nil {
					mu.Lock()
					seen[s.ID]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d steps claimed, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("step %d claimed %d times", id, c)
		}
	}
}
