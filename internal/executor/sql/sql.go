// Package sql runs a playbook's SQL steps against configured PostgreSQL
// targets with pgx.
//
// Safety comes from PostgreSQL, not from trusting the classifier:
//
//   - A read step runs in BEGIN READ ONLY and is always rolled back, so a
//     write the classifier missed is refused by the server (SQLSTATE 25006)
//     and nothing a read does can commit.
//   - A write step runs in an ordinary transaction and commits only when
//     every statement succeeded.
//   - Both get SET LOCAL statement_timeout, lock_timeout and
//     idle_in_transaction_session_timeout, set with set_config and bind
//     parameters. A cancelled context also sends the server a cancel request.
//   - Values travel only as bind parameters ($1..$n) of the extended
//     protocol; they never enter the SQL text. The simple protocol, and with
//     it pgx's client-side interpolation, is never used.
//   - Results are capped (rows and bytes), and everything returned (values,
//     column names, error text) is redacted, DSN passwords included.
//   - Every connection is reset with DISCARD ALL before it goes back to the
//     pool, so nothing a step sets (search_path, role, advisory locks,
//     prepared statements) leaks into the next step.
//   - A row larger than the target's MaxBytes (plus headroom for the
//     message framing) fails the step as it arrives: the connection stops
//     reading it after its length, is closed and is not returned to the
//     pool. A huge value is never buffered whole.
//
// A request carries its statements already split, each with its own
// arguments: the playbook package splits a block with PostgreSQL's parser
// and classifies exactly those statements. This package never splits or
// rewrites SQL text. The statements run one after another, in the one
// transaction, each as one extended-protocol call, which PostgreSQL refuses
// if the text holds more than one statement. Statements that end or start
// a transaction (BEGIN, COMMIT, ROLLBACK, END, ABORT, START TRANSACTION,
// PREPARE TRANSACTION) are refused, since they would escape the step's own
// transaction. Statements that cannot run inside a transaction block
// (VACUUM, CREATE INDEX CONCURRENTLY) fail with PostgreSQL's error.
package sql

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/internal/redact"
)

// Defaults for a Target's zero fields.
const (
	DefaultStatementTimeout = 10 * time.Second
	DefaultLockTimeout      = 3 * time.Second
	DefaultMaxRows          = 500
	DefaultMaxBytes         = 4 << 20
	DefaultMaxConns         = 4
	DefaultConnectTimeout   = 5 * time.Second
)

// rowHeadroom is what a wire message may carry beyond MaxBytes of values:
// a DataRow's framing (4 bytes per column), and row descriptions and
// notices, which a small MaxBytes must not cut off. Messages are capped at
// max(MaxBytes, minMessageCap) + rowHeadroom.
const (
	rowHeadroom   = 64 << 10
	minMessageCap = 1 << 20
)

// clientGrace is added to the server-side timeout for the client-side
// deadline, which only matters when the server stops answering.
const clientGrace = 5 * time.Second

// Target is one database steps can run against, as configuration gives it.
// Zero fields take the defaults above.
type Target struct {
	// Name is how a step refers to the target.
	Name string
	// DSN is a libpq URL or key/value connection string, with the password
	// already resolved from an environment variable or *_file secret.
	// pool_* settings (pool_max_conns…) are honoured.
	DSN string
	// StatementTimeout bounds each statement on the server. It cannot be
	// disabled: 0 means DefaultStatementTimeout.
	StatementTimeout time.Duration
	// LockTimeout bounds each wait for a lock; 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// MaxRows caps the rows kept per statement; 0 means DefaultMaxRows.
	MaxRows int
	// MaxBytes caps the raw size of the rows kept per statement; 0 means
	// DefaultMaxBytes. Rows past it are dropped and the result marked
	// Truncated. A single row too large to keep at all (past MaxBytes and
	// some headroom) fails the step while it is read, before it is in
	// memory.
	MaxBytes int
	// MaxConns caps the pool. 0 means pool_max_conns from the DSN, or
	// DefaultMaxConns: a diagnostic tool should not crowd out the
	// application it is diagnosing.
	MaxConns int32
}

// Request is one SQL step to run.
type Request struct {
	// Target names a configured target.
	Target string
	// Statements run in order, in one transaction.
	Statements []Statement
	// ReadOnly runs the step in a READ ONLY transaction that is rolled back.
	ReadOnly bool
	// Timeout overrides the target's StatementTimeout when > 0.
	Timeout time.Duration
	// MaxRows overrides the target's MaxRows when > 0.
	MaxRows int
}

// Statement is one statement of a step, sent as it is.
type Statement struct {
	// SQL is exactly one statement, with positional parameters $1..$n.
	SQL string
	// Args bind $1..$n, all of them and no more. They are sent as data,
	// never spliced.
	Args []any
}

// Result is what a successful step returned. For a single statement the
// top-level fields describe it. For a block, Statements holds one entry per
// statement, the top-level Columns/Rows are those of the last statement
// that returned columns, Command is the last statement's, Truncated is set
// when any statement was truncated, and RowsAffected sums the rows changed
// (every statement but SELECTs).
type Result struct {
	Columns []string `json:"columns"`
	// Rows hold JSON-friendly values; see decoder for the mapping.
	Rows      [][]any `json:"rows"`
	Truncated bool    `json:"truncated,omitempty"`
	// RowsAffected is from the command tag: rows returned by SELECT, changed
	// by UPDATE/INSERT/DELETE.
	RowsAffected int64 `json:"rows_affected"`
	// Command is the command tag, "SELECT 3", "UPDATE 12".
	Command    string            `json:"command"`
	Duration   time.Duration     `json:"duration"`
	Statements []StatementResult `json:"statements,omitempty"`
}

// StatementResult is the outcome of one statement of a block.
type StatementResult struct {
	Columns      []string `json:"columns"`
	Rows         [][]any  `json:"rows"`
	Truncated    bool     `json:"truncated,omitempty"`
	RowsAffected int64    `json:"rows_affected"`
	Command      string   `json:"command"`

	selected bool // a SELECT: its row count is not a change
}

// Targets holds the configured targets and their connection pools. Pools
// are created on first use and closed by Close. Safe for concurrent use.
type Targets struct {
	red *redact.Redactor

	mu      sync.Mutex
	closed  bool
	targets map[string]*target
}

type target struct {
	Target
	cfg  *pgxpool.Config
	pool *pgxpool.Pool
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)

// NewTargets validates the targets and prepares their pools without
// connecting. red is the configured redactor (nil: built-in patterns only);
// the targets' passwords are added to it. Errors name the target and field
// and never contain a password.
func NewTargets(list []Target, red *redact.Redactor) (*Targets, error) {
	var secrets []string
	parsed := make(map[string]*target, len(list))
	for i, tc := range list {
		at := fmt.Sprintf("sql: targets[%d]", i)
		if tc.Name != "" {
			at += fmt.Sprintf(" (%q)", tc.Name)
		}
		switch {
		case tc.Name == "":
			return nil, fmt.Errorf("%s.name: empty", at)
		case !nameRE.MatchString(tc.Name):
			return nil, fmt.Errorf("%s.name: use letters, digits, '_', '.' and '-'", at)
		case parsed[tc.Name] != nil:
			return nil, fmt.Errorf("%s.name: duplicate target name", at)
		case strings.TrimSpace(tc.DSN) == "":
			return nil, fmt.Errorf("%s.dsn: empty", at)
		case tc.StatementTimeout < 0:
			return nil, fmt.Errorf("%s.statement_timeout: %v is negative", at, tc.StatementTimeout)
		case tc.LockTimeout < 0:
			return nil, fmt.Errorf("%s.lock_timeout: %v is negative", at, tc.LockTimeout)
		case tc.MaxRows < 0:
			return nil, fmt.Errorf("%s.max_rows: %d is negative", at, tc.MaxRows)
		case tc.MaxBytes < 0:
			return nil, fmt.Errorf("%s.max_bytes: %d is negative", at, tc.MaxBytes)
		case tc.MaxConns < 0:
			return nil, fmt.Errorf("%s.max_conns: %d is negative", at, tc.MaxConns)
		}
		cfg, err := pgxpool.ParseConfig(tc.DSN)
		if err != nil {
			// pgx masks the password of a URL; a key/value DSN or an
			// unparsable one may still carry it, so scrub the DSN whole.
			msg := red.WithSecrets(tc.DSN, dsnPassword(tc.DSN)).String(err.Error())
			return nil, fmt.Errorf("%s.dsn: %s", at, msg)
		}
		secrets = append(secrets, cfg.ConnConfig.Password)
		applyDefaults(&tc, cfg)
		parsed[tc.Name] = &target{Target: tc, cfg: cfg}
	}
	return &Targets{red: red.WithSecrets(secrets...), targets: parsed}, nil
}

// dsnPassword pulls the password out of a URL DSN that pgx could not parse,
// so that the parse error can be scrubbed of it.
func dsnPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		p, _ := u.User.Password()
		return p
	}
	return ""
}

func applyDefaults(tc *Target, cfg *pgxpool.Config) {
	if tc.StatementTimeout == 0 {
		tc.StatementTimeout = DefaultStatementTimeout
	}
	if tc.LockTimeout == 0 {
		tc.LockTimeout = DefaultLockTimeout
	}
	if tc.MaxRows == 0 {
		tc.MaxRows = DefaultMaxRows
	}
	if tc.MaxBytes == 0 {
		tc.MaxBytes = DefaultMaxBytes
	}
	switch {
	case tc.MaxConns > 0:
		cfg.MaxConns = tc.MaxConns
	case !strings.Contains(tc.DSN, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	tc.MaxConns = cfg.MaxConns
	cfg.MaxConnIdleTime = 5 * time.Minute

	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	// A DataRow is read whole into memory before MaxBytes can drop it:
	// refuse a message that large before reading its body.
	cc.MaxProtocolMessageBodyLen = max(tc.MaxBytes, minMessageCap) + rowHeadroom
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "firebreak"
	}
	// Unnamed statements only: nothing is cached per connection, so
	// DISCARD ALL cannot leave pgx's cache out of step with the server.
	cc.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	// On cancellation ask the server to cancel the statement, then give up
	// on the socket if it does not answer.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 2 * time.Second}
	}
}

// Names lists the configured targets, sorted.
func (t *Targets) Names() []string {
	names := make([]string, 0, len(t.targets))
	for n := range t.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Redactor is the redactor results and errors are passed through, which
// knows every target's password. Use it for anything else shown next to
// them.
func (t *Targets) Redactor() *redact.Redactor { return t.red }

// Close closes every pool, waiting for running steps to release their
// connections. Run fails afterwards.
func (t *Targets) Close() {
	t.mu.Lock()
	t.closed = true
	var pools []*pgxpool.Pool
	for _, tg := range t.targets {
		if tg.pool != nil {
			pools = append(pools, tg.pool)
			tg.pool = nil
		}
	}
	t.mu.Unlock()
	for _, p := range pools {
		p.Close()
	}
}

func (t *Targets) pool(name string) (*target, *pgxpool.Pool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, nil, invalidf(name, "targets are closed")
	}
	tg := t.targets[name]
	if tg == nil {
		if name == "" {
			return nil, nil, invalidf("", "target: empty; configured targets: %s", strings.Join(t.Names(), ", "))
		}
		return nil, nil, invalidf(name, "target: not configured; configured targets: %s", strings.Join(t.Names(), ", "))
	}
	if tg.pool == nil {
		p, err := pgxpool.NewWithConfig(context.Background(), tg.cfg.Copy())
		if err != nil {
			return nil, nil, &Error{Kind: KindConnection, Target: name, Retryable: true,
				Message: "create pool: " + t.red.String(err.Error())}
		}
		tg.pool = p
	}
	return tg, tg.pool, nil
}

// txControl are first words of statements that would end or replace the
// step's transaction.
var txControl = map[string]bool{
	"begin": true, "start": true, "commit": true, "end": true, "rollback": true, "abort": true,
}

// Run executes req and returns its result, or an *Error.
func (t *Targets) Run(ctx context.Context, req Request) (*Result, error) {
	stmts := req.Statements
	switch {
	case len(stmts) == 0:
		return nil, invalidf(req.Target, "statements: none; a step runs at least one")
	case req.Timeout < 0:
		return nil, invalidf(req.Target, "timeout: %v is negative", req.Timeout)
	case req.MaxRows < 0:
		return nil, invalidf(req.Target, "max_rows: %d is negative", req.MaxRows)
	}
	for i, s := range stmts {
		if err := checkStatement(s.SQL); err != nil {
			e := invalidf(req.Target, "%s", err)
			if len(stmts) > 1 {
				e.Statement = i + 1
			}
			return nil, e
		}
	}
	tg, pool, err := t.pool(req.Target)
	if err != nil {
		return nil, err
	}
	timeout := tg.StatementTimeout
	if req.Timeout > 0 {
		timeout = req.Timeout
	}
	lim := limits{rows: tg.MaxRows, bytes: tg.MaxBytes}
	if req.MaxRows > 0 {
		lim.rows = req.MaxRows
	}

	// The server enforces timeout per statement; the client deadline only
	// catches a server that stopped answering.
	budget := time.Duration(len(stmts))*timeout + clientGrace
	guard, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	fail := func(err error, ph phase, stmt int) (*Result, error) {
		e := classify(err, t.red, tg.Name, ph, ctx, guard, timeout, tg.LockTimeout)
		if len(stmts) > 1 && e.Statement == 0 {
			e.Statement = stmt
		}
		return nil, e
	}

	start := time.Now()
	conn, err := pool.Acquire(guard)
	if err != nil {
		return fail(err, phaseConnect, 0)
	}
	defer release(ctx, conn)

	mode := pgx.ReadWrite
	if req.ReadOnly {
		mode = pgx.ReadOnly
	}
	tx, err := conn.BeginTx(guard, pgx.TxOptions{AccessMode: mode})
	if err != nil {
		return fail(err, phaseConnect, 0)
	}
	// Rollback after Commit, or after the statements already rolled the
	// transaction back, is a no-op.
	defer func() {
		rctx, rcancel := cleanupContext(ctx)
		defer rcancel()
		_ = tx.Rollback(rctx)
	}()

	pgc := conn.Conn().PgConn()
	if err := setLocal(guard, pgc, timeout, tg.LockTimeout, budget); err != nil {
		return fail(err, phaseConnect, 0)
	}

	dec := &decoder{m: conn.Conn().TypeMap(), red: t.red}
	res := &Result{}
	for i, stmt := range stmts {
		sr, err := t.execStatement(guard, pgc, dec, stmt, lim)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Target = tg.Name
			}
			return fail(err, phaseStatement, i+1)
		}
		if pgc.TxStatus() != 'T' {
			return fail(invalidf(tg.Name, "the statement ended the step's transaction"), phaseStatement, i+1)
		}
		res.Statements = append(res.Statements, *sr)
	}

	if req.ReadOnly {
		if err := tx.Rollback(guard); err != nil {
			return fail(err, phaseStatement, 0)
		}
	} else if err := tx.Commit(guard); err != nil {
		return fail(err, phaseCommit, 0)
	}
	res.Duration = time.Since(start)
	res.summarize()
	return res, nil
}

type limits struct{ rows, bytes int }

// setLocal sets the step's timeouts for this transaction only. The values go
// in as bind parameters.
func setLocal(ctx context.Context, pgc *pgconn.PgConn, timeout, lockTimeout, idle time.Duration) error {
	ms := func(d time.Duration) []byte {
		return []byte(strconv.FormatInt(max(d.Milliseconds(), 1), 10))
	}
	const q = `SELECT set_config('statement_timeout', $1, true),
	set_config('lock_timeout', $2, true),
	set_config('idle_in_transaction_session_timeout', $3, true)`
	r := pgc.ExecParams(ctx, q, [][]byte{ms(timeout), ms(lockTimeout), ms(idle + clientGrace)}, nil, nil, nil).Read()
	return r.Err
}

// execStatement runs one statement and returns its result.
func (t *Targets) execStatement(ctx context.Context, pgc *pgconn.PgConn, dec *decoder, stmt Statement, lim limits) (*StatementResult, error) {
	sd, err := pgc.Prepare(ctx, "", stmt.SQL, nil)
	if err != nil {
		return nil, tooLarge(err, lim)
	}
	switch n := len(sd.ParamOIDs); {
	case n > len(stmt.Args):
		return nil, invalidf("", "args: the SQL uses $%d but %d bind parameters were given", n, len(stmt.Args))
	case n < len(stmt.Args):
		return nil, invalidf("", "args: %d bind parameters given but the SQL uses only %d", len(stmt.Args), n)
	}
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(dec.m, sd, stmt.Args); err != nil {
		return nil, invalidf("", "args: %s", t.red.String(err.Error()))
	}
	formats := make([]int16, len(sd.Fields))
	cols := make([]string, len(sd.Fields))
	for i, f := range sd.Fields {
		formats[i] = resultFormat(dec.m, f.DataTypeOID)
		cols[i] = t.red.String(f.Name)
	}

	rr := pgc.ExecStatement(ctx, sd, eqb.ParamValues, eqb.ParamFormats, formats)
	sr := &StatementResult{Columns: cols, Rows: [][]any{}}
	size := 0
	for rr.NextRow() {
		if sr.Truncated {
			continue // drain: the connection must read the whole result
		}
		if len(sr.Rows) == lim.rows {
			sr.Truncated = true
			continue
		}
		vals := rr.Values()
		rowSize := 0
		for _, v := range vals {
			rowSize += len(v)
		}
		if size+rowSize > lim.bytes {
			sr.Truncated = true
			continue
		}
		size += rowSize
		row := make([]any, len(vals))
		for i, v := range vals {
			row[i] = dec.decode(sd.Fields[i].DataTypeOID, formats[i], v)
		}
		sr.Rows = append(sr.Rows, row)
	}
	tag, err := rr.Close()
	if err != nil {
		return nil, tooLarge(err, lim)
	}
	sr.RowsAffected = tag.RowsAffected()
	sr.Command = tag.String()
	sr.selected = tag.Select()
	if len(sd.Fields) == 0 {
		sr.Columns, sr.Rows = nil, nil
	}
	return sr, nil
}

// tooLarge explains a message refused for its size. pgconn has already
// closed the connection, which release then drops from the pool; the
// server rolls back whatever the step did.
func tooLarge(err error, lim limits) error {
	var big *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &big) {
		return invalidf("", "a row of the result exceeds max_bytes (%d bytes); select fewer or narrower columns", lim.bytes)
	}
	return err
}

func (r *Result) summarize() {
	if len(r.Statements) == 1 {
		s := r.Statements[0]
		r.Columns, r.Rows, r.Truncated, r.RowsAffected, r.Command = s.Columns, s.Rows, s.Truncated, s.RowsAffected, s.Command
		r.Statements = nil
		return
	}
	for _, s := range r.Statements {
		if !s.selected {
			r.RowsAffected += s.RowsAffected
		}
		r.Truncated = r.Truncated || s.Truncated
		if s.Columns != nil {
			r.Columns, r.Rows = s.Columns, s.Rows
		}
	}
	if len(r.Statements) > 0 {
		r.Command = r.Statements[len(r.Statements)-1].Command
	}
}

// cleanupContext outlives the caller's cancellation, briefly, so a
// connection can still be rolled back and reset.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// release resets the session and returns the connection to the pool, or
// closes it when it cannot be reset.
func release(ctx context.Context, conn *pgxpool.Conn) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	pgc := conn.Conn().PgConn()
	if pgc.IsClosed() || pgc.TxStatus() != 'I' || pgc.Exec(cctx, "DISCARD ALL").Close() != nil {
		_ = conn.Conn().Close(cctx)
	}
	conn.Release()
}

// checkStatement refuses what must not be sent as a statement: text
// without code, a NUL byte (the protocol ends the text there), and
// statements that end or start a transaction.
func checkStatement(stmt string) error {
	if strings.IndexByte(stmt, 0) >= 0 {
		return errors.New("sql: contains a NUL byte")
	}
	w1, w2 := leadingWords(stmt)
	switch {
	case w1 == "" && !hasCode(stmt):
		return errors.New("sql: empty (only whitespace or comments)")
	case txControl[w1] && !(w1 == "rollback" && w2 == "to") || w1 == "prepare" && w2 == "transaction":
		return fmt.Errorf("%s is not allowed in a step: the step runs in its own transaction", strings.ToUpper(strings.TrimSpace(w1+" "+w2)))
	}
	return nil
}

// hasCode reports whether stmt holds anything but whitespace and comments.
func hasCode(stmt string) bool {
	for i := 0; i < len(stmt); {
		c := stmt[i]
		switch {
		case c == '-' && i+1 < len(stmt) && stmt[i+1] == '-':
			j := strings.IndexByte(stmt[i:], '\n')
			if j < 0 {
				return false
			}
			i += j + 1
		case c == '/' && i+1 < len(stmt) && stmt[i+1] == '*':
			i = skipBlockComment(stmt, i)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		default:
			return true
		}
	}
	return false
}

// leadingWords returns the first two words of a statement, lower-cased,
// skipping leading comments.
func leadingWords(stmt string) (string, string) {
	var words []string
	for i := 0; i < len(stmt) && len(words) < 2; {
		c := stmt[i]
		switch {
		case c == '-' && i+1 < len(stmt) && stmt[i+1] == '-':
			j := strings.IndexByte(stmt[i:], '\n')
			if j < 0 {
				return pad(words)
			}
			i += j + 1
		case c == '/' && i+1 < len(stmt) && stmt[i+1] == '*':
			i = skipBlockComment(stmt, i)
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_':
			j := i
			for j < len(stmt) && isIdentChar(stmt[j]) {
				j++
			}
			words = append(words, strings.ToLower(stmt[i:j]))
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		default:
			return pad(words)
		}
	}
	return pad(words)
}

func pad(w []string) (string, string) {
	w = append(w, "", "")
	return w[0], w[1]
}

// skipBlockComment returns the index just past the (nested) block comment
// that opens at i.
func skipBlockComment(s string, i int) int {
	depth := 0
	for j := i; j+1 < len(s); {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j
			}
		default:
			j++
		}
	}
	return len(s)
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
