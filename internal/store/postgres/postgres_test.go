package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
