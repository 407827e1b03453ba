package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

const commCols = `id, incident_id, status, channel, subject, body, created_by, created_at, updated_at, sent_by, sent_at, error`

func scanComm(s scanner) (*incident.Communication, error) {
	var (
		c    incident.Communication
		sent pgtype.Timestamptz
	)
	if err := s.Scan(&c.ID, &c.IncidentID, (*text)(&c.Status), (*text)(&c.Channel), (*text)(&c.Subject), (*text)(&c.Body),
		(*text)(&c.CreatedBy), &c.CreatedAt, &c.UpdatedAt, (*text)(&c.SentBy), &sent, (*text)(&c.Error)); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if sent.Valid {
		c.SentAt = sent.Time.UTC()
	}
	return &c, nil
}

func values[T any](ptrs []*T, err error) ([]T, error) {
	out := make([]T, 0, len(ptrs))
	for _, p := range ptrs {
		out = append(out, *p)
	}
	return out, err
}

func (db *DB) ListCommunications(ctx context.Context, incidentID int64) ([]incident.Communication, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+commCols+` FROM communications WHERE incident_id = $1 ORDER BY id`, incidentID)
	if err != nil {
		return nil, err
	}
	return values(collect(rows, scanComm))
}

func (db *DB) GetCommunication(ctx context.Context, id int64) (*incident.Communication, error) {
	c, err := scanComm(db.pool.QueryRow(ctx, `SELECT `+commCols+` FROM communications WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "communication %d not found", id)
	}
	return c, err
}

func (t *txn) LockCommunication(ctx context.Context, id int64) (*incident.Communication, error) {
	c, err := scanComm(t.tx.QueryRow(ctx, `SELECT `+commCols+` FROM communications WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "communication %d not found", id)
	}
	return c, err
}

func (t *txn) SaveCommunication(ctx context.Context, c *incident.Communication) error {
	t.touch(c.IncidentID)
	if c.ID == 0 {
		return t.tx.QueryRow(ctx, `INSERT INTO communications (incident_id, status, channel, subject, body, created_by,
			created_at, updated_at, sent_by, sent_at, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			c.IncidentID, text(c.Status), text(c.Channel), text(c.Subject), text(c.Body), text(c.CreatedBy), c.CreatedAt, c.UpdatedAt,
			text(c.SentBy), nullTime(c.SentAt), text(c.Error)).Scan(&c.ID)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE communications SET status = $1, channel = $2, subject = $3, body = $4, updated_at = $5,
		sent_by = $6, sent_at = $7, error = $8 WHERE id = $9`,
		text(c.Status), text(c.Channel), text(c.Subject), text(c.Body), c.UpdatedAt, text(c.SentBy), nullTime(c.SentAt), text(c.Error), c.ID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return incident.Errorf(incident.ENOTFOUND, "communication %d not found", c.ID)
	}
	return nil
}

func scanPhase(s scanner) (*store.PhaseState, error) {
	var (
		p     store.PhaseState
		watch pgtype.Timestamptz
	)
	if err := s.Scan(&p.IncidentID, &p.State, &watch, &p.UpdatedAt); err != nil {
		return nil, err
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	if watch.Valid {
		p.WatchUntil = watch.Time.UTC()
	}
	return &p, nil
}

func (db *DB) PhaseStates(ctx context.Context, ids []int64) (map[int64]*store.PhaseState, error) {
	out := make(map[int64]*store.PhaseState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT incident_id, state, watch_until, updated_at FROM incident_phases WHERE incident_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	ps, err := collect(rows, scanPhase)
	for _, p := range ps {
		out[p.IncidentID] = p
	}
	return out, err
}

func (t *txn) LockPhaseState(ctx context.Context, incidentID int64) (*store.PhaseState, error) {
	p, err := scanPhase(t.tx.QueryRow(ctx, `SELECT incident_id, state, watch_until, updated_at FROM incident_phases
		WHERE incident_id = $1 FOR UPDATE`, incidentID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

func (t *txn) SavePhaseState(ctx context.Context, p *store.PhaseState) error {
	t.touch(p.IncidentID)
	_, err := t.tx.Exec(ctx, `INSERT INTO incident_phases (incident_id, state, watch_until, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (incident_id) DO UPDATE SET state = excluded.state, watch_until = excluded.watch_until, updated_at = excluded.updated_at`,
		p.IncidentID, jsonText(p.State), nullTime(p.WatchUntil), p.UpdatedAt)
	return err
}

// jsonText passes a document the phase package encoded, for a json column.
func jsonText(b []byte) any { return string(b) }

func (t *txn) WatchedByGroup(ctx context.Context, keys []string, now time.Time) (map[string]*incident.Incident, error) {
	out := map[string]*incident.Incident{}
	if len(keys) == 0 {
		return out, nil
	}
	t.asked.keys = append(t.asked.keys, keys...)
	incs, err := t.lockIncidents(ctx, `group_key = ANY($1) AND status = 'resolved'
		AND id IN (SELECT incident_id FROM incident_phases WHERE watch_until > $2)`, texts(keys), now)
	for _, i := range incs {
		out[i.GroupKey] = i // ordered by id: the latest of a group wins
	}
	return out, err
}

func scanReview(s scanner) (*store.Review, error) {
	var r store.Review
	if err := s.Scan(&r.IncidentID, &r.Version, (*text)(&r.Status), (*text)(&r.Markdown), (*text)(&r.CreatedBy), &r.CreatedAt); err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return &r, nil
}

func (db *DB) ListReviews(ctx context.Context, incidentID int64) ([]store.Review, error) {
	rows, err := db.pool.Query(ctx, `SELECT incident_id, version, status, markdown, created_by, created_at FROM reviews
		WHERE incident_id = $1 ORDER BY version`, incidentID)
	if err != nil {
		return nil, err
	}
	return values(collect(rows, scanReview))
}

func (t *txn) AddReview(ctx context.Context, r *store.Review) error {
	t.touch(r.IncidentID)
	// Two editors saving at once: the primary key refuses the second, as
	// a conflict the API reports.
	return mapErr(t.tx.QueryRow(ctx, `INSERT INTO reviews (incident_id, version, status, markdown, created_by, created_at)
		VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM reviews WHERE incident_id = $1), $2, $3, $4, $5) RETURNING version`,
		r.IncidentID, text(r.Status), text(r.Markdown), text(r.CreatedBy), r.CreatedAt).Scan(&r.Version))
}

func (db *DB) CountTimeline(ctx context.Context, ids []int64, kinds []string) (map[int64]map[string]int, error) {
	out := map[int64]map[string]int{}
	if len(ids) == 0 || len(kinds) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT incident_id, kind, count(*) FROM timeline
		WHERE incident_id = ANY($1) AND kind = ANY($2) GROUP BY incident_id, kind`, ids, texts(kinds))
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
		if err := rows.Scan(&id, (*text)(&kind), &n); err != nil {
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
	rows, err := db.pool.Query(ctx, `SELECT hash, name, path, loaded_at FROM playbook_versions WHERE name = $1 ORDER BY loaded_at DESC, hash LIMIT $2`, text(name), limit)
	if err != nil {
		return nil, err
	}
	return values(collect(rows, func(s scanner) (*store.PlaybookVersion, error) {
		var v store.PlaybookVersion
		err := s.Scan((*text)(&v.Hash), (*text)(&v.Name), (*text)(&v.Path), &v.LoadedAt)
		v.LoadedAt = v.LoadedAt.UTC()
		return &v, err
	}))
}
