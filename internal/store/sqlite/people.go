package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

const userCols = `id, name, role, password_hash, source, email, slack_id, telegram_chat_id, teams_webhook, created_at, updated_at, created_by`

func scanUser(s scanner) (*auth.User, error) {
	var (
		u                auth.User
		role, source     string
		created, updated int64
	)
	err := s.Scan(&u.ID, &u.Contact.Name, &role, &u.PasswordHash, &source, &u.Contact.Email, &u.Contact.SlackID,
		&u.Contact.TelegramChatID, &u.Contact.TeamsWebhook, &created, &updated, &u.CreatedBy)
	if err != nil {
		return nil, err
	}
	u.Role, u.Source = auth.Role(role), auth.UserSource(source)
	u.CreatedAt, u.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return &u, nil
}

func (db *DB) ListUsers(ctx context.Context) ([]auth.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

func (db *DB) UserByName(ctx context.Context, name string) (*auth.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "no user %q", name)
	}
	return u, err
}

func (db *DB) SessionByHash(ctx context.Context, hash []byte, now time.Time) (*auth.Session, error) {
	var (
		s                auth.Session
		role             string
		created, expires int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT id, hash, user_name, role, via, created_at, expires_at FROM sessions
		WHERE hash = ? AND expires_at > ?`, hash, micros(now)).Scan(&s.ID, &s.Hash, &s.User, &role, &s.Via, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.EUNAUTHORIZED, "the session has ended; sign in again")
	}
	if err != nil {
		return nil, err
	}
	s.Role = auth.Role(role)
	s.CreatedAt, s.ExpiresAt = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC()
	return &s, nil
}

func (db *DB) ListAudit(ctx context.Context, p store.ListAuditParams) ([]auth.AuditEntry, error) {
	before := p.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, at, actor, action, target, detail FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?`,
		before, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.AuditEntry
	for rows.Next() {
		var (
			e      auth.AuditEntry
			at     int64
			detail sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMicro(at).UTC()
		if detail.Valid {
			e.Detail = []byte(detail.String)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// WatchChanges calls changed after every commit in this process that
// touched incidents, until ctx ends.
func (db *DB) WatchChanges(ctx context.Context, changed func([]int64)) error {
	remove := db.changeWatch.add(changed)
	defer remove()
	changed(nil)
	<-ctx.Done()
	return nil
}

func (t *txn) SaveUser(ctx context.Context, u *auth.User) error {
	c := &u.Contact
	err := t.tx.QueryRowContext(ctx, `INSERT INTO users (name, role, password_hash, source, email, slack_id, telegram_chat_id,
		teams_webhook, created_at, updated_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, source = excluded.source,
			email = excluded.email, slack_id = excluded.slack_id, telegram_chat_id = excluded.telegram_chat_id,
			teams_webhook = excluded.teams_webhook, updated_at = excluded.updated_at
		RETURNING id`,
		c.Name, string(u.Role), u.PasswordHash, string(u.Source), c.Email, c.SlackID, c.TelegramChatID, c.TeamsWebhook,
		micros(u.CreatedAt), micros(u.UpdatedAt), u.CreatedBy).Scan(&u.ID)
	return mapErr(err)
}

func (t *txn) DeleteUser(ctx context.Context, name string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return incident.Errorf(incident.ENOTFOUND, "no user %q", name)
	}
	return t.DeleteSessions(ctx, nil, name)
}

func (t *txn) CreateSession(ctx context.Context, s *auth.Session) error {
	// Ended sessions go when a new one starts: there is never more to
	// delete than sign-ins since the last one.
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(s.CreatedAt)); err != nil {
		return err
	}
	return mapErr(t.tx.QueryRowContext(ctx, `INSERT INTO sessions (hash, user_name, role, via, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, s.Hash, s.User, string(s.Role), s.Via, micros(s.CreatedAt), micros(s.ExpiresAt)).Scan(&s.ID))
}

func (t *txn) DeleteSessions(ctx context.Context, hash []byte, user string) error {
	var err error
	if hash != nil {
		_, err = t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	} else {
		_, err = t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, user)
	}
	return err
}
