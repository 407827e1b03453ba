package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/intake"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

// failingCommit is a store whose transactions do all their work and then
// fail, as when COMMIT fails. Its first transaction waits for plug, so
// that requests queue up behind it and share the next one.
type failingCommit struct {
	store.Store
	plug  chan struct{}
	calls atomic.Int32
}

func (f *failingCommit) InTx(ctx context.Context, fn func(store.Tx) error) error {
	if f.calls.Add(1) == 1 {
		<-f.plug
	}
	return f.Store.InTx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errors.New("commit: disk I/O error")
	})
}

// When intake's transaction fails to commit, every request of every
// source in it gets a 503 with Retry-After, so that the sender retries,
// and none is told its alerts were taken.
func TestFailedCommitIsRetryableForEveryRequest(t *testing.T) {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	if err := sq.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	failing := &failingCommit{Store: sq, plug: make(chan struct{})}
	log := slog.New(slog.DiscardHandler)
	in := intake.New(intake.Config{Store: failing, Logger: log})
	in.Start()
	h := httpapi.NewServer(httpapi.Deps{Store: sq, Ingester: in, Tokens: auth.NewTokens(sq, time.Second, time.Now),
		Metrics: httpapi.NewMetrics(sq), Logger: log, MaxBodyBytes: maxBody})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		close(failing.plug) // frees the first transaction if the test ended before it did
		srv.Close()
		in.Stop()
	})
	b := &bundle{t: t, srv: srv, store: sq, keys: map[string]string{}}
	for name, source := range map[string]incident.Source{"am": incident.SourceAlertmanager, "pd": incident.SourcePagerDuty, "gen": incident.SourceGeneric} {
		secret, hash := auth.NewSecret(auth.IntegrationPrefix)
		err := sq.InTx(ctx, func(tx store.Tx) error {
			return tx.CreateToken(ctx, &auth.Token{Name: name, Role: auth.RoleIngest, Source: source, Hash: hash, Prefix: secret[:8], CreatedAt: time.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		b.keys[name] = secret
	}

	type req struct{ path, as, body string }
	reqs := []req{{"/api/v1/ingest/generic", "gen", `{"name":"Plug","dedup_key":"plug"}`}}
	for i := range 4 {
		reqs = append(reqs,
			req{"/api/v1/ingest/generic", "gen", fmt.Sprintf(`{"name":"DiskFull","dedup_key":"disk-%d"}`, i)},
			req{"/api/v1/ingest/alertmanager", "am", amBody("firing", fmt.Sprintf("HighQueueDepth/fp%d", i))},
			req{"/v2/enqueue", "", string(pdEvent(b.keys["pd"], 0))},
		)
	}
	var wg sync.WaitGroup
	send := func(r req) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, hdr, data := b.request("POST", r.path, r.as, r.body)
			if status != 503 || hdr.Get("Retry-After") == "" {
				t.Errorf("POST %s with a failed commit: %d, Retry-After %q: %s", r.path, status, hdr.Get("Retry-After"), data)
			}
		}()
	}
	// The first request holds the committer in its transaction while the
	// rest queue behind it (that they make one group is proven in
	// intake's own test; here a short wait makes it likely).
	send(reqs[0])
	for failing.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for _, r := range reqs[1:] {
		send(r)
	}
	time.Sleep(200 * time.Millisecond)
	failing.plug <- struct{}{}
	wg.Wait()

	incs, err := sq.ListIncidents(ctx, store.ListIncidentsParams{Limit: 10})
	if err != nil || len(incs) != 0 {
		t.Fatalf("incidents = %+v, %v; want none", incs, err)
	}
}
