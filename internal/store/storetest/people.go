package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"context"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/store"
)

func runPeople(t *testing.T, f Factory, second SecondHandle) {
	t.Run("Users", func(t *testing.T) { testUsers(t, f) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, f) })
	t.Run("AuditPages", func(t *testing.T) { testAuditPages(t, f) })
	t.Run("WatchChanges", func(t *testing.T) { testWatchChanges(t, f, second) })
}

func (b *bundle) tx(t *testing.T, fn func(tx store.Tx) error) {
	t.Helper()
	if err := b.s.InTx(b.ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func testUsers(t *testing.T, f Factory) {
	b := setup(t, f)
	ana := &auth.User{Contact: oncall.User{Name: "ana", Email: "ana@example.com", TelegramChatID: "4242"}, Role: auth.RoleResponder,
		PasswordHash: "$argon2id$x", Source: auth.UserFromCLI, CreatedAt: t0, UpdatedAt: t0, CreatedBy: "admin"}
	b.tx(t, func(tx store.Tx) error { return tx.SaveUser(b.ctx, ana) })
	if ana.ID == 0 {
		t.Fatal("SaveUser set no ID")
	}
	got, err := b.s.UserByName(b.ctx, "ana")
	if err != nil {
		t.Fatal(err)
	}
	if got.Contact != ana.Contact || got.Role != ana.Role || got.PasswordHash != ana.PasswordHash || got.Source != ana.Source ||
		!got.CreatedAt.Equal(t0) || got.CreatedBy != "admin" {
		t.Fatalf("round trip: got %+v, want %+v", got, ana)
	}
	// Saving again by name updates in place and keeps the creation.
	upd := *ana
	upd.ID = 0
	upd.Contact.SlackID, upd.Role, upd.UpdatedAt, upd.CreatedAt = "U0ANA", auth.RoleAdmin, t0.Add(time.Hour), t0.Add(time.Hour)
	b.tx(t, func(tx store.Tx) error { return tx.SaveUser(b.ctx, &upd) })
	if upd.ID != ana.ID {
		t.Fatalf("update by name gave ID %d, want %d", upd.ID, ana.ID)
	}
	got, _ = b.s.UserByName(b.ctx, "ana")
	if got.Contact.SlackID != "U0ANA" || got.Role != auth.RoleAdmin || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after update: %+v", got)
	}
	hostile := &auth.User{Contact: oncall.User{Name: "x'); DROP TABLE users; --\x00", Email: "\x01"}, Role: auth.RoleViewer,
		Source: auth.UserFromConfig, CreatedAt: t0, UpdatedAt: t0}
	b.tx(t, func(tx store.Tx) error { return tx.SaveUser(b.ctx, hostile) })
	all, err := b.s.ListUsers(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Name() != "ana" || all[1].Name() != hostile.Contact.Name || all[1].Contact.Email != "\x01" {
		t.Fatalf("ListUsers = %+v", all)
	}
	b.tx(t, func(tx store.Tx) error { return tx.DeleteUser(b.ctx, "ana") })
	if _, err := b.s.UserByName(b.ctx, "ana"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("after delete: %v, want ENOTFOUND", err)
	}
	err = b.s.InTx(b.ctx, func(tx store.Tx) error { return tx.DeleteUser(b.ctx, "ana") })
	if incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("delete twice: %v, want ENOTFOUND", err)
	}
}

func testSessions(t *testing.T, f Factory) {
	b := setup(t, f)
	mk := func(user string, created time.Time, ttl time.Duration) (*auth.Session, string) {
		secret, hash := auth.NewSessionSecret()
		s := &auth.Session{Hash: hash, User: user, Role: auth.RoleResponder, Via: "password", CreatedAt: created, ExpiresAt: created.Add(ttl)}
		b.tx(t, func(tx store.Tx) error { return tx.CreateSession(b.ctx, s) })
		return s, secret
	}
	s1, secret1 := mk("ana", t0, time.Hour)
	got, err := b.s.SessionByHash(b.ctx, auth.Hash(secret1), t0.Add(59*time.Minute))
	if err != nil || got.ID != s1.ID || got.User != "ana" || got.Role != auth.RoleResponder || got.Via != "password" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("SessionByHash = %+v, %v", got, err)
	}
	if _, err := b.s.SessionByHash(b.ctx, auth.Hash(secret1), t0.Add(time.Hour)); incident.ErrorCode(err) != incident.EUNAUTHORIZED {
		t.Fatalf("expired session: %v, want EUNAUTHORIZED", err)
	}
	if _, err := b.s.SessionByHash(b.ctx, auth.Hash("fbs_nothing"), t0); incident.ErrorCode(err) != incident.EUNAUTHORIZED {
		t.Fatalf("unknown session: %v, want EUNAUTHORIZED", err)
	}
	_, secret2 := mk("ana", t0, 2*time.Hour)
	_, secret3 := mk("bob", t0, 2*time.Hour)
	b.tx(t, func(tx store.Tx) error { return tx.DeleteSessions(b.ctx, auth.Hash(secret2), "") })
	if _, err := b.s.SessionByHash(b.ctx, auth.Hash(secret2), t0); err == nil {
		t.Fatal("a deleted session still works")
	}
	b.tx(t, func(tx store.Tx) error { return tx.DeleteSessions(b.ctx, nil, "bob") })
	if _, err := b.s.SessionByHash(b.ctx, auth.Hash(secret3), t0); err == nil {
		t.Fatal("a session of a user whose sessions were deleted still works")
	}
}

func testAuditPages(t *testing.T, f Factory) {
	b := setup(t, f)
	for i := range 5 {
		b.tx(t, func(tx store.Tx) error {
			return tx.AppendAudit(b.ctx, &auth.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "admin", Action: "token.create",
				Target: string(rune('a' + i)), Detail: []byte(`{"n":1}`)})
		})
	}
	page, err := b.s.ListAudit(b.ctx, store.ListAuditParams{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].Target != "e" || page[2].Target != "c" || string(page[0].Detail) != `{"n":1}` || !page[0].At.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("first page = %+v", page)
	}
	rest, err := b.s.ListAudit(b.ctx, store.ListAuditParams{BeforeID: page[2].ID, Limit: 3})
	if err != nil || len(rest) != 2 || rest[0].Target != "b" || rest[1].Target != "a" {
		t.Fatalf("second page = %+v, %v", rest, err)
	}
}

// testWatchChanges checks that a commit tells watchers the incidents it
// touched, a rollback tells nobody, and on PostgreSQL a second instance
// hears of a commit on the first.
func testWatchChanges(t *testing.T, f Factory, second SecondHandle) {
	b := setup(t, f)
	watch := func(s store.Store) (<-chan []int64, func()) {
		ctx, cancel := context.WithCancel(b.ctx)
		ch := make(chan []int64, 64)
		done := make(chan error, 1)
		go func() { done <- s.WatchChanges(ctx, func(ids []int64) { ch <- ids }) }()
		select {
		case ids := <-ch:
			if ids != nil {
				t.Fatalf("first call = %v, want nil (anything may have changed)", ids)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WatchChanges did not start")
		}
		return ch, func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("WatchChanges returned %v after ctx ended, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("WatchChanges did not return after ctx ended")
			}
		}
	}
	// The LISTEN is in place once the first call came; give a peer's
	// connection the same start.
	mine, stop := watch(b.s)
	defer stop()
	var theirs <-chan []int64
	if second != nil {
		if s2 := second(t, b.s); s2 != nil {
			ch, stop2 := watch(s2)
			defer stop2()
			theirs = ch
		}
	}
	b.s.InTx(b.ctx, func(tx store.Tx) error {
		incident.Apply(b.ctx, tx, []incident.Event{am("RolledBack", "api", "rb")}, b.opt)
		return errors.New("roll back")
	})
	res := b.apply(t, am("Watched", "api", "w1"))
	id := res[0].IncidentID
	expect := func(ch <-chan []int64, who string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case ids := <-ch:
				if ids == nil {
					continue // a reconnect
				}
				if !slices.Contains(ids, id) {
					t.Fatalf("%s: told of %v first, want the committed incident %d (a rollback tells nobody)", who, ids, id)
				}
				return
			case <-deadline:
				t.Fatalf("%s: not told of incident %d", who, id)
			}
		}
	}
	expect(mine, "this instance")
	if theirs != nil {
		expect(theirs, "the second instance")
	}
	// A note touches only its incident's timeline, and is seen too.
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionNote, Text: "hello"}, "ana"); err != nil {
		t.Fatal(err)
	}
	expect(mine, "this instance, after a note")
}
