package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

func (db *DB) GetIncident(ctx context.Context, id int64) (*incident.Incident, error) {
	i, err := scanIncident(db.r.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "incident %d not found", id)
	}
	return i, err
}

func (db *DB) ListIncidents(ctx context.Context, p store.ListIncidentsParams) ([]incident.Incident, error) {
	var (
		where []string
		args  []any
	)
	if len(p.Status) > 0 {
		where = append(where, `status IN (SELECT value FROM json_each(?))`)
		args = append(args, jsonList(p.Status))
	}
	if len(p.Severity) > 0 {
		where = append(where, `severity IN (SELECT value FROM json_each(?))`)
		args = append(args, jsonList(p.Severity))
	}
	if p.Service != "" {
		where = append(where, `service = ?`)
		args = append(args, p.Service)
	}
	if p.BeforeID > 0 {
		where = append(where, `id < ?`)
		args = append(args, p.BeforeID)
	}
	if !p.StartedFrom.IsZero() {
		where = append(where, `started_at >= ?`)
		args = append(args, micros(p.StartedFrom))
	}
	if !p.StartedTo.IsZero() {
		where = append(where, `started_at < ?`)
		args = append(args, micros(p.StartedTo))
	}
	q := `SELECT ` + incidentCols + ` FROM incidents`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, p.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []incident.Incident
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *i)
	}
	return out, rows.Err()
}

func (db *DB) ListAlerts(ctx context.Context, p store.ListAlertsParams) ([]incident.Alert, error) {
	q := `SELECT ` + alertCols + ` FROM alerts WHERE incident_id = ? AND id > ?`
	args := []any{p.IncidentID, p.AfterID}
	if p.Status != "" {
		q += ` AND status = ?`
		args = append(args, p.Status)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, p.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []incident.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

func (db *DB) ListTimeline(ctx context.Context, p store.ListTimelineParams) ([]incident.TimelineEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, incident_id, at, actor, kind, message, data FROM timeline
		WHERE incident_id = ? AND id > ? ORDER BY id LIMIT ?`, p.IncidentID, p.AfterID, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []incident.TimelineEntry
	for rows.Next() {
		var (
			e    incident.TimelineEntry
			at   int64
			kind string
			data []byte
		)
		if err := rows.Scan(&e.ID, &e.IncidentID, &at, &e.Actor, &kind, &e.Message, &data); err != nil {
			return nil, err
		}
		e.At, e.Kind = time.UnixMicro(at).UTC(), incident.EventKind(kind)
		if len(data) > 0 {
			e.Data = data
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (db *DB) CountOpenIncidents(ctx context.Context) (map[incident.Status]map[incident.Severity]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT status, severity, count(*) FROM incidents WHERE status <> 'resolved' GROUP BY status, severity`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[incident.Status]map[incident.Severity]int{}
	for rows.Next() {
		var (
			st  incident.Status
			sev incident.Severity
			n   int
		)
		if err := rows.Scan((*string)(&st), (*string)(&sev), &n); err != nil {
			return nil, err
		}
		if out[st] == nil {
			out[st] = map[incident.Severity]int{}
		}
		out[st][sev] = n
	}
	return out, rows.Err()
}

const tokenCols = `id, name, role, source, hash, prefix, created_at, created_by, revoked_at`

func scanToken(s scanner) (*auth.Token, error) {
	var (
		t       auth.Token
		role    string
		source  string
		created int64
		revoked sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.Name, &role, &source, &t.Hash, &t.Prefix, &created, &t.CreatedBy, &revoked); err != nil {
		return nil, err
	}
	t.Role, t.Source = auth.Role(role), incident.Source(source)
	t.CreatedAt, t.RevokedAt = time.UnixMicro(created).UTC(), fromMicros(revoked)
	return &t, nil
}

func (db *DB) TokenByHash(ctx context.Context, hash []byte) (*auth.Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ? AND revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "token not found")
	}
	return t, err
}

func (db *DB) ListTokens(ctx context.Context) ([]auth.Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

func (db *DB) HasAdmin(ctx context.Context) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL`).Scan(&n)
	return n > 0, err
}

func (db *DB) SavePlaybookVersion(ctx context.Context, v store.PlaybookVersion) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO playbook_versions (hash, name, path, content, loaded_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO NOTHING`, v.Hash, v.Name, v.Path, v.Content, micros(v.LoadedAt))
	return err
}

func (db *DB) GetPlaybookVersion(ctx context.Context, hash string) (*store.PlaybookVersion, error) {
	var (
		v      store.PlaybookVersion
		loaded int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT hash, name, path, content, loaded_at FROM playbook_versions WHERE hash = ?`, hash).
		Scan(&v.Hash, &v.Name, &v.Path, &v.Content, &loaded)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "playbook version %s not found", hash)
	}
	v.LoadedAt = time.UnixMicro(loaded).UTC()
	return &v, err
}
