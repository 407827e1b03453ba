package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/firebreak-dev/firebreak/internal/job"
)

// The job queue on PostgreSQL. Claims lock the row they take FOR UPDATE
// SKIP LOCKED, so claimers in any number of instances pass each other by
// instead of queueing on one row. Inserting transactions NOTIFY
// jobsChannel, which PostgreSQL delivers at commit, and never for a
// transaction that rolls back; WatchJobs LISTENs on it.

// jobsChannel is the NOTIFY channel; the payload is the job kind. Every
// database has its own channels, but schemas share them: instances in
// other schemas of the same database wake each other for nothing, which
// costs one empty claim.
const jobsChannel = "firebreak_jobs"

const jobCols = `id, kind, coalesce(unique_key, ''), payload, priority, run_at, state, attempts, max_attempts,
	last_error, claimed_by, lease_until, created_at, updated_at, finished_at`

func scanJob(sc scanner) (*job.Job, error) {
	var (
		j               job.Job
		state           string
		payload         []byte
		lease, finished pgtype.Timestamptz
	)
	err := sc.Scan(&j.ID, (*text)(&j.Kind), (*text)(&j.Key), &payload, &j.Priority, &j.RunAt, &state, &j.Attempts,
		&j.MaxAttempts, (*text)(&j.LastError), (*text)(&j.ClaimedBy), &lease, &j.CreatedAt, &j.UpdatedAt, &finished)
	if err != nil {
		return nil, err
	}
	j.State = job.State(state)
	if len(payload) > 0 {
		j.Payload = payload
	}
	j.RunAt, j.CreatedAt, j.UpdatedAt = j.RunAt.UTC(), j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	j.LeaseUntil, j.FinishedAt = fromTime(lease), fromTime(finished)
	return &j, nil
}

func (t *txn) queryJobs(ctx context.Context, q string, args ...any) ([]*job.Job, error) {
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanJob)
}

// nullText stores the empty string as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return text(s)
}

// insertJob inserts one job unless an unfinished job holds its key. The
// ON CONFLICT clause names the partial unique index by its predicate.
// When another transaction holds the key uncommitted, it waits for that
// transaction's outcome.
const insertJob = `INSERT INTO job_queue (kind, unique_key, payload, priority, run_at, state, max_attempts, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7)
	ON CONFLICT (unique_key) WHERE state IN ('pending', 'running') DO NOTHING
	RETURNING id`

func (t *txn) InsertJobs(ctx context.Context, p job.InsertParams) ([]job.Inserted, error) {
	jobs, err := p.Prepare()
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	out := make([]job.Inserted, len(jobs))
	b := &pgx.Batch{}
	kinds := map[string]bool{}
	for _, n := range jobs {
		b.Queue(insertJob, text(n.Kind), nullText(n.Key), nullJSON(n.Payload), n.Priority, n.RunAt, n.MaxAttempts, p.Now)
		kinds[n.Kind] = true
	}
	// Queued in this transaction, delivered at its commit. A wake-up for a
	// job that turned out a duplicate costs a listener one empty claim.
	for k := range kinds {
		b.Queue(`SELECT pg_notify('`+jobsChannel+`', $1)`, text(k))
	}
	br := t.tx.SendBatch(ctx, b)
	var dups []int
	for i, n := range jobs {
		err := br.QueryRow().Scan(&out[i].ID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			dups = append(dups, i)
		case err != nil:
			br.Close()
			return nil, fmt.Errorf("insert job %s: %w", n.Kind, err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	for _, i := range dups {
		if err := t.insertDuplicate(ctx, jobs[i], p.Now, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// insertDuplicate settles a job whose insert met its key: it finds the
// holder, which this statement's fresh snapshot sees even when it
// committed after the insert began, or, when the holder finished in
// between, inserts again.
func (t *txn) insertDuplicate(ctx context.Context, n job.NewJob, now time.Time, out *job.Inserted) error {
	for range 5 {
		err := t.tx.QueryRow(ctx, `SELECT id FROM job_queue WHERE unique_key = $1 AND state IN ('pending', 'running')`,
			text(n.Key)).Scan(&out.ID)
		if err == nil {
			out.Duplicate = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		err = t.tx.QueryRow(ctx, insertJob, text(n.Kind), nullText(n.Key), nullJSON(n.Payload), n.Priority, n.RunAt,
			n.MaxAttempts, now).Scan(&out.ID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("insert job %s: %w", n.Kind, err)
		}
	}
	return fmt.Errorf("insert job %s: its key %q keeps changing hands", n.Kind, n.Key)
}

func (t *txn) ClaimJob(ctx context.Context, p job.ClaimParams) (*job.Job, error) {
	filter, args := "", []any{text(p.Instance), p.LeaseUntil, p.Now}
	if len(p.Kinds) > 0 {
		filter, args = ` AND kind = ANY($4)`, append(args, texts(p.Kinds))
	}
	jobs, err := t.queryJobs(ctx, `UPDATE job_queue SET state = 'running', attempts = attempts + 1, claimed_by = $1,
		lease_until = $2, updated_at = $3
		WHERE id = (SELECT id FROM job_queue WHERE state = 'pending' AND run_at <= $3`+filter+`
			ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobCols, args...)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	return jobs[0], nil
}

// execClaimed runs an UPDATE of a running job under claim c; the claim's
// parameters are $1 to $3, the statement's own follow.
func (t *txn) execClaimed(ctx context.Context, set string, c job.Claim, args ...any) (bool, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE job_queue SET `+set+`
		WHERE id = $1 AND state = 'running' AND claimed_by = $2 AND attempts = $3`,
		append([]any{c.ID, text(c.Instance), c.Attempt}, args...)...)
	return tag.RowsAffected() > 0, err
}

func (t *txn) ExtendJobLease(ctx context.Context, c job.Claim, until time.Time) (bool, error) {
	return t.execClaimed(ctx, `lease_until = $4`, c, until)
}

func (t *txn) FinishJob(ctx context.Context, p job.FinishParams) (bool, error) {
	if !p.State.Finished() {
		return false, fmt.Errorf("finish job %d: %q is not a final state", p.ID, p.State)
	}
	return t.execClaimed(ctx, `state = $4, last_error = $5, claimed_by = '', lease_until = NULL, updated_at = $6,
		finished_at = $6`, p.Claim, string(p.State), text(p.Error), p.Now)
}

func (t *txn) RetryJob(ctx context.Context, p job.RetryParams) (bool, error) {
	return t.execClaimed(ctx, `state = 'pending', run_at = $4, last_error = $5, claimed_by = '', lease_until = NULL,
		updated_at = $6`, p.Claim, p.RunAt, text(p.Error), p.Now)
}

func (t *txn) StaleJobs(ctx context.Context, now time.Time, limit int) ([]*job.Job, error) {
	return t.queryJobs(ctx, `SELECT `+jobCols+` FROM job_queue WHERE state = 'running' AND lease_until < $1
		ORDER BY lease_until, id LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
}

func (t *txn) CancelJobs(ctx context.Context, p job.CancelParams) (int, error) {
	if len(p.IDs) == 0 && p.KeyPrefix == "" {
		return 0, nil
	}
	// Escaping keeps prefixes: escapeText works byte by byte.
	tag, err := t.tx.Exec(ctx, `UPDATE job_queue SET state = 'cancelled', claimed_by = '', lease_until = NULL,
		updated_at = $1, finished_at = $1
		WHERE state IN ('pending', 'running') AND (id = ANY($2) OR ($3 <> '' AND starts_with(unique_key, $3)))`,
		p.Now, p.IDs, text(p.KeyPrefix))
	return int(tag.RowsAffected()), err
}

func (t *txn) NextRunAt(ctx context.Context, kinds []string) (time.Time, error) {
	filter, args := "", []any{}
	if len(kinds) > 0 {
		filter, args = ` AND kind = ANY($1)`, append(args, texts(kinds))
	}
	var at pgtype.Timestamptz
	err := t.tx.QueryRow(ctx, `SELECT min(run_at) FROM job_queue WHERE state = 'pending'`+filter, args...).Scan(&at)
	return fromTime(at), err
}

func (t *txn) GetJob(ctx context.Context, id int64) (*job.Job, error) {
	j, err := scanJob(t.tx.QueryRow(ctx, `SELECT `+jobCols+` FROM job_queue WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, job.ErrNotFound)
	}
	return j, err
}

func (t *txn) DeleteFinishedJobs(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM job_queue WHERE id IN (SELECT id FROM job_queue
		WHERE finished_at IS NOT NULL AND finished_at < $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	return int(tag.RowsAffected()), err
}

// Listener timings: how long the LISTEN connection may sit silent before
// it is pinged (a peer that vanished without a FIN is found this way), and
// the bounds of the backoff between reconnection attempts.
const (
	listenIdle       = 30 * time.Second
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// WatchJobs LISTENs for new jobs on a connection of its own, outside the
// pool, and calls wake for each notification, and after each (re)connect,
// since notifications sent while it was not listening are lost. It
// reconnects with jittered backoff until ctx ends, and returns nil then.
func (db *DB) WatchJobs(ctx context.Context, wake func()) error {
	return db.watch(ctx, jobsChannel, func(string) { wake() }, wake)
}

// watch holds a LISTEN on channel, reconnecting with jittered backoff
// until ctx ends. It calls connected after each (re)connect and notified
// with each notification's payload.
func (db *DB) watch(ctx context.Context, channel string, notified func(payload string), connected func()) error {
	backoff := listenMinBackoff
	for ctx.Err() == nil {
		start := time.Now()
		db.listen(ctx, channel, notified, connected)
		if time.Since(start) > time.Minute {
			backoff = listenMinBackoff
		}
		d := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
	return nil
}

// listen holds one LISTEN connection until it fails or ctx ends.
func (db *DB) listen(ctx context.Context, channel string, notified func(string), connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		return err
	}
	connected()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			notified(n.Payload)
		case ctx.Err() != nil:
			return nil
		case wctx.Err() != nil && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}
