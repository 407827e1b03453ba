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
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-dev/firebreak/examples"
	"github.com/firebreak-dev/firebreak/internal/playbook"
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

// q is one statement with its arguments.
func q(sql string, args ...any) []Statement {
	return []Statement{{SQL: sql, Args: args}}
}

// stmts are statements without arguments.
func stmts(sqls ...string) []Statement {
	var out []Statement
	for _, s := range sqls {
		out = append(out, Statement{SQL: s})
	}
	return out
}

// sqlOf is a request's text, for messages.
func sqlOf(req Request) string {
	var parts []string
	for _, s := range req.Statements {
		parts = append(parts, s.SQL)
	}
	return strings.Join(parts, "; ")
}

func mustRun(t *testing.T, ts *Targets, req Request) *Result {
	t.Helper()
	if req.Target == "" {
		req.Target = "main"
	}
	res, err := ts.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run(%q): %v", sqlOf(req), err)
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
		t.Fatalf("Run(%q) succeeded with %+v, want an error", sqlOf(req), res)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run(%q) error %T %v, want *Error", sqlOf(req), err, err)
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
		e := runErr(t, ts, Request{Statements: q(tt.sql), ReadOnly: true})
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
	res := mustRun(t, ts, Request{Statements: q("UPDATE campaigns SET status = 'PAUSED' WHERE success_rate < 0.8")})
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
	res := mustRun(t, ts, Request{Statements: q("SELECT txid_current()"), ReadOnly: true})
	var status string
	if err := b.admin.QueryRow(context.Background(), "SELECT txid_status($1)", res.Rows[0][0]).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "aborted" {
		t.Errorf("read step's transaction is %s, want aborted (rolled back)", status)
	}
	res = mustRun(t, ts, Request{Statements: q("SELECT txid_current()")})
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
	e := runErr(t, ts, Request{Statements: q("SELECT pg_sleep(30)"), ReadOnly: true, Timeout: time.Second})
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
	if res := mustRun(t, ts, Request{Statements: q("SELECT 1 AS one"), ReadOnly: true}); res.Rows[0][0] != int64(1) {
		t.Errorf("after timeout: %+v", res)
	}
	// The target default applies when the request sets none.
	ts2 := b.targets(t, func(tc *Target) { tc.StatementTimeout = 200 * time.Millisecond })
	e = runErr(t, ts2, Request{Statements: q("SELECT pg_sleep(5)"), ReadOnly: true})
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
	e := runErr(t, ts, Request{Statements: q("UPDATE users SET is_active = false WHERE id = 1")})
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
		{"target cap", Request{Statements: q("SELECT g FROM generate_series(1, 100000) g")}, 20, true},
		{"request cap", Request{Statements: q("SELECT g FROM generate_series(1, 1000) g"), MaxRows: 10}, 10, true},
		{"exactly the cap", Request{Statements: q("SELECT g FROM generate_series(1, 10) g"), MaxRows: 10}, 10, false},
		{"below the cap", Request{Statements: q("SELECT g FROM generate_series(1, 3) g")}, 3, false},
		{"no rows", Request{Statements: q("SELECT g FROM generate_series(1, 0) g")}, 0, false},
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
	res := mustRun(t, ts, Request{Statements: q("SELECT g FROM generate_series(1, 500) g"), ReadOnly: true})
	if res.RowsAffected != 500 || res.Command != "SELECT 500" {
		t.Errorf("tag %q rows %d", res.Command, res.RowsAffected)
	}

	small := b.targets(t, func(tc *Target) { tc.MaxBytes = 1000 })
	res = mustRun(t, small, Request{Statements: q("SELECT repeat('x', 300) FROM generate_series(1, 10)"), ReadOnly: true})
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
			Statements: q("INSERT INTO jobs (type, status) VALUES ($1, $2) RETURNING type, status", v, v),
		})
		if len(res.Rows) != 1 || res.Rows[0][0] != v || res.Rows[0][1] != v {
			t.Errorf("value %d did not round-trip as data", i)
		}
		res = mustRun(t, ts, Request{Statements: q("SELECT count(*) FROM jobs WHERE type = $1", v), ReadOnly: true})
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
	res := mustRun(t, ts, Request{Statements: q("SELECT $1::bigint + 1, $2::int", "41", "7"), ReadOnly: true})
	if res.Rows[0][0] != int64(42) || res.Rows[0][1] != int64(7) {
		t.Errorf("typed binding: %v", res.Rows[0])
	}
	e := runErr(t, ts, Request{Statements: q("SELECT $1::int", "1; DROP TABLE jobs"), ReadOnly: true})
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
		{Request{Statements: q("SELECT $1::text, $2::text", "a")}, "args: the SQL uses $2 but 1 bind parameters were given"},
		{Request{Statements: q("SELECT $1::text", "a", "b")}, "args: 2 bind parameters given but the SQL uses only 1"},
		{Request{Statements: q("SELECT 1", "a")}, "args: 1 bind parameters given but the SQL uses only 0"},
		{Request{Statements: q("SELECT $1::int", struct{ X chan int }{})}, "args: "},
	}
	for _, tt := range tests {
		tt.req.ReadOnly = true
		e := runErr(t, ts, tt.req)
		if e.Kind != KindInvalid || !strings.Contains(e.Error(), tt.want) {
			t.Errorf("%+v: got %v (%s), want invalid %q", tt.req.Statements, e, e.Kind, tt.want)
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
		{Request{Target: "nope", Statements: q("SELECT 1")}, `sql target "nope": target: not configured; configured targets: main`},
		{Request{Target: "main"}, "statements: none"},
		{Request{Target: "main", Statements: q(" -- nothing\n/* more */")}, "sql: empty"},
		{Request{Target: "main", Statements: q("SELECT 1 -- \x00 DROP")}, "NUL"},
		{Request{Target: "main", Statements: q("SELECT 1"), Timeout: -time.Second}, "timeout: -1s is negative"},
		{Request{Target: "main", Statements: q("SELECT 1"), MaxRows: -1}, "max_rows: -1 is negative"},
		{Request{Target: "main", Statements: stmts("COMMIT", "UPDATE x SET y = 1")}, "statement 1: COMMIT is not allowed in a step"},
		{Request{Target: "main", Statements: stmts("SELECT 1", "-- c\n/* d */ begin")}, "statement 2: BEGIN is not allowed"},
		{Request{Target: "main", Statements: stmts("SELECT 1", " ")}, "statement 2: sql: empty"},
		{Request{Target: "main", Statements: q("END")}, "END is not allowed"},
		{Request{Target: "main", Statements: q("start transaction read write")}, "START TRANSACTION is not allowed"},
		{Request{Target: "main", Statements: q("PREPARE TRANSACTION 'x'")}, "PREPARE TRANSACTION is not allowed"},
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
	_, err = ts.Run(context.Background(), Request{Target: "down", Statements: q("SELECT 1"), ReadOnly: true})
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
	res := mustRun(t, ts, Request{Statements: q(`SELECT $1::text AS v, 'postgres://a:b-pass@h/x' AS "password=Sup3r-Secret!"`, "pw is Sup3r-Secret!"), ReadOnly: true})
	if res.Rows[0][0] != "pw is xxxxx" || res.Rows[0][1] != "postgres://a:xxxxx@h/x" || res.Columns[1] != "password=xxxxx" {
		t.Errorf("not redacted: %v %v", res.Columns, res.Rows)
	}
	res = mustRun(t, ts, Request{Statements: q(`SELECT '{"user": "a", "password": "hunter2"}'::jsonb, '{"api_token": 12345678}'::json`), ReadOnly: true})
	if got, _ := json.Marshal(res.Rows[0]); string(got) != `[{"password":"xxxxx","user":"a"},"{\"api_token\": xxxxx}"]` {
		t.Errorf("json not redacted: %s", got)
	}
	e := runErr(t, ts, Request{Statements: q("SELECT $1::int", "Sup3r-Secret!"), ReadOnly: true})
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
	_, err := ts.Run(ctx, Request{Target: "main", Statements: q("SELECT pg_sleep(30) /* " + b.schema + " */"), ReadOnly: true})
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
	mustRun(t, ts, Request{Statements: stmts("SET search_path = pg_catalog", "SELECT pg_advisory_lock(4242)", "PREPARE p AS SELECT 1")})
	res := mustRun(t, ts, Request{Statements: q("SELECT current_setting('search_path'), (SELECT count(*) FROM pg_prepared_statements)"), ReadOnly: true})
	if res.Rows[0][0] != b.schema || res.Rows[0][1] != int64(0) {
		t.Errorf("session state leaked: %v", res.Rows[0])
	}
	var got bool
	if err := b.admin.QueryRow(context.Background(), "SELECT pg_try_advisory_lock(4242)").Scan(&got); err != nil || !got {
		t.Errorf("advisory lock still held: %v %v", got, err)
	}
	b.exec(t, "SELECT pg_advisory_unlock(4242)")
	res = mustRun(t, ts, Request{Statements: q("SHOW application_name"), ReadOnly: true})
	if res.Rows[0][0] != "firebreak" {
		t.Errorf("application_name = %v", res.Rows[0][0])
	}
}

func TestMultiStatement(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "CREATE TABLE jobs (id int PRIMARY KEY, status text); INSERT INTO jobs SELECT g, 'RUNNING' FROM generate_series(1, 5) g")
	ts := b.targets(t)

	// Each statement has its own arguments, numbered from $1.
	res := mustRun(t, ts, Request{Statements: []Statement{
		{SQL: "UPDATE jobs SET status = $1 WHERE id <= $2", Args: []any{"PENDING", 3}},
		{SQL: "SELECT status, count(*) FROM jobs GROUP BY status ORDER BY status"},
		{SQL: "UPDATE jobs SET status = 'X; not a split' WHERE id = 5 AND status <> $1", Args: []any{"PENDING"}},
	}})
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
	e := runErr(t, ts, Request{Statements: stmts("UPDATE jobs SET status = 'DONE'", "SELECT 1/0")})
	if e.Statement != 2 || e.SQLState != "22012" || !strings.Contains(e.Error(), "statement 2: division by zero") {
		t.Errorf("error %v", e)
	}
	if n := count(t, b, "SELECT count(*) FROM jobs WHERE status = 'DONE'"); n != 0 {
		t.Errorf("statement 1 was committed")
	}
	// A read block is checked statement by statement too.
	e = runErr(t, ts, Request{Statements: stmts("SELECT 1", "DELETE FROM jobs"), ReadOnly: true})
	if e.Kind != KindReadOnly || e.Statement != 2 {
		t.Errorf("error %v", e)
	}
}

// TestStatementsAreSentAsGiven checks that the server receives exactly the
// request's statements, one call each, with their own arguments: the
// executor neither splits nor joins them.
func TestStatementsAreSentAsGiven(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)

	res := mustRun(t, ts, Request{ReadOnly: true, Statements: []Statement{
		{SQL: "SELECT $1::text AS a, current_query() AS q", Args: []any{"first"}},
		{SQL: "SELECT $$x; SELECT 'y'$$ AS b, $1::int + 1 AS n, current_query() AS q", Args: []any{41}},
		{SQL: "SELECT E'it\\'s; not a split' AS c, /* a /* nested; */ comment */ current_query() AS q"},
	}})
	want := []struct {
		col string
		val any
		sql string
	}{
		{"a", "first", "SELECT $1::text AS a, current_query() AS q"},
		{"b", "x; SELECT 'y'", "SELECT $$x; SELECT 'y'$$ AS b, $1::int + 1 AS n, current_query() AS q"},
		{"c", "it's; not a split", "SELECT E'it\\'s; not a split' AS c, /* a /* nested; */ comment */ current_query() AS q"},
	}
	if len(res.Statements) != len(want) {
		t.Fatalf("%d statement results, want %d: %+v", len(res.Statements), len(want), res)
	}
	for i, w := range want {
		sr := res.Statements[i]
		if sr.Columns[0] != w.col || sr.Rows[0][0] != w.val {
			t.Errorf("statement %d: %v %v, want %s = %v", i+1, sr.Columns, sr.Rows, w.col, w.val)
		}
		// current_query() is the text the server was sent for this call.
		if got := sr.Rows[0][len(sr.Rows[0])-1]; got != w.sql {
			t.Errorf("statement %d: the server received %q, want %q", i+1, got, w.sql)
		}
	}
	if res.Statements[1].Rows[0][1] != int64(42) {
		t.Errorf("statement 2 did not get its own argument: %v", res.Statements[1].Rows[0])
	}

	// Two statements in one Statement are refused by the server, not split.
	e := runErr(t, ts, Request{Statements: q("SELECT 1; SELECT 2"), ReadOnly: true})
	if e.Kind != KindQuery || e.SQLState != "42601" || !strings.Contains(e.Error(), "cannot insert multiple commands") {
		t.Errorf("two statements in one: %v", e)
	}
}

// TestClassifiedStatementsRun runs blocks a naive splitter would cut
// differently through the playbook package and the executor: the server
// receives, one call each, exactly the statements that were classified.
func TestClassifiedStatementsRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	tests := []struct {
		name string
		sql  string
		risk playbook.Risk
	}{
		{"read", `SELECT $fn$ a; $$ b; $fn$ AS d, current_query() AS q;
SELECT E'it\'s; still one' AS e, $label AS l, current_query() AS q;
/* a /* nested; */ comment; */ SELECT 'x;y' AS f, current_query() AS q;
SELECT 1 AS g, $label AS l, current_query() AS q -- trailing; comment`, playbook.RiskRead},
		{"write", `CREATE FUNCTION fb_two() RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT 1;
  SELECT 2;
END;
SELECT fb_two() AS two, current_query() AS q`, playbook.RiskWrite},
	}
	for _, tt := range tests {
		st, err := playbook.StepFromText("sql", tt.sql)
		if err != nil {
			t.Fatal(err)
		}
		if st.Risk != tt.risk {
			t.Fatalf("%s: risk %s, want %s", tt.name, st.Risk, tt.risk)
		}
		r, err := st.Bind(map[string]string{"label": "v"})
		if err != nil {
			t.Fatal(err)
		}
		req := Request{ReadOnly: st.Risk == playbook.RiskRead}
		for _, s := range r.Statements {
			req.Statements = append(req.Statements, Statement{SQL: s.SQL, Args: s.Args})
		}
		res := mustRun(t, ts, req)
		if len(res.Statements) != len(st.Commands) {
			t.Fatalf("%s: %d statements ran, %d were classified", tt.name, len(res.Statements), len(st.Commands))
		}
		for i, c := range st.Commands {
			sr := res.Statements[i]
			if len(sr.Rows) == 0 {
				continue // CREATE FUNCTION
			}
			got := sr.Rows[0][len(sr.Rows[0])-1]
			want := strings.ReplaceAll(c.Text, "$label", "$1")
			if got != want {
				t.Errorf("%s statement %d: the server received %q, the classifier judged %q", tt.name, i+1, got, c.Text)
			}
		}
		if tt.name == "write" && res.Rows[0][0] != int64(2) {
			t.Errorf("BEGIN ATOMIC body: %v", res.Rows)
		}
	}
}

// TestRowTooLargeIsRefusedWhileReading runs without t.Parallel: it measures
// the process's allocations, which other tests would add to.
func TestRowTooLargeIsRefusedWhileReading(t *testing.T) {
	b := setup(t)
	ts := b.targets(t, func(tc *Target) { tc.MaxBytes = 1 << 20; tc.MaxConns = 1 })
	mustRun(t, ts, Request{Statements: q("SELECT 1"), ReadOnly: true}) // connect first

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	e := runErr(t, ts, Request{Statements: q("SELECT repeat('x', 50000000)"), ReadOnly: true})
	runtime.ReadMemStats(&after)
	want := `sql target "main": a row of the result exceeds max_bytes (1048576 bytes); select fewer or narrower columns`
	if e.Error() != want || e.Kind != KindInvalid || IsRetryable(e) {
		t.Errorf("error %q (kind %s)\nwant  %q", e.Error(), e.Kind, want)
	}
	grew := after.TotalAlloc - before.TotalAlloc
	if grew > 8<<20 {
		t.Errorf("the call allocated %d bytes: the row was read into memory", grew)
	}
	t.Logf("the refused call allocated %d bytes", grew)

	// The broken connection was dropped; the pool's one slot serves the
	// next step, and a row within the cap still comes back.
	res := mustRun(t, ts, Request{Statements: q("SELECT length(repeat('x', 900000)) AS n, repeat('y', 500000) AS s"), ReadOnly: true})
	if res.Rows[0][0] != int64(900000) || len(res.Rows[0][1].(string)) != 500000 {
		t.Errorf("after the refusal: %v", res.Rows[0][0])
	}

	// A write that returns too much is rolled back with the connection.
	b.exec(t, "CREATE TABLE big (v text)")
	e = runErr(t, ts, Request{Statements: q("INSERT INTO big VALUES (repeat('z', 3000000)) RETURNING v")})
	if !strings.Contains(e.Error(), "exceeds max_bytes") {
		t.Errorf("write: %v", e)
	}
	if n := count(t, b, "SELECT count(*) FROM big"); n != 0 {
		t.Errorf("the write was committed")
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
	res := mustRun(t, ts, Request{Statements: q("SELECT " + strings.Join(exprs, ",\n")), ReadOnly: true})
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
	res := mustRun(t, ts, Request{Statements: q("SELECT i, i::text FROM (VALUES " + strings.Join(vals, ", ") + ") v(i)"), ReadOnly: true})
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
	mustRun(t, ts, Request{Statements: q("SELECT 1"), ReadOnly: true})
	ts.Close()
	e := runErr(t, ts, Request{Statements: q("SELECT 1"), ReadOnly: true})
	if !strings.Contains(e.Error(), "closed") {
		t.Errorf("after Close: %v", e)
	}
	ts.Close() // idempotent
}

// TestTelegramPlatformExample loads the example's schema.sql and seed.sql
// and runs every SQL step of the reference playbook against them as the run
// engine does: parsed and bound by the playbook package, each statement
// sent as it was classified. Reads run READ ONLY, writes as writes, and
// PostgreSQL refuses each write when run as a read.
func TestTelegramPlatformExample(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.targets(t)
	for _, f := range []string{"schema.sql", "seed.sql"} {
		text, err := os.ReadFile("../../../examples/telegram-platform/" + f)
		if err != nil {
			t.Fatal(err)
		}
		b.exec(t, string(text)) // a script: the admin connection's simple protocol runs it whole
	}

	pb, err := playbook.Parse(examples.TelegramPlatformPlaybookPath, examples.TelegramPlatformPlaybook)
	if err != nil {
		t.Fatal(err)
	}
	var steps []*playbook.Step
	for _, pr := range pb.Procedures {
		for _, tk := range pr.Tasks() {
			if tk.Step != nil && tk.Step.Executor == playbook.ExecSQL {
				steps = append(steps, tk.Step)
			}
		}
	}
	if len(steps) != 12 {
		t.Fatalf("found %d SQL steps in the playbook, want 12", len(steps))
	}
	ran := 0
	for _, st := range steps {
		if st.NeedsEditing || st.Param("pid") != nil {
			continue // templates the responder fills in by hand
		}
		// The alert's label values arrive as strings.
		r, err := st.Bind(map[string]string{"license_id": "1"})
		if err != nil || len(r.Missing) > 0 {
			t.Fatalf("bind %q: %v, missing %v", st.Name, err, r.Missing)
		}
		var req Request
		for _, s := range r.Statements {
			req.Statements = append(req.Statements, Statement{SQL: s.SQL, Args: s.Args})
		}
		ran++
		t.Run(fmt.Sprintf("step%02d_%s", ran, st.Risk), func(t *testing.T) {
			if st.Risk == playbook.RiskWrite {
				ro := req
				ro.ReadOnly = true
				if e := runErr(t, ts, ro); e.Kind != KindReadOnly {
					t.Errorf("write run as read: %v, want a read-only refusal", e)
				}
				if res := mustRun(t, ts, req); res.RowsAffected == 0 {
					t.Errorf("%s\naffected no rows", st.SQL)
				}
				return
			}
			req.ReadOnly = true
			res := mustRun(t, ts, req)
			longRunning := strings.Contains(st.SQL, "interval '1 minute'")
			if len(res.Rows) == 0 && !longRunning {
				t.Errorf("%s\nreturned no rows", st.SQL)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result not JSON: %v", err)
			}
			t.Logf("%s → %d rows, first %v", st.Name, len(res.Rows), firstRow(res))
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

func TestCheckStatement(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"SELECT 1", ""},
		{"(SELECT 1)", ""},
		{"-- c\n/* d */ Rollback TO sp", ""},
		{"ROLLBACK", "ROLLBACK is not allowed"},
		{"  commit", "COMMIT is not allowed"},
		{"/* a /* nested */ */ END", "END is not allowed"},
		{"abort", "ABORT is not allowed"},
		{"PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION is not allowed"},
		{"PREPARE p AS SELECT 1", ""},
		{"-- only", "sql: empty"},
		{"/* unterminated", "sql: empty"},
		{"", "sql: empty"},
		{"SELECT '\x00'", "NUL byte"},
	}
	for _, tt := range tests {
		err := checkStatement(tt.in)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkStatement(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func FuzzCheckStatement(f *testing.F) {
	for _, s := range []string{"SELECT 1", "-- c\nCOMMIT", "/* /* */ */ begin", "E'\\';'", "prepare transaction"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = checkStatement(s)
	})
}
