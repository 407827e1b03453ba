// Package sqlite implements store.Store on an embedded SQLite database in
// WAL mode (modernc.org/sqlite, pure Go). One connection writes; a pool
// reads.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a SQLite-backed store.
type DB struct {
	path string
	w    *sql.DB // one connection: SQLite has one writer at a time
	r    *sql.DB

	// Statements prepared once on the writer connection.
	updateIncident, updateAlert *sql.Stmt
	hot                         map[string]*sql.Stmt

	// multi holds multi-row INSERTs for the common batch sizes, prepared at
	// start-up; it is read-only afterwards.
	multi map[multiKey]*sql.Stmt

	jobWatch    watchers[struct{}]
	changeWatch watchers[[]int64]
}

type multiKey struct {
	prefix string
	rows   int
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path.
func Open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory %s: %w", dir, err)
		}
	}
	if _, err := Protect(path); err != nil {
		return nil, err
	}
	// synchronous=FULL: a commit is on disk before we answer 2xx. Group
	// commit keeps that to one fsync per batch.
	pragmas := []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "cache_size(-32000)"}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rq := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "query_only(1)", "cache_size(-16000)"} {
		rq.Add("_pragma", p)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	n := runtime.GOMAXPROCS(0) * 2
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{path: path, w: w, r: r, multi: make(map[multiKey]*sql.Stmt)}, nil
}

// FileMode is the mode of the database file and of the -wal and -shm files
// beside it: they hold every alert and the token digests.
const FileMode = 0o600

// Protect creates the database file at path with [FileMode] when it is
// missing, and sets the database, -wal and -shm files that exist to
// FileMode when they allow their group or others anything. It returns the
// files it changed with their old modes. SQLite creates the -wal and -shm
// files with the database file's mode, so they are born 0600 too.
func Protect(path string) (changed map[string]os.FileMode, err error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return changed, err
		}
		if fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, FileMode); err != nil {
			return changed, fmt.Errorf("restrict %s to mode %o: %w", p, FileMode, err)
		}
		if changed == nil {
			changed = map[string]os.FileMode{}
		}
		changed[p] = fi.Mode().Perm()
	}
	return changed, nil
}

// prepare readies the hot statements; it runs after migrations, since they
// name the tables.
func (db *DB) prepare(ctx context.Context) error {
	if db.updateIncident != nil {
		return nil
	}
	var err error
	db.updateIncident, err = db.w.PrepareContext(ctx, `UPDATE incidents SET title = ?, severity = ?, service = ?, status = ?,
		responder = ?, impact = ?, eta = ?, alert_count = ?, firing_count = ?, repeats = ?, repeats_logged = ?, alerts_logged = ?,
		acknowledged_at = ?, resolved_at = ?, updated_at = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	db.updateAlert, err = db.w.PrepareContext(ctx, `UPDATE alerts SET status = ?, summary = ?, severity = ?, labels = ?,
		annotations = ?, generator_url = ?, links = ?, details = ?, ends_at = ?, count = ?, last_seen_at = ?, resolved_at = ?
		WHERE id = ?`)
	if err != nil {
		return err
	}
	db.hot = make(map[string]*sql.Stmt, len(hotStatements))
	for _, q := range hotStatements {
		s, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		db.hot[q] = s
	}
	sizes := []int{rowsPerInsert}
	for n := 1; n <= 16; n++ {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		for _, m := range []struct {
			prefix string
			cols   int
		}{{insertAlertsSQL, insertAlertsCols}, {insertTimelineSQL, insertTimelineCols}} {
			s, err := db.w.PrepareContext(ctx, multiInsertSQL(m.prefix, m.cols, n))
			if err != nil {
				return err
			}
			db.multi[multiKey{prefix: m.prefix, rows: n}] = s
		}
	}
	return nil
}

func (db *DB) Engine() string { return "sqlite" }

func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

func (db *DB) Close() error {
	for _, s := range db.multi {
		s.Close()
	}
	for _, s := range db.hot {
		s.Close()
	}
	return errors.Join(db.r.Close(), db.w.Close())
}

// Migrate applies the embedded migrations that have not run yet.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	err := store.Migrate(ctx, migrations, func(ctx context.Context, m store.Migration) error {
		return db.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, micros(time.Now()))
			return err
		})
	})
	if err != nil {
		return err
	}
	return db.prepare(ctx)
}

func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// InTx runs fn in a write transaction. SQLite serialises writers, so there
// is nothing to retry but a busy database, which busy_timeout absorbs.
// A commit that inserted jobs wakes WatchJobs callers; one that touched
// incidents tells WatchChanges callers.
func (db *DB) InTx(ctx context.Context, fn func(store.Tx) error) error {
	var t *txn
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t = &txn{db: db, tx: tx}
		return fn(t)
	})
	if err == nil && t.jobsInserted {
		db.jobWatch.tell(struct{}{})
	}
	if err == nil && len(t.changed) > 0 {
		db.changeWatch.tell(t.changedIDs())
	}
	return mapErr(err)
}

// mapErr turns constraint violations into domain conflicts.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			msg := se.Error()
			switch {
			case strings.Contains(msg, "incidents.group_key"):
				return incident.Errorf(incident.ECONFLICT, "another open incident already holds these alerts' group; resolve or merge it first")
			case strings.Contains(msg, "tokens.name"):
				return incident.Errorf(incident.ECONFLICT, "name: a live token with this name exists; revoke it or pick another name")
			}
			return incident.Errorf(incident.ECONFLICT, "conflict: %s", msg)
		}
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros stores the zero time as NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}
