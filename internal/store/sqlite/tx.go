package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// txn is a write transaction. SQLite takes the write lock at BEGIN
// (_txlock=immediate), so reads inside it are as good as locked.
type txn struct {
	db *DB
	tx *sql.Tx

	jobsInserted bool // wake job watchers after commit
	// changed holds the incidents this transaction touched, for
	// WatchChanges.
	changed map[int64]struct{}
}

func (t *txn) touch(ids ...int64) {
	if t.changed == nil {
		t.changed = make(map[int64]struct{}, len(ids))
	}
	for _, id := range ids {
		t.changed[id] = struct{}{}
	}
}

func (t *txn) changedIDs() []int64 {
	ids := make([]int64, 0, len(t.changed))
	for id := range t.changed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Hot statements, prepared once on the writer connection (see prepare):
// SQLite would otherwise parse them anew in every transaction.
const (
	firingAlertsSQL = `SELECT ` + alertCols + ` FROM alerts
		WHERE fingerprint IN (SELECT value FROM json_each(?)) AND status = 'firing'`
	incidentsByIDSQL  = `SELECT ` + incidentCols + ` FROM incidents WHERE id IN (SELECT value FROM json_each(?))`
	openByGroupSQL    = `SELECT ` + incidentCols + ` FROM incidents WHERE group_key IN (SELECT value FROM json_each(?)) AND status <> 'resolved'`
	createIncidentSQL = `INSERT INTO incidents (title, severity, service, status, group_key, group_labels,
		responder, impact, eta, alert_count, firing_count, repeats, repeats_logged, alerts_logged, started_at, acknowledged_at, resolved_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	maxAlertIDSQL    = `SELECT coalesce(max(id), 0) FROM alerts`
	maxTimelineIDSQL = `SELECT coalesce(max(id), 0) FROM timeline`
)

var hotStatements = []string{firingAlertsSQL, incidentsByIDSQL, openByGroupSQL, createIncidentSQL, maxAlertIDSQL, maxTimelineIDSQL, claimStepSQL}

func (t *txn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := t.db.hot[q]; s != nil {
		return t.stmt(ctx, s).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *txn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s := t.db.hot[q]; s != nil {
		return t.stmt(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// rowsPerInsert bounds a multi-row INSERT well under SQLite's limit of
// 32766 bind parameters.
const rowsPerInsert = 200

// stmt binds a statement prepared on the writer connection to this
// transaction; with one connection, database/sql reuses it as is.
func (t *txn) stmt(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	return t.tx.StmtContext(ctx, s)
}

func (t *txn) maxID(ctx context.Context, table string) (int64, error) {
	var id int64
	// max(id) on an INTEGER PRIMARY KEY is one B-tree seek.
	err := t.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM `+table).Scan(&id)
	return id, err
}

// multiInsert returns a statement inserting rows rows after prefix: one
// prepared at start-up when there is one, else one prepared for this
// transaction. (Preparing on the writer pool here would wait forever for
// the one connection this transaction holds.)
func (t *txn) multiInsert(ctx context.Context, prefix string, cols, rows int) (*sql.Stmt, error) {
	if s := t.db.multi[multiKey{prefix: prefix, rows: rows}]; s != nil {
		return t.stmt(ctx, s), nil
	}
	return t.tx.PrepareContext(ctx, multiInsertSQL(prefix, cols, rows))
}

func multiInsertSQL(prefix string, cols, rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return prefix + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

const (
	insertAlertsSQL = `INSERT INTO alerts (id, incident_id, source, fingerprint, status, name, summary,
		severity, labels, annotations, generator_url, links, details, starts_at, ends_at, count, last_seen_at, resolved_at) VALUES `
	insertAlertsCols   = 18
	insertTimelineSQL  = `INSERT INTO timeline (id, incident_id, at, actor, kind, message, data) VALUES `
	insertTimelineCols = 7
)

var _ store.Tx = (*txn)(nil)

const alertCols = `id, incident_id, source, fingerprint, status, name, summary, severity, labels, annotations,
	generator_url, links, details, starts_at, ends_at, count, last_seen_at, resolved_at`

const incidentCols = `id, title, severity, service, status, group_key, group_labels, responder, impact, eta,
	alert_count, firing_count, repeats, repeats_logged, alerts_logged, started_at, acknowledged_at, resolved_at, updated_at`

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
		&i.AlertCount, &i.FiringCount, &i.Repeats, &i.RepeatsLogged, &i.AlertsLogged, &started, &acked, &resolved, &updated)
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

// keyed runs q with keys as one JSON list parameter and returns the rows
// by the key each row carries.
func keyed[K comparable, V any](t *txn, ctx context.Context, q string, keys []K, scan func(scanner) (V, error), key func(V) K) (map[K]V, error) {
	out := make(map[K]V, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, q, jsonList(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[key(v)] = v
	}
	return out, rows.Err()
}

func (t *txn) FiringAlerts(ctx context.Context, fps []string) (map[string]*incident.Alert, error) {
	return keyed(t, ctx, firingAlertsSQL, fps, scanAlert, func(a *incident.Alert) string { return a.Fingerprint })
}

func (t *txn) IncidentsByID(ctx context.Context, ids []int64) (map[int64]*incident.Incident, error) {
	return keyed(t, ctx, incidentsByIDSQL, ids, scanIncident, func(i *incident.Incident) int64 { return i.ID })
}

func (t *txn) OpenIncidentsByGroup(ctx context.Context, keys []string) (map[string]*incident.Incident, error) {
	return keyed(t, ctx, openByGroupSQL, keys, scanIncident, func(i *incident.Incident) string { return i.GroupKey })
}

func (t *txn) CreateIncident(ctx context.Context, inc *incident.Incident) (bool, error) {
	// One writer at a time: no other transaction can have opened this group
	// since we looked, so a plain insert suffices.
	err := t.queryRow(ctx, createIncidentSQL,
		inc.Title, inc.Severity, inc.Service, inc.Status, inc.GroupKey, store.NullBytes(store.EncodeMap(inc.GroupLabels)),
		inc.Responder, inc.Impact, inc.ETA, inc.AlertCount, inc.FiringCount, inc.Repeats, inc.RepeatsLogged, inc.AlertsLogged,
		micros(inc.StartedAt), nullMicros(inc.AcknowledgedAt), nullMicros(inc.ResolvedAt), micros(inc.UpdatedAt),
	).Scan(&inc.ID)
	if err != nil {
		return false, mapErr(err)
	}
	t.touch(inc.ID)
	return true, nil
}

func (t *txn) UpdateIncidents(ctx context.Context, incs []*incident.Incident) error {
	for _, i := range incs {
		t.touch(i.ID)
	}
	stmt := t.stmt(ctx, t.db.updateIncident)
	for _, i := range incs {
		_, err := stmt.ExecContext(ctx, i.Title, i.Severity, i.Service, i.Status, i.Responder, i.Impact, i.ETA,
			i.AlertCount, i.FiringCount, i.Repeats, i.RepeatsLogged, i.AlertsLogged,
			nullMicros(i.AcknowledgedAt), nullMicros(i.ResolvedAt), micros(i.UpdatedAt), i.ID)
		if err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// InsertAlerts writes alerts in multi-row statements. SQLite has one
// writer and this transaction holds the write lock, so IDs can be assigned
// here from max(id), which saves a RETURNING round per row.
func (t *txn) InsertAlerts(ctx context.Context, alerts []*incident.Alert) error {
	next, err := t.maxID(ctx, "alerts")
	if err != nil {
		return err
	}
	const cols = insertAlertsCols
	args := make([]any, 0, min(len(alerts), rowsPerInsert)*cols)
	for start := 0; start < len(alerts); start += rowsPerInsert {
		chunk := alerts[start:min(start+rowsPerInsert, len(alerts))]
		args = args[:0]
		for _, a := range chunk {
			next++
			a.ID = next
			labels := store.EncodeMap(a.Labels)
			if labels == nil {
				labels = []byte("{}")
			}
			args = append(args, a.ID, a.IncidentID, string(a.Source), a.Fingerprint, string(a.Status), a.Name, a.Summary, string(a.Severity),
				string(labels), store.NullBytes(store.EncodeMap(a.Annotations)), a.GeneratorURL,
				store.NullBytes(store.EncodeLinks(a.Links)), store.NullBytes(a.Details),
				micros(a.StartsAt), nullMicros(a.EndsAt), a.Count, micros(a.LastSeenAt), nullMicros(a.ResolvedAt))
		}
		stmt, err := t.multiInsert(ctx, insertAlertsSQL, cols, len(chunk))
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

func (t *txn) UpdateAlerts(ctx context.Context, alerts []*incident.Alert) error {
	stmt := t.stmt(ctx, t.db.updateAlert)
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
	for _, e := range entries {
		t.touch(e.IncidentID)
	}
	next, err := t.maxID(ctx, "timeline")
	if err != nil {
		return err
	}
	const cols = insertTimelineCols
	var args []any
	for start := 0; start < len(entries); start += rowsPerInsert {
		chunk := entries[start:min(start+rowsPerInsert, len(entries))]
		args = args[:0]
		for _, e := range chunk {
			next++
			e.ID = next
			args = append(args, e.ID, e.IncidentID, micros(e.At), e.Actor, string(e.Kind), e.Message, store.NullBytes(e.Data))
		}
		stmt, err := t.multiInsert(ctx, insertTimelineSQL, cols, len(chunk))
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) IncidentsWithPendingSummaries(ctx context.Context, limit int) ([]*incident.Incident, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents
		WHERE repeats > repeats_logged OR alert_count > alerts_logged ORDER BY id LIMIT ?`, limit)
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

func (t *txn) CreateToken(ctx context.Context, tok *auth.Token) error {
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

func (t *txn) AppendAudit(ctx context.Context, e *auth.AuditEntry) error {
	return t.tx.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		micros(e.At), e.Actor, e.Action, e.Target, store.NullBytes(e.Detail)).Scan(&e.ID)
}
