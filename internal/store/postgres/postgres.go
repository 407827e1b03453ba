// Package postgres implements store.Store on PostgreSQL with pgx. Several
// `firebreak serve` instances may share one database.
//
// # Concurrency
//
// Write transactions run at READ COMMITTED and never rely on being the only
// writer. Concurrent Apply and Act calls, in one instance or several, lose
// and duplicate nothing, because:
//
//   - Every row the engine reads in order to write it back is locked as it
//     is read: FiringAlerts locks the firing alerts, the incident loaders
//     the incidents. The lock is FOR NO KEY UPDATE, the one an UPDATE of
//     non-key columns takes: it excludes every other writer of the row but
//     lets other tables' foreign keys (timeline, runs) check it meanwhile. At READ COMMITTED a lock that had to
//     wait returns the row as the other transaction left it, or drops it
//     when it no longer matches (an alert resolved meanwhile, an incident
//     closed), so counters grow from their latest values and a stale repeat
//     never undoes a manual resolve.
//   - A row inserted after a statement's snapshot cannot be locked, so the
//     unique indexes settle those races. CreateIncident inserts ON CONFLICT
//     DO NOTHING on the open-group index and adopts (and locks) the winner.
//     Two batches that both saw no firing alert for a new fingerprint both
//     insert one; the second waits for the first to commit and fails with
//     23505 on alerts_firing_fingerprint.
//   - InTx then runs fn again in a new transaction, which sees the winner's
//     alert and counts a repeat. It retries those, lock-order failures (see
//     tx.go), deadlocks and serialization failures, with jittered backoff.
//
// This optimistic path serialises nothing it need not: batches that share
// no alert and no incident run in parallel, and a fingerprint already
// firing queues its writers on its row lock instead of failing them. It can
// starve, though, when many writers keep opening and closing the same few
// fingerprints: a retry reads, queues for an incident, and meanwhile another
// writer inserts one of its alerts again. So every Apply holds an advisory
// lock on intake, shared, and from attempt optimisticAttempts+1 on a
// transaction takes it exclusively: it waits for the batches in flight,
// runs alone, and cannot lose such a race again. An advisory lock per
// fingerprint would avoid those retries altogether, but it takes a slot in
// the server's shared lock table per fingerprint, and batches of thousands
// can exhaust it; row locks are kept in the rows.
//
// Conflicts a retry cannot settle are not retried: a reopen that would give
// a group two open incidents, or a live token name in use, is ECONFLICT.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL-backed store.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at dsn, a URL or keyword/value string as
// libpq takes it. Pool settings such as pool_max_conns may be given in it.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// Not wrapped: pgx quotes the DSN, and its redaction of the password
		// is best effort.
		return nil, errors.New("open postgres: the connection string does not parse")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default (4 on a small machine) starves intake committers,
		// step workers and API reads of one another.
		cfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &DB{pool: pool}, nil
}

func (db *DB) Engine() string { return "postgres" }

func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrateLock is the key of the advisory lock that Migrate holds. It is
// derived from the schema, so that instances sharing a schema wait for each
// other and those in other schemas of the same database do not.
const migrateLock = `('x' || left(md5('firebreak.migrate:' || coalesce(current_schema(), '')), 16))::bit(64)::bigint`

// Migrate applies the embedded migrations that have not run yet. Instances
// that start together take turns: each holds a session-level advisory lock
// on one connection while it migrates, and skips versions already recorded
// in schema_migrations.
func (db *DB) Migrate(ctx context.Context) (err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+migrateLock+`)`); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+migrateLock+`)`); uerr != nil {
			// The session may still hold the lock: end it rather than give
			// the connection back to the pool.
			conn.Conn().Close(uctx)
			err = errors.Join(err, fmt.Errorf("migrate: release lock: %w", uerr))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return store.Migrate(ctx, migrations, func(ctx context.Context, m store.Migration) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
			return err
		})
	})
}

// maxAttempts bounds how often InTx runs fn; the attempts after the first
// optimisticAttempts hold the intake lock exclusively.
const (
	maxAttempts        = 10
	optimisticAttempts = 3
)

// intakeLock is the key of the advisory lock that Apply holds, per schema
// as migrateLock.
const intakeLock = `('x' || left(md5('firebreak.intake:' || coalesce(current_schema(), '')), 16))::bit(64)::bigint`

// InTx runs fn in a READ COMMITTED transaction, and runs it again in a new
// one when it loses a race that a retry settles (see the package comment).
func (db *DB) InTx(ctx context.Context, fn func(store.Tx) error) error {
	var prev lockSet
	for attempt := 1; ; attempt++ {
		var asked lockSet
		err := db.inTx(ctx, func(tx pgx.Tx) error {
			t := &txn{tx: tx, prev: prev, asked: &asked, exclusive: attempt > optimisticAttempts}
			if err := fn(t); err != nil {
				return err
			}
			return t.notifyChanges(ctx)
		})
		if err == nil || !retryable(err) {
			return mapErr(err)
		}
		prev.add(asked)
		if attempt == maxAttempts {
			return fmt.Errorf("%w: %w", incident.Errorf(incident.EUNAVAILABLE,
				"the database is busy with conflicting writes; try again"), err)
		}
		// Full jitter over an exponential ceiling, from 2ms up to 128ms.
		d := time.Duration(rand.Int64N(int64(time.Millisecond << min(attempt, 7))))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback(ctx) // with ctx cancelled, pgx closes the connection, which rolls back too
		return err
	}
	return tx.Commit(ctx)
}

// retryable reports whether running the transaction again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
		return true
	case "23505": // unique_violation
		// A lost race for a fingerprint or, when a watched incident
		// reopens, for its group: the next attempt sees the winner.
		return pe.ConstraintName == "alerts_firing_fingerprint" || pe.ConstraintName == "incidents_open_group"
	}
	return false
}

// mapErr turns unique violations into domain conflicts, with the SQLite
// store's messages.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || pe.Code != "23505" {
		return err
	}
	switch pe.ConstraintName {
	case "incidents_open_group":
		return incident.Errorf(incident.ECONFLICT, "another open incident already holds these alerts' group; resolve or merge it first")
	case "tokens_live_name":
		return incident.Errorf(incident.ECONFLICT, "name: a live token with this name exists; revoke it or pick another name")
	}
	return incident.Errorf(incident.ECONFLICT, "conflict: %s", pe.Message)
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullJSON stores an empty document as NULL.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
