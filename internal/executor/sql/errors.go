package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/firebreak-dev/firebreak/internal/redact"
)

// Kind classifies a failed Run.
type Kind string

// The kinds of failure.
const (
	// KindInvalid: the request or configuration is wrong (unknown target,
	// empty SQL, bind parameter mismatch). Retrying cannot help.
	KindInvalid Kind = "invalid"
	// KindConnection: the target could not be reached or the connection
	// broke before anything was committed. Retryable.
	KindConnection Kind = "connection"
	// KindTimeout: statement_timeout (or the client-side deadline) cancelled
	// the statement.
	KindTimeout Kind = "timeout"
	// KindLockTimeout: lock_timeout expired waiting for a lock. Retryable:
	// contention passes.
	KindLockTimeout Kind = "lock_timeout"
	// KindReadOnly: PostgreSQL refused a write inside a read-only step
	// (SQLSTATE 25006).
	KindReadOnly Kind = "read_only"
	// KindCanceled: the caller's context ended the run.
	KindCanceled Kind = "canceled"
	// KindUnknownOutcome: the connection broke during COMMIT, so whether the
	// write took effect is unknown. Never retried automatically: check the
	// data first.
	KindUnknownOutcome Kind = "unknown_outcome"
	// KindQuery: any other error reported by PostgreSQL (syntax, constraint,
	// permission…). Serialization failures and deadlocks are retryable.
	KindQuery Kind = "query"
)

// Error is the error Run returns. Its text never contains the DSN password
// and is redacted like the results; the underlying driver error is not
// exposed for the same reason.
type Error struct {
	Kind   Kind
	Target string
	// Statement is the 1-based position of the failing statement in a
	// multi-statement block, 0 otherwise.
	Statement int
	// SQLState is PostgreSQL's error code, when the server sent one.
	SQLState string
	// Message says what went wrong, without the target prefix.
	Message   string
	Retryable bool

	cause error // context errors only, for errors.Is
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sql")
	if e.Target != "" {
		fmt.Fprintf(&b, " target %q", e.Target)
	}
	if e.Statement > 0 {
		fmt.Fprintf(&b, " statement %d", e.Statement)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.SQLState != "" {
		fmt.Fprintf(&b, " (SQLSTATE %s)", e.SQLState)
	}
	return b.String()
}

// Unwrap exposes context.Canceled or context.DeadlineExceeded when one of
// them caused the error.
func (e *Error) Unwrap() error { return e.cause }

// Is matches the sentinel of the error's kind, so callers can write
// errors.Is(err, sql.ErrTimeout).
func (e *Error) Is(target error) bool {
	k, ok := target.(kindSentinel)
	return ok && Kind(k) == e.Kind
}

type kindSentinel Kind

func (k kindSentinel) Error() string { return "sql: " + string(k) }

// Sentinels for errors.Is.
var (
	ErrInvalid        error = kindSentinel(KindInvalid)
	ErrConnection     error = kindSentinel(KindConnection)
	ErrTimeout        error = kindSentinel(KindTimeout)
	ErrLockTimeout    error = kindSentinel(KindLockTimeout)
	ErrReadOnly       error = kindSentinel(KindReadOnly)
	ErrCanceled       error = kindSentinel(KindCanceled)
	ErrUnknownOutcome error = kindSentinel(KindUnknownOutcome)
	ErrQuery          error = kindSentinel(KindQuery)
)

// IsRetryable reports whether running the same request again may succeed
// and is safe: nothing was committed and the cause is transient.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

func invalidf(target, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Target: target, Message: fmt.Sprintf(format, args...)}
}

// phase says where in a run an error happened; it decides whether a broken
// connection left an unknown outcome.
type phase int

const (
	phaseConnect   phase = iota // acquire, BEGIN, SET LOCAL
	phaseStatement              // the step's statements
	phaseCommit                 // COMMIT of a write
)

// classify turns a driver error into an *Error with a redacted message.
// parent is the caller's context and guard the one carrying the client-side
// deadline; timeout is the statement_timeout in force, lockTimeout the
// lock_timeout.
func classify(err error, red *redact.Redactor, target string, ph phase, parent, guard context.Context, timeout, lockTimeout time.Duration) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	e = &Error{Target: target}
	var pgErr *pgconn.PgError
	switch {
	case parent.Err() != nil:
		e.Kind, e.cause = KindCanceled, parent.Err()
		e.Message = "canceled: " + parent.Err().Error()
	case guard.Err() != nil:
		e.Kind, e.cause = KindTimeout, guard.Err()
		e.Message = fmt.Sprintf("statement timed out after %v (client deadline; the server did not answer in time)", timeout)
	case errors.As(err, &pgErr):
		e.SQLState = pgErr.Code
		e.Message = red.String(pgMessage(pgErr))
		switch {
		case pgErr.Code == "57014" && !strings.Contains(pgErr.Message, "user request"):
			e.Kind = KindTimeout
			e.Message = fmt.Sprintf("statement timed out after %v (statement_timeout)", timeout)
		case pgErr.Code == "55P03" && strings.Contains(pgErr.Message, "lock timeout"):
			e.Kind, e.Retryable = KindLockTimeout, true
			e.Message = fmt.Sprintf("lock wait timed out after %v (lock_timeout)", lockTimeout)
		case pgErr.Code == "55P03":
			e.Kind, e.Retryable = KindLockTimeout, true
		case pgErr.Code == "25006":
			e.Kind = KindReadOnly
			e.Message = "refused by PostgreSQL: " + e.Message
		case isConnectionState(pgErr.Code):
			e.Kind, e.Retryable = KindConnection, true
		default:
			e.Kind = KindQuery
			// Serialization failure, deadlock: the transaction was rolled back.
			e.Retryable = pgErr.Code == "40001" || pgErr.Code == "40P01"
		}
	case isConnectionError(err):
		e.Kind, e.Retryable = KindConnection, true
		e.Message = "connection failed: " + red.String(err.Error())
	default:
		e.Kind = KindQuery
		e.Message = red.String(err.Error())
	}
	if ph == phaseCommit && (e.Kind == KindConnection || e.Kind == KindCanceled || e.Kind == KindTimeout && e.SQLState == "") {
		e.Kind, e.Retryable = KindUnknownOutcome, false
		e.Message = "COMMIT did not complete; the write may or may not have been applied: " + e.Message
	}
	return e
}

func pgMessage(e *pgconn.PgError) string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Detail != "" {
		b.WriteString("; detail: ")
		b.WriteString(e.Detail)
	}
	if e.Hint != "" {
		b.WriteString("; hint: ")
		b.WriteString(e.Hint)
	}
	if e.Position > 0 {
		fmt.Fprintf(&b, "; at character %d", e.Position)
	}
	return b.String()
}

// isConnectionState reports SQLSTATEs that mean the connection or server is
// unavailable rather than that the statement is wrong.
func isConnectionState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin/crash shutdown, cannot connect now
		return true
	case code == "53300": // too many connections
		return true
	}
	return false
}

func isConnectionError(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var opErr *net.OpError
	return errors.As(err, &connErr) || errors.As(err, &netErr) || errors.As(err, &opErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}
