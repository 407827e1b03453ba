package respond_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// ingest applies one firing or resolved alert through the lifecycle, as
// intake does.
func ingest(t *testing.T, st store.Store, svc *respond.Service, key string, status incident.AlertStatus) error {
	t.Helper()
	ctx := context.Background()
	ev := incident.Event{Source: incident.SourceGeneric, Status: status, Key: key, Severity: incident.SeverityCritical,
		Labels: map[string]string{"alertname": "Probe", "service": "api"}}
	return st.InTx(ctx, func(tx store.Tx) error {
		b, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: svc.Now(), AutoResolve: true})
		if err != nil {
			return err
		}
		return svc.Ingested(ctx, tx, []incident.Event{ev}, b)
	})
}

// Hooks run in order, see what the change did and who did it, and an error
// from any rolls the whole change back.
func TestHooks(t *testing.T) {
	st := openStore(t)
	clock := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	var seen []string
	var changes []*respond.Change
	record := func(name string) respond.Hook {
		return respond.HookFunc(func(_ context.Context, _ store.Tx, c *respond.Change) error {
			seen = append(seen, name)
			changes = append(changes, c)
			return nil
		})
	}
	fail := errors.New("hook failed")
	failing := true
	svc := respond.New(respond.Config{Store: st, Now: func() time.Time { return clock }, Hooks: []respond.Hook{
		record("first"),
		respond.HookFunc(func(context.Context, store.Tx, *respond.Change) error {
			if failing {
				return fail
			}
			return nil
		}),
		record("last"),
	}})
	if err := ingest(t, st, svc, "k1", incident.AlertFiring); !errors.Is(err, fail) {
		t.Fatalf("ingest with a failing hook: %v", err)
	}
	if _, err := st.GetIncident(context.Background(), 1); err == nil {
		t.Fatal("the incident was committed although a hook failed")
	}
	failing = false
	seen, changes = nil, nil
	if err := ingest(t, st, svc, "k1", incident.AlertFiring); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "first" || seen[1] != "last" {
		t.Fatalf("hooks ran %v", seen)
	}
	c := changes[0]
	if len(c.Opened) != 1 || c.FirstAlerts[c.Opened[0].ID] == nil || c.Actor != incident.ActorSystem || !c.At.Equal(clock) {
		t.Fatalf("change = %+v", c)
	}
	id := c.Opened[0].ID

	// Resolving by hand and by alert reach the hooks the same way.
	seen, changes = nil, nil
	if _, err := svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionResolve}, "alice"); err != nil {
		t.Fatal(err)
	}
	if c := changes[0]; len(c.Resolved) != 1 || c.Resolved[0] != id || c.Actor != "alice" || c.Why() != "the incident was resolved by alice" {
		t.Fatalf("resolve by hand = %+v", c)
	}
	if _, err := svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionReopen}, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := ingest(t, st, svc, "k2", incident.AlertFiring); err != nil {
		t.Fatal(err)
	}
	seen, changes = nil, nil
	if err := ingest(t, st, svc, "k2", incident.AlertResolved); err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 || len(changes[0].Resolved) != 1 || changes[0].Resolved[0] != id || changes[0].Why() != "the incident resolved" {
		t.Fatalf("resolve by alert = %+v", changes)
	}
}
