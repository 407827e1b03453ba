package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

const commCols = `id, incident_id, status, channel, subject, body, created_by, created_at, updated_at, sent_by, sent_at, error`

func scanComm(s scanner) (*incident.Communication, error) {
	var (
		c                incident.Communication
		status           string
		created, updated int64
		sent             sql.NullInt64
	)
	if err := s.Scan(&c.ID, &c.IncidentID, &status, &c.Channel, &c.Subject, &c.Body, &c.CreatedBy, &created, &updated, &c.SentBy, &sent, &c.Error); err != nil {
		return nil, err
	}
	c.Status = incident.CommStatus(status)
	c.CreatedAt, c.UpdatedAt, c.SentAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC(), fromMicros(sent)
	return &c, nil
}

func collectRows[T any](rows *sql.Rows, err error, scan func(scanner) (*T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

func (db *DB) ListCommunications(ctx context.Context, incidentID int64) ([]incident.Communication, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+commCols+` FROM communications WHERE incident_id = ? ORDER BY id`, incidentID)
	return collectRows(rows, err, scanComm)
}

func (db *DB) GetCommunication(ctx context.Context, id int64) (*incident.Communication, error) {
	c, err := scanComm(db.r.QueryRowContext(ctx, `SELECT `+commCols+` FROM communications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "communication %d not found", id)
	}
	return c, err
}

func (t *txn) LockCommunication(ctx context.Context, id int64) (*incident.Communication, error) {
	c, err := scanComm(t.tx.QueryRowContext(ctx, `SELECT `+commCols+` FROM communications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "communication %d not found", id)
	}
	return c, err
}

func (t *txn) SaveCommunication(ctx context.Context, c *incident.Communication) error {
	t.touch(c.IncidentID)
	if c.ID == 0 {
		return t.tx.QueryRowContext(ctx, `INSERT INTO communications (incident_id, status, channel, subject, body, created_by,
			created_at, updated_at, sent_by, sent_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.IncidentID, string(c.Status), c.Channel, c.Subject, c.Body, c.CreatedBy, micros(c.CreatedAt), micros(c.UpdatedAt),
			c.SentBy, nullMicros(c.SentAt), c.Error).Scan(&c.ID)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE communications SET status = ?, channel = ?, subject = ?, body = ?, updated_at = ?,
		sent_by = ?, sent_at = ?, error = ? WHERE id = ?`,
		string(c.Status), c.Channel, c.Subject, c.Body, micros(c.UpdatedAt), c.SentBy, nullMicros(c.SentAt), c.Error, c.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return incident.Errorf(incident.ENOTFOUND, "communication %d not found", c.ID)
	}
	return nil
}

func scanPhase(s scanner) (*store.PhaseState, error) {
	var (
		p       store.PhaseState
		state   string
		watch   sql.NullInt64
		updated int64
	)
	if err := s.Scan(&p.IncidentID, &state, &watch, &updated); err != nil {
		return nil, err
	}
	p.State, p.WatchUntil, p.UpdatedAt = []byte(state), fromMicros(watch), time.UnixMicro(updated).UTC()
	return &p, nil
}

func (db *DB) PhaseStates(ctx context.Context, ids []int64) (map[int64]*store.PhaseState, error) {
	out := make(map[int64]*store.PhaseState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT incident_id, state, watch_until, updated_at FROM incident_phases
		WHERE incident_id IN (SELECT value FROM json_each(?))`, jsonList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPhase(rows)
		if err != nil {
			return nil, err
		}
		out[p.IncidentID] = p
	}
	return out, rows.Err()
}

func (t *txn) LockPhaseState(ctx context.Context, incidentID int64) (*store.PhaseState, error) {
	p, err := scanPhase(t.tx.QueryRowContext(ctx, `SELECT incident_id, state, watch_until, updated_at FROM incident_phases WHERE incident_id = ?`, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

func (t *txn) SavePhaseState(ctx context.Context, p *store.PhaseState) error {
	t.touch(p.IncidentID)
	_, err := t.tx.ExecContext(ctx, `INSERT INTO incident_phases (incident_id, state, watch_until, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET state = excluded.state, watch_until = excluded.watch_until, updated_at = excluded.updated_at`,
		p.IncidentID, string(p.State), nullMicros(p.WatchUntil), micros(p.UpdatedAt))
	return err
}

func (t *txn) WatchedByGroup(ctx context.Context, keys []string, now time.Time) (map[string]*incident.Incident, error) {
	out := map[string]*incident.Incident{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents
		WHERE group_key IN (SELECT value FROM json_each(?)) AND status = 'resolved'
		AND id IN (SELECT incident_id FROM incident_phases WHERE watch_until > ?) ORDER BY id`, jsonList(keys), micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out[i.GroupKey] = i // the latest of a group wins
	}
	return out, rows.Err()
}

func scanReview(s scanner) (*store.Review, error) {
	var (
		r       store.Review
		created int64
	)
	if err := s.Scan(&r.IncidentID, &r.Version, &r.Status, &r.Markdown, &r.CreatedBy, &created); err != nil {
		return nil, err
	}
	r.CreatedAt = time.UnixMicro(created).UTC()
	return &r, nil
}

func (db *DB) ListReviews(ctx context.Context, incidentID int64) ([]store.Review, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT incident_id, version, status, markdown, created_by, created_at FROM reviews
		WHERE incident_id = ? ORDER BY version`, incidentID)
	return collectRows(rows, err, scanReview)
}

func (t *txn) AddReview(ctx context.Context, r *store.Review) error {
	t.touch(r.IncidentID)
	return t.tx.QueryRowContext(ctx, `INSERT INTO reviews (incident_id, version, status, markdown, created_by, created_at)
		VALUES (?, (SELECT coalesce(max(version), 0) + 1 FROM reviews WHERE incident_id = ?), ?, ?, ?, ?) RETURNING version`,
		r.IncidentID, r.IncidentID, r.Status, r.Markdown, r.CreatedBy, micros(r.CreatedAt)).Scan(&r.Version)
}

func (db *DB) CountTimeline(ctx context.Context, ids []int64, kinds []string) (map[int64]map[string]int, error) {
	out := map[int64]map[string]int{}
	if len(ids) == 0 || len(kinds) == 0 {
		return out, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT incident_id, kind, count(*) FROM timeline
		WHERE incident_id IN (SELECT value FROM json_each(?)) AND kind IN (SELECT value FROM json_each(?))
		GROUP BY incident_id, kind`, jsonList(ids), jsonList(kinds))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			kind string
			n    int
		)
		if err := rows.Scan(&id, &kind, &n); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string]int{}
		}
		out[id][kind] = n
	}
	return out, rows.Err()
}

func (db *DB) ListPlaybookVersions(ctx context.Context, name string, limit int) ([]store.PlaybookVersion, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT hash, name, path, loaded_at FROM playbook_versions WHERE name = ? ORDER BY loaded_at DESC, hash LIMIT ?`, name, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.PlaybookVersion
	for rows.Next() {
		var (
			v  store.PlaybookVersion
			at int64
		)
		if err := rows.Scan(&v.Hash, &v.Name, &v.Path, &at); err != nil {
			return nil, err
		}
		v.LoadedAt = time.UnixMicro(at).UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}
