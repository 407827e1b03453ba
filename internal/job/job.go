// Package job is Firebreak's durable job queue: step runs, notification
// deliveries, escalation and SLA timers. Jobs are rows, inserted in the
// transaction of the change that causes them, so a job exists if and only
// if that change committed.
//
// This file holds the types and the storage seam ([Tx]) that store.Tx
// embeds and both engines implement; queue.go holds the [Queue] that claims
// and runs jobs. The package imports no store: the Queue reaches the
// database through the InTx function of its [Config].
//
// Delivery is at least once. A handler whose instance dies mid-run is run
// again after its lease lapses, so handlers must tolerate a repeat (a
// notification keyed by incident, event and target is sent by a handler
// that first checks whether it was sent).
package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// State is where a job is in its life.
type State string

const (
	// StatePending: waiting for its RunAt, or due and waiting for a worker.
	StatePending State = "pending"
	// StateRunning: claimed by an instance, whose lease must be renewed.
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	// StateFailed: a permanent error, or the last attempt failed.
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Finished reports whether s is final.
func (s State) Finished() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCancelled
}

// DefaultMaxAttempts is the attempts a job gets when NewJob says none.
const DefaultMaxAttempts = 10

// Job is one unit of work.
type Job struct {
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	// Key, when not empty, makes the job unique among unfinished jobs.
	Key     string          `json:"key,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// Priority orders due jobs: lower first, then RunAt, then ID.
	Priority    int       `json:"priority"`
	RunAt       time.Time `json:"run_at"`
	State       State     `json:"state"`
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	// LastError is the error of the latest failed attempt.
	LastError  string    `json:"last_error,omitempty"`
	ClaimedBy  string    `json:"claimed_by,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Value is what the kind's ClaimFunc took for the handler, in memory
	// only.
	Value any `json:"-"`
}

// Claim names one claim of a running job: the instance that holds it and
// the attempt it is running. Updates guarded by a Claim do nothing once
// the job was cancelled, re-offered or claimed anew.
type Claim struct {
	ID       int64
	Instance string
	Attempt  int
}

// Claim returns the claim under which j runs.
func (j *Job) Claim() Claim { return Claim{ID: j.ID, Instance: j.ClaimedBy, Attempt: j.Attempts} }

// NewJob is a job to insert.
type NewJob struct {
	Kind string
	// Key deduplicates: inserting a job whose Key equals that of an
	// unfinished (pending or running) job inserts nothing and reports that
	// job's ID. Build it from what makes the work unique, such as
	// "notify/incident/42/event/7/slack:#ops". Keys sharing a prefix can be
	// cancelled together (CancelParams.KeyPrefix).
	Key string
	// Payload is a JSON document for the handler; empty means none.
	Payload  json.RawMessage
	Priority int
	// RunAt is when the job becomes due; zero means at once.
	RunAt time.Time
	// MaxAttempts bounds the attempts; zero means DefaultMaxAttempts.
	MaxAttempts int
}

// Validate reports what is wrong with n, naming the field.
func (n NewJob) Validate() error {
	switch {
	case n.Kind == "":
		return errors.New("job kind: must not be empty")
	case len(n.Payload) > 0 && !json.Valid(n.Payload):
		return fmt.Errorf("job %s payload: not a JSON document", n.Kind)
	case n.MaxAttempts < 0:
		return fmt.Errorf("job %s max_attempts: %d is negative", n.Kind, n.MaxAttempts)
	}
	return nil
}

// WithDefaults fills RunAt and MaxAttempts when they are unset.
func (n NewJob) WithDefaults(now time.Time) NewJob {
	if n.RunAt.IsZero() {
		n.RunAt = now
	}
	if n.MaxAttempts == 0 {
		n.MaxAttempts = DefaultMaxAttempts
	}
	return n
}

// Inserted is the outcome of inserting one NewJob.
type Inserted struct {
	ID int64
	// Duplicate: an unfinished job had the same Key; ID is that job's.
	Duplicate bool
}

// InsertParams inserts Jobs, created at Now.
type InsertParams struct {
	Now  time.Time
	Jobs []NewJob
}

// Prepare validates the jobs and fills their defaults; engines call it
// first in InsertJobs.
func (p InsertParams) Prepare() ([]NewJob, error) {
	out := make([]NewJob, len(p.Jobs))
	for i, n := range p.Jobs {
		if err := n.Validate(); err != nil {
			return nil, err
		}
		out[i] = n.WithDefaults(p.Now)
	}
	return out, nil
}

// ClaimParams claims the first due pending job.
type ClaimParams struct {
	// Kinds limits the claim to these kinds; empty means any kind.
	Kinds      []string
	Instance   string
	Now        time.Time
	LeaseUntil time.Time
}

// FinishParams ends the attempt under Claim with State (succeeded, failed
// or cancelled) and Error.
type FinishParams struct {
	Claim
	State State
	Error string
	Now   time.Time
}

// RetryParams puts the job back to pending, due at RunAt, recording the
// attempt's Error.
type RetryParams struct {
	Claim
	RunAt time.Time
	Error string
	Now   time.Time
}

// CancelParams selects unfinished jobs to cancel: those with one of IDs,
// and those whose key starts with KeyPrefix (when not empty).
type CancelParams struct {
	IDs       []int64
	KeyPrefix string
	Now       time.Time
}

// ErrNotFound is returned by GetJob for a job that does not exist.
var ErrNotFound = errors.New("job not found")

// Tx is the queue's storage, inside a write transaction. store.Tx embeds
// it; both engines implement it and pass storetest's job cases.
type Tx interface {
	// InsertJobs inserts jobs in order and returns one Inserted each. A job
	// whose Key equals that of an unfinished job, including one inserted
	// earlier in the same call, is not inserted. Jobs are visible to
	// claimers, and instances are woken, only when the transaction commits.
	InsertJobs(ctx context.Context, p InsertParams) ([]Inserted, error)
	// ClaimJob marks the first due pending job running (lowest priority,
	// then earliest RunAt, then lowest ID), counts an attempt, and returns
	// it; nil when none is due. Two transactions never claim the same job.
	ClaimJob(ctx context.Context, p ClaimParams) (*Job, error)
	// ExtendJobLease moves the lease of a running job to until. It reports
	// false when the claim no longer holds: the job was cancelled,
	// re-offered or finished.
	ExtendJobLease(ctx context.Context, c Claim, until time.Time) (bool, error)
	// FinishJob ends a running job; false when the claim no longer holds.
	FinishJob(ctx context.Context, p FinishParams) (bool, error)
	// RetryJob makes a running job pending again; false when the claim no
	// longer holds.
	RetryJob(ctx context.Context, p RetryParams) (bool, error)
	// StaleJobs returns running jobs whose lease ended before now, locked,
	// oldest lease first.
	StaleJobs(ctx context.Context, now time.Time, limit int) ([]*Job, error)
	// CancelJobs cancels the unfinished jobs p selects and returns how many.
	// A running job's claim is voided: its handler learns at its next lease
	// renewal, and its outcome is not recorded.
	CancelJobs(ctx context.Context, p CancelParams) (int, error)
	// NextRunAt returns the earliest RunAt of the pending jobs of kinds
	// (any kind when empty), or the zero time when there are none.
	NextRunAt(ctx context.Context, kinds []string) (time.Time, error)
	// GetJob loads a job; ErrNotFound when there is none.
	GetJob(ctx context.Context, id int64) (*Job, error)
	// DeleteFinishedJobs deletes at most limit jobs that finished before
	// before, and returns how many.
	DeleteFinishedJobs(ctx context.Context, before time.Time, limit int) (int, error)
}

// Handler runs a job. A nil error finishes it. Any other error is retried
// with backoff until MaxAttempts, unless it is [Permanent]; [RetryAfter]
// sets the delay. ctx ends at the Queue's Timeout, and when the job is
// cancelled or its claim is lost (see [ErrLost]).
type Handler func(ctx context.Context, j *Job) error

// ErrRecorded is what a handler returns when it recorded the job's outcome
// itself, with Tx.FinishJob under j.Claim() in the transaction that
// recorded its own work, so that both commit together.
var ErrRecorded = errors.New("job: outcome recorded by the handler")

// ErrLost is the cause of a handler's context when its claim no longer
// holds: the job was cancelled, or its lease lapsed and it was re-offered.
var ErrLost = errors.New("job claim lost: cancelled or re-offered")

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the job fails at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type retryAfterError struct {
	err    error
	delay  time.Duration
	snooze bool
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter asks for the next attempt in d rather than after the
// computed backoff, as an HTTP Retry-After does. The attempt still counts
// toward MaxAttempts.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, delay: max(d, 0)}
}

// Snooze asks for the job to run again in d because something it waits
// for is not done yet: not a failure, so it is logged quietly. The attempt
// still counts toward MaxAttempts, which bounds how long a job can wait.
func Snooze(d time.Duration) error {
	return &retryAfterError{err: errSnoozed, delay: max(d, 0), snooze: true}
}

var errSnoozed = errors.New("job: snoozed")

// retryDelay returns the delay err asks for, if any.
func retryDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.delay, true
	}
	return 0, false
}

func isSnooze(err error) bool {
	var r *retryAfterError
	return errors.As(err, &r) && r.snooze
}
