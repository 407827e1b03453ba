package console

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Feed fans the store's change feed out to every open page: one watch per
// server process, however many viewers. On PostgreSQL the watch hears
// commits of every instance (LISTEN/NOTIFY), so a change made through
// instance A reaches a page served by instance B.
type Feed struct {
	mu     sync.Mutex
	subs   map[chan []int64]struct{}
	closed bool
	// seq counts what was published, from a random start: a page carries
	// the seq it was read at, and its stream starts with a change when the
	// feed moved on since (or the page came from another instance).
	seq atomic.Uint64
}

// Seq is the feed's position; read it before reading what a page shows.
func (f *Feed) Seq() uint64 { return f.seq.Load() }

// MaxViewers bounds the open event streams of one process.
const MaxViewers = 2000

// NewFeed watches st until ctx ends.
func NewFeed(ctx context.Context, st store.Store, log *slog.Logger) *Feed {
	f := &Feed{subs: map[chan []int64]struct{}{}}
	f.seq.Store(mrand.Uint64() >> 12)
	go func() {
		defer f.close()
		for ctx.Err() == nil {
			if err := st.WatchChanges(ctx, f.publish); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "console change feed", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return f
}

// close ends every stream: the server is shutting down, and open pages
// reconnect to whichever instance takes them next.
func (f *Feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		close(ch)
		delete(f.subs, ch)
	}
	f.closed = true
}

func (f *Feed) publish(ids []int64) {
	f.seq.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- ids:
		default:
			// The viewer is behind: a nil says "anything may have changed",
			// which covers whatever it missed.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- nil:
			default:
			}
		}
	}
}

// Subscribe returns a stream of changed incident IDs and a function that
// ends it; it refuses past MaxViewers.
func (f *Feed) Subscribe() (<-chan []int64, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, nil, incident.Errorf(incident.EUNAVAILABLE, "the server is shutting down; the page reconnects by itself")
	}
	if len(f.subs) >= MaxViewers {
		return nil, nil, incident.Errorf(incident.EUNAVAILABLE, "too many open pages on this server; close some and reload")
	}
	ch := make(chan []int64, 8)
	f.subs[ch] = struct{}{}
	return ch, func() {
		f.mu.Lock()
		if _, ok := f.subs[ch]; ok {
			delete(f.subs, ch)
			close(ch)
		}
		f.mu.Unlock()
	}, nil
}

// events is the server-sent event stream of a page: "changed" for any
// incident (the list), or only for ?incident=ID (an incident's page).
func (s *Server) events(w http.ResponseWriter, r *http.Request, v *viewer) error {
	var only int64
	if q := r.URL.Query().Get("incident"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil {
			return incident.Errorf(incident.EINVALID, "incident: %q is not an id", q)
		}
		only = n
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return incident.Errorf(incident.EINTERNAL, "streaming is not supported here")
	}
	ch, stop, err := s.feed.Subscribe()
	if err != nil {
		return err
	}
	defer stop()
	// What changed between the page's render and this subscription would
	// otherwise be lost: say so at once.
	since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	missed := since != s.feed.Seq()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	if missed {
		fmt.Fprint(w, "event: changed\ndata: *\n\n")
	}
	flusher.Flush()
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	// Changes are sent at most every minGap, and the last of a burst is
	// always sent: a page that refetches on each event sees the final state
	// of a step that is claimed and finished within milliseconds, and a
	// storm of commits does not make every open page refetch hundreds of
	// times a second.
	const minGap = 250 * time.Millisecond
	var (
		pending  []int64
		dirty    bool // pending holds something to send
		all      bool // "*": anything may have changed
		lastSent time.Time
		armed    bool
	)
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	send := func() {
		data := "*"
		if !all {
			data = join(pending)
		}
		fmt.Fprintf(w, "event: changed\ndata: %s\n\n", data)
		flusher.Flush()
		pending, dirty, all, lastSent = pending[:0], false, false, time.Now()
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
			flusher.Flush()
		case <-flush.C:
			armed = false
			if dirty {
				send()
			}
		case ids, ok := <-ch:
			if !ok {
				return nil
			}
			if only != 0 && ids != nil && !contains(ids, only) {
				continue
			}
			dirty = true
			if ids == nil {
				all = true
			} else if len(pending) < 1000 {
				pending = append(pending, ids...)
			} else {
				all = true
			}
			if wait := minGap - time.Since(lastSent); wait <= 0 {
				send()
			} else if !armed {
				flush.Reset(wait)
				armed = true
			}
		}
	}
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func join(ids []int64) string {
	if ids == nil {
		return "*"
	}
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		parts = append(parts, strconv.FormatInt(id, 10))
	}
	return strings.Join(parts, ",")
}
