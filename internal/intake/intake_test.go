package intake_test

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
	"github.com/firebreak-dev/firebreak/internal/intake"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

func open(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func event(i int) incident.Event {
	return incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: fmt.Sprint(i), Severity: incident.SeverityWarning,
		Labels: map[string]string{"alertname": "A", "service": "s"}}
}

// Concurrent submits share transactions, and every submit learns its own
// results only after they are committed.
func TestGroupCommit(t *testing.T) {
	st := open(t)
	var mu sync.Mutex
	var batches, events []int
	in := intake.New(intake.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Observe: func(r, e int) {
		mu.Lock()
		batches, events = append(batches, r), append(events, e)
		mu.Unlock()
	}})
	in.Start()
	const clients, each = 16, 50
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n := c*each + i
				res, err := in.Submit(context.Background(), []incident.Event{event(n)})
				if err != nil || len(res) != 1 || res[0].Fingerprint != fmt.Sprintf("generic:%d", n) {
					t.Errorf("submit %d: %+v %v", n, res, err)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	in.Stop()
	total, most := 0, 0
	for i, b := range batches {
		total += events[i]
		most = max(most, b)
	}
	if total != clients*each {
		t.Fatalf("committed %d events, want %d", total, clients*each)
	}
	if most < 2 || len(batches) >= clients*each {
		t.Fatalf("%d transactions for %d requests, at most %d per transaction: no group commit", len(batches), clients*each, most)
	}
	incs, err := st.ListIncidents(context.Background(), store.ListIncidentsParams{Limit: 10})
	if err != nil || len(incs) != 1 || incs[0].AlertCount != clients*each {
		t.Fatalf("incidents = %+v, %v", incs, err)
	}
}

// A request the engine refuses fails alone; its neighbours in the same
// transaction are committed.
func TestBadRequestFailsAlone(t *testing.T) {
	st := open(t)
	in := intake.New(intake.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	in.Start()
	defer in.Stop()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e := event(i)
			if i == 7 {
				e.Status = "exploded"
			}
			_, errs[i] = in.Submit(context.Background(), []incident.Event{e})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Errorf("request %d: err = %v", i, err)
		}
	}
	if code := incident.ErrorCode(errs[7]); code != incident.EINVALID {
		t.Fatalf("bad request: code %s (%v), want invalid", code, errs[7])
	}
	incs, _ := st.ListIncidents(context.Background(), store.ListIncidentsParams{Limit: 10})
	if len(incs) != 1 || incs[0].AlertCount != 19 {
		t.Fatalf("incidents = %+v, want one with the 19 good alerts", incs)
	}
}

// Stop while many callers submit: every Submit either succeeds, and its
// alert is committed, or returns ErrStopped (a 503 with Retry-After), and
// nothing else. Run it with -race: a send that can meet close(reqs) is a
// data race.
func TestStopWhileSubmitting(t *testing.T) {
	st := open(t)
	in := intake.New(intake.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	in.Start()
	const clients = 16
	var (
		acked atomic.Int64
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := in.Submit(context.Background(), []incident.Event{event(int(next.Add(1)))})
				if errors.Is(err, intake.ErrStopped) {
					return
				}
				if err != nil {
					t.Errorf("submit: %v", err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	for acked.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	in.Stop()
	wg.Wait()
	in.Stop() // a second Stop is harmless

	_, err := in.Submit(context.Background(), []incident.Event{event(-1)})
	if !errors.Is(err, intake.ErrStopped) || incident.ErrorCode(err) != incident.EUNAVAILABLE {
		t.Fatalf("submit after Stop: %v, want ErrStopped (unavailable)", err)
	}
	incs, err := st.ListIncidents(context.Background(), store.ListIncidentsParams{Limit: 10})
	if err != nil || len(incs) != 1 || int64(incs[0].AlertCount) != acked.Load() {
		t.Fatalf("incidents = %+v, %v; want one holding the %d acknowledged alerts", incs, err, acked.Load())
	}
}
