package escalation_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/escalation"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/pgtest"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/postgres"
)

// Two instances on one PostgreSQL database, both running what is due at
// every moment: each level is paged exactly once.
func TestTwoInstancesPageOnce(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	lib, err := playbook.NewLibrary(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: t0}
	var mu sync.Mutex
	var sent []string
	var queues []*job.Queue[store.Tx]
	var svcs []*respond.Service
	var stores []*postgres.DB
	for i := range 2 {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		q := job.New(job.Config[store.Tx]{InTx: st.InTx, Now: c.Now, Instance: string(rune('A' + i))})
		channels := map[string]notify.Notifier{}
		for _, n := range []string{"hook", "slack", "mail"} {
			channels[n] = &recorder{name: n, mu: &mu, log: &sent}
		}
		esc := escalation.New(escalation.Config{Store: st, Queue: q, Playbooks: lib, Channels: channels, Now: c.Now,
			Policies: []escalation.Policy{{Name: "default", Levels: map[int][]string{1: {"hook"}, 2: {"slack"}, 3: {"mail"}}}}})
		queues, stores = append(queues, q), append(stores, st)
		svcs = append(svcs, respond.New(respond.Config{Store: st, Now: c.Now, Hooks: []respond.Hook{esc}}))
	}
	ev := incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: "q1", Severity: incident.SeverityCritical,
		Labels: map[string]string{"alertname": "HighQueueDepth", "service": "job-worker"}}
	err = stores[0].InTx(ctx, func(tx store.Tx) error {
		b, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: c.Now()})
		if err != nil {
			return err
		}
		return svcs[0].Ingested(ctx, tx, []incident.Event{ev}, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, time.Second, 15 * time.Minute, 15*time.Minute + time.Second, 30 * time.Minute, 31 * time.Minute, time.Hour} {
		c.mu.Lock()
		c.t = t0.Add(d)
		c.mu.Unlock()
		var wg sync.WaitGroup
		for _, q := range queues {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := q.RunDue(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	sort.Strings(sent)
	want(t, "after an hour", sent, "hook:opened:L1", "slack:escalated:L2", "mail:escalated:L3")
}
