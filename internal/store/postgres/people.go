package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

const userCols = `id, name, role, password_hash, source, email, slack_id, telegram_chat_id, teams_webhook, created_at, updated_at, created_by`

func scanUser(s scanner) (*auth.User, error) {
	var u auth.User
	c := &u.Contact
	err := s.Scan(&u.ID, (*text)(&c.Name), (*text)(&u.Role), (*text)(&u.PasswordHash), (*text)(&u.Source), (*text)(&c.Email),
		(*text)(&c.SlackID), (*text)(&c.TelegramChatID), (*text)(&c.TeamsWebhook), &u.CreatedAt, &u.UpdatedAt, (*text)(&u.CreatedBy))
	if err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

func (db *DB) ListUsers(ctx context.Context) ([]auth.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	us, err := collect(rows, scanUser)
	out := make([]auth.User, 0, len(us))
	for _, u := range us {
		out = append(out, *u)
	}
	return out, err
}

func (db *DB) UserByName(ctx context.Context, name string) (*auth.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, text(name)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "no user %q", name)
	}
	return u, err
}

func (db *DB) SessionByHash(ctx context.Context, hash []byte, now time.Time) (*auth.Session, error) {
	var s auth.Session
	err := db.pool.QueryRow(ctx, `SELECT id, hash, user_name, role, via, created_at, expires_at FROM sessions
		WHERE hash = $1 AND expires_at > $2`, hash, now).Scan(&s.ID, &s.Hash, (*text)(&s.User), (*text)(&s.Role), (*text)(&s.Via),
		&s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.EUNAUTHORIZED, "the session has ended; sign in again")
	}
	if err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	return &s, nil
}

func (db *DB) ListAudit(ctx context.Context, p store.ListAuditParams) ([]auth.AuditEntry, error) {
	before := p.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT id, at, actor, action, target, detail FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2`,
		before, p.Limit)
	if err != nil {
		return nil, err
	}
	es, err := collect(rows, func(s scanner) (auth.AuditEntry, error) {
		var e auth.AuditEntry
		err := s.Scan(&e.ID, &e.At, (*text)(&e.Actor), (*text)(&e.Action), (*text)(&e.Target), &e.Detail)
		e.At = e.At.UTC()
		return e, err
	})
	return es, err
}

// changesChannel carries the IDs of the incidents each commit touched, as
// "schema:id,id,…". Schemas of one database share channels, so a listener
// keeps only its own schema's notifications.
const changesChannel = "firebreak_changes"

// maxNotifyIDs keeps a payload under PostgreSQL's 8000-byte limit.
const maxNotifyIDs = 400

// notifyChanges queues a NOTIFY of the incidents this transaction
// touched; PostgreSQL delivers it at commit, never on rollback.
func (t *txn) notifyChanges(ctx context.Context) error {
	if len(t.changed) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(t.changed))
	for id := range t.changed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for chunk := range slices.Chunk(ids, maxNotifyIDs) {
		var b strings.Builder
		for i, id := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(id, 10))
		}
		if _, err := t.tx.Exec(ctx, `SELECT pg_notify('`+changesChannel+`', coalesce(current_schema(), '') || ':' || $1)`, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// WatchChanges LISTENs for the incidents that commits on any instance
// touched.
func (db *DB) WatchChanges(ctx context.Context, changed func([]int64)) error {
	var schema string
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil && ctx.Err() == nil {
		return err
	}
	return db.watch(ctx, changesChannel, func(payload string) {
		s, list, ok := strings.Cut(payload, ":")
		if !ok || s != schema {
			return
		}
		var ids []int64
		for f := range strings.SplitSeq(list, ",") {
			if id, err := strconv.ParseInt(f, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			changed(ids)
		}
	}, func() { changed(nil) })
}

func (t *txn) SaveUser(ctx context.Context, u *auth.User) error {
	c := &u.Contact
	err := t.tx.QueryRow(ctx, `INSERT INTO users (name, role, password_hash, source, email, slack_id, telegram_chat_id,
		teams_webhook, created_at, updated_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, source = excluded.source,
			email = excluded.email, slack_id = excluded.slack_id, telegram_chat_id = excluded.telegram_chat_id,
			teams_webhook = excluded.teams_webhook, updated_at = excluded.updated_at
		RETURNING id`,
		text(c.Name), text(u.Role), text(u.PasswordHash), text(u.Source), text(c.Email), text(c.SlackID), text(c.TelegramChatID),
		text(c.TeamsWebhook), u.CreatedAt, u.UpdatedAt, text(u.CreatedBy)).Scan(&u.ID)
	return mapErr(err)
}

func (t *txn) DeleteUser(ctx context.Context, name string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM users WHERE name = $1`, text(name))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return incident.Errorf(incident.ENOTFOUND, "no user %q", name)
	}
	return t.DeleteSessions(ctx, nil, name)
}

func (t *txn) CreateSession(ctx context.Context, s *auth.Session) error {
	// Ended sessions go when a new one starts.
	if _, err := t.tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, s.CreatedAt); err != nil {
		return err
	}
	return mapErr(t.tx.QueryRow(ctx, `INSERT INTO sessions (hash, user_name, role, via, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, s.Hash, text(s.User), text(s.Role), text(s.Via), s.CreatedAt, s.ExpiresAt).Scan(&s.ID))
}

func (t *txn) DeleteSessions(ctx context.Context, hash []byte, user string) error {
	var err error
	if hash != nil {
		_, err = t.tx.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	} else {
		_, err = t.tx.Exec(ctx, `DELETE FROM sessions WHERE user_name = $1`, text(user))
	}
	return err
}
