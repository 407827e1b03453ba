package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// runJobs checks the job queue's storage (job.Tx and WatchJobs).
func runJobs(t *testing.T, f Factory, second SecondHandle) {
	t.Run("RollbackLeavesNothing", func(t *testing.T) { testJobRollback(t, f) })
	t.Run("UniqueKey", func(t *testing.T) { testJobUnique(t, f) })
	t.Run("ClaimOrder", func(t *testing.T) { testJobOrder(t, f) })
	t.Run("FutureRunAt", func(t *testing.T) { testJobFuture(t, f) })
	t.Run("Leases", func(t *testing.T) { testJobLeases(t, f) })
	t.Run("ConcurrentClaimers", func(t *testing.T) { testJobClaimers(t, f, second) })
	t.Run("Cancel", func(t *testing.T) { testJobCancel(t, f) })
	t.Run("RetryBookkeeping", func(t *testing.T) { testJobRetry(t, f) })
	t.Run("RoundTripAndCleanup", func(t *testing.T) { testJobRoundTrip(t, f) })
	t.Run("WatchWakesOnCommit", func(t *testing.T) { testJobWatch(t, f) })
}

// jobs is a test bundle for the job cases.
type jobs struct {
	s   store.Store
	ctx context.Context
}

func setupJobs(t *testing.T, f Factory) *jobs {
	t.Helper()
	return &jobs{s: f(t), ctx: context.Background()}
}

func (b *jobs) insert(t *testing.T, now time.Time, n ...job.NewJob) []job.Inserted {
	t.Helper()
	var out []job.Inserted
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.InsertJobs(b.ctx, job.InsertParams{Now: now, Jobs: n})
		return err
	})
	if err != nil {
		t.Fatalf("insert jobs: %v", err)
	}
	if len(out) != len(n) {
		t.Fatalf("insert %d jobs: %d results", len(n), len(out))
	}
	return out
}

func (b *jobs) claim(t *testing.T, now time.Time, kinds ...string) *job.Job {
	t.Helper()
	j, err := claimOn(b.ctx, b.s, "test", now, kinds)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return j
}

func claimOn(ctx context.Context, s store.Store, instance string, now time.Time, kinds []string) (*job.Job, error) {
	var j *job.Job
	err := s.InTx(ctx, func(tx store.Tx) error {
		var err error
		j, err = tx.ClaimJob(ctx, job.ClaimParams{Kinds: kinds, Instance: instance, Now: now, LeaseUntil: now.Add(30 * time.Second)})
		return err
	})
	return j, err
}

func (b *jobs) get(t *testing.T, id int64) *job.Job {
	t.Helper()
	var j *job.Job
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		j, err = tx.GetJob(b.ctx, id)
		return err
	})
	if err != nil {
		t.Fatalf("get job %d: %v", id, err)
	}
	return j
}

// tx runs fn in a transaction and fails the test on an error.
func (b *jobs) tx(t *testing.T, fn func(tx store.Tx) error) {
	t.Helper()
	if err := b.s.InTx(b.ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func (b *jobs) nextRunAt(t *testing.T, kinds ...string) time.Time {
	t.Helper()
	var at time.Time
	b.tx(t, func(tx store.Tx) error {
		var err error
		at, err = tx.NextRunAt(b.ctx, kinds)
		return err
	})
	return at
}

func testJobRollback(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	var id int64
	errRollback := errors.New("roll back")
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		res, err := tx.InsertJobs(b.ctx, job.InsertParams{Now: t0, Jobs: []job.NewJob{{Kind: "notify", Key: "k1"}}})
		if err != nil {
			return err
		}
		id = res[0].ID
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx = %v, want the rollback error", err)
	}
	err = b.s.InTx(b.ctx, func(tx store.Tx) error {
		_, err := tx.GetJob(b.ctx, id)
		return err
	})
	if !errors.Is(err, job.ErrNotFound) {
		t.Errorf("GetJob after rollback = %v, want ErrNotFound", err)
	}
	if j := b.claim(t, t0.Add(time.Hour)); j != nil {
		t.Errorf("claimed job %d after rollback", j.ID)
	}
	if at := b.nextRunAt(t); !at.IsZero() {
		t.Errorf("NextRunAt after rollback = %v, want zero", at)
	}
	// The key was never held: a new job with it is inserted.
	if res := b.insert(t, t0, job.NewJob{Kind: "notify", Key: "k1"}); res[0].Duplicate {
		t.Errorf("insert after rollback: duplicate of %d", res[0].ID)
	}
	// Invalid jobs are refused with the field named.
	err = b.s.InTx(b.ctx, func(tx store.Tx) error {
		_, err := tx.InsertJobs(b.ctx, job.InsertParams{Now: t0, Jobs: []job.NewJob{{Kind: "notify", Payload: []byte("{oops")}}})
		return err
	})
	if err == nil {
		t.Error("a payload that is not JSON was accepted")
	}
}

func testJobUnique(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	key := "notify/incident/1/event/2/slack:#ops"
	first := b.insert(t, t0, job.NewJob{Kind: "notify", Key: key})[0]
	if first.Duplicate || first.ID == 0 {
		t.Fatalf("first insert = %+v", first)
	}
	again := b.insert(t, t0, job.NewJob{Kind: "notify", Key: key}, job.NewJob{Kind: "notify", Key: key + "/2"}, job.NewJob{Kind: "notify", Key: key + "/2"})
	if !again[0].Duplicate || again[0].ID != first.ID {
		t.Errorf("same key again = %+v, want duplicate of %d", again[0], first.ID)
	}
	if again[1].Duplicate || !again[2].Duplicate || again[2].ID != again[1].ID {
		t.Errorf("a key twice in one call = %+v %+v, want the second a duplicate of the first", again[1], again[2])
	}
	// No key: no deduplication.
	nokey := b.insert(t, t0, job.NewJob{Kind: "notify"}, job.NewJob{Kind: "notify"})
	if nokey[0].Duplicate || nokey[1].Duplicate || nokey[0].ID == nokey[1].ID {
		t.Errorf("keyless jobs = %+v, want two new jobs", nokey)
	}
	// A running job still holds its key.
	j := b.claim(t, t0)
	if j == nil || j.ID != first.ID {
		t.Fatalf("claim = %+v, want job %d", j, first.ID)
	}
	if r := b.insert(t, t0, job.NewJob{Kind: "notify", Key: key})[0]; !r.Duplicate || r.ID != first.ID {
		t.Errorf("key of a running job = %+v, want duplicate of %d", r, first.ID)
	}
	// A finished job does not.
	b.tx(t, func(tx store.Tx) error {
		ok, err := tx.FinishJob(b.ctx, job.FinishParams{Claim: j.Claim(), State: job.StateSucceeded, Now: t0})
		if err == nil && !ok {
			err = errors.New("finish: claim did not hold")
		}
		return err
	})
	if r := b.insert(t, t0, job.NewJob{Kind: "notify", Key: key})[0]; r.Duplicate || r.ID == first.ID {
		t.Errorf("key of a finished job = %+v, want a new job", r)
	}
}

func testJobOrder(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	ids := b.insert(t, t0,
		job.NewJob{Kind: "a", Priority: 2, RunAt: t0},                        // 0
		job.NewJob{Kind: "a", Priority: 1, RunAt: t0.Add(2 * time.Second)},   // 1
		job.NewJob{Kind: "a", Priority: 1, RunAt: t0.Add(time.Second)},       // 2
		job.NewJob{Kind: "a", Priority: 1, RunAt: t0.Add(time.Second)},       // 3
		job.NewJob{Kind: "b", Priority: 0, RunAt: t0},                        // 4
		job.NewJob{Kind: "a", Priority: -5, RunAt: t0.Add(10 * time.Second)}, // 5: first, but not due yet
	)
	now := t0.Add(5 * time.Second)
	want := []int{2, 3, 1, 0}
	for _, w := range want {
		j := b.claim(t, now, "a")
		if j == nil || j.ID != ids[w].ID {
			t.Fatalf("claim = %+v, want job %d (input %d)", j, ids[w].ID, w)
		}
	}
	if j := b.claim(t, now, "a"); j != nil {
		t.Fatalf("claimed %d (kind %s) with only kind b due", j.ID, j.Kind)
	}
	if j := b.claim(t, now); j == nil || j.ID != ids[4].ID {
		t.Fatalf("claim of any kind = %+v, want job %d", j, ids[4].ID)
	}
	if j := b.claim(t, t0.Add(10*time.Second)); j == nil || j.ID != ids[5].ID {
		t.Fatalf("claim at its run_at = %+v, want job %d", j, ids[5].ID)
	}
}

func testJobFuture(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	due := t0.Add(15 * time.Minute)
	id := b.insert(t, t0, job.NewJob{Kind: "escalate", RunAt: due})[0].ID
	b.insert(t, t0, job.NewJob{Kind: "other", RunAt: t0.Add(time.Minute)})
	if at := b.nextRunAt(t, "escalate"); !at.Equal(due) {
		t.Errorf("NextRunAt(escalate) = %v, want %v", at, due)
	}
	if at := b.nextRunAt(t); !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextRunAt() = %v, want %v", at, t0.Add(time.Minute))
	}
	if j := b.claim(t, due.Add(-time.Microsecond), "escalate"); j != nil {
		t.Fatalf("claimed job %d a microsecond before its run_at", j.ID)
	}
	j := b.claim(t, due, "escalate")
	if j == nil || j.ID != id {
		t.Fatalf("claim at run_at = %+v, want job %d", j, id)
	}
	if j.State != job.StateRunning || j.Attempts != 1 || j.ClaimedBy != "test" || !j.LeaseUntil.Equal(due.Add(30*time.Second)) {
		t.Errorf("claimed job = %+v", j)
	}
	if at := b.nextRunAt(t, "escalate"); !at.IsZero() {
		t.Errorf("NextRunAt with none pending = %v, want zero", at)
	}
}

func testJobLeases(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	b.insert(t, t0, job.NewJob{Kind: "k"})
	j := b.claim(t, t0) // lease until t0+30s
	stale := func(now time.Time) []*job.Job {
		var out []*job.Job
		b.tx(t, func(tx store.Tx) error {
			var err error
			out, err = tx.StaleJobs(b.ctx, now, 10)
			return err
		})
		return out
	}
	if s := stale(t0.Add(29 * time.Second)); len(s) != 0 {
		t.Fatalf("stale before the lease ends: %d jobs", len(s))
	}
	extend := func(c job.Claim, until time.Time) bool {
		var ok bool
		b.tx(t, func(tx store.Tx) error {
			var err error
			ok, err = tx.ExtendJobLease(b.ctx, c, until)
			return err
		})
		return ok
	}
	if !extend(j.Claim(), t0.Add(60*time.Second)) {
		t.Fatal("extending a held lease reported it lost")
	}
	wrong := j.Claim()
	wrong.Attempt++
	if extend(wrong, t0.Add(time.Hour)) {
		t.Error("a claim of another attempt extended the lease")
	}
	wrong = j.Claim()
	wrong.Instance = "other"
	if extend(wrong, t0.Add(time.Hour)) {
		t.Error("another instance extended the lease")
	}
	if s := stale(t0.Add(45 * time.Second)); len(s) != 0 {
		t.Fatalf("stale before the extended lease ends: %d jobs", len(s))
	}
	s := stale(t0.Add(61 * time.Second))
	if len(s) != 1 || s[0].ID != j.ID || s[0].ClaimedBy != "test" || s[0].Attempts != 1 {
		t.Fatalf("stale after the lease = %+v, want job %d", s, j.ID)
	}
}

// testJobClaimers races claimers, across two handles on one database when
// the engine has them: each job is claimed exactly once.
func testJobClaimers(t *testing.T, f Factory, second SecondHandle) {
	b := setupJobs(t, f)
	stores := []store.Store{b.s}
	if second != nil {
		stores = append(stores, second(t, b.s))
	}
	const n, workers = 200, 8
	batch := make([]job.NewJob, n)
	for i := range batch {
		batch[i] = job.NewJob{Kind: "k", Priority: i % 3}
	}
	b.insert(t, t0, batch...)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		seen   = map[int64]string{}
		errs   = make(chan error, workers)
		double []string
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s, me := stores[w%len(stores)], fmt.Sprintf("w%d", w)
			for {
				j, err := claimOn(b.ctx, s, me, t0, nil)
				if err != nil {
					errs <- err
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				if prev, dup := seen[j.ID]; dup {
					double = append(double, fmt.Sprintf("job %d by %s and %s", j.ID, prev, me))
				}
				seen[j.ID] = me
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(double) > 0 {
		t.Fatalf("claimed twice: %v", double)
	}
	if len(seen) != n {
		t.Fatalf("%d jobs claimed, want %d", len(seen), n)
	}
}

func testJobCancel(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	ids := b.insert(t, t0,
		job.NewJob{Kind: "esc", Key: "esc/incident/1/level/1"},
		job.NewJob{Kind: "esc", Key: "esc/incident/1/level/2", RunAt: t0.Add(15 * time.Minute)},
		job.NewJob{Kind: "esc", Key: "esc/incident/10/level/1"}, // shares "esc/incident/1" as a string prefix
		job.NewJob{Kind: "esc", Key: "esc/incident/2/level/1"},
		job.NewJob{Kind: "esc"},
	)
	running := b.claim(t, t0) // ids[0]
	if running == nil || running.ID != ids[0].ID {
		t.Fatalf("claim = %+v, want job %d", running, ids[0].ID)
	}
	var n int
	b.tx(t, func(tx store.Tx) error {
		var err error
		n, err = tx.CancelJobs(b.ctx, job.CancelParams{KeyPrefix: "esc/incident/1/", IDs: []int64{ids[4].ID}, Now: t0})
		return err
	})
	if n != 3 {
		t.Errorf("cancelled %d jobs, want 3 (a running and a pending one by prefix, one by id)", n)
	}
	for i, want := range []job.State{job.StateCancelled, job.StateCancelled, job.StatePending, job.StatePending, job.StateCancelled} {
		j := b.get(t, ids[i].ID)
		if j.State != want {
			t.Errorf("job %d (%s): state %s, want %s", j.ID, j.Key, j.State, want)
		}
		if want == job.StateCancelled && (!j.FinishedAt.Equal(t0) || j.ClaimedBy != "") {
			t.Errorf("cancelled job %d: finished_at %v, claimed_by %q", j.ID, j.FinishedAt, j.ClaimedBy)
		}
	}
	// The running job's claim is void: its runner records nothing.
	b.tx(t, func(tx store.Tx) error {
		if ok, err := tx.ExtendJobLease(b.ctx, running.Claim(), t0.Add(time.Hour)); err != nil || ok {
			return fmt.Errorf("extend a cancelled job's lease = %v, %v; want false", ok, err)
		}
		if ok, err := tx.FinishJob(b.ctx, job.FinishParams{Claim: running.Claim(), State: job.StateSucceeded, Now: t0}); err != nil || ok {
			return fmt.Errorf("finish a cancelled job = %v, %v; want false", ok, err)
		}
		return nil
	})
	if j := b.get(t, ids[0].ID); j.State != job.StateCancelled {
		t.Errorf("cancelled job became %s", j.State)
	}
	// Cancelling again finds nothing; the keys are free.
	b.tx(t, func(tx store.Tx) error {
		var err error
		n, err = tx.CancelJobs(b.ctx, job.CancelParams{KeyPrefix: "esc/incident/1/", Now: t0})
		return err
	})
	if n != 0 {
		t.Errorf("second cancel: %d jobs", n)
	}
	if r := b.insert(t, t0, job.NewJob{Kind: "esc", Key: "esc/incident/1/level/1"})[0]; r.Duplicate {
		t.Errorf("key of a cancelled job: duplicate of %d", r.ID)
	}
}

func testJobRetry(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	id := b.insert(t, t0, job.NewJob{Kind: "notify", MaxAttempts: 2})[0].ID
	j := b.claim(t, t0)
	if j.Attempts != 1 || j.MaxAttempts != 2 {
		t.Fatalf("first claim: attempts %d/%d", j.Attempts, j.MaxAttempts)
	}
	retryAt := t0.Add(10 * time.Second)
	b.tx(t, func(tx store.Tx) error {
		ok, err := tx.RetryJob(b.ctx, job.RetryParams{Claim: j.Claim(), RunAt: retryAt, Error: "502 from slack", Now: t0.Add(time.Second)})
		if err == nil && !ok {
			err = errors.New("retry: claim did not hold")
		}
		return err
	})
	got := b.get(t, id)
	if got.State != job.StatePending || got.Attempts != 1 || got.LastError != "502 from slack" || !got.RunAt.Equal(retryAt) ||
		got.ClaimedBy != "" || !got.LeaseUntil.IsZero() || !got.UpdatedAt.Equal(t0.Add(time.Second)) || !got.FinishedAt.IsZero() {
		t.Errorf("after retry: %+v", got)
	}
	// The old claim is spent.
	b.tx(t, func(tx store.Tx) error {
		if ok, err := tx.RetryJob(b.ctx, job.RetryParams{Claim: j.Claim(), RunAt: t0, Now: t0}); err != nil || ok {
			return fmt.Errorf("retry under a spent claim = %v, %v; want false", ok, err)
		}
		return nil
	})
	if c := b.claim(t, retryAt.Add(-time.Second)); c != nil {
		t.Fatalf("claimed job %d before its retry time", c.ID)
	}
	j = b.claim(t, retryAt)
	if j == nil || j.Attempts != 2 {
		t.Fatalf("second claim = %+v, want attempt 2", j)
	}
	done := retryAt.Add(time.Second)
	b.tx(t, func(tx store.Tx) error {
		ok, err := tx.FinishJob(b.ctx, job.FinishParams{Claim: j.Claim(), State: job.StateFailed, Error: "502 again", Now: done})
		if err == nil && !ok {
			err = errors.New("finish: claim did not hold")
		}
		if err != nil {
			return err
		}
		if ok, err := tx.FinishJob(b.ctx, job.FinishParams{Claim: j.Claim(), State: job.StateSucceeded, Now: done}); err != nil || ok {
			return fmt.Errorf("finish twice = %v, %v; want false", ok, err)
		}
		return nil
	})
	got = b.get(t, id)
	if got.State != job.StateFailed || got.Attempts != 2 || got.LastError != "502 again" || !got.FinishedAt.Equal(done) {
		t.Errorf("after final failure: %+v", got)
	}
	if c := b.claim(t, done.Add(time.Hour)); c != nil {
		t.Errorf("claimed failed job %d", c.ID)
	}
}

func testJobRoundTrip(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	payload := json.RawMessage(`{"incident":42,"target":"slack:#ops","text":"nul \u0000 and é"}`)
	key := "notify/42/\x00/é"
	id := b.insert(t, t0, job.NewJob{Kind: "notify", Key: key, Payload: payload, Priority: 3, MaxAttempts: 4})[0].ID
	j := b.get(t, id)
	var a, c any
	if err := json.Unmarshal(j.Payload, &a); err != nil {
		t.Fatalf("payload %q: %v", j.Payload, err)
	}
	json.Unmarshal(payload, &c)
	if fmt.Sprint(a) != fmt.Sprint(c) || j.Key != key || j.Kind != "notify" || j.Priority != 3 || j.MaxAttempts != 4 ||
		j.State != job.StatePending || !j.RunAt.Equal(t0) || !j.CreatedAt.Equal(t0) || j.Attempts != 0 {
		t.Errorf("round trip: %+v", j)
	}
	if r := b.insert(t, t0, job.NewJob{Kind: "notify", Key: key})[0]; !r.Duplicate || r.ID != id {
		t.Errorf("same odd key = %+v, want duplicate of %d", r, id)
	}
	// Defaults: RunAt now, DefaultMaxAttempts, no payload.
	d := b.get(t, b.insert(t, t0.Add(time.Minute), job.NewJob{Kind: "plain"})[0].ID)
	if !d.RunAt.Equal(t0.Add(time.Minute)) || d.MaxAttempts != job.DefaultMaxAttempts || d.Payload != nil {
		t.Errorf("defaults: %+v", d)
	}
	// An error text is kept verbatim.
	cl := b.claim(t, t0.Add(time.Minute), "notify")
	b.tx(t, func(tx store.Tx) error {
		_, err := tx.FinishJob(b.ctx, job.FinishParams{Claim: cl.Claim(), State: job.StateFailed, Error: "bad \x00 byte", Now: t0.Add(time.Minute)})
		return err
	})
	if e := b.get(t, id).LastError; e != "bad \x00 byte" {
		t.Errorf("last_error = %q", e)
	}
	// Cleanup deletes finished jobs older than the horizon only.
	var n int
	b.tx(t, func(tx store.Tx) error {
		var err error
		if n, err = tx.DeleteFinishedJobs(b.ctx, t0.Add(time.Minute), 10); err != nil || n != 0 {
			return fmt.Errorf("delete before it finished = %d, %v", n, err)
		}
		n, err = tx.DeleteFinishedJobs(b.ctx, t0.Add(2*time.Minute), 10)
		return err
	})
	if n != 1 {
		t.Errorf("deleted %d finished jobs, want 1", n)
	}
	b.tx(t, func(tx store.Tx) error {
		if _, err := tx.GetJob(b.ctx, id); !errors.Is(err, job.ErrNotFound) {
			return fmt.Errorf("deleted job: %v", err)
		}
		_, err := tx.GetJob(b.ctx, d.ID)
		return err
	})
}

// testJobWatch checks that a commit that inserts jobs wakes a watcher.
func testJobWatch(t *testing.T, f Factory) {
	b := setupJobs(t, f)
	ctx, cancel := context.WithCancel(b.ctx)
	woken := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- b.s.WatchJobs(ctx, func() {
			select {
			case woken <- struct{}{}:
			default:
			}
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatalf("no wake-up %s", what)
		}
	}
	wait("when watching starts")
	if b.s.Engine() == "sqlite" {
		// Only this process writes: nothing else can wake it. (On
		// PostgreSQL, tests in other schemas of the database may.)
		b.s.InTx(b.ctx, func(tx store.Tx) error {
			tx.InsertJobs(b.ctx, job.InsertParams{Now: t0, Jobs: []job.NewJob{{Kind: "k"}}})
			return errors.New("roll back")
		})
		b.tx(t, func(tx store.Tx) error { return nil })
		select {
		case <-woken:
			t.Error("woken by a transaction that rolled back or inserted nothing")
		case <-time.After(50 * time.Millisecond):
		}
	}
	b.insert(t, t0, job.NewJob{Kind: "k"})
	wait("after a commit that inserted a job")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WatchJobs returned %v after ctx ended, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchJobs did not return after ctx ended")
	}
}
