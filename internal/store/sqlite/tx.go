package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// txn is a write transaction. SQLite takes the write lock at BEGIN
// (_txlock=immediate), so reads inside it are as good as locked.
type txn struct {
	tx *sql.Tx
}

var _ store.Tx = (*txn)(nil)

const alertCols = `id, incident_id, source, fingerprint, status, name, summary, severity, labels, annotations,
	generator_url, links, details, starts_at, ends_at, count, last_seen_at, resolved_at`

const incidentCols = `id, title, severity, service, status, group_key, group_labels, responder, impact, eta,
	alert_count, firing_count, repeats, repeats_logged, started_at, acknowledged_at, resolved_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanAlert(s scanner) (*incident.Alert, error) {
	var (
		a                           incident.Alert
		labels, ann, links, details []byte
		starts, lastSeen            int64
		ends, resolved              sql.NullInt64
		source, status, severity    string
	)
	err := s.Scan(&a.ID, &a.IncidentID, &source, &a.Fingerprint, &status, &a.Name, &a.Summary, &severity,
		&labels, &ann, &a.GeneratorURL, &links, &details, &starts, &ends, &a.Count, &lastSeen, &resolved)
	if err != nil {
		return nil, err
	}
	a.Source, a.Status, a.Severity = incident.Source(source), incident.AlertStatus(status), incident.Severity(severity)
	if a.Labels, err = store.DecodeMap(labels); err != nil {
		return nil, err
	}
	if a.Annotations, err = store.DecodeMap(ann); err != nil {
		return nil, err
	}
	if a.Links, err = store.DecodeLinks(links); err != nil {
		return nil, err
	}
	if len(details) > 0 {
		a.Details = json.RawMessage(details)
	}
	a.StartsAt = time.UnixMicro(starts).UTC()
	a.LastSeenAt = time.UnixMicro(lastSeen).UTC()
	a.EndsAt = fromMicros(ends)
	a.ResolvedAt = fromMicros(resolved)
	return &a, nil
}

func scanIncident(s scanner) (*incident.Incident, error) {
	var (
		i                incident.Incident
		severity, status string
		groupLabels      []byte
		started, updated int64
		acked, resolved  sql.NullInt64
	)
	err := s.Scan(&i.ID, &i.Title, &severity, &i.Service, &status, &i.GroupKey, &groupLabels, &i.Responder, &i.Impact, &i.ETA,
		&i.AlertCount, &i.FiringCount, &i.Repeats, &i.RepeatsLogged, &started, &acked, &resolved, &updated)
	if err != nil {
		return nil, err
	}
	i.Severity, i.Status = incident.Severity(severity), incident.Status(status)
	if i.GroupLabels, err = store.DecodeMap(groupLabels); err != nil {
		return nil, err
	}
	i.StartedAt = time.UnixMicro(started).UTC()
	i.UpdatedAt = time.UnixMicro(updated).UTC()
	i.AcknowledgedAt = fromMicros(acked)
	i.ResolvedAt = fromMicros(resolved)
	return &i, nil
}

// jsonList encodes keys for `IN (SELECT value FROM json_each(?))`, which
// takes any number of keys as one bind parameter.
func jsonList[T any](v []T) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (t *txn) FiringAlerts(ctx context.Context, fps []string) (map[string]*incident.Alert, error) {
	out := make(map[string]*incident.Alert, len(fps))
	if len(fps) == 0 {
		return out, nil
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts
		WHERE fingerprint IN (SELECT value FROM json_each(?)) AND status = 'firing'`, jsonList(fps))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out[a.Fingerprint] = a
	}
	return out, rows.Err()
}

func (t *txn) IncidentsByID(ctx context.Context, ids []int64) (map[int64]*incident.Incident, error) {
	out := make(map[int64]*incident.Incident, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id IN (SELECT value FROM json_each(?))`, jsonList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out[i.ID] = i
	}
	return out, rows.Err()
}

func (t *txn) OpenIncidentsByGroup(ctx context.Context, keys []string) (map[string]*incident.Incident, error) {
	out := make(map[string]*incident.Incident, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents
		WHERE group_key IN (SELECT value FROM json_each(?)) AND status <> 'resolved'`, jsonList(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out[i.GroupKey] = i
	}
	return out, rows.Err()
}

func (t *txn) CreateIncident(ctx context.Context, inc *incident.Incident) (bool, error) {
	// One writer at a time: no other transaction can have opened this group
	// since we looked, so a plain insert suffices.
	err := t.tx.QueryRowContext(ctx, `INSERT INTO incidents (title, severity, service, status, group_key, group_labels,
		responder, impact, eta, alert_count, firing_count, repeats, repeats_logged, started_at, acknowledged_at, resolved_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		inc.Title, inc.Severity, inc.Service, inc.Status, inc.GroupKey, store.NullBytes(store.EncodeMap(inc.GroupLabels)),
		inc.Responder, inc.Impact, inc.ETA, inc.AlertCount, inc.FiringCount, inc.Repeats, inc.RepeatsLogged,
		micros(inc.StartedAt), nullMicros(inc.AcknowledgedAt), nullMicros(inc.ResolvedAt), micros(inc.UpdatedAt),
	).Scan(&inc.ID)
	if err != nil {
		return false, mapErr(err)
	}
	return true, nil
}

func (t *txn) UpdateIncidents(ctx context.Context, incs []*incident.Incident) error {
	if len(incs) == 0 {
		return nil
	}
	stmt, err := t.tx.PrepareContext(ctx, `UPDATE incidents SET title = ?, severity = ?, service = ?, status = ?,
		responder = ?, impact = ?, eta = ?, alert_count = ?, firing_count = ?, repeats = ?, repeats_logged = ?,
		acknowledged_at = ?, resolved_at = ?, updated_at = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, i := range incs {
		_, err := stmt.ExecContext(ctx, i.Title, i.Severity, i.Service, i.Status, i.Responder, i.Impact, i.ETA,
			i.AlertCount, i.FiringCount, i.Repeats, i.RepeatsLogged,
			nullMicros(i.AcknowledgedAt), nullMicros(i.ResolvedAt), micros(i.UpdatedAt), i.ID)
		if err != nil {
			return mapErr(err)
		}
	}
	return nil
}

func (t *txn) InsertAlerts(ctx context.Context, alerts []*incident.Alert) error {
	stmt, err := t.tx.PrepareContext(ctx, `INSERT INTO alerts (incident_id, source, fingerprint, status, name, summary,
		severity, labels, annotations, generator_url, links, details, starts_at, ends_at, count, last_seen_at, resolved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range alerts {
		labels := store.EncodeMap(a.Labels)
		if labels == nil {
			labels = []byte("{}")
		}
		err := stmt.QueryRowContext(ctx, a.IncidentID, a.Source, a.Fingerprint, a.Status, a.Name, a.Summary, a.Severity,
			string(labels), store.NullBytes(store.EncodeMap(a.Annotations)), a.GeneratorURL,
			store.NullBytes(store.EncodeLinks(a.Links)), store.NullBytes(a.Details),
			micros(a.StartsAt), nullMicros(a.EndsAt), a.Count, micros(a.LastSeenAt), nullMicros(a.ResolvedAt),
		).Scan(&a.ID)
		if err != nil {
			return mapErr(err)
		}
	}
	return nil
}

func (t *txn) UpdateAlerts(ctx context.Context, alerts []*incident.Alert) error {
	stmt, err := t.tx.PrepareContext(ctx, `UPDATE alerts SET status = ?, summary = ?, severity = ?, labels = ?,
		annotations = ?, generator_url = ?, links = ?, details = ?, ends_at = ?, count = ?, last_seen_at = ?, resolved_at = ?
		WHERE id = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range alerts {
		labels := store.EncodeMap(a.Labels)
		if labels == nil {
			labels = []byte("{}")
		}
		_, err := stmt.ExecContext(ctx, a.Status, a.Summary, a.Severity, string(labels),
			store.NullBytes(store.EncodeMap(a.Annotations)), a.GeneratorURL, store.NullBytes(store.EncodeLinks(a.Links)),
			store.NullBytes(a.Details), nullMicros(a.EndsAt), a.Count, micros(a.LastSeenAt), nullMicros(a.ResolvedAt), a.ID)
		if err != nil {
			return mapErr(err)
		}
	}
	return nil
}

func (t *txn) ResolveFiringAlerts(ctx context.Context, incidentID int64, at time.Time) (int, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE alerts SET status = 'resolved', resolved_at = ?, ends_at = coalesce(ends_at, ?)
		WHERE incident_id = ? AND status = 'firing'`, micros(at), micros(at), incidentID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *txn) AppendTimeline(ctx context.Context, entries []*incident.TimelineEntry) error {
	stmt, err := t.tx.PrepareContext(ctx, `INSERT INTO timeline (incident_id, at, actor, kind, message, data)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, e := range entries {
		if err := stmt.QueryRowContext(ctx, e.IncidentID, micros(e.At), e.Actor, e.Kind, e.Message, store.NullBytes(e.Data)).Scan(&e.ID); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) IncidentsWithUnloggedRepeats(ctx context.Context, limit int) ([]*incident.Incident, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE repeats > repeats_logged ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*incident.Incident
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

func (t *txn) CreateToken(ctx context.Context, tok *store.Token) error {
	err := t.tx.QueryRowContext(ctx, `INSERT INTO tokens (name, role, source, hash, prefix, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		tok.Name, tok.Role, tok.Source, tok.Hash, tok.Prefix, micros(tok.CreatedAt), tok.CreatedBy).Scan(&tok.ID)
	return mapErr(err)
}

func (t *txn) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return incident.Errorf(incident.ENOTFOUND, "token %d not found or already revoked", id)
	}
	return nil
}

func (t *txn) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	return t.tx.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		micros(e.At), e.Actor, e.Action, e.Target, store.NullBytes(e.Detail)).Scan(&e.ID)
}
