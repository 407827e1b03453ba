// Package intake commits alert events in groups: concurrent requests share
// one transaction, so the intake rate is not bounded by one fsync per
// request. A request is answered only after its transaction commits.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// OnCommit runs inside the batch's transaction after its events are
// applied, with what the batch did. Playbook runs (and later
// notifications) hook in here, so that their jobs commit atomically with
// the incident.
type OnCommit func(ctx context.Context, tx store.Tx, events []incident.Event, b *incident.Batch) error

// Config sets up an Ingester.
type Config struct {
	Store    store.Store
	Logger   *slog.Logger
	Now      func() time.Time
	Grouping incident.Grouping
	// AutoResolve resolves an incident when all its alerts resolve.
	AutoResolve bool
	// MaxBatch caps the events in one transaction (default 5000).
	MaxBatch int
	// Committers is how many transactions may run at once: 1 for SQLite,
	// more for PostgreSQL, which takes concurrent writers.
	Committers int
	// Observe, when set, is told each committed batch's request and event
	// counts.
	Observe  func(requests, events int)
	OnCommit OnCommit
	// AfterCommit runs after each committed batch that opened or resolved
	// an incident, outside the transaction: it wakes whatever the batch
	// queued.
	AfterCommit func()
}

// Ingester batches events from concurrent callers into transactions.
type Ingester struct {
	cfg  Config
	reqs chan *request
	wg   sync.WaitGroup

	// stopping is closed when Stop begins: a Submit waiting to queue gives
	// up with ErrStopped rather than block shutdown.
	stopping chan struct{}
	stopOnce sync.Once
	// sending is held for reading by each Submit while it may send on
	// reqs; Stop takes it for writing before it closes reqs, so that no
	// send can meet a closed channel.
	sending sync.RWMutex
}

type request struct {
	ctx    context.Context
	events []incident.Event
	done   chan reply
}

type reply struct {
	results []incident.Result
	err     error
}

// New returns an Ingester; call Start before Submit.
func New(cfg Config) *Ingester {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Ingester{cfg: cfg, reqs: make(chan *request, 4096), stopping: make(chan struct{})}
}

// Start runs the committers until Stop.
func (in *Ingester) Start() {
	for i := 0; i < in.cfg.Committers; i++ {
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			in.commitLoop()
		}()
	}
}

// Stop stops taking requests, lets every queued one commit and be
// answered, then stops the committers. A Submit whose request is not
// queued by then returns ErrStopped. Stop may be called more than once.
func (in *Ingester) Stop() {
	in.stopOnce.Do(func() {
		close(in.stopping)
		in.sending.Lock()
		close(in.reqs)
		in.sending.Unlock()
	})
	in.wg.Wait()
}

// ErrStopped is returned by a Submit that came too late for Stop; nothing
// of its request was stored.
var ErrStopped = incident.Errorf(incident.EUNAVAILABLE, "intake is shutting down; retry")

// Submit commits events and returns one result per event. It returns only
// after the events are durably committed, or with an error when they were
// not.
func (in *Ingester) Submit(ctx context.Context, events []incident.Event) ([]incident.Result, error) {
	if len(events) == 0 {
		return nil, nil
	}
	r := &request{ctx: ctx, events: events, done: make(chan reply, 1)}
	if err := in.enqueue(r); err != nil {
		return nil, err
	}
	// Once queued, wait for the outcome even if the caller gives up: the
	// events may already be committed, and the answer must say so honestly.
	rep := <-r.done
	return rep.results, rep.err
}

// enqueue hands r to the committers, which answer everything queued
// before they stop.
func (in *Ingester) enqueue(r *request) error {
	in.sending.RLock()
	defer in.sending.RUnlock()
	select {
	case <-in.stopping:
		// Stop has begun and may have closed reqs: do not offer a send.
		return ErrStopped
	default:
	}
	select {
	case in.reqs <- r:
		return nil
	case <-in.stopping:
		return ErrStopped
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

func (in *Ingester) commitLoop() {
	var batch []*request
	for first := range in.reqs {
		batch = append(batch[:0], first)
		n := len(first.events)
	fill:
		for n < in.cfg.MaxBatch {
			select {
			case r, ok := <-in.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
				n += len(r.events)
			default:
				break fill
			}
		}
		in.commit(batch, n)
	}
}

func (in *Ingester) commit(batch []*request, n int) {
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			// Nothing was committed for a caller that went away before its
			// turn: tell it so, and do not commit for it.
			r.done <- reply{err: r.ctx.Err()}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	events := make([]incident.Event, 0, n)
	for _, r := range live {
		events = append(events, r.events...)
	}
	results, err := in.apply(events)
	if err != nil && len(live) > 1 {
		// One bad request must not fail its neighbours: retry each alone.
		in.cfg.Logger.Warn("batch failed; committing its requests one by one", "requests", len(live), "err", err)
		for _, r := range live {
			res, err := in.apply(r.events)
			r.done <- reply{results: res, err: err}
		}
		return
	}
	if err != nil {
		live[0].done <- reply{err: err}
		return
	}
	if in.cfg.Observe != nil {
		in.cfg.Observe(len(live), len(events))
	}
	off := 0
	for _, r := range live {
		r.done <- reply{results: results[off : off+len(r.events)]}
		off += len(r.events)
	}
}

func (in *Ingester) apply(events []incident.Event) ([]incident.Result, error) {
	// The batch is not tied to any one caller's context: it commits or
	// fails as a whole, within its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		results []incident.Result
		changed bool
	)
	err := in.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		b, err := incident.ApplyBatch(ctx, tx, events, incident.Options{
			Grouping: in.cfg.Grouping, AutoResolve: in.cfg.AutoResolve, Now: in.cfg.Now(),
		})
		if err != nil {
			return err
		}
		results = b.Results
		changed = len(b.Opened) > 0 || len(b.Resolved) > 0
		if in.cfg.OnCommit != nil {
			return in.cfg.OnCommit(ctx, tx, events, b)
		}
		return nil
	})
	if err == nil && changed && in.cfg.AfterCommit != nil {
		in.cfg.AfterCommit()
	}
	if err != nil {
		if code := incident.ErrorCode(err); code == incident.EINVALID || code == incident.ECONFLICT {
			return nil, err
		}
		return nil, fmt.Errorf("commit %d events: %w", len(events), errors.Join(err, incident.Errorf(incident.EUNAVAILABLE, "could not store alerts; retry")))
	}
	return results, nil
}

// FlushSummaries writes pending "+N alerts joined" and "+N repeats"
// timeline entries every interval
// until ctx ends.
func FlushSummaries(ctx context.Context, s store.Store, every time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			var n int
			err := s.InTx(ctx, func(tx store.Tx) error {
				var err error
				n, err = incident.FlushSummaries(ctx, tx, now(), 200)
				return err
			})
			if err != nil {
				if ctx.Err() == nil {
					log.WarnContext(ctx, "flush timeline summaries", "err", err)
				}
				break
			}
			if n < 200 {
				break
			}
		}
	}
}
