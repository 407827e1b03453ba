package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Config sets up a Queue.
type Config[T Tx] struct {
	// InTx runs fn in a write transaction; the app builds it from
	// store.Store.InTx.
	InTx func(ctx context.Context, fn func(T) error) error
	// Watch calls wake whenever jobs may have been inserted elsewhere, until
	// ctx ends (store.Store.WatchJobs). Nil: the Queue relies on Poke and
	// its Poll interval.
	Watch func(ctx context.Context, wake func()) error
	// Now is the clock behind every RunAt and lease decision.
	Now    func() time.Time
	Logger *slog.Logger
	// Instance names this process in claims; empty picks a random name.
	Instance string
	// Workers is how many handlers run at once (default 4).
	Workers int
	// Poll is the longest a worker sleeps without a wake-up (default 5s):
	// the fallback for a wake-up that was lost.
	Poll time.Duration
	// Lease is how long a claim holds without renewal (default 30s); it is
	// renewed every Lease/3 while the handler runs.
	Lease time.Duration
	// Sweep is how often lapsed leases are looked for (default 10s).
	Sweep time.Duration
	// Timeout bounds one attempt of a handler (default 5m).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the delay before a retry (defaults 1s
	// and 10m): MinBackoff doubles with each attempt, up to MaxBackoff, less
	// up to a quarter of it at random so that retries spread out.
	MinBackoff, MaxBackoff time.Duration
	// Retention is how long finished jobs are kept (default 7 days);
	// negative keeps them for ever.
	Retention time.Duration
	// SoleInstance says no other instance shares the store (SQLite): a job
	// found running at Start was orphaned by a crash, and is re-offered at
	// once instead of after its lease.
	SoleInstance bool
}

// Queue runs jobs from the store with the handlers registered for their
// kinds.
type Queue[T Tx] struct {
	cfg      Config[T]
	mu       sync.Mutex
	handlers map[string]Handler
	claims   map[string]ClaimFunc[T]
	kinds    []string
	started  bool

	wake  chan struct{}
	freed chan struct{}
	slots chan struct{}
	wg    sync.WaitGroup // fetcher, sweeper, watcher
	jobs  sync.WaitGroup // running handlers
}

// New returns a Queue; register handlers with Handle, then Start it.
func New[T Tx](cfg Config[T]) *Queue[T] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Instance == "" {
		var b [6]byte
		rand.Read(b[:])
		cfg.Instance = "fb-" + hex.EncodeToString(b[:])
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	setDefault(&cfg.Poll, 5*time.Second)
	setDefault(&cfg.Lease, 30*time.Second)
	setDefault(&cfg.Sweep, 10*time.Second)
	setDefault(&cfg.Timeout, 5*time.Minute)
	setDefault(&cfg.MinBackoff, time.Second)
	setDefault(&cfg.MaxBackoff, 10*time.Minute)
	if cfg.Retention == 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	return &Queue[T]{
		cfg:      cfg,
		handlers: map[string]Handler{},
		claims:   map[string]ClaimFunc[T]{},
		wake:     make(chan struct{}, 1),
		freed:    make(chan struct{}, 1),
		slots:    make(chan struct{}, cfg.Workers),
	}
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Instance is the name this Queue claims jobs under.
func (q *Queue[T]) Instance() string { return q.cfg.Instance }

// Handle registers h for jobs of kind. It panics after Start, or when kind
// already has a handler: both are wiring mistakes.
func (q *Queue[T]) Handle(kind string, h Handler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		panic("job: Handle(" + kind + ") after Start")
	}
	if _, dup := q.handlers[kind]; dup {
		panic("job: a second handler for kind " + kind)
	}
	q.handlers[kind] = h
	q.kinds = append(q.kinds, kind)
	slices.Sort(q.kinds)
}

// ClaimFunc runs inside the transaction that claims a job of its kind,
// before the handler: it may take what the job is about in the same
// commit (a step row, say) and leave it in j.Value for the handler. When it
// returns false the job has nothing to do: it is finished in that
// transaction and its handler does not run.
type ClaimFunc[T Tx] func(ctx context.Context, tx T, j *Job) (bool, error)

// HandleClaim registers claim and h for jobs of kind; see ClaimFunc.
func (q *Queue[T]) HandleClaim(kind string, claim ClaimFunc[T], h Handler) {
	q.Handle(kind, h)
	q.mu.Lock()
	q.claims[kind] = claim
	q.mu.Unlock()
}

func (q *Queue[T]) claimFunc(kind string) ClaimFunc[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.claims[kind]
}

func (q *Queue[T]) handler(kind string) Handler {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.handlers[kind]
}

func (q *Queue[T]) kindList() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.kinds
}

func (q *Queue[T]) now() time.Time { return q.cfg.Now().UTC() }

// Insert inserts jobs in the caller's transaction, due from the Queue's
// clock; see Tx.InsertJobs.
func (q *Queue[T]) Insert(ctx context.Context, tx Tx, jobs ...NewJob) ([]Inserted, error) {
	return tx.InsertJobs(ctx, InsertParams{Now: q.now(), Jobs: jobs})
}

// Cancel cancels unfinished jobs in the caller's transaction; see
// Tx.CancelJobs.
func (q *Queue[T]) Cancel(ctx context.Context, tx Tx, p CancelParams) (int, error) {
	if p.Now.IsZero() {
		p.Now = q.now()
	}
	return tx.CancelJobs(ctx, p)
}

// Poke wakes the Queue to claim due jobs: after a commit that inserted
// jobs, or in a test after moving the clock.
func (q *Queue[T]) Poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Start runs the workers, the sweeper and the watcher until ctx ends;
// Wait waits for them and for the handlers still running.
func (q *Queue[T]) Start(ctx context.Context) error {
	q.mu.Lock()
	if q.started {
		q.mu.Unlock()
		return errors.New("job: queue already started")
	}
	q.started = true
	q.mu.Unlock()
	if q.cfg.InTx == nil {
		return errors.New("job: Config.InTx is nil")
	}
	if q.cfg.SoleInstance {
		// Before anything is claimed: every job still running was orphaned.
		if err := q.sweep(ctx, q.now().AddDate(100, 0, 0)); err != nil && ctx.Err() == nil {
			q.cfg.Logger.WarnContext(ctx, "re-offer jobs orphaned by a crash", "err", err)
		}
	}
	q.wg.Add(2)
	go func() {
		defer q.wg.Done()
		q.fetch(ctx)
	}()
	go func() {
		defer q.wg.Done()
		q.sweeper(ctx)
	}()
	if q.cfg.Watch != nil {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			if err := q.cfg.Watch(ctx, q.Poke); err != nil && ctx.Err() == nil {
				q.cfg.Logger.ErrorContext(ctx, "watch for new jobs; falling back to polling", "err", err, "poll", q.cfg.Poll)
			}
		}()
	}
	return nil
}

// Wait waits, after Start's ctx ended, for the Queue's goroutines and for
// every handler still running. Handlers are not cancelled by shutdown:
// they finish, within their Timeout, and their outcome is recorded.
func (q *Queue[T]) Wait() {
	q.wg.Wait()
	q.jobs.Wait()
}

// minWait keeps a worker from spinning on a job that is due but that it
// could not claim (another instance holds it locked).
const minWait = 20 * time.Millisecond

func (q *Queue[T]) fetch(ctx context.Context) {
	for ctx.Err() == nil {
		next := q.fill(ctx)
		wait := q.cfg.Poll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(q.now()), minWait))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-q.freed:
		case <-t.C:
		}
		t.Stop()
	}
}

// fill claims due jobs while a worker is free, and starts their handlers.
// It returns the earliest RunAt still pending, or zero when it does not
// know one (no free worker, no pending job, or an error).
func (q *Queue[T]) fill(ctx context.Context) time.Time {
	base := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		select {
		case q.slots <- struct{}{}:
		default:
			return time.Time{}
		}
		j, next, err := q.claim(ctx)
		if err != nil || j == nil {
			<-q.slots
			if err != nil && ctx.Err() == nil {
				q.cfg.Logger.ErrorContext(ctx, "claim a job", "err", err)
			}
			return next
		}
		q.jobs.Add(1)
		go func() {
			defer q.jobs.Done()
			q.run(base, j)
			<-q.slots
			select {
			case q.freed <- struct{}{}:
			default:
			}
		}()
	}
	return time.Time{}
}

// maxSkips bounds how many jobs with nothing to do one claim transaction
// finishes before it returns.
const maxSkips = 32

// claim claims one due job, or returns the earliest pending RunAt.
func (q *Queue[T]) claim(ctx context.Context) (j *Job, next time.Time, err error) {
	kinds := q.kindList()
	if len(kinds) == 0 {
		return nil, time.Time{}, nil
	}
	err = q.cfg.InTx(ctx, func(tx T) error {
		j, next = nil, time.Time{}
		now := q.now()
		// Jobs whose claim hook finds nothing to do are finished here, and
		// the next due one is tried, in the same transaction.
		for range maxSkips {
			var err error
			j, err = tx.ClaimJob(ctx, ClaimParams{Kinds: kinds, Instance: q.cfg.Instance, Now: now, LeaseUntil: now.Add(q.cfg.Lease)})
			if err != nil {
				return err
			}
			if j == nil {
				next, err = tx.NextRunAt(ctx, kinds)
				return err
			}
			hook := q.claimFunc(j.Kind)
			if hook == nil {
				return nil
			}
			keep, err := hook(ctx, tx, j)
			if err != nil || keep {
				return err
			}
			if _, err := tx.FinishJob(ctx, FinishParams{Claim: j.Claim(), State: StateSucceeded, Now: now}); err != nil {
				return err
			}
			j = nil
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return j, next, nil
}

// Next returns the earliest RunAt of the pending jobs this Queue handles,
// or zero when none waits. Tests use it to move a fake clock to the next
// timer, such as a snoozed job's.
func (q *Queue[T]) Next(ctx context.Context) (time.Time, error) {
	var next time.Time
	err := q.cfg.InTx(ctx, func(tx T) error {
		var err error
		next, err = tx.NextRunAt(ctx, q.kindList())
		return err
	})
	return next, err
}

// RunDue claims and runs due jobs one at a time, in this goroutine, until
// none is due, and returns how many it ran. Tests call it after moving the
// clock; it needs no Start.
func (q *Queue[T]) RunDue(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		j, _, err := q.claim(ctx)
		if err != nil || j == nil {
			return n, err
		}
		q.run(context.WithoutCancel(ctx), j)
		n++
	}
	return n, ctx.Err()
}

// run runs j's handler, renewing its lease meanwhile, and records the
// outcome.
func (q *Queue[T]) run(base context.Context, j *Job) {
	ctx, cancel := context.WithTimeout(base, q.cfg.Timeout)
	defer cancel()
	ctx, lose := context.WithCancelCause(ctx)
	defer lose(nil)
	stop := q.keepLease(ctx, j.Claim(), lose)
	err := q.call(ctx, j)
	stop()
	if context.Cause(ctx) == ErrLost {
		q.cfg.Logger.InfoContext(ctx, "job claim lost while it ran; its outcome is dropped",
			"job", j.ID, "kind", j.Kind, "attempt", j.Attempts)
		return
	}
	q.record(base, j, err)
}

// call runs the handler, turning a panic into an error.
func (q *Queue[T]) call(ctx context.Context, j *Job) (err error) {
	h := q.handler(j.Kind)
	if h == nil {
		return Permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	}
	defer func() {
		if r := recover(); r != nil {
			q.cfg.Logger.ErrorContext(ctx, "job handler panicked", "job", j.ID, "kind", j.Kind, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, j)
}

// keepLease renews the claim every Lease/3 until stopped, and calls lose
// when the claim no longer holds.
func (q *Queue[T]) keepLease(ctx context.Context, c Claim, lose context.CancelCauseFunc) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(q.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var held bool
			err := q.cfg.InTx(ctx, func(tx T) error {
				var err error
				held, err = tx.ExtendJobLease(ctx, c, q.now().Add(q.cfg.Lease))
				return err
			})
			switch {
			case err != nil && ctx.Err() == nil:
				// Try again at the next tick; the lease outlasts two misses.
				q.cfg.Logger.WarnContext(ctx, "renew job lease", "job", c.ID, "err", err)
			case err == nil && !held:
				lose(ErrLost)
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// maxErrorLen bounds the error text kept with a job.
const maxErrorLen = 4000

func errorText(err error) string {
	s := err.Error()
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen] + "…"
	}
	return s
}

// record stores the outcome of an attempt. It runs even while the server
// shuts down: a job left running would wait for its lease to lapse.
func (q *Queue[T]) record(ctx context.Context, j *Job, herr error) {
	if errors.Is(herr, ErrRecorded) {
		return
	}
	var retryIn time.Duration
	err := q.cfg.InTx(ctx, func(tx T) error {
		now := q.now()
		var err error
		switch {
		case herr == nil:
			_, err = tx.FinishJob(ctx, FinishParams{Claim: j.Claim(), State: StateSucceeded, Now: now})
		case IsPermanent(herr) || j.Attempts >= j.MaxAttempts:
			_, err = tx.FinishJob(ctx, FinishParams{Claim: j.Claim(), State: StateFailed, Error: errorText(herr), Now: now})
		default:
			d, ok := retryDelay(herr)
			if !ok {
				d = q.Backoff(j.Attempts)
			}
			retryIn = d
			_, err = tx.RetryJob(ctx, RetryParams{Claim: j.Claim(), RunAt: now.Add(d), Error: errorText(herr), Now: now})
		}
		return err
	})
	switch {
	case err != nil:
		q.cfg.Logger.ErrorContext(ctx, "record job outcome", "job", j.ID, "kind", j.Kind, "err", err)
	case herr == nil:
	case isSnooze(herr) && j.Attempts < j.MaxAttempts:
		q.cfg.Logger.DebugContext(ctx, "job snoozed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempts, "retry_in", retryIn)
	case retryIn > 0 || (!IsPermanent(herr) && j.Attempts < j.MaxAttempts):
		q.cfg.Logger.WarnContext(ctx, "job attempt failed; retrying", "job", j.ID, "kind", j.Kind,
			"attempt", j.Attempts, "max_attempts", j.MaxAttempts, "retry_in", retryIn, "err", herr)
	default:
		q.cfg.Logger.ErrorContext(ctx, "job failed", "job", j.ID, "kind", j.Kind,
			"attempt", j.Attempts, "permanent", IsPermanent(herr), "err", herr)
	}
}

// Backoff is the delay before the attempt after attempt failed:
// MinBackoff·2^(attempt-1), capped at MaxBackoff, less a random part of
// up to a quarter.
func (q *Queue[T]) Backoff(attempt int) time.Duration {
	d := q.cfg.MaxBackoff
	if attempt >= 1 && attempt < 40 {
		if e := q.cfg.MinBackoff << (attempt - 1); e > 0 && e < d {
			d = e
		}
	}
	return d - time.Duration(mrand.Int64N(int64(d)/4+1))
}

func (q *Queue[T]) sweeper(ctx context.Context) {
	t := time.NewTicker(q.cfg.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := q.Sweep(ctx); err != nil && ctx.Err() == nil {
			q.cfg.Logger.WarnContext(ctx, "sweep jobs", "err", err)
		}
	}
}

// Sweep re-offers running jobs whose lease lapsed (their instance died or
// lost the database), fails those that had no attempt left, and deletes
// finished jobs past Retention. The sweeper calls it every Sweep; tests
// call it after moving the clock.
func (q *Queue[T]) Sweep(ctx context.Context) error { return q.sweep(ctx, q.now()) }

// sweep treats jobs whose lease ends before staleBefore as orphaned.
func (q *Queue[T]) sweep(ctx context.Context, staleBefore time.Time) error {
	reoffered := false
	err := q.cfg.InTx(ctx, func(tx T) error {
		reoffered = false
		now := q.now()
		stale, err := tx.StaleJobs(ctx, staleBefore, 100)
		if err != nil {
			return err
		}
		for _, j := range stale {
			msg := fmt.Sprintf("lease expired: instance %s stopped renewing it during attempt %d", j.ClaimedBy, j.Attempts)
			if j.Attempts < j.MaxAttempts {
				// The lost attempt counts; the next may start at once.
				_, err = tx.RetryJob(ctx, RetryParams{Claim: j.Claim(), RunAt: now, Error: msg, Now: now})
				reoffered = true
			} else {
				_, err = tx.FinishJob(ctx, FinishParams{Claim: j.Claim(), State: StateFailed, Error: msg, Now: now})
			}
			if err != nil {
				return err
			}
		}
		if q.cfg.Retention > 0 {
			_, err = tx.DeleteFinishedJobs(ctx, now.Add(-q.cfg.Retention), 1000)
		}
		return err
	})
	if reoffered {
		q.Poke()
	}
	return err
}
