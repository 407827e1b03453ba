package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

// failingCommit is a store whose transactions do all their work and then
// fail, as when COMMIT fails: nothing is stored. Its first transaction
// waits for plug, so that requests can queue up behind it.
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

// When the commit of a group fails, every request in the group is told
// so with a retryable error, and none is told it succeeded.
func TestFailedCommitFailsEveryRequest(t *testing.T) {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	if err := sq.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st := &failingCommit{Store: sq, plug: make(chan struct{})}
	var observed atomic.Int32
	in := New(Config{Store: st, Logger: slog.New(slog.DiscardHandler), Observe: func(int, int) { observed.Add(1) }})
	in.Start()
	defer in.Stop()

	event := func(i int) []incident.Event {
		return []incident.Event{{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: fmt.Sprint(i),
			Severity: incident.SeverityWarning, Labels: map[string]string{"alertname": "A", "service": "s"}}}
	}
	const n = 8
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	submit := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res []incident.Result
			res, errs[i] = in.Submit(ctx, event(i))
			if res != nil {
				t.Errorf("request %d: results %+v with a failed commit", i, res)
			}
		}()
	}
	// Request 0 holds the committer in its transaction while the others
	// queue, so that they make one group.
	submit(0)
	waitUntil(t, func() bool { return st.calls.Load() == 1 })
	for i := 1; i <= n; i++ {
		submit(i)
	}
	waitUntil(t, func() bool { return len(in.reqs) == n })
	close(st.plug)
	wg.Wait()

	for i, err := range errs {
		if err == nil || incident.ErrorCode(err) != incident.EUNAVAILABLE {
			t.Errorf("request %d: err = %v (code %s), want a retryable error (unavailable)", i, err, incident.ErrorCode(err))
		}
	}
	// Request 0 alone, the group of n, then each of the n alone.
	if got := st.calls.Load(); got != 2+n {
		t.Errorf("%d transactions, want %d", got, 2+n)
	}
	if observed.Load() != 0 {
		t.Error("a failed batch was observed as committed")
	}
	incs, err := sq.ListIncidents(ctx, store.ListIncidentsParams{Limit: 10})
	if err != nil || len(incs) != 0 {
		t.Fatalf("incidents = %+v, %v; want none", incs, err)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
