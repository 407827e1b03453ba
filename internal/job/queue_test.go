package job_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// inTx adapts a store to Config.InTx, as the app does.
func inTx(s store.Store) func(context.Context, func(job.Tx) error) error {
	return func(ctx context.Context, fn func(job.Tx) error) error {
		return s.InTx(ctx, func(tx store.Tx) error { return fn(tx) })
	}
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "firebreak.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

type bundle struct {
	s     store.Store
	clock *clock
	q     *job.Queue[job.Tx]
	ctx   context.Context
}

// setup returns a Queue on a fresh SQLite store with a fake clock at t0;
// edit adjusts its Config.
func setup(t *testing.T, edit func(*job.Config[job.Tx])) *bundle {
	t.Helper()
	s := openSQLite(t)
	return setupOn(t, s, edit)
}

func setupOn(t *testing.T, s store.Store, edit func(*job.Config[job.Tx])) *bundle {
	t.Helper()
	c := &clock{t: t0}
	cfg := job.Config[job.Tx]{InTx: inTx(s), Watch: s.WatchJobs, Now: c.Now, Instance: "test",
		MinBackoff: time.Second, MaxBackoff: time.Minute}
	if edit != nil {
		edit(&cfg)
	}
	return &bundle{s: s, clock: c, q: job.New(cfg), ctx: context.Background()}
}

func (b *bundle) insert(t *testing.T, jobs ...job.NewJob) []job.Inserted {
	t.Helper()
	var out []job.Inserted
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		out, err = b.q.Insert(b.ctx, tx, jobs...)
		return err
	})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	return out
}

func (b *bundle) get(t *testing.T, id int64) *job.Job {
	t.Helper()
	var j *job.Job
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		j, err = tx.GetJob(b.ctx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (b *bundle) runDue(t *testing.T) int {
	t.Helper()
	n, err := b.q.RunDue(b.ctx)
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	return n
}

// start runs the queue until the test ends.
func (b *bundle) start(t *testing.T) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(b.ctx)
	if err := b.q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); b.q.Wait() })
	return cancel
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHandlerRunsOncePerJob(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *job.Config[job.Tx]) { c.Workers = 3 })
	// A second Queue on the same store, as a second worker pool would be.
	second := job.New(job.Config[job.Tx]{InTx: inTx(b.s), Watch: b.s.WatchJobs, Now: b.clock.Now, Instance: "second", Workers: 2})
	var mu sync.Mutex
	runs := map[int64]int{}
	var total atomic.Int32
	h := func(ctx context.Context, j *job.Job) error {
		mu.Lock()
		runs[j.ID]++
		mu.Unlock()
		total.Add(1)
		return nil
	}
	b.q.Handle("notify", h)
	second.Handle("notify", h)
	b.start(t)
	ctx, cancel := context.WithCancel(b.ctx)
	second.Start(ctx)
	t.Cleanup(func() { cancel(); second.Wait() })

	var ids []int64
	for i := range 60 {
		// Every third insert repeats the key of the one before it.
		res := b.insert(t, job.NewJob{Kind: "notify", Key: fmt.Sprintf("incident/1/event/%d", i-i%3/2)})
		if !res[0].Duplicate {
			ids = append(ids, res[0].ID)
		}
	}
	waitFor(t, "every job to run", 10*time.Second, func() bool { return int(total.Load()) >= len(ids) })
	time.Sleep(50 * time.Millisecond) // room for a second run, were there one
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if runs[id] != 1 {
			t.Errorf("job %d ran %d times", id, runs[id])
		}
	}
	if len(runs) != len(ids) {
		t.Errorf("%d jobs ran, want %d", len(runs), len(ids))
	}
	for _, id := range ids {
		waitFor(t, "outcomes recorded", 5*time.Second, func() bool { return b.get(t, id).State == job.StateSucceeded })
	}
}

func TestRetriesBackOff(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var calls atomic.Int32
	b.q.Handle("notify", func(ctx context.Context, j *job.Job) error {
		if calls.Add(1) <= 3 {
			return errors.New("slack answered 502")
		}
		return nil
	})
	id := b.insert(t, job.NewJob{Kind: "notify", MaxAttempts: 5})[0].ID
	// Attempt n fails and is retried after 1s·2^(n-1), less up to a quarter.
	for attempt, base := 1, time.Second; attempt <= 3; attempt, base = attempt+1, base*2 {
		if n := b.runDue(t); n != 1 {
			t.Fatalf("attempt %d: RunDue ran %d jobs", attempt, n)
		}
		j := b.get(t, id)
		now := b.clock.Now()
		if j.State != job.StatePending || j.Attempts != attempt || j.LastError != "slack answered 502" {
			t.Fatalf("after attempt %d: %+v", attempt, j)
		}
		if d := j.RunAt.Sub(now); d < base*3/4 || d > base {
			t.Fatalf("after attempt %d: retry in %v, want %v less up to a quarter", attempt, d, base)
		}
		if n := b.runDue(t); n != 0 {
			t.Fatalf("ran %d jobs before the backoff passed", n)
		}
		b.clock.Advance(j.RunAt.Sub(now))
	}
	if n := b.runDue(t); n != 1 {
		t.Fatalf("fourth attempt: RunDue ran %d jobs", n)
	}
	if j := b.get(t, id); j.State != job.StateSucceeded || j.Attempts != 4 || !j.FinishedAt.Equal(b.clock.Now()) {
		t.Fatalf("after success: %+v", j)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	q := job.New(job.Config[job.Tx]{MinBackoff: time.Second, MaxBackoff: time.Minute})
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 750 * time.Millisecond, time.Second},
		{2, 1500 * time.Millisecond, 2 * time.Second},
		{6, 24 * time.Second, 32 * time.Second},
		{7, 45 * time.Second, time.Minute},
		{100, 45 * time.Second, time.Minute},
	} {
		for range 50 {
			if d := q.Backoff(tc.attempt); d < tc.min || d > tc.max {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.min, tc.max)
			}
		}
	}
}

func TestLastAttemptFails(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.q.Handle("notify", func(ctx context.Context, j *job.Job) error { return fmt.Errorf("attempt %d failed", j.Attempts) })
	id := b.insert(t, job.NewJob{Kind: "notify", MaxAttempts: 2})[0].ID
	b.runDue(t)
	b.clock.Advance(time.Second)
	b.runDue(t)
	if j := b.get(t, id); j.State != job.StateFailed || j.Attempts != 2 || j.LastError != "attempt 2 failed" {
		t.Fatalf("after the last attempt: %+v", j)
	}
	b.clock.Advance(time.Hour)
	if n := b.runDue(t); n != 0 {
		t.Fatalf("a failed job ran again (%d)", n)
	}
}

func TestPermanentErrorFailsAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.q.Handle("notify", func(ctx context.Context, j *job.Job) error {
		return job.Permanent(errors.New("slack: channel_not_found"))
	})
	id := b.insert(t, job.NewJob{Kind: "notify", MaxAttempts: 10})[0].ID
	if n := b.runDue(t); n != 1 {
		t.Fatalf("RunDue ran %d", n)
	}
	if j := b.get(t, id); j.State != job.StateFailed || j.Attempts != 1 || j.LastError != "slack: channel_not_found" {
		t.Fatalf("after a permanent error: %+v", j)
	}
}

func TestRetryAfterSetsTheDelay(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.q.Handle("webhook", func(ctx context.Context, j *job.Job) error {
		if j.Attempts == 1 {
			return job.RetryAfter(errors.New("429 Too Many Requests"), 90*time.Second)
		}
		return nil
	})
	id := b.insert(t, job.NewJob{Kind: "webhook"})[0].ID
	b.runDue(t)
	j := b.get(t, id)
	if !j.RunAt.Equal(t0.Add(90*time.Second)) || j.State != job.StatePending {
		t.Fatalf("after Retry-After 90s: %+v", j)
	}
	b.clock.Advance(89 * time.Second)
	if n := b.runDue(t); n != 0 {
		t.Fatal("ran before Retry-After passed")
	}
	b.clock.Advance(time.Second)
	if n := b.runDue(t); n != 1 {
		t.Fatal("did not run once Retry-After passed")
	}
}

func TestPanicIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.q.Handle("boom", func(ctx context.Context, j *job.Job) error { panic("nil map") })
	id := b.insert(t, job.NewJob{Kind: "boom", MaxAttempts: 1})[0].ID
	b.runDue(t)
	if j := b.get(t, id); j.State != job.StateFailed || !strings.Contains(j.LastError, "nil map") {
		t.Fatalf("after a panic: %+v", j)
	}
}

// TestTimerFiresWhenClockPasses runs the real workers: a job due in 15
// minutes runs when the fake clock passes its run_at and the Queue is
// poked, not before, and without a poll (Poll is an hour).
func TestTimerFiresWhenClockPasses(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *job.Config[job.Tx]) { c.Poll = time.Hour })
	started := make(chan *job.Job, 1)
	b.q.Handle("escalate", func(ctx context.Context, j *job.Job) error { started <- j; return nil })
	b.start(t)
	id := b.insert(t, job.NewJob{Kind: "escalate", RunAt: t0.Add(15 * time.Minute)})[0].ID
	b.clock.Advance(14 * time.Minute)
	b.q.Poke()
	select {
	case j := <-started:
		t.Fatalf("job %d ran at %v, before its run_at", j.ID, b.clock.Now())
	case <-time.After(100 * time.Millisecond):
	}
	b.clock.Advance(time.Minute)
	b.q.Poke()
	select {
	case j := <-started:
		if j.ID != id {
			t.Fatalf("ran job %d, want %d", j.ID, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the timer job did not run after the clock passed its run_at")
	}
}

// TestWorkerSleepsUntilRunAt uses the real clock: the worker wakes at the
// earliest run_at by itself.
func TestWorkerSleepsUntilRunAt(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *job.Config[job.Tx]) { c.Poll = time.Hour; c.Now = time.Now })
	started := make(chan time.Time, 1)
	b.q.Handle("sla", func(ctx context.Context, j *job.Job) error { started <- time.Now(); return nil })
	b.start(t)
	due := time.Now().Add(300 * time.Millisecond)
	b.insert(t, job.NewJob{Kind: "sla", RunAt: due})
	select {
	case at := <-started:
		if at.Before(due) {
			t.Fatalf("ran %v before its run_at", due.Sub(at))
		}
		if late := at.Sub(due); late > time.Second {
			t.Fatalf("ran %v late", late)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not run at its run_at")
	}
}

func TestShutdownWaitsForHandlers(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	started, release := make(chan struct{}), make(chan struct{})
	b.q.Handle("step", func(ctx context.Context, j *job.Job) error {
		close(started)
		<-release
		return ctx.Err() // shutdown does not cancel a running handler
	})
	ctx, cancel := context.WithCancel(b.ctx)
	if err := b.q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := b.insert(t, job.NewJob{Kind: "step"})[0].ID
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not start")
	}
	cancel()
	waited := make(chan struct{})
	go func() { b.q.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while a handler ran")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after the handler finished")
	}
	if j := b.get(t, id); j.State != job.StateSucceeded {
		t.Fatalf("after shutdown: %+v", j)
	}
}

// claimAs claims a job as another instance that then dies.
func claimAs(t *testing.T, s store.Store, instance string, now time.Time) *job.Job {
	t.Helper()
	var j *job.Job
	err := s.InTx(context.Background(), func(tx store.Tx) error {
		var err error
		j, err = tx.ClaimJob(context.Background(), job.ClaimParams{Instance: instance, Now: now, LeaseUntil: now.Add(30 * time.Second)})
		return err
	})
	if err != nil || j == nil {
		t.Fatalf("claim as %s: %v, %v", instance, j, err)
	}
	return j
}

func TestSweepReoffersLapsedLeases(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var ran atomic.Int32
	b.q.Handle("notify", func(ctx context.Context, j *job.Job) error { ran.Add(1); return nil })
	again := b.insert(t, job.NewJob{Kind: "notify", MaxAttempts: 3})[0].ID
	last := b.insert(t, job.NewJob{Kind: "notify", MaxAttempts: 1})[0].ID
	claimAs(t, b.s, "dead", t0)
	claimAs(t, b.s, "dead", t0)

	b.clock.Advance(29 * time.Second)
	if err := b.q.Sweep(b.ctx); err != nil {
		t.Fatal(err)
	}
	if j := b.get(t, again); j.State != job.StateRunning {
		t.Fatalf("swept before the lease lapsed: %+v", j)
	}
	b.clock.Advance(2 * time.Second)
	if err := b.q.Sweep(b.ctx); err != nil {
		t.Fatal(err)
	}
	j := b.get(t, again)
	if j.State != job.StatePending || j.Attempts != 1 || !strings.Contains(j.LastError, "lease expired") || j.ClaimedBy != "" {
		t.Fatalf("a lapsed job with attempts left: %+v", j)
	}
	if j := b.get(t, last); j.State != job.StateFailed || !strings.Contains(j.LastError, "lease expired") {
		t.Fatalf("a lapsed job on its last attempt: %+v", j)
	}
	if n := b.runDue(t); n != 1 || ran.Load() != 1 {
		t.Fatalf("RunDue after the sweep ran %d", n)
	}
	if j := b.get(t, again); j.State != job.StateSucceeded || j.Attempts != 2 {
		t.Fatalf("after the re-run: %+v", j)
	}
}

func TestSoleInstanceRecoversAtStart(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *job.Config[job.Tx]) { c.SoleInstance = true })
	done := make(chan struct{})
	b.q.Handle("step", func(ctx context.Context, j *job.Job) error { close(done); return nil })
	b.insert(t, job.NewJob{Kind: "step"})
	claimAs(t, b.s, "crashed", t0) // lease still good for 30s
	b.start(t)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a job orphaned by a crash was not re-run at start")
	}
}

func TestCancelStopsARunningHandler(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *job.Config[job.Tx]) { c.Lease = 150 * time.Millisecond })
	started := make(chan struct{})
	cause := make(chan error, 1)
	b.q.Handle("escalate", func(ctx context.Context, j *job.Job) error {
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return ctx.Err()
	})
	b.start(t)
	id := b.insert(t, job.NewJob{Kind: "escalate", Key: "escalate/incident/7/level/2"})[0].ID
	<-started
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		n, err := b.q.Cancel(b.ctx, tx, job.CancelParams{KeyPrefix: "escalate/incident/7/"})
		if err == nil && n != 1 {
			err = fmt.Errorf("cancelled %d jobs", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-cause:
		if !errors.Is(c, job.ErrLost) {
			t.Fatalf("handler context ended with %v, want ErrLost", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled job's handler was not stopped")
	}
	time.Sleep(20 * time.Millisecond)
	if j := b.get(t, id); j.State != job.StateCancelled {
		t.Fatalf("after cancel: %+v", j)
	}
}

func TestStartNeedsInTx(t *testing.T) {
	t.Parallel()
	if err := job.New(job.Config[job.Tx]{}).Start(context.Background()); err == nil {
		t.Fatal("Start without InTx succeeded")
	}
}

// BenchmarkWakeLatencySQLite measures insert→handler start on SQLite,
// where a commit that inserted jobs wakes the Queue in process (its poll
// is 10s).
func BenchmarkWakeLatencySQLite(b *testing.B) {
	s := openSQLite(b)
	started := make(chan time.Time, 1)
	q := job.New(job.Config[job.Tx]{InTx: inTx(s), Watch: s.WatchJobs, Poll: 10 * time.Second})
	q.Handle("notify", func(ctx context.Context, j *job.Job) error { started <- time.Now(); return nil })
	ctx, cancel := context.WithCancel(context.Background())
	q.Start(ctx)
	b.Cleanup(func() { cancel(); q.Wait() })
	time.Sleep(50 * time.Millisecond)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t1 := time.Now()
		err := s.InTx(ctx, func(tx store.Tx) error {
			_, err := q.Insert(ctx, tx, job.NewJob{Kind: "notify"})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-started:
			lat = append(lat, at.Sub(t1))
		case <-time.After(15 * time.Second):
			b.Fatalf("job %d did not start", i)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}
