package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

var (
	_ store.Tx    = (*txn)(nil)
	_ store.Store = (*DB)(nil)
)

const stepCols = `id, run_id, incident_id, position, task_key, section, name, kind, executor, risk, status, reason, auto, queued,
	language, text, edited, target, namespace, params, needs_editing, approvals, approvers, expires_at, attempts, max_attempts,
	timeout_ms, result, error, actor, claimed_by, lease_until, created_at, started_at, finished_at, updated_at, approvers_rule, proc, parsed`

// noNUL keeps a string storable, losslessly: PostgreSQL text cannot hold
// NUL, so it goes through the same escaping as the incident tables.
func noNUL(s string) text { return text(s) }

func scanStep(sc scanner) (*run.Step, error) {
	var (
		s                                 run.Step
		kind, exec, risk, status          string
		params, approvals, result, proc   []byte
		expires, lease, started, finished pgtype.Timestamptz
		created, updated                  time.Time
		timeoutMS                         int64
	)
	err := sc.Scan(&s.ID, &s.RunID, &s.IncidentID, &s.Position, (*text)(&s.TaskKey), (*text)(&s.Section), (*text)(&s.Name), &kind, &exec, &risk, &status,
		(*text)(&s.Reason), &s.Auto, &s.Queued, &s.Language, (*text)(&s.Text), &s.Edited, (*text)(&s.Target), (*text)(&s.Namespace), &params, (*text)(&s.NeedsEditing),
		&approvals, &s.Approvers, &expires, &s.Attempts, &s.MaxAttempts, &timeoutMS, &result, (*text)(&s.Error), (*text)(&s.Actor), &s.ClaimedBy,
		&lease, &created, &started, &finished, &updated, &s.ApproversRule, &proc, &s.Parsed)
	if err != nil {
		return nil, err
	}
	s.Kind, s.Executor, s.Risk, s.Status = run.TaskKind(kind), run.Executor(exec), run.Risk(risk), run.Status(status)
	s.Timeout = time.Duration(timeoutMS) * time.Millisecond
	s.ExpiresAt, s.LeaseUntil = fromTime(expires), fromTime(lease)
	s.StartedAt, s.FinishedAt = fromTime(started), fromTime(finished)
	s.CreatedAt, s.UpdatedAt = created.UTC(), updated.UTC()
	if err := store.SetStepProc(&s, proc); err != nil {
		return nil, err
	}
	return &s, store.SetStepBlobs(&s, params, approvals, result)
}

func stepArgs(s *run.Step) []any {
	params, approvals, result := store.StepBlobs(s)
	return []any{s.RunID, s.IncidentID, s.Position, noNUL(s.TaskKey), noNUL(s.Section), noNUL(s.Name), string(s.Kind), string(s.Executor),
		string(s.Risk), string(s.Status), noNUL(s.Reason), s.Auto, s.Queued, s.Language, noNUL(s.Text), s.Edited, noNUL(s.Target),
		noNUL(s.Namespace), nullJSON(params), noNUL(s.NeedsEditing), nullJSON(approvals), s.Approvers, nullTime(s.ExpiresAt),
		s.Attempts, s.MaxAttempts, s.Timeout.Milliseconds(), nullJSON(result), noNUL(s.Error), noNUL(s.Actor), s.ClaimedBy,
		nullTime(s.LeaseUntil), s.CreatedAt, nullTime(s.StartedAt), nullTime(s.FinishedAt), s.UpdatedAt,
		s.ApproversRule, nullJSON(store.StepProc(s)), nullJSON(s.Parsed)}
}

func (t *txn) InsertRun(ctx context.Context, r *run.Run) error {
	return t.tx.QueryRow(ctx, `INSERT INTO runs (incident_id, playbook_id, playbook_hash, procedure_key, procedure_title,
		match_reason, two_person, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		r.IncidentID, r.PlaybookID, r.PlaybookHash, r.ProcedureKey, noNUL(r.ProcedureTitle), noNUL(r.MatchReason), r.TwoPerson, r.CreatedAt).Scan(&r.ID)
}

const insertStep = `INSERT INTO steps (run_id, incident_id, position, task_key, section, name, kind, executor,
	risk, status, reason, auto, queued, language, text, edited, target, namespace, params, needs_editing, approvals, approvers,
	expires_at, attempts, max_attempts, timeout_ms, result, error, actor, claimed_by, lease_until, created_at, started_at,
	finished_at, updated_at, approvers_rule, proc, parsed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38) RETURNING id`

func (t *txn) InsertSteps(ctx context.Context, steps []*run.Step) error {
	for _, st := range steps {
		t.touch(st.IncidentID)
	}
	b := &pgx.Batch{}
	for _, s := range steps {
		b.Queue(insertStep, stepArgs(s)...)
	}
	br := t.tx.SendBatch(ctx, b)
	for _, s := range steps {
		if err := br.QueryRow().Scan(&s.ID); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

func (t *txn) LockStep(ctx context.Context, id int64) (*run.Step, error) {
	s, err := scanStep(t.tx.QueryRow(ctx, `SELECT `+stepCols+` FROM steps WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "step %d not found", id)
	}
	return s, err
}

const updateStep = `UPDATE steps SET run_id = $1, incident_id = $2, position = $3, task_key = $4, section = $5,
	name = $6, kind = $7, executor = $8, risk = $9, status = $10, reason = $11, auto = $12, queued = $13, language = $14, text = $15,
	edited = $16, target = $17, namespace = $18, params = $19, needs_editing = $20, approvals = $21, approvers = $22,
	expires_at = $23, attempts = $24, max_attempts = $25, timeout_ms = $26, result = $27, error = $28, actor = $29,
	claimed_by = $30, lease_until = $31, created_at = $32, started_at = $33, finished_at = $34, updated_at = $35,
	approvers_rule = $36, proc = $37, parsed = $38 WHERE id = $39`

func (t *txn) UpdateSteps(ctx context.Context, steps []*run.Step) error {
	for _, st := range steps {
		t.touch(st.IncidentID)
	}
	if len(steps) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, s := range steps {
		b.Queue(updateStep, append(stepArgs(s), s.ID)...)
	}
	return t.tx.SendBatch(ctx, b).Close()
}

func (t *txn) querySteps(ctx context.Context, q string, args ...any) ([]*run.Step, error) {
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanStep)
}

func (t *txn) OpenSteps(ctx context.Context, incidentID int64) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE incident_id = $1
		AND status NOT IN ('running', 'succeeded', 'failed', 'interrupted', 'cancelled', 'skipped') ORDER BY id FOR UPDATE`, incidentID)
}

// ClaimStep takes step id when it is still queued: the update locks the
// row, and a second claimer's update finds it running and changes nothing.
func (t *txn) ClaimStep(ctx context.Context, id int64, instance string, now, leaseUntil time.Time) (*run.Step, error) {
	steps, err := t.querySteps(ctx, `UPDATE steps SET status = 'running', queued = false, claimed_by = $1, lease_until = $2,
		attempts = attempts + 1, started_at = $3, updated_at = $3, reason = ''
		WHERE id = $4 AND status = 'pending' AND queued
		RETURNING `+stepCols, instance, leaseUntil, now, id)
	if err != nil || len(steps) == 0 {
		return nil, err
	}
	t.touch(steps[0].IncidentID)
	return steps[0], nil
}

func (t *txn) QueuedSteps(ctx context.Context, limit int) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE status = 'pending' AND queued
		ORDER BY position, id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
}

func (t *txn) ExtendLease(ctx context.Context, id int64, instance string, until time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE steps SET lease_until = $1 WHERE id = $2 AND claimed_by = $3 AND status = 'running'`, until, id, instance)
	return err
}

func (t *txn) StaleSteps(ctx context.Context, now time.Time, limit int) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE status = 'running' AND lease_until < $1
		ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
}

func (t *txn) ExpiredApprovals(ctx context.Context, now time.Time, limit int) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE status = 'awaiting_approval' AND expires_at < $1
		ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
}

func (t *txn) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := t.tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (t *txn) SetSetting(ctx context.Context, key, value string) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

func (db *DB) RunsOfIncident(ctx context.Context, incidentID int64) ([]run.Run, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, incident_id, playbook_id, playbook_hash, procedure_key, procedure_title,
		match_reason, two_person, created_at FROM runs WHERE incident_id = $1 ORDER BY id`, incidentID)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, func(s scanner) (run.Run, error) {
		var r run.Run
		err := s.Scan(&r.ID, &r.IncidentID, &r.PlaybookID, &r.PlaybookHash, &r.ProcedureKey, (*text)(&r.ProcedureTitle), (*text)(&r.MatchReason), &r.TwoPerson, &r.CreatedAt)
		r.CreatedAt = r.CreatedAt.UTC()
		return r, err
	})
	return out, err
}

func (db *DB) StepsOfIncident(ctx context.Context, incidentID int64) ([]run.Step, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+stepCols+` FROM steps WHERE incident_id = $1 ORDER BY run_id, position`, incidentID)
	if err != nil {
		return nil, err
	}
	steps, err := collect(rows, scanStep)
	if err != nil {
		return nil, err
	}
	out := make([]run.Step, len(steps))
	for i, s := range steps {
		out[i] = *s
	}
	return out, nil
}

func (db *DB) GetStep(ctx context.Context, id int64) (*run.Step, error) {
	s, err := scanStep(db.pool.QueryRow(ctx, `SELECT `+stepCols+` FROM steps WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "step %d not found", id)
	}
	return s, err
}

func (db *DB) ReadSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, err
}
