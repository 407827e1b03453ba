package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

func (db *DB) GetIncident(ctx context.Context, id int64) (*incident.Incident, error) {
	i, err := scanIncident(db.pool.QueryRow(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "incident %d not found", id)
	}
	return i, err
}

// limit is a LIMIT argument: a negative limit means none, as in SQLite.
func limit(n int) any {
	if n < 0 {
		return nil
	}
	return n
}

func (db *DB) ListIncidents(ctx context.Context, p store.ListIncidentsParams) ([]incident.Incident, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(p.Status) > 0 {
		where = append(where, `status = ANY(`+arg(texts(p.Status))+`)`)
	}
	if len(p.Severity) > 0 {
		where = append(where, `severity = ANY(`+arg(texts(p.Severity))+`)`)
	}
	if p.Service != "" {
		where = append(where, `service = `+arg(text(p.Service)))
	}
	if p.BeforeID > 0 {
		where = append(where, `id < `+arg(p.BeforeID))
	}
	if !p.StartedFrom.IsZero() {
		where = append(where, `started_at >= `+arg(p.StartedFrom))
	}
	if !p.StartedTo.IsZero() {
		where = append(where, `started_at < `+arg(p.StartedTo))
	}
	q := `SELECT ` + incidentCols + ` FROM incidents`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id DESC LIMIT ` + arg(limit(p.Limit))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(s scanner) (incident.Incident, error) {
		i, err := scanIncident(s)
		if err != nil {
			return incident.Incident{}, err
		}
		return *i, nil
	})
}

func (db *DB) ListAlerts(ctx context.Context, p store.ListAlertsParams) ([]incident.Alert, error) {
	q := `SELECT ` + alertCols + ` FROM alerts WHERE incident_id = $1 AND id > $2`
	args := []any{p.IncidentID, p.AfterID}
	if p.Status != "" {
		q += ` AND status = $3`
		args = append(args, text(p.Status))
	}
	q += ` ORDER BY id LIMIT $` + strconv.Itoa(len(args)+1)
	args = append(args, limit(p.Limit))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(s scanner) (incident.Alert, error) {
		a, err := scanAlert(s)
		if err != nil {
			return incident.Alert{}, err
		}
		return *a, nil
	})
}

func (db *DB) ListTimeline(ctx context.Context, p store.ListTimelineParams) ([]incident.TimelineEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, incident_id, at, actor, kind, message, data FROM timeline
		WHERE incident_id = $1 AND id > $2 ORDER BY id LIMIT $3`, p.IncidentID, p.AfterID, limit(p.Limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(s scanner) (incident.TimelineEntry, error) {
		var (
			e    incident.TimelineEntry
			data []byte
		)
		if err := s.Scan(&e.ID, &e.IncidentID, &e.At, (*text)(&e.Actor), (*text)(&e.Kind), (*text)(&e.Message), &data); err != nil {
			return e, err
		}
		e.At = e.At.UTC()
		if len(data) > 0 {
			e.Data = data
		}
		return e, nil
	})
}

func (db *DB) CountOpenIncidents(ctx context.Context) (map[incident.Status]map[incident.Severity]int, error) {
	rows, err := db.pool.Query(ctx, `SELECT status, severity, count(*) FROM incidents WHERE status <> 'resolved' GROUP BY status, severity`)
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
		if err := rows.Scan((*text)(&st), (*text)(&sev), &n); err != nil {
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

func scanToken(s scanner) (auth.Token, error) {
	var (
		t       auth.Token
		revoked pgtype.Timestamptz
	)
	if err := s.Scan(&t.ID, (*text)(&t.Name), (*text)(&t.Role), (*text)(&t.Source), &t.Hash, (*text)(&t.Prefix),
		&t.CreatedAt, (*text)(&t.CreatedBy), &revoked); err != nil {
		return t, err
	}
	t.CreatedAt, t.RevokedAt = t.CreatedAt.UTC(), fromTime(revoked)
	return t, nil
}

func (db *DB) TokenByHash(ctx context.Context, hash []byte) (*auth.Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "token not found")
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (db *DB) ListTokens(ctx context.Context) ([]auth.Token, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanToken)
}

func (db *DB) HasAdmin(ctx context.Context) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tokens WHERE role = 'admin' AND revoked_at IS NULL)`).Scan(&ok)
	return ok, err
}

func (db *DB) SavePlaybookVersion(ctx context.Context, v store.PlaybookVersion) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO playbook_versions (hash, name, path, content, loaded_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (hash) DO NOTHING`, text(v.Hash), text(v.Name), text(v.Path), v.Content, v.LoadedAt)
	return err
}

func (db *DB) GetPlaybookVersion(ctx context.Context, hash string) (*store.PlaybookVersion, error) {
	var v store.PlaybookVersion
	err := db.pool.QueryRow(ctx, `SELECT hash, name, path, content, loaded_at FROM playbook_versions WHERE hash = $1`, text(hash)).
		Scan((*text)(&v.Hash), (*text)(&v.Name), (*text)(&v.Path), &v.Content, &v.LoadedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "playbook version %s not found", hash)
	}
	if err != nil {
		return nil, err
	}
	v.LoadedAt = v.LoadedAt.UTC()
	return &v, nil
}
