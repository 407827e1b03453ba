package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

const stepCols = `id, run_id, incident_id, position, task_key, section, name, kind, executor, risk, status, reason, auto, queued,
	language, text, edited, target, namespace, params, needs_editing, approvals, approvers, expires_at, attempts, max_attempts,
	timeout_ms, result, error, actor, claimed_by, lease_until, created_at, started_at, finished_at, updated_at, approvers_rule, proc, parsed`

func scanStep(sc scanner) (*run.Step, error) {
	var (
		s                                 run.Step
		kind, exec, risk, status          string
		params, approvals, result, proc   []byte
		expires, lease, started, finished sql.NullInt64
		created, updated, timeoutMS       int64
	)
	err := sc.Scan(&s.ID, &s.RunID, &s.IncidentID, &s.Position, &s.TaskKey, &s.Section, &s.Name, &kind, &exec, &risk, &status,
		&s.Reason, &s.Auto, &s.Queued, &s.Language, &s.Text, &s.Edited, &s.Target, &s.Namespace, &params, &s.NeedsEditing,
		&approvals, &s.Approvers, &expires, &s.Attempts, &s.MaxAttempts, &timeoutMS, &result, &s.Error, &s.Actor, &s.ClaimedBy,
		&lease, &created, &started, &finished, &updated, &s.ApproversRule, &proc, &s.Parsed)
	if err != nil {
		return nil, err
	}
	s.Kind, s.Executor, s.Risk, s.Status = run.TaskKind(kind), run.Executor(exec), run.Risk(risk), run.Status(status)
	s.Timeout = time.Duration(timeoutMS) * time.Millisecond
	s.ExpiresAt, s.LeaseUntil = fromMicros(expires), fromMicros(lease)
	s.StartedAt, s.FinishedAt = fromMicros(started), fromMicros(finished)
	s.CreatedAt, s.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if err := store.SetStepProc(&s, proc); err != nil {
		return nil, err
	}
	return &s, store.SetStepBlobs(&s, params, approvals, result)
}

func stepArgs(s *run.Step) []any {
	params, approvals, result := store.StepBlobs(s)
	return []any{s.RunID, s.IncidentID, s.Position, s.TaskKey, s.Section, s.Name, string(s.Kind), string(s.Executor), string(s.Risk),
		string(s.Status), s.Reason, s.Auto, s.Queued, s.Language, s.Text, s.Edited, s.Target, s.Namespace, store.NullBytes(params),
		s.NeedsEditing, store.NullBytes(approvals), s.Approvers, nullMicros(s.ExpiresAt), s.Attempts, s.MaxAttempts,
		s.Timeout.Milliseconds(), store.NullBytes(result), s.Error, s.Actor, s.ClaimedBy, nullMicros(s.LeaseUntil),
		micros(s.CreatedAt), nullMicros(s.StartedAt), nullMicros(s.FinishedAt), micros(s.UpdatedAt),
		s.ApproversRule, store.NullBytes(store.StepProc(s)), store.NullBytes(s.Parsed)}
}

func (t *txn) InsertRun(ctx context.Context, r *run.Run) error {
	return t.tx.QueryRowContext(ctx, `INSERT INTO runs (incident_id, playbook_id, playbook_hash, procedure_key, procedure_title,
		match_reason, two_person, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.IncidentID, r.PlaybookID, r.PlaybookHash, r.ProcedureKey, r.ProcedureTitle, r.MatchReason, r.TwoPerson, micros(r.CreatedAt)).Scan(&r.ID)
}

func (t *txn) InsertSteps(ctx context.Context, steps []*run.Step) error {
	for _, st := range steps {
		t.touch(st.IncidentID)
	}
	stmt, err := t.tx.PrepareContext(ctx, `INSERT INTO steps (run_id, incident_id, position, task_key, section, name, kind, executor,
		risk, status, reason, auto, queued, language, text, edited, target, namespace, params, needs_editing, approvals, approvers,
		expires_at, attempts, max_attempts, timeout_ms, result, error, actor, claimed_by, lease_until, created_at, started_at,
		finished_at, updated_at, approvers_rule, proc, parsed) VALUES (`+placeholders(38)+`) RETURNING id`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, s := range steps {
		if err := stmt.QueryRowContext(ctx, stepArgs(s)...).Scan(&s.ID); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) LockStep(ctx context.Context, id int64) (*run.Step, error) {
	s, err := scanStep(t.tx.QueryRowContext(ctx, `SELECT `+stepCols+` FROM steps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "step %d not found", id)
	}
	return s, err
}

func (t *txn) UpdateSteps(ctx context.Context, steps []*run.Step) error {
	for _, st := range steps {
		t.touch(st.IncidentID)
	}
	if len(steps) == 0 {
		return nil
	}
	stmt, err := t.tx.PrepareContext(ctx, `UPDATE steps SET run_id = ?, incident_id = ?, position = ?, task_key = ?, section = ?,
		name = ?, kind = ?, executor = ?, risk = ?, status = ?, reason = ?, auto = ?, queued = ?, language = ?, text = ?, edited = ?,
		target = ?, namespace = ?, params = ?, needs_editing = ?, approvals = ?, approvers = ?, expires_at = ?, attempts = ?,
		max_attempts = ?, timeout_ms = ?, result = ?, error = ?, actor = ?, claimed_by = ?, lease_until = ?, created_at = ?,
		started_at = ?, finished_at = ?, updated_at = ?, approvers_rule = ?, proc = ?, parsed = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, s := range steps {
		if _, err := stmt.ExecContext(ctx, append(stepArgs(s), s.ID)...); err != nil {
			return err
		}
	}
	return nil
}

const claimStepSQL = `UPDATE steps SET status = 'running', queued = 0, claimed_by = ?, lease_until = ?,
	attempts = attempts + 1, started_at = ?, updated_at = ?, reason = ''
	WHERE id = ? AND status = 'pending' AND queued = 1
	RETURNING ` + stepCols

func (t *txn) querySteps(ctx context.Context, q string, args ...any) ([]*run.Step, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*run.Step
	for rows.Next() {
		s, err := scanStep(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (t *txn) OpenSteps(ctx context.Context, incidentID int64) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE incident_id = ?
		AND status NOT IN ('running', 'succeeded', 'failed', 'interrupted', 'cancelled', 'skipped') ORDER BY id`, incidentID)
}

// ClaimStep takes step id when it is still queued. SQLite has one writer,
// and this transaction holds the write lock, so the update cannot race
// another claim.
func (t *txn) ClaimStep(ctx context.Context, id int64, instance string, now, leaseUntil time.Time) (*run.Step, error) {
	steps, err := t.querySteps(ctx, claimStepSQL, instance, micros(leaseUntil), micros(now), micros(now), id)
	if err != nil || len(steps) == 0 {
		return nil, err
	}
	t.touch(steps[0].IncidentID)
	return steps[0], nil
}

func (t *txn) QueuedSteps(ctx context.Context, limit int) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE status = 'pending' AND queued = 1 ORDER BY position, id LIMIT ?`, limit)
}

func (t *txn) ExtendLease(ctx context.Context, id int64, instance string, until time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE steps SET lease_until = ? WHERE id = ? AND claimed_by = ? AND status = 'running'`,
		micros(until), id, instance)
	return err
}

func (t *txn) StaleSteps(ctx context.Context, now time.Time, limit int) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE status = 'running' AND lease_until < ? ORDER BY id LIMIT ?`, micros(now), limit)
}

func (t *txn) ExpiredApprovals(ctx context.Context, now time.Time, limit int) ([]*run.Step, error) {
	return t.querySteps(ctx, `SELECT `+stepCols+` FROM steps WHERE status = 'awaiting_approval' AND expires_at < ? ORDER BY id LIMIT ?`, micros(now), limit)
}

func (t *txn) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := t.tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (t *txn) SetSetting(ctx context.Context, key, value string) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

var (
	_ store.Tx    = (*txn)(nil)
	_ store.Store = (*DB)(nil)
)

func (db *DB) RunsOfIncident(ctx context.Context, incidentID int64) ([]run.Run, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, incident_id, playbook_id, playbook_hash, procedure_key, procedure_title,
		match_reason, two_person, created_at FROM runs WHERE incident_id = ? ORDER BY id`, incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []run.Run
	for rows.Next() {
		var (
			r       run.Run
			created int64
		)
		if err := rows.Scan(&r.ID, &r.IncidentID, &r.PlaybookID, &r.PlaybookHash, &r.ProcedureKey, &r.ProcedureTitle,
			&r.MatchReason, &r.TwoPerson, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = time.UnixMicro(created).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

func (db *DB) StepsOfIncident(ctx context.Context, incidentID int64) ([]run.Step, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+stepCols+` FROM steps WHERE incident_id = ? ORDER BY run_id, position`, incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []run.Step
	for rows.Next() {
		s, err := scanStep(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

func (db *DB) GetStep(ctx context.Context, id int64) (*run.Step, error) {
	s, err := scanStep(db.r.QueryRowContext(ctx, `SELECT `+stepCols+` FROM steps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "step %d not found", id)
	}
	return s, err
}

func (db *DB) ReadSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func placeholders(n int) string {
	b := make([]byte, 0, n*3)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '?')
	}
	return string(b)
}
