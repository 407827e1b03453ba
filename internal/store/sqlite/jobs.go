package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/job"
)

// The job queue on SQLite. The transaction holds the one write lock from
// BEGIN (_txlock=immediate), so a claim cannot race another: the single
// writer is the lock that PostgreSQL gets from FOR UPDATE SKIP LOCKED.

const jobCols = `id, kind, coalesce(unique_key, ''), payload, priority, run_at, state, attempts, max_attempts,
	last_error, claimed_by, lease_until, created_at, updated_at, finished_at`

func scanJob(sc scanner) (*job.Job, error) {
	var (
		j                       job.Job
		state                   string
		payload                 []byte
		runAt, created, updated int64
		lease, finished         sql.NullInt64
	)
	err := sc.Scan(&j.ID, &j.Kind, &j.Key, &payload, &j.Priority, &runAt, &state, &j.Attempts, &j.MaxAttempts,
		&j.LastError, &j.ClaimedBy, &lease, &created, &updated, &finished)
	if err != nil {
		return nil, err
	}
	j.State = job.State(state)
	if len(payload) > 0 {
		j.Payload = payload
	}
	j.RunAt, j.CreatedAt, j.UpdatedAt = time.UnixMicro(runAt).UTC(), time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	j.LeaseUntil, j.FinishedAt = fromMicros(lease), fromMicros(finished)
	return &j, nil
}

func (t *txn) queryJobs(ctx context.Context, q string, args ...any) ([]*job.Job, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*job.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *txn) InsertJobs(ctx context.Context, p job.InsertParams) ([]job.Inserted, error) {
	jobs, err := p.Prepare()
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	out := make([]job.Inserted, len(jobs))
	for i, n := range jobs {
		if n.Key != "" {
			// One writer: no other transaction can insert this key between
			// this look and the insert.
			err := t.tx.QueryRowContext(ctx, `SELECT id FROM job_queue WHERE unique_key = ? AND state IN ('pending', 'running')`,
				n.Key).Scan(&out[i].ID)
			if err == nil {
				out[i].Duplicate = true
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
		}
		err := t.tx.QueryRowContext(ctx, `INSERT INTO job_queue (kind, unique_key, payload, priority, run_at, state,
			max_attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) RETURNING id`,
			n.Kind, nullString(n.Key), nullString(string(n.Payload)), n.Priority, micros(n.RunAt), n.MaxAttempts,
			micros(p.Now), micros(p.Now)).Scan(&out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("insert job %s: %w", n.Kind, err)
		}
		t.jobsInserted = true
	}
	return out, nil
}

func (t *txn) ClaimJob(ctx context.Context, p job.ClaimParams) (*job.Job, error) {
	filter, args := "", []any{p.Instance, micros(p.LeaseUntil), micros(p.Now), micros(p.Now)}
	if len(p.Kinds) > 0 {
		filter, args = ` AND kind IN (SELECT value FROM json_each(?))`, append(args, jsonList(p.Kinds))
	}
	jobs, err := t.queryJobs(ctx, `UPDATE job_queue SET state = 'running', attempts = attempts + 1, claimed_by = ?,
		lease_until = ?, updated_at = ?
		WHERE id = (SELECT id FROM job_queue WHERE state = 'pending' AND run_at <= ?`+filter+`
			ORDER BY priority, run_at, id LIMIT 1)
		RETURNING `+jobCols, args...)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	return jobs[0], nil
}

// claimed is the guard of every update made under a claim.
const claimed = ` WHERE id = ? AND state = 'running' AND claimed_by = ? AND attempts = ?`

func (t *txn) execClaimed(ctx context.Context, q string, c job.Claim, args ...any) (bool, error) {
	res, err := t.tx.ExecContext(ctx, q+claimed, append(args, c.ID, c.Instance, c.Attempt)...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (t *txn) ExtendJobLease(ctx context.Context, c job.Claim, until time.Time) (bool, error) {
	return t.execClaimed(ctx, `UPDATE job_queue SET lease_until = ?`, c, micros(until))
}

func (t *txn) FinishJob(ctx context.Context, p job.FinishParams) (bool, error) {
	if !p.State.Finished() {
		return false, fmt.Errorf("finish job %d: %q is not a final state", p.ID, p.State)
	}
	return t.execClaimed(ctx, `UPDATE job_queue SET state = ?, last_error = ?, claimed_by = '', lease_until = NULL,
		updated_at = ?, finished_at = ?`, p.Claim, string(p.State), p.Error, micros(p.Now), micros(p.Now))
}

func (t *txn) RetryJob(ctx context.Context, p job.RetryParams) (bool, error) {
	return t.execClaimed(ctx, `UPDATE job_queue SET state = 'pending', run_at = ?, last_error = ?, claimed_by = '',
		lease_until = NULL, updated_at = ?`, p.Claim, micros(p.RunAt), p.Error, micros(p.Now))
}

func (t *txn) StaleJobs(ctx context.Context, now time.Time, limit int) ([]*job.Job, error) {
	return t.queryJobs(ctx, `SELECT `+jobCols+` FROM job_queue WHERE state = 'running' AND lease_until < ?
		ORDER BY lease_until, id LIMIT ?`, micros(now), limit)
}

func (t *txn) CancelJobs(ctx context.Context, p job.CancelParams) (int, error) {
	if len(p.IDs) == 0 && p.KeyPrefix == "" {
		return 0, nil
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE job_queue SET state = 'cancelled', claimed_by = '', lease_until = NULL,
		updated_at = ?, finished_at = ?
		WHERE state IN ('pending', 'running') AND (id IN (SELECT value FROM json_each(?))
			OR (? <> '' AND substr(unique_key, 1, ?) = ?))`,
		micros(p.Now), micros(p.Now), jsonList(p.IDs), p.KeyPrefix, utf8.RuneCountInString(p.KeyPrefix), p.KeyPrefix)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *txn) NextRunAt(ctx context.Context, kinds []string) (time.Time, error) {
	filter, args := "", []any{}
	if len(kinds) > 0 {
		filter, args = ` AND kind IN (SELECT value FROM json_each(?))`, append(args, jsonList(kinds))
	}
	var at sql.NullInt64
	err := t.tx.QueryRowContext(ctx, `SELECT min(run_at) FROM job_queue WHERE state = 'pending'`+filter, args...).Scan(&at)
	return fromMicros(at), err
}

func (t *txn) GetJob(ctx context.Context, id int64) (*job.Job, error) {
	j, err := scanJob(t.tx.QueryRowContext(ctx, `SELECT `+jobCols+` FROM job_queue WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, job.ErrNotFound)
	}
	return j, err
}

func (t *txn) DeleteFinishedJobs(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM job_queue WHERE id IN (SELECT id FROM job_queue
		WHERE finished_at IS NOT NULL AND finished_at < ? ORDER BY finished_at LIMIT ?)`, micros(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// watchers are the callbacks of WatchJobs or WatchChanges calls, told
// after a commit. SQLite is embedded: only this process writes, so an
// in-process call is the whole of LISTEN/NOTIFY.
type watchers[T any] struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(T)
}

func (w *watchers[T]) add(fn func(T)) (remove func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(T){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
	}
}

func (w *watchers[T]) tell(v T) {
	w.mu.Lock()
	fns := make([]func(T), 0, len(w.fns))
	for _, fn := range w.fns {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(v)
	}
}

// WatchJobs calls wake after every commit in this process that inserted
// jobs, until ctx ends.
func (db *DB) WatchJobs(ctx context.Context, wake func()) error {
	remove := db.jobWatch.add(func(struct{}) { wake() })
	defer remove()
	wake()
	<-ctx.Done()
	return nil
}
