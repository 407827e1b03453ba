package sql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-dev/firebreak/examples"
	"github.com/firebreak-dev/firebreak/internal/redact"
)

const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testBundle is one test's private schema and an admin connection to it.
type testBundle struct {
	dsn    string // the test database, search_path set to the schema
	schema string
	admin  *pgx.Conn
}

// setup creates a schema of its own for the test and drops it afterwards.
// Without PostgreSQL the test is skipped, except under CI=true, where it
// fails.
func setup(t *testing.T) *testBundle {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = defaultTestDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		msg := "PostgreSQL unreachable at TEST_DATABASE_URL (" + redact.Default().String(base) + "): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; set TEST_DATABASE_URL or start PostgreSQL to run this test")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "fbtest_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	if _, err := admin.Exec(ctx, "SET search_path = "+schema); err != nil {
		t.Fatalf("set search_path: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	return &testBundle{dsn: withSearchPath(t, base, schema), schema: schema, admin: admin}
}

func withSearchPath(t *testing.T, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("TEST_DATABASE_URL: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func (b *testBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := b.admin.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (b *testBundle) targets(t *testing.T, tweak ...func(*Target)) *Targets {
	t.Helper()
	tc := Target{Name: "main", DSN: b.dsn}
	for _, f := range tweak {
		f(&tc)
	}
	ts, err := NewTargets([]Target{tc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	return ts
}

func mustRun(t *testing.T, ts *Targets, req Request) *Result {
	t.Helper()
	if req.Target == "" {
		req.Target = "main"
	}
	res, err := ts.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run(%q): %v", req.SQL, err)
	}
	return res
}

func runErr(t *testing.T, ts *Targets, req Request) *Error {
	t.Helper()
	if req.Target == "" {
		req.Target = "main"
	}
	res, err := ts.Run(context.Background(), req)
	if err == nil {
		t.Fatalf("Run(%q) succeeded with %+v, want an error", req.SQL, res)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run(%q) error %T %v, want *Error", req.SQL, err, err)
	}
	return e
}

func count(t *testing.T, b *testBundle, sql string) int64 {
	t.Helper()
	var n int64
	if err := b.admin.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestReadStepCannotWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `CREATE TABLE campaigns (id int PRIMARY KEY, status text, success_rate real);
		INSERT INTO campaigns VALUES (1, 'ACTIVE', 0.5), (2, 'ACTIVE', 0.95);
		CREATE SEQUENCE s`)
	ts := b.targets(t)

	tests := []struct {
		name, sql, want string
	}{
		{"update", "UPDATE campaigns SET status = 'PAUSED' WHERE success_rate < 0.8",
			"refused by PostgreSQL: cannot execute UPDATE in a read-only transaction"},
		{"data-modifying CTE", "WITH d AS (DELETE FROM campaigns RETURNING id) SELECT count(*) FROM d",
			"refused by PostgreSQL: cannot execute SELECT in a read-only transaction"},
		{"write inside a function call", "SELECT nextval('s')",
			"refused by PostgreSQL: cannot execute nextval() in a read-only transaction"},
		{"ddl", "DROP TABLE campaigns", "refused by PostgreSQL: cannot execute DROP TABLE in a read-only transaction"},
		{"set read write", "SET TRANSACTION READ WRITE", "transaction read-write mode must be set before any query"},
	}
	for _, tt := range tests {
		e := runErr(t, ts, Request{SQL: tt.sql, ReadOnly: true})
		if !strings.Contains(e.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.name, e.Error(), tt.want)
		}
		if tt.name != "set read write" && (e.Kind != KindReadOnly || e.SQLState != "25006" || !errors.Is(e, ErrReadOnly)) {
			t.Errorf("%s: kind %s state %s, want read_only 25006", tt.name, e.Kind, e.SQLState)
		}
		if IsRetryable(e) {
			t.Errorf("%s: a refused write is not retryable", tt.name)
		}
	}
	if n := count(t, b, "SELECT count(*) FROM campaigns WHERE status = 'ACTIVE'"); n != 2 {
		t.Errorf("campaigns changed: %d active, want 2", n)
	}

	// The same UPDATE as a write step commits.
	res := mustRun(t, ts, Request{SQL: "UPDATE campaigns SET status = 'PAUSED' WHERE success_rate < 0.8"})
	if res.RowsAffected != 1 || res.Command != "UPDATE 1" || res.Columns != nil {
		t.Errorf("write result %+v", res)
	}
	if n := count(t, b, "SELECT count(*) FROM campaigns WHERE status = 'PAUSED'"); n != 1 {
		t.Errorf("write step did not commit")
	}
}

func TestReadIsRolledBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	// txid_current() assigns the read step's transaction an id even in READ
	// ONLY mode; its status afterwards shows how the step ended.
	res := mustRun(t, ts, Request{SQL: "SELECT txid_current()", ReadOnly: true})
	var status string
	if err := b.admin.QueryRow(context.Background(), "SELECT txid_status($1)", res.Rows[0][0]).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "aborted" {
		t.Errorf("read step's transaction is %s, want aborted (rolled back)", status)
	}
	res = mustRun(t, ts, Request{SQL: "SELECT txid_current()"})
	if err := b.admin.QueryRow(context.Background(), "SELECT txid_status($1)", res.Rows[0][0]).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "committed" {
		t.Errorf("write step's transaction is %s, want committed", status)
	}
}

func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	start := time.Now()
	e := runErr(t, ts, Request{SQL: "SELECT pg_sleep(30)", ReadOnly: true, Timeout: time.Second})
	elapsed := time.Since(start)
	if e.Kind != KindTimeout || !errors.Is(e, ErrTimeout) || IsRetryable(e) {
		t.Errorf("kind %s retryable %v, want timeout, not retryable", e.Kind, e.Retryable)
	}
	want := `sql target "main": statement timed out after 1s (statement_timeout) (SQLSTATE 57014)`
	if e.Error() != want {
		t.Errorf("error %q\nwant  %q", e.Error(), want)
	}
	if elapsed < 900*time.Millisecond || elapsed > 4*time.Second {
		t.Errorf("took %v, want about 1s", elapsed)
	}
	// The connection is healthy again.
	if res := mustRun(t, ts, Request{SQL: "SELECT 1 AS one", ReadOnly: true}); res.Rows[0][0] != int64(1) {
		t.Errorf("after timeout: %+v", res)
	}
	// The target default applies when the request sets none.
	ts2 := b.targets(t, func(tc *Target) { tc.StatementTimeout = 200 * time.Millisecond })
	e = runErr(t, ts2, Request{SQL: "SELECT pg_sleep(5)", ReadOnly: true})
	if !strings.Contains(e.Error(), "statement timed out after 200ms (statement_timeout)") {
		t.Errorf("target default: %v", e)
	}
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "CREATE TABLE users (id int PRIMARY KEY, is_active bool); INSERT INTO users VALUES (1, true)")
	ts := b.targets(t, func(tc *Target) { tc.LockTimeout = 300 * time.Millisecond })

	ctx := context.Background()
	tx, err := b.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT * FROM users WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	e := runErr(t, ts, Request{SQL: "UPDATE users SET is_active = false WHERE id = 1"})
	if e.Kind != KindLockTimeout || !e.Retryable || !strings.Contains(e.Error(), "lock wait timed out after 300ms (lock_timeout)") {
		t.Errorf("got %v (kind %s retryable %v)", e, e.Kind, e.Retryable)
	}
}

func TestRowCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t, func(tc *Target) { tc.MaxRows = 20 })
	tests := []struct {
		name      string
		req       Request
		wantRows  int
		truncated bool
	}{
		{"target cap", Request{SQL: "SELECT g FROM generate_series(1, 100000) g"}, 20, true},
		{"request cap", Request{SQL: "SELECT g FROM generate_series(1, 1000) g", MaxRows: 10}, 10, true},
		{"exactly the cap", Request{SQL: "SELECT g FROM generate_series(1, 10) g", MaxRows: 10}, 10, false},
		{"below the cap", Request{SQL: "SELECT g FROM generate_series(1, 3) g"}, 3, false},
		{"no rows", Request{SQL: "SELECT g FROM generate_series(1, 0) g"}, 0, false},
	}
	for _, tt := range tests {
		tt.req.ReadOnly = true
		res := mustRun(t, ts, tt.req)
		if len(res.Rows) != tt.wantRows || res.Truncated != tt.truncated {
			t.Errorf("%s: %d rows truncated %v, want %d %v", tt.name, len(res.Rows), res.Truncated, tt.wantRows, tt.truncated)
		}
		if tt.wantRows > 0 && res.Rows[0][0] != int64(1) {
			t.Errorf("%s: first row %v", tt.name, res.Rows[0])
		}
		if res.Rows == nil {
			t.Errorf("%s: Rows is nil, want an empty list", tt.name)
		}
	}
	// The whole result was read: the command tag counts every row.
	res := mustRun(t, ts, Request{SQL: "SELECT g FROM generate_series(1, 500) g", ReadOnly: true})
	if res.RowsAffected != 500 || res.Command != "SELECT 500" {
		t.Errorf("tag %q rows %d", res.Command, res.RowsAffected)
	}

	small := b.targets(t, func(tc *Target) { tc.MaxBytes = 1000 })
	res = mustRun(t, small, Request{SQL: "SELECT repeat('x', 300) FROM generate_series(1, 10)", ReadOnly: true})
	if len(res.Rows) != 3 || !res.Truncated {
		t.Errorf("byte cap: %d rows truncated %v, want 3 true", len(res.Rows), res.Truncated)
	}
}

func TestHostileBindParameters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "CREATE TABLE jobs (id serial PRIMARY KEY, type text, status text)")
	ts := b.targets(t)
	pwned := "/tmp/pwned-" + b.schema
	values := []string{
		"'; DROP TABLE jobs; --",
		"'); DROP TABLE jobs; --",
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"x\n; DROP TABLE jobs;\n--",
		"%s%s%s %n %x",
		"$1 $2 $$ $tag$",
		`\'; DROP TABLE jobs; --`,
		"\x01\x7f",
		"ünïcødé 🔥",
		strings.Repeat("A", 1<<20),
	}
	for i, v := range values {
		res := mustRun(t, ts, Request{
			SQL:  "INSERT INTO jobs (type, status) VALUES ($1, $2) RETURNING type, status",
			Args: []any{v, v},
		})
		if len(res.Rows) != 1 || res.Rows[0][0] != v || res.Rows[0][1] != v {
			t.Errorf("value %d did not round-trip as data", i)
		}
		res = mustRun(t, ts, Request{SQL: "SELECT count(*) FROM jobs WHERE type = $1", Args: []any{v}, ReadOnly: true})
		if res.Rows[0][0] != int64(1) {
			t.Errorf("value %d: lookup found %v rows", i, res.Rows[0][0])
		}
	}
	if n := count(t, b, "SELECT count(*) FROM jobs"); n != int64(len(values)) {
		t.Errorf("jobs has %d rows, want %d", n, len(values))
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("%s exists", pwned)
	}

	// A string argument binds to a typed parameter, as alert label values do.
	res := mustRun(t, ts, Request{SQL: "SELECT $1::bigint + 1, $2::int", Args: []any{"41", "7"}, ReadOnly: true})
	if res.Rows[0][0] != int64(42) || res.Rows[0][1] != int64(7) {
		t.Errorf("typed binding: %v", res.Rows[0])
	}
	e := runErr(t, ts, Request{SQL: "SELECT $1::int", Args: []any{"1; DROP TABLE jobs"}, ReadOnly: true})
	if e.Kind != KindQuery || e.SQLState != "22P02" {
		t.Errorf("bad integer: %v", e)
	}
}

func TestArgsMismatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	tests := []struct {
		req  Request
		want string
	}{
		{Request{SQL: "SELECT $1::text, $2::text", Args: []any{"a"}}, "args: the SQL uses $2 but 1 bind parameters were given"},
		{Request{SQL: "SELECT $1::text", Args: []any{"a", "b"}}, "args: 2 bind parameters given but the SQL uses only 1"},
		{Request{SQL: "SELECT 1", Args: []any{"a"}}, "args: 1 bind parameters given but the SQL uses only 0"},
		{Request{SQL: "SELECT $1::int", Args: []any{struct{ X chan int }{}}}, "args: "},
	}
	for _, tt := range tests {
		tt.req.ReadOnly = true
		e := runErr(t, ts, tt.req)
		if e.Kind != KindInvalid || !strings.Contains(e.Error(), tt.want) {
			t.Errorf("%q %v: got %v (%s), want invalid %q", tt.req.SQL, tt.req.Args, e, e.Kind, tt.want)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Target: "nope", SQL: "SELECT 1"}, `sql target "nope": target: not configured; configured targets: main`},
		{Request{Target: "main", SQL: " -- nothing\n"}, "sql: empty"},
		{Request{Target: "main", SQL: "SELECT 1", Timeout: -time.Second}, "timeout: -1s is negative"},
		{Request{Target: "main", SQL: "SELECT 1", MaxRows: -1}, "max_rows: -1 is negative"},
		{Request{Target: "main", SQL: "COMMIT; UPDATE x SET y = 1"}, "statement 1: COMMIT is not allowed in a step"},
		{Request{Target: "main", SQL: "SELECT 1; begin"}, "statement 2: BEGIN is not allowed"},
		{Request{Target: "main", SQL: "END"}, "END is not allowed"},
		{Request{Target: "main", SQL: "start transaction read write"}, "START TRANSACTION is not allowed"},
		{Request{Target: "main", SQL: "PREPARE TRANSACTION 'x'"}, "PREPARE TRANSACTION is not allowed"},
	}
	for _, tt := range tests {
		res, err := ts.Run(context.Background(), tt.req)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindInvalid || !strings.Contains(err.Error(), tt.want) || res != nil {
			t.Errorf("%+v: err %v, want invalid containing %q", tt.req, err, tt.want)
		}
	}
}

func TestNewTargetsValidation(t *testing.T) {
	t.Parallel()
	good := "postgres://u:pw-in-dsn@127.0.0.1/db"
	tests := []struct {
		list []Target
		want string
	}{
		{[]Target{{Name: "", DSN: good}}, "sql: targets[0].name: empty"},
		{[]Target{{Name: "a b", DSN: good}}, `sql: targets[0] ("a b").name: use letters`},
		{[]Target{{Name: "a", DSN: good}, {Name: "a", DSN: good}}, `sql: targets[1] ("a").name: duplicate`},
		{[]Target{{Name: "a"}}, `sql: targets[0] ("a").dsn: empty`},
		{[]Target{{Name: "a", DSN: good, StatementTimeout: -1}}, "statement_timeout: -1ns is negative"},
		{[]Target{{Name: "a", DSN: good, LockTimeout: -1}}, "lock_timeout"},
		{[]Target{{Name: "a", DSN: good, MaxRows: -1}}, "max_rows"},
		{[]Target{{Name: "a", DSN: good, MaxBytes: -1}}, "max_bytes"},
		{[]Target{{Name: "a", DSN: good, MaxConns: -1}}, "max_conns"},
		{[]Target{{Name: "a", DSN: "postgres://u:Hunter2Secret@host:notaport/db"}}, `sql: targets[0] ("a").dsn: `},
		{[]Target{{Name: "a", DSN: "host=x password=Hunter2Secret connect_timeout=abc"}}, `sql: targets[0] ("a").dsn: `},
	}
	for _, tt := range tests {
		_, err := NewTargets(tt.list, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewTargets(%v): %v, want %q", tt.list[len(tt.list)-1].Name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "Hunter2Secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	ts, err := NewTargets([]Target{{Name: "b", DSN: good}, {Name: "a", DSN: good, MaxRows: 7}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if got := ts.Names(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Names() = %v", got)
	}
	a := ts.targets["a"]
	if a.StatementTimeout != DefaultStatementTimeout || a.LockTimeout != DefaultLockTimeout ||
		a.MaxRows != 7 || a.MaxBytes != DefaultMaxBytes || a.MaxConns != DefaultMaxConns {
		t.Errorf("defaults: %+v", a.Target)
	}
	if ts.Redactor().String("x pw-in-dsn y") != "x xxxxx y" {
		t.Error("the redactor does not know the DSN password")
	}
}

func TestConnectionErrorsAreRetryableAndRedacted(t *testing.T) {
	t.Parallel()
	// Port 1 refuses connections at once.
	ts, err := NewTargets([]Target{{Name: "down", DSN: "postgres://app:Very5ecretPass@127.0.0.1:1/db?connect_timeout=2"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	_, err = ts.Run(context.Background(), Request{Target: "down", SQL: "SELECT 1", ReadOnly: true})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConnection || !IsRetryable(err) || !errors.Is(err, ErrConnection) {
		t.Fatalf("got %v, want a retryable connection error", err)
	}
	if strings.Contains(err.Error(), "Very5ecretPass") {
		t.Errorf("error leaks the password: %v", err)
	}
	if IsRetryable(errors.New("other")) || IsRetryable(nil) {
		t.Error("IsRetryable is true for a foreign error")
	}
}

func TestOutputsAndErrorsRedacted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Trust authentication ignores the password, but it is in the DSN.
	u, _ := url.Parse(b.dsn)
	u.User = url.UserPassword(u.User.Username(), "Sup3r-Secret!")
	ts, err := NewTargets([]Target{{Name: "main", DSN: u.String()}}, redact.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	res := mustRun(t, ts, Request{SQL: `SELECT $1::text AS v, 'postgres://a:b-pass@h/x' AS "password=Sup3r-Secret!"`, Args: []any{"pw is Sup3r-Secret!"}, ReadOnly: true})
	if res.Rows[0][0] != "pw is xxxxx" || res.Rows[0][1] != "postgres://a:xxxxx@h/x" || res.Columns[1] != "password=xxxxx" {
		t.Errorf("not redacted: %v %v", res.Columns, res.Rows)
	}
	res = mustRun(t, ts, Request{SQL: `SELECT '{"user": "a", "password": "hunter2"}'::jsonb, '{"api_token": 12345678}'::json`, ReadOnly: true})
	if got, _ := json.Marshal(res.Rows[0]); string(got) != `[{"password":"xxxxx","user":"a"},"{\"api_token\": xxxxx}"]` {
		t.Errorf("json not redacted: %s", got)
	}
	e := runErr(t, ts, Request{SQL: "SELECT $1::int", Args: []any{"Sup3r-Secret!"}, ReadOnly: true})
	if strings.Contains(e.Error(), "Sup3r-Secret") || !strings.Contains(e.Error(), "xxxxx") {
		t.Errorf("error not redacted: %v", e)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := ts.Run(ctx, Request{Target: "main", SQL: "SELECT pg_sleep(30) /* " + b.schema + " */", ReadOnly: true})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCanceled) || IsRetryable(err) {
		t.Fatalf("err %v, want canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
	// The server stopped the statement too.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := count(t, b, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(30) /* "+b.schema+"%' AND pid <> pg_backend_pid()")
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the statement still runs on the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSessionIsResetBetweenSteps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "CREATE TABLE t (v int)")
	ts := b.targets(t, func(tc *Target) { tc.MaxConns = 1 }) // one connection, reused
	mustRun(t, ts, Request{SQL: "SET search_path = pg_catalog; SELECT pg_advisory_lock(4242); PREPARE p AS SELECT 1"})
	res := mustRun(t, ts, Request{SQL: "SELECT current_setting('search_path'), (SELECT count(*) FROM pg_prepared_statements)", ReadOnly: true})
	if res.Rows[0][0] != b.schema || res.Rows[0][1] != int64(0) {
		t.Errorf("session state leaked: %v", res.Rows[0])
	}
	var got bool
	if err := b.admin.QueryRow(context.Background(), "SELECT pg_try_advisory_lock(4242)").Scan(&got); err != nil || !got {
		t.Errorf("advisory lock still held: %v %v", got, err)
	}
	b.exec(t, "SELECT pg_advisory_unlock(4242)")
	res = mustRun(t, ts, Request{SQL: "SHOW application_name", ReadOnly: true})
	if res.Rows[0][0] != "firebreak" {
		t.Errorf("application_name = %v", res.Rows[0][0])
	}
}

func TestMultiStatement(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "CREATE TABLE jobs (id int PRIMARY KEY, status text); INSERT INTO jobs SELECT g, 'RUNNING' FROM generate_series(1, 5) g")
	ts := b.targets(t)

	res := mustRun(t, ts, Request{
		SQL: `-- requeue stuck jobs
UPDATE jobs SET status = $1 WHERE id <= $2;
SELECT status, count(*) FROM jobs GROUP BY status ORDER BY status;
UPDATE jobs SET status = 'X; not a split' WHERE id = 5 AND status <> $1`,
		Args: []any{"PENDING", 3},
	})
	if len(res.Statements) != 3 || res.RowsAffected != 4 || res.Command != "UPDATE 1" {
		t.Fatalf("result %+v", res)
	}
	if got, _ := json.Marshal(res.Rows); string(got) != `[["PENDING",3],["RUNNING",2]]` {
		t.Errorf("rows of the last SELECT: %s", got)
	}
	if got := res.Statements[1].Columns; len(got) != 2 || got[0] != "status" || got[1] != "count" {
		t.Errorf("columns %v", got)
	}

	// A failure in statement 2 rolls back statement 1.
	e := runErr(t, ts, Request{SQL: "UPDATE jobs SET status = 'DONE'; SELECT 1/0"})
	if e.Statement != 2 || e.SQLState != "22012" || !strings.Contains(e.Error(), "statement 2: division by zero") {
		t.Errorf("error %v", e)
	}
	if n := count(t, b, "SELECT count(*) FROM jobs WHERE status = 'DONE'"); n != 0 {
		t.Errorf("statement 1 was committed")
	}
	// A read block is checked statement by statement too.
	e = runErr(t, ts, Request{SQL: "SELECT 1; DELETE FROM jobs", ReadOnly: true})
	if e.Kind != KindReadOnly || e.Statement != 2 {
		t.Errorf("error %v", e)
	}
}

func TestTypeRendering(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "CREATE TYPE mood AS ENUM ('ok', 'sad')")
	ts := b.targets(t)
	tests := []struct {
		expr string
		want string // JSON
	}{
		{"NULL::int", `null`},
		{"true", `true`},
		{"42::int2", `42`},
		{"-42::int4", `-42`},
		{"9007199254740993::int8", `9007199254740993`},
		{"'pg_class'::regclass::oid", `1259`},
		{"1.5::float4", `1.5`},
		{"0.1::float4", `0.1`},
		{"2.25::float8", `2.25`},
		{"'NaN'::float8", `"NaN"`},
		{"'-Infinity'::float8", `"-Infinity"`},
		{"12345.678900::numeric", `12345.678900`},
		{"0.000001::numeric", `0.000001`},
		{"ROUND(0.9534 * 100, 1)", `95.3`},
		{"123456789012345678901234567890::numeric", `123456789012345678901234567890`},
		{"'NaN'::numeric", `"NaN"`},
		{"'héllo \"q\"'::text", `"héllo \"q\""`},
		{"'ab'::char(4)", `"ab  "`},
		{"'x'::varchar", `"x"`},
		{"'2024-05-01 10:00:00.123456+02'::timestamptz", `"2024-05-01T08:00:00.123456Z"`},
		{"'2024-05-01 10:00:00'::timestamp", `"2024-05-01T10:00:00"`},
		{"'infinity'::timestamptz", `"infinity"`},
		{"'2024-05-01'::date", `"2024-05-01"`},
		{"'-infinity'::date", `"-infinity"`},
		{"interval '65 seconds'", `"00:01:05"`},
		{"interval '1.5 seconds'", `"00:00:01.5"`},
		{"'0f8fad5b-d9cb-469f-a165-70867728950e'::uuid", `"0f8fad5b-d9cb-469f-a165-70867728950e"`},
		{`'\xdeadbeef'::bytea`, `"\\xdeadbeef"`},
		{`''::bytea`, `"\\x"`},
		{`'{"a": 1, "big": 12345678901234567890, "f": 2.5, "n": null, "l": [true, "s"]}'::jsonb`,
			`{"a":1,"big":12345678901234567890,"f":2.5,"l":[true,"s"],"n":null}`},
		{`'[1, {"x": "y"}]'::json`, `[1,{"x":"y"}]`},
		{"'10.0.0.1'::inet", `"10.0.0.1"`},
		{"'10.0.0.0/24'::inet", `"10.0.0.0/24"`},
		{"'10.0.0.0/24'::cidr", `"10.0.0.0/24"`},
		{"'10.0.0.1/32'::cidr", `"10.0.0.1/32"`},
		{"'::1'::inet", `"::1"`},
		{"ARRAY[3, 1, 2]", `[3,1,2]`},
		{"ARRAY[[1, 2], [3, 4]]", `[[1,2],[3,4]]`},
		{"ARRAY['a', NULL, 'c;d']", `["a",null,"c;d"]`},
		{"'{}'::int[]", `[]`},
		{"ARRAY['2024-05-01'::date]", `["2024-05-01"]`},
		{"ARRAY['2024-05-01 10:00+00'::timestamptz]", `["2024-05-01T10:00:00Z"]`},
		{"ARRAY[1.50::numeric]", `[1.50]`},
		{"ARRAY[interval '1 hour']", `["01:00:00"]`},
		{"ARRAY['10.0.0.1'::inet]", `["10.0.0.1"]`},
		{"array_agg(DISTINCT g) FROM generate_series(3, 1, -1) g", `[1,2,3]`},
		// Not native: PostgreSQL's own text.
		{"'12:30:00'::time", `"12:30:00"`},
		{"'ok'::mood", `"ok"`},
		{"int4range(1, 10)", `"[1,10)"`},
		{"point(1, 2)", `"(1,2)"`},
		{"ROW(1, 'a')", `"(1,a)"`},
		{"'a b'::tsvector", `"'a' 'b'"`},
		{"ARRAY['ok'::mood]", `"{ok}"`},
	}
	exprs := make([]string, len(tests))
	for i, tt := range tests {
		exprs[i] = "(SELECT " + tt.expr + ")"
	}
	res := mustRun(t, ts, Request{SQL: "SELECT " + strings.Join(exprs, ",\n"), ReadOnly: true})
	for i, tt := range tests {
		got, err := json.Marshal(res.Rows[0][i])
		if err != nil {
			t.Errorf("%s: %v is not JSON: %v", tt.expr, res.Rows[0][i], err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.expr, got, tt.want)
		}
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("Result is not JSON-encodable: %v", err)
	}
}

// TestIntervalsMatchPostgres renders intervals the way PostgreSQL's own
// text output does.
func TestIntervalsMatchPostgres(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	intervals := []string{
		"0", "65 seconds", "1 day", "2 days 3 hours", "1 year 2 months 3 days 04:05:06.789",
		"-1 day", "-65 seconds", "1 day -00:00:01", "-1 day +00:00:01", "-1 year +2 months",
		"36 hours", "1 mon", "-3 mons -2 days", "100 years", "0.000001 seconds", "12 months",
	}
	var vals []string
	for _, iv := range intervals {
		vals = append(vals, "(interval '"+iv+"')")
	}
	res := mustRun(t, ts, Request{SQL: "SELECT i, i::text FROM (VALUES " + strings.Join(vals, ", ") + ") v(i)", ReadOnly: true})
	for _, row := range res.Rows {
		if row[0] != row[1] {
			t.Errorf("interval rendered %q, PostgreSQL says %q", row[0], row[1])
		}
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	mustRun(t, ts, Request{SQL: "SELECT 1", ReadOnly: true})
	ts.Close()
	e := runErr(t, ts, Request{SQL: "SELECT 1", ReadOnly: true})
	if !strings.Contains(e.Error(), "closed") {
		t.Errorf("after Close: %v", e)
	}
	ts.Close() // idempotent
}

// TestTelegramPlatformExample loads the example's schema.sql and seed.sql
// through the executor and runs every SQL step of the reference playbook
// against them: reads in READ ONLY mode, writes as writes. It also checks
// that PostgreSQL refuses each write when run as a read.
func TestTelegramPlatformExample(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	for _, f := range []string{"schema.sql", "seed.sql"} {
		text, err := os.ReadFile("../../../examples/telegram-platform/" + f)
		if err != nil {
			t.Fatal(err)
		}
		mustRun(t, ts, Request{SQL: string(text), Timeout: time.Minute})
	}

	fence := regexp.MustCompile("(?s)```sql\n(.*?)```")
	blocks := fence.FindAllStringSubmatch(string(examples.TelegramPlatformPlaybook), -1)
	if len(blocks) != 12 {
		t.Fatalf("found %d sql blocks in the playbook, want 12", len(blocks))
	}
	ran := 0
	for _, m := range blocks {
		sql := m[1]
		switch {
		case strings.Contains(sql, "slow_table"), strings.Contains(sql, "pg_cancel_backend(pid)"):
			continue // templates the responder fills in by hand
		}
		var args []any
		if strings.Contains(sql, "$license_id") {
			// The playbook package rewrites placeholders to $n; the alert's
			// label values arrive as strings.
			sql = strings.ReplaceAll(sql, "$license_id", "$1")
			args = []any{"1"}
		}
		w, _ := leadingWords(sql)
		write := w == "update" || w == "insert"
		ran++
		t.Run(fmt.Sprintf("step%02d_%s", ran, w), func(t *testing.T) {
			if write {
				e := runErr(t, ts, Request{SQL: sql, Args: args, ReadOnly: true})
				if e.Kind != KindReadOnly {
					t.Errorf("write run as read: %v, want a read-only refusal", e)
				}
				res := mustRun(t, ts, Request{SQL: sql, Args: args})
				if res.RowsAffected == 0 {
					t.Errorf("%s\naffected no rows", sql)
				}
				return
			}
			res := mustRun(t, ts, Request{SQL: sql, Args: args, ReadOnly: true})
			longRunning := strings.Contains(sql, "interval '1 minute'")
			if len(res.Rows) == 0 && !longRunning {
				t.Errorf("%s\nreturned no rows", sql)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result not JSON: %v", err)
			}
			t.Logf("%s → %d rows, first %v", strings.Join(strings.Fields(sql), " ")[:40], len(res.Rows), firstRow(res))
		})
	}
	if ran != 10 {
		t.Errorf("ran %d playbook steps, want 10", ran)
	}
}

func firstRow(r *Result) []any {
	if len(r.Rows) == 0 {
		return nil
	}
	return r.Rows[0]
}
