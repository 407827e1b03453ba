package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// txn is a write transaction. The package comment says how its locks and
// InTx's retries keep concurrent writers apart.
type txn struct {
	tx pgx.Tx

	exclusive bool     // take the intake lock exclusively
	maxLocked int64    // the highest incident id locked so far
	prev      lockSet  // rows that earlier attempts asked for
	prevDone  bool     // whether prev is locked
	asked     *lockSet // rows this attempt asks for, for the next one
	// changed holds the incidents this transaction touched; InTx NOTIFYs
	// them before it commits (see WatchChanges).
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

var _ store.Tx = (*txn)(nil)

const alertCols = `id, incident_id, source, fingerprint, status, name, summary, severity, labels, annotations,
	generator_url, links, details, starts_at, ends_at, count, last_seen_at, resolved_at`

const incidentCols = `id, title, severity, service, status, group_key, group_labels, responder, impact, eta,
	alert_count, firing_count, repeats, repeats_logged, alerts_logged, started_at, acknowledged_at, resolved_at, updated_at`

type scanner interface{ Scan(...any) error }

// collect scans every row with scan. No rows gives a nil slice, as the
// SQLite store returns.
func collect[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanAlert(s scanner) (*incident.Alert, error) {
	var (
		a                           incident.Alert
		labels, ann, links, details []byte
		ends, resolved              pgtype.Timestamptz
	)
	err := s.Scan(&a.ID, &a.IncidentID, (*text)(&a.Source), (*text)(&a.Fingerprint), (*text)(&a.Status), (*text)(&a.Name),
		(*text)(&a.Summary), (*text)(&a.Severity), &labels, &ann, (*text)(&a.GeneratorURL), &links, &details,
		&a.StartsAt, &ends, &a.Count, &a.LastSeenAt, &resolved)
	if err != nil {
		return nil, err
	}
	if a.Labels, err = decodeMap(labels); err != nil {
		return nil, err
	}
	if a.Annotations, err = decodeMap(ann); err != nil {
		return nil, err
	}
	if a.Links, err = decodeLinks(links); err != nil {
		return nil, err
	}
	if len(details) > 0 {
		a.Details = details
	}
	a.StartsAt, a.LastSeenAt = a.StartsAt.UTC(), a.LastSeenAt.UTC()
	a.EndsAt, a.ResolvedAt = fromTime(ends), fromTime(resolved)
	return &a, nil
}

func scanIncident(s scanner) (*incident.Incident, error) {
	var (
		i               incident.Incident
		groupLabels     []byte
		acked, resolved pgtype.Timestamptz
	)
	err := s.Scan(&i.ID, (*text)(&i.Title), (*text)(&i.Severity), (*text)(&i.Service), (*text)(&i.Status), (*text)(&i.GroupKey),
		&groupLabels, (*text)(&i.Responder), (*text)(&i.Impact), (*text)(&i.ETA),
		&i.AlertCount, &i.FiringCount, &i.Repeats, &i.RepeatsLogged, &i.AlertsLogged, &i.StartedAt, &acked, &resolved, &i.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if i.GroupLabels, err = decodeMap(groupLabels); err != nil {
		return nil, err
	}
	i.StartedAt, i.UpdatedAt = i.StartedAt.UTC(), i.UpdatedAt.UTC()
	i.AcknowledgedAt, i.ResolvedAt = fromTime(acked), fromTime(resolved)
	return &i, nil
}

func fromTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// tsArray is a nullable timestamptz[] element: the zero time is NULL.
func tsArray(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func (t *txn) FiringAlerts(ctx context.Context, fps []string) (map[string]*incident.Alert, error) {
	out := make(map[string]*incident.Alert, len(fps))
	if len(fps) == 0 {
		return out, nil
	}
	// Apply calls this first: take the intake lock (see the package
	// comment) before reading.
	lock := `SELECT pg_advisory_xact_lock_shared(` + intakeLock + `)`
	if t.exclusive {
		lock = `SELECT pg_advisory_xact_lock(` + intakeLock + `)`
	}
	b := &pgx.Batch{}
	b.Queue(lock)
	b.Queue(`SELECT `+alertCols+` FROM alerts
		WHERE fingerprint = ANY($1) AND status = 'firing' ORDER BY id FOR NO KEY UPDATE`, texts(fps))
	br := t.tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	alerts, err := collect(rows, scanAlert)
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		out[a.Fingerprint] = a
	}
	return out, br.Close()
}

// Lock order. Rows are locked alerts first, then incidents, each in
// ascending id order, so transactions that keep to it cannot deadlock. The
// engine cannot always keep to it: it asks for incidents in several calls
// (by alert, then by group, then a group's winner), so a later call may want
// an incident below one the transaction holds, and Act resolves an
// incident's alerts after locking the incident. Such an out-of-order lock is
// tried with NOWAIT. When the row is busy the attempt fails with 55P03 and
// InTx runs fn again, this time locking everything the failed attempts
// asked for up front, in order. Waiting for PostgreSQL to find the deadlock
// instead would stall both transactions for deadlock_timeout (1s).

// lockSet names rows a transaction asked for: incidents by id, open
// incidents by group key, and the firing alerts of incidents.
type lockSet struct {
	ids      []int64
	keys     []string
	alertsOf []int64
}

func (s *lockSet) add(o lockSet) {
	s.ids = append(s.ids, o.ids...)
	s.keys = append(s.keys, o.keys...)
	s.alertsOf = append(s.alertsOf, o.alertsOf...)
}

// lockIncidents loads and locks the incidents that match cond, whose
// arguments are args.
func (t *txn) lockIncidents(ctx context.Context, cond string, args ...any) ([]*incident.Incident, error) {
	if err := t.lockPrevious(ctx); err != nil {
		return nil, err
	}
	q := `SELECT ` + incidentCols + ` FROM incidents WHERE (` + cond + `)`
	var incs []*incident.Incident
	if t.maxLocked == 0 {
		rows, err := t.tx.Query(ctx, q+` ORDER BY id FOR NO KEY UPDATE`, args...)
		if err != nil {
			return nil, err
		}
		if incs, err = collect(rows, scanIncident); err != nil {
			return nil, err
		}
	} else {
		held := `$` + strconv.Itoa(len(args)+1)
		args = append(args, t.maxLocked)
		b := &pgx.Batch{}
		b.Queue(q+` AND id <= `+held+` ORDER BY id FOR NO KEY UPDATE NOWAIT`, args...)
		b.Queue(q+` AND id > `+held+` ORDER BY id FOR NO KEY UPDATE`, args...)
		br := t.tx.SendBatch(ctx, b)
		for range 2 {
			rows, err := br.Query()
			if err != nil {
				br.Close()
				return nil, err
			}
			more, err := collect(rows, scanIncident)
			if err != nil {
				br.Close()
				return nil, err
			}
			incs = append(incs, more...)
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
	}
	for _, i := range incs {
		t.locked(i.ID)
	}
	return incs, nil
}

func (t *txn) locked(id int64) { t.maxLocked = max(t.maxLocked, id) }

// lockPrevious locks, once, what earlier attempts of this transaction asked
// for. The engine's first call that locks incidents calls it, so for Apply
// it comes after FiringAlerts has locked alerts, keeping the order.
func (t *txn) lockPrevious(ctx context.Context) error {
	if t.prevDone || len(t.prev.ids)+len(t.prev.keys)+len(t.prev.alertsOf) == 0 {
		return nil
	}
	t.prevDone = true
	if len(t.prev.alertsOf) > 0 {
		_, err := t.tx.Exec(ctx, `SELECT FROM alerts WHERE incident_id = ANY($1) AND status = 'firing' ORDER BY id FOR NO KEY UPDATE`, t.prev.alertsOf)
		if err != nil {
			return err
		}
	}
	rows, err := t.tx.Query(ctx, `SELECT id FROM incidents
		WHERE id = ANY($1) OR (group_key = ANY($2) AND status <> 'resolved') ORDER BY id FOR NO KEY UPDATE`, t.prev.ids, texts(t.prev.keys))
	if err != nil {
		return err
	}
	ids, err := collect(rows, func(s scanner) (id int64, err error) { return id, s.Scan(&id) })
	for _, id := range ids {
		t.locked(id)
	}
	return err
}

func (t *txn) IncidentsByID(ctx context.Context, ids []int64) (map[int64]*incident.Incident, error) {
	out := make(map[int64]*incident.Incident, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	t.asked.ids = append(t.asked.ids, ids...)
	incs, err := t.lockIncidents(ctx, `id = ANY($1)`, ids)
	for _, i := range incs {
		out[i.ID] = i
	}
	return out, err
}

func (t *txn) OpenIncidentsByGroup(ctx context.Context, keys []string) (map[string]*incident.Incident, error) {
	out := make(map[string]*incident.Incident, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	t.asked.keys = append(t.asked.keys, keys...)
	incs, err := t.lockIncidents(ctx, `group_key = ANY($1) AND status <> 'resolved'`, texts(keys))
	for _, i := range incs {
		out[i.GroupKey] = i
	}
	return out, err
}

// createAttempts bounds CreateIncident's loop, which goes round only when
// the incident that beat it to the group is closed before it can be locked.
const createAttempts = 5

func (t *txn) CreateIncident(ctx context.Context, inc *incident.Incident) (bool, error) {
	for range createAttempts {
		err := t.tx.QueryRow(ctx, `INSERT INTO incidents (title, severity, service, status, group_key, group_labels,
			responder, impact, eta, alert_count, firing_count, repeats, repeats_logged, alerts_logged, started_at, acknowledged_at, resolved_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (group_key) WHERE status <> 'resolved' DO NOTHING
			RETURNING id`,
			text(inc.Title), text(inc.Severity), text(inc.Service), text(inc.Status), text(inc.GroupKey), nullJSON(encodeMap(inc.GroupLabels)),
			text(inc.Responder), text(inc.Impact), text(inc.ETA), inc.AlertCount, inc.FiringCount, inc.Repeats, inc.RepeatsLogged, inc.AlertsLogged,
			inc.StartedAt, nullTime(inc.AcknowledgedAt), nullTime(inc.ResolvedAt), inc.UpdatedAt,
		).Scan(&inc.ID)
		if err == nil {
			t.locked(inc.ID)
			t.touch(inc.ID)
			return true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, mapErr(err)
		}
		// Another transaction holds the group: adopt its incident. Being a
		// new statement, this sees it even though the insert's snapshot
		// may not have.
		t.asked.keys = append(t.asked.keys, inc.GroupKey)
		won, err := t.lockIncidents(ctx, `group_key = $1 AND status <> 'resolved'`, text(inc.GroupKey))
		if err != nil {
			return false, err
		}
		if len(won) > 0 {
			*inc = *won[0]
			return false, nil
		}
	}
	return false, fmt.Errorf("group %s: its open incident was closed %d times while this transaction tried to join it", inc.GroupKey, createAttempts)
}

func (t *txn) UpdateIncidents(ctx context.Context, incs []*incident.Incident) error {
	for _, i := range incs {
		t.touch(i.ID)
	}
	if len(incs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, i := range incs {
		b.Queue(`UPDATE incidents SET title = $1, severity = $2, service = $3, status = $4,
			responder = $5, impact = $6, eta = $7, alert_count = $8, firing_count = $9, repeats = $10, repeats_logged = $11,
			alerts_logged = $12, acknowledged_at = $13, resolved_at = $14, updated_at = $15 WHERE id = $16`,
			text(i.Title), text(i.Severity), text(i.Service), text(i.Status), text(i.Responder), text(i.Impact), text(i.ETA),
			i.AlertCount, i.FiringCount, i.Repeats, i.RepeatsLogged, i.AlertsLogged,
			nullTime(i.AcknowledgedAt), nullTime(i.ResolvedAt), i.UpdatedAt, i.ID)
	}
	return mapErr(t.tx.SendBatch(ctx, b).Close())
}

// InsertAlerts inserts every alert in one statement. Ids are drawn from the
// sequence first and handed out in ascending order of the input, so alerts
// list in the order they arrived and each alert gets its own id back
// without relying on the order of RETURNING, which PostgreSQL does not
// promise.
func (t *txn) InsertAlerts(ctx context.Context, alerts []*incident.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	n := len(alerts)
	var (
		incidentIDs, counts                 = make([]int64, n), make([]int64, n)
		sources, fps, statuses, names, sums = make([]text, n), make([]text, n), make([]text, n), make([]text, n), make([]text, n)
		severities, urls                    = make([]text, n), make([]text, n)
		labels, anns, links, details        = make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
		starts, ends, lastSeen, resolved    = make([]time.Time, n), make([]pgtype.Timestamptz, n), make([]time.Time, n), make([]pgtype.Timestamptz, n)
	)
	for i, a := range alerts {
		incidentIDs[i], counts[i] = a.IncidentID, int64(a.Count)
		sources[i], fps[i], statuses[i], names[i], sums[i] = text(a.Source), text(a.Fingerprint), text(a.Status), text(a.Name), text(a.Summary)
		severities[i], urls[i] = text(a.Severity), text(a.GeneratorURL)
		labels[i] = encodeMap(a.Labels)
		if labels[i] == nil {
			labels[i] = []byte("{}")
		}
		anns[i], links[i] = encodeMap(a.Annotations), encodeLinks(a.Links)
		if len(a.Details) > 0 {
			details[i] = a.Details
		}
		starts[i], ends[i], lastSeen[i], resolved[i] = a.StartsAt, tsArray(a.EndsAt), a.LastSeenAt, tsArray(a.ResolvedAt)
	}
	rows, err := t.tx.Query(ctx, `WITH ids AS MATERIALIZED (
			SELECT nextval('alerts_id_seq') AS id FROM generate_series(1, cardinality($1::bigint[]))
		), seq AS (
			SELECT id, row_number() OVER (ORDER BY id) AS n FROM ids
		), ins AS (
			INSERT INTO alerts (id, incident_id, source, fingerprint, status, name, summary, severity, labels, annotations,
				generator_url, links, details, starts_at, ends_at, count, last_seen_at, resolved_at)
			SELECT seq.id, u.incident_id, u.source, u.fingerprint, u.status, u.name, u.summary, u.severity, u.labels, u.annotations,
				u.generator_url, u.links, u.details, u.starts_at, u.ends_at, u.count, u.last_seen_at, u.resolved_at
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::jsonb[], $9::jsonb[], $10::text[], $11::jsonb[], $12::json[],
				$13::timestamptz[], $14::timestamptz[], $15::bigint[], $16::timestamptz[], $17::timestamptz[])
				WITH ORDINALITY AS u(incident_id, source, fingerprint, status, name, summary, severity, labels, annotations,
					generator_url, links, details, starts_at, ends_at, count, last_seen_at, resolved_at, n)
			JOIN seq USING (n)
			ORDER BY seq.id
		)
		SELECT id FROM seq ORDER BY n`,
		incidentIDs, sources, fps, statuses, names, sums, severities, labels, anns, urls, links, details,
		starts, ends, counts, lastSeen, resolved)
	if err != nil {
		return err
	}
	return assignIDs(rows, n, func(i int, id int64) { alerts[i].ID = id })
}

// assignIDs reads n ids, in input order, and hands each to set.
func assignIDs(rows pgx.Rows, n int, set func(i int, id int64)) error {
	defer rows.Close()
	i := 0
	for rows.Next() {
		if i == n {
			return fmt.Errorf("insert returned more than %d ids", n)
		}
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		set(i, id)
		i++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i != n {
		return fmt.Errorf("insert returned %d ids for %d rows", i, n)
	}
	return nil
}

// UpdateAlerts writes every alert in one statement. A storm of repeats
// updates thousands of alerts per batch; for 2000 rows this took two thirds
// of the time of a pgx.Batch of single-row updates.
func (t *txn) UpdateAlerts(ctx context.Context, alerts []*incident.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	n := len(alerts)
	var (
		ids, counts                      = make([]int64, n), make([]int64, n)
		statuses, sums, severities, urls = make([]text, n), make([]text, n), make([]text, n), make([]text, n)
		labels, anns, links, details     = make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
		ends, lastSeen, resolved         = make([]pgtype.Timestamptz, n), make([]time.Time, n), make([]pgtype.Timestamptz, n)
	)
	for i, a := range alerts {
		ids[i], counts[i] = a.ID, int64(a.Count)
		statuses[i], sums[i], severities[i], urls[i] = text(a.Status), text(a.Summary), text(a.Severity), text(a.GeneratorURL)
		labels[i] = encodeMap(a.Labels)
		if labels[i] == nil {
			labels[i] = []byte("{}")
		}
		anns[i], links[i] = encodeMap(a.Annotations), encodeLinks(a.Links)
		if len(a.Details) > 0 {
			details[i] = a.Details
		}
		ends[i], lastSeen[i], resolved[i] = tsArray(a.EndsAt), a.LastSeenAt, tsArray(a.ResolvedAt)
	}
	_, err := t.tx.Exec(ctx, `UPDATE alerts a SET status = u.status, summary = u.summary, severity = u.severity, labels = u.labels,
			annotations = u.annotations, generator_url = u.generator_url, links = u.links, details = u.details, ends_at = u.ends_at,
			count = u.count, last_seen_at = u.last_seen_at, resolved_at = u.resolved_at
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[], $8::jsonb[], $9::json[],
			$10::timestamptz[], $11::bigint[], $12::timestamptz[], $13::timestamptz[])
			AS u(id, status, summary, severity, labels, annotations, generator_url, links, details, ends_at, count, last_seen_at, resolved_at)
		WHERE a.id = u.id`,
		ids, statuses, sums, severities, labels, anns, urls, links, details, ends, counts, lastSeen, resolved)
	return err
}

// ResolveFiringAlerts comes after the incident is locked, against the lock
// order, so it takes the alerts' locks with NOWAIT first.
func (t *txn) ResolveFiringAlerts(ctx context.Context, incidentID int64, at time.Time) (int, error) {
	t.asked.alertsOf = append(t.asked.alertsOf, incidentID)
	b := &pgx.Batch{}
	b.Queue(`SELECT FROM alerts WHERE incident_id = $1 AND status = 'firing' FOR NO KEY UPDATE NOWAIT`, incidentID)
	upd := b.Queue(`UPDATE alerts SET status = 'resolved', resolved_at = $1, ends_at = coalesce(ends_at, $1)
		WHERE incident_id = $2 AND status = 'firing'`, at, incidentID)
	var n int64
	upd.Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	err := t.tx.SendBatch(ctx, b).Close()
	return int(n), err
}

// AppendTimeline inserts every entry in one statement, with ids in input
// order as InsertAlerts does.
func (t *txn) AppendTimeline(ctx context.Context, entries []*incident.TimelineEntry) error {
	for _, e := range entries {
		t.touch(e.IncidentID)
	}
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	var (
		incidentIDs             = make([]int64, n)
		at                      = make([]time.Time, n)
		actors, kinds, messages = make([]text, n), make([]text, n), make([]text, n)
		data                    = make([][]byte, n)
	)
	for i, e := range entries {
		incidentIDs[i], at[i], actors[i], kinds[i], messages[i] = e.IncidentID, e.At, text(e.Actor), text(e.Kind), text(e.Message)
		if len(e.Data) > 0 {
			data[i] = e.Data
		}
	}
	rows, err := t.tx.Query(ctx, `WITH ids AS MATERIALIZED (
			SELECT nextval('timeline_id_seq') AS id FROM generate_series(1, cardinality($1::bigint[]))
		), seq AS (
			SELECT id, row_number() OVER (ORDER BY id) AS n FROM ids
		), ins AS (
			INSERT INTO timeline (id, incident_id, at, actor, kind, message, data)
			SELECT seq.id, u.incident_id, u.at, u.actor, u.kind, u.message, u.data
			FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::json[])
				WITH ORDINALITY AS u(incident_id, at, actor, kind, message, data, n)
			JOIN seq USING (n)
			ORDER BY seq.id
		)
		SELECT id FROM seq ORDER BY n`,
		incidentIDs, at, actors, kinds, messages, data)
	if err != nil {
		return err
	}
	return assignIDs(rows, n, func(i int, id int64) { entries[i].ID = id })
}

// IncidentsWithPendingSummaries skips incidents that another transaction
// has locked: those are being written right now, usually by intake, and a
// later flush summarises them. So a flush never waits behind intake, nor
// deadlocks with it.
func (t *txn) IncidentsWithPendingSummaries(ctx context.Context, limit int) ([]*incident.Incident, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+incidentCols+` FROM incidents
		WHERE repeats > repeats_logged OR alert_count > alerts_logged
		ORDER BY id LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return nil, err
	}
	incs, err := collect(rows, scanIncident)
	for _, i := range incs {
		t.locked(i.ID)
	}
	return incs, err
}

func (t *txn) CreateToken(ctx context.Context, tok *auth.Token) error {
	err := t.tx.QueryRow(ctx, `INSERT INTO tokens (name, role, source, hash, prefix, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		text(tok.Name), text(tok.Role), text(tok.Source), tok.Hash, text(tok.Prefix), tok.CreatedAt, text(tok.CreatedBy)).Scan(&tok.ID)
	return mapErr(err)
}

func (t *txn) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, at, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return incident.Errorf(incident.ENOTFOUND, "token %d not found or already revoked", id)
	}
	return nil
}

func (t *txn) AppendAudit(ctx context.Context, e *auth.AuditEntry) error {
	return t.tx.QueryRow(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		e.At, text(e.Actor), text(e.Action), text(e.Target), nullJSON(e.Detail)).Scan(&e.ID)
}
