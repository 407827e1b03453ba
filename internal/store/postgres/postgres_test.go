package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/postgres"
	"github.com/firebreak-dev/firebreak/internal/store/storetest"
)

const defaultTestURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testURL is the database the tests use; each test works in a schema of
// its own inside it.
func testURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultTestURL
}

// connect opens a plain connection to the test database. It skips the test
// when PostgreSQL is not there, and fails it when CI=true.
func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testURL())
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is unreachable at TEST_DATABASE_URL (default %s): %v", defaultTestURL, err)
		}
		t.Skipf("PostgreSQL is unreachable; set TEST_DATABASE_URL to run these tests: %v", err)
	}
	return conn
}

// newSchema creates an empty schema that is dropped when t ends, and returns
// a DSN whose connections work in it.
func newSchema(t testing.TB) string {
	t.Helper()
	conn := connect(t)
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	// Registered first, so it runs after every Close registered later.
	t.Cleanup(func() {
		conn := connect(t)
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, testURL(), schema)
}

// withSearchPath adds search_path to dsn; pgx sends parameters it does not
// know itself to the server as run-time parameters.
func withSearchPath(t testing.TB, dsn, schema string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL does not parse as a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connect(t).Close(context.Background()) // skip or fail early, not once per subtest
	var mu sync.Mutex
	dsns := map[store.Store]string{}
	factory := func(t *testing.T) store.Store {
		dsn := newSchema(t)
		db := open(t, dsn)
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		mu.Lock()
		dsns[db] = dsn
		mu.Unlock()
		return db
	}
	// A second pool on the same schema, as a second `firebreak serve`
	// instance would open it.
	second := func(t *testing.T, s store.Store) store.Store {
		mu.Lock()
		dsn := dsns[s]
		mu.Unlock()
		return open(t, dsn)
	}
	storetest.Run(t, factory, second)
}

// TestMigrateConcurrently starts several instances on one empty schema at
// once: all must succeed, and each migration must run once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	const instances = 5
	dbs := make([]*postgres.DB, instances)
	for i := range dbs {
		dbs[i] = open(t, dsn)
	}
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: migrate: %v", i, err)
		}
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	rows, err := rawConn(t, dsn).Query(context.Background(), `SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var (
			v string
			n int
		)
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		got[v] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Errorf("schema_migrations = %v, want one row for each of %v", got, files)
	}
	for _, f := range files {
		if v := strings.TrimSuffix(filepath.Base(f), ".sql"); got[v] != 1 {
			t.Errorf("version %s recorded %d times, want 1", v, got[v])
		}
	}
}

// rawConn is a plain connection inside the schema of dsn, for checks the
// store's API does not offer.
func rawConn(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// BenchmarkApply measures one intake batch of 2000 events: new alerts
// (InsertAlerts) and repeats of firing ones (UpdateAlerts).
func BenchmarkApply(b *testing.B) {
	const n = 2000
	batch := func(prefix string) []incident.Event {
		events := make([]incident.Event, n)
		for i := range events {
			events[i] = incident.Event{
				Source: incident.SourceAlertmanager, Status: incident.AlertFiring, Key: fmt.Sprintf("%s-%d", prefix, i),
				Labels:      map[string]string{"alertname": "HighAPIErrorRate", "service": "api", "pod": fmt.Sprintf("pod-%d", i)},
				Annotations: map[string]string{"summary": "API error rate above 5%"},
				Summary:     "API error rate above 5%", Severity: incident.SeverityCritical,
			}
		}
		return events
	}
	apply := func(b *testing.B, s store.Store, events []incident.Event) {
		ctx := context.Background()
		err := s.InTx(ctx, func(tx store.Tx) error {
			_, _, err := incident.Apply(ctx, tx, events, incident.Options{AutoResolve: true, Now: time.Now()})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	setup := func(b *testing.B) store.Store {
		db := open(b, newSchema(b))
		if err := db.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		return db
	}
	b.Run("new", func(b *testing.B) {
		s := setup(b)
		i := 0
		for b.Loop() {
			apply(b, s, batch(fmt.Sprint("new", i)))
			i++
		}
	})
	b.Run("repeat", func(b *testing.B) {
		s := setup(b)
		events := batch("rep")
		apply(b, s, events)
		for b.Loop() {
			apply(b, s, events)
		}
	})
}

// TestTimes checks that times come back in UTC to the microsecond, and that
// the zero time is NULL.
func TestTimes(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	db := open(t, dsn)
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	inc := &incident.Incident{Title: "t", Severity: incident.SeverityInfo, Status: incident.StatusTriggered,
		GroupKey: "g", StartedAt: at, UpdatedAt: at}
	err := db.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateIncident(ctx, inc); err != nil {
			return err
		}
		return tx.InsertAlerts(ctx, []*incident.Alert{{IncidentID: inc.ID, Source: incident.SourceGeneric, Fingerprint: "f",
			Status: incident.AlertFiring, Severity: incident.SeverityInfo, StartsAt: at, LastSeenAt: at, Count: 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 26, 2, 4, 5, 123456000, time.UTC)
	got, err := db.GetIncident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.StartedAt != want || got.UpdatedAt != want || !got.AcknowledgedAt.IsZero() || !got.ResolvedAt.IsZero() {
		t.Errorf("incident times = %v %v %v %v, want %v and zeros", got.StartedAt, got.UpdatedAt, got.AcknowledgedAt, got.ResolvedAt, want)
	}
	alerts, err := db.ListAlerts(ctx, store.ListAlertsParams{IncidentID: inc.ID, Limit: 10})
	if err != nil || len(alerts) != 1 {
		t.Fatalf("alerts = %v, %v", alerts, err)
	}
	if a := alerts[0]; a.StartsAt != want || a.LastSeenAt != want || !a.EndsAt.IsZero() || !a.ResolvedAt.IsZero() {
		t.Errorf("alert times = %v %v %v %v, want %v and zeros", a.StartsAt, a.LastSeenAt, a.EndsAt, a.ResolvedAt, want)
	}
	var nulls bool
	err = rawConn(t, dsn).QueryRow(ctx, `SELECT acknowledged_at IS NULL AND resolved_at IS NULL FROM incidents`).Scan(&nulls)
	if err != nil || !nulls {
		t.Errorf("unset incident times stored as NULL = %v, %v", nulls, err)
	}
}

// TestInvariantsUnderContention races intake on two instances against
// people acting on the same incidents and a summary flusher, then checks
// that the counters agree with the rows and that no receipt was lost.
func TestInvariantsUnderContention(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	dbs := []*postgres.DB{open(t, dsn), open(t, dsn)}
	ctx := context.Background()
	if err := dbs[0].Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	opt := incident.Options{AutoResolve: true, Now: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)}
	const (
		workers, rounds = 4, 30
		fingerprints    = 12
	)
	event := func(r *mrand.Rand, k int) incident.Event {
		e := incident.Event{Source: incident.SourceAlertmanager, Status: incident.AlertFiring, Key: fmt.Sprint("k", k),
			Labels:   map[string]string{"alertname": fmt.Sprint("A", k%3), "service": "api"},
			Severity: incident.SeverityWarning}
		if r.IntN(10) < 3 {
			e.Status = incident.AlertResolved
		}
		return e
	}
	var (
		mu       sync.Mutex
		outcomes = map[incident.Outcome]int{}
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(uint64(w), 1))
			db := dbs[w%len(dbs)]
			for range rounds {
				// One event per fingerprint: the engine cannot yet resolve
				// and refire an alert in one batch (see the report).
				events := make([]incident.Event, 1+r.IntN(6))
				for i, k := range r.Perm(fingerprints)[:len(events)] {
					events[i] = event(r, k)
				}
				var res []incident.Result
				err := db.InTx(ctx, func(tx store.Tx) error {
					var err error
					res, _, err = incident.Apply(ctx, tx, events, opt)
					return err
				})
				if err != nil {
					t.Errorf("worker %d: apply: %v", w, err)
					return
				}
				mu.Lock()
				for _, r := range res {
					outcomes[r.Outcome]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() { // a person
		r := mrand.New(mrand.NewPCG(99, 1))
		kinds := []incident.ActionKind{incident.ActionAck, incident.ActionResolve, incident.ActionReopen, incident.ActionNote}
		for range rounds {
			incs, err := dbs[1].ListIncidents(ctx, store.ListIncidentsParams{Limit: 20})
			if err != nil {
				t.Errorf("list: %v", err)
				return
			}
			if len(incs) == 0 {
				continue
			}
			id := incs[r.IntN(len(incs))].ID
			act := incident.Action{Kind: kinds[r.IntN(len(kinds))], Text: "looking"}
			err = dbs[1].InTx(ctx, func(tx store.Tx) error {
				_, err := incident.Act(ctx, tx, id, act, "alice", opt.Now)
				return err
			})
			if err != nil && incident.ErrorCode(err) != incident.ECONFLICT {
				t.Errorf("%s incident %d: %v", act.Kind, id, err)
			}
		}
	})
	wg.Go(func() { // the summary flusher
		for range rounds {
			err := dbs[0].InTx(ctx, func(tx store.Tx) error {
				_, err := incident.FlushSummaries(ctx, tx, opt.Now, 100)
				return err
			})
			if err != nil {
				t.Errorf("flush: %v", err)
				return
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}

	conn := rawConn(t, dsn)
	rows, err := conn.Query(ctx, `SELECT i.id, i.status, i.alert_count, i.firing_count, i.alerts_logged, i.repeats, i.repeats_logged,
			count(a.id), count(a.id) FILTER (WHERE a.status = 'firing')
		FROM incidents i LEFT JOIN alerts a ON a.incident_id = i.id GROUP BY i.id ORDER BY i.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var (
			id                                                       int64
			status                                                   string
			alertCount, firingCount, alertsLogged, rep, repLogged, n int
			firing                                                   int
		)
		if err := rows.Scan(&id, &status, &alertCount, &firingCount, &alertsLogged, &rep, &repLogged, &n, &firing); err != nil {
			t.Fatal(err)
		}
		if alertCount != n || firingCount != firing {
			t.Errorf("incident %d: alert_count %d firing_count %d, but %d alert rows of which %d firing", id, alertCount, firingCount, n, firing)
		}
		if status == string(incident.StatusResolved) && firing > 0 {
			t.Errorf("incident %d is resolved but holds %d firing alerts", id, firing)
		}
		if alertsLogged > alertCount || repLogged > rep {
			t.Errorf("incident %d: logged %d of %d alerts and %d of %d repeats", id, alertsLogged, alertCount, repLogged, rep)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Every firing event made an alert or counted on one; every repeat
	// counted on its incident.
	var receipts, repeats int
	if err := conn.QueryRow(ctx, `SELECT (SELECT coalesce(sum(count), 0) FROM alerts), (SELECT coalesce(sum(repeats), 0) FROM incidents)`).
		Scan(&receipts, &repeats); err != nil {
		t.Fatal(err)
	}
	fired := outcomes[incident.OutcomeOpened] + outcomes[incident.OutcomeGrouped] + outcomes[incident.OutcomeRepeat]
	if receipts != fired || repeats != outcomes[incident.OutcomeRepeat] {
		t.Errorf("stored %d receipts and %d repeats, want %d and %d (outcomes %v)", receipts, repeats, fired, outcomes[incident.OutcomeRepeat], outcomes)
	}
}

// TestInsertKeepsInputOrder checks that a multi-row insert hands out ids in
// input order and gives each row its own id back.
func TestInsertKeepsInputOrder(t *testing.T) {
	t.Parallel()
	db := open(t, newSchema(t))
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	inc := &incident.Incident{Title: "t", Severity: incident.SeverityInfo, Status: incident.StatusTriggered, GroupKey: "g", StartedAt: now, UpdatedAt: now}
	var alerts []*incident.Alert
	var entries []*incident.TimelineEntry
	err := db.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateIncident(ctx, inc); err != nil {
			return err
		}
		alerts, entries = nil, nil
		for i := range 300 {
			alerts = append(alerts, &incident.Alert{IncidentID: inc.ID, Source: incident.SourceGeneric, Fingerprint: fmt.Sprintf("f%03d", 299-i),
				Status: incident.AlertFiring, Severity: incident.SeverityInfo, StartsAt: now, LastSeenAt: now, Count: 1})
			entries = append(entries, &incident.TimelineEntry{IncidentID: inc.ID, At: now, Actor: "a", Kind: incident.KindNote, Message: fmt.Sprint(i)})
		}
		if err := tx.InsertAlerts(ctx, alerts); err != nil {
			return err
		}
		return tx.AppendTimeline(ctx, entries)
	})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := db.ListAlerts(ctx, store.ListAlertsParams{IncidentID: inc.ID, Limit: 1000})
	if err != nil || len(listed) != len(alerts) {
		t.Fatalf("listed %d alerts, %v", len(listed), err)
	}
	for i, a := range alerts {
		if listed[i].ID != a.ID || listed[i].Fingerprint != a.Fingerprint || (i > 0 && a.ID <= alerts[i-1].ID) {
			t.Fatalf("alert %d: given id %d for %s, listed %d for %s", i, a.ID, a.Fingerprint, listed[i].ID, listed[i].Fingerprint)
		}
	}
	tl, err := db.ListTimeline(ctx, store.ListTimelineParams{IncidentID: inc.ID, Limit: 1000})
	if err != nil || len(tl) != len(entries) {
		t.Fatalf("listed %d entries, %v", len(tl), err)
	}
	for i, e := range entries {
		if tl[i].ID != e.ID || tl[i].Message != e.Message {
			t.Fatalf("entry %d: given id %d for %q, listed %d for %q", i, e.ID, e.Message, tl[i].ID, tl[i].Message)
		}
	}
}
