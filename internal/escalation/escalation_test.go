package escalation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/escalation"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a channel that records what it was sent.
type recorder struct {
	name string
	mu   *sync.Mutex
	log  *[]string
	fail []error // errors to return first, in order
}

func (r *recorder) Notify(_ context.Context, m notify.Message) (notify.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fail) > 0 {
		err := r.fail[0]
		r.fail = r.fail[1:]
		return notify.Result{}, err
	}
	*r.log = append(*r.log, fmt.Sprintf("%s:%s:L%d", r.name, m.Event, m.Level))
	return notify.Result{}, nil
}

type bundle struct {
	t     *testing.T
	st    store.Store
	clock *clock
	q     *job.Queue[store.Tx]
	svc   *respond.Service
	mu    sync.Mutex
	sent  []string
	chans map[string]*recorder
}

func setup(t *testing.T) *bundle { return setupWith(t, false) }

// setupWith builds the bundle; with phases, the phase clocks run beside the
// escalation, their hook first, so that a phase deadline due at the same
// moment as a page is the job claimed first.
func setupWith(t *testing.T, phases bool) *bundle {
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
	lib, err := playbook.NewLibrary(nil) // the bundled reference playbook
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, st: st, clock: &clock{t: t0}, chans: map[string]*recorder{}}
	b.q = job.New(job.Config[store.Tx]{InTx: st.InTx, Now: b.clock.Now, Instance: "test", MinBackoff: time.Second, MaxBackoff: time.Minute})
	channels := map[string]notify.Notifier{}
	for _, n := range []string{"hook", "telegram", "slack", "mail"} {
		r := &recorder{name: n, mu: &b.mu, log: &b.sent}
		b.chans[n] = r
		channels[n] = r
	}
	esc := escalation.New(escalation.Config{Store: st, Queue: b.q, Playbooks: lib, Channels: channels, Now: b.clock.Now,
		Policies: []escalation.Policy{{Name: "default", Levels: map[int][]string{1: {"hook", "telegram"}, 2: {"slack"}, 3: {"mail"}}, Repeat: 1}}})
	hooks := []respond.Hook{esc}
	if phases {
		clocks := phase.New(phase.Config{Store: st, Queue: b.q, Playbooks: lib, Now: b.clock.Now, Tell: esc.Tell, PagesDue: esc.Unpaged})
		hooks = []respond.Hook{clocks, esc}
	}
	b.svc = respond.New(respond.Config{Store: st, Now: b.clock.Now, Hooks: hooks})
	return b
}

func (b *bundle) open() int64 {
	b.t.Helper()
	ctx := context.Background()
	ev := incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: "q1", Severity: incident.SeverityCritical,
		Labels: map[string]string{"alertname": "HighQueueDepth", "service": "job-worker"}}
	var id int64
	err := b.st.InTx(ctx, func(tx store.Tx) error {
		batch, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: b.clock.Now()})
		if err != nil {
			return err
		}
		id = batch.Opened[0].ID
		return b.svc.Ingested(ctx, tx, []incident.Event{ev}, batch)
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

// at moves the clock to t0+d and runs what is due.
func (b *bundle) at(d time.Duration) []string {
	b.t.Helper()
	b.clock.Advance(t0.Add(d).Sub(b.clock.Now()))
	if _, err := b.q.RunDue(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.sent...)
	b.sent = nil
	sort.Strings(out)
	return out
}

func want(t *testing.T, when string, got []string, w ...string) {
	t.Helper()
	sort.Strings(w)
	if strings.Join(got, " ") != strings.Join(w, " ") {
		t.Fatalf("%s: sent %v, want %v", when, got, w)
	}
}

// Nobody acknowledges: L1 at once, L2 at 15 min, L3 at 30 min, then the
// last level once more (repeat: 1), each page on the timeline.
func TestEscalatesOnSchedule(t *testing.T) {
	b := setup(t)
	id := b.open()
	want(t, "0 min", b.at(0), "hook:opened:L1", "telegram:opened:L1")
	want(t, "14 min", b.at(14*time.Minute))
	want(t, "15 min", b.at(15*time.Minute), "slack:escalated:L2")
	want(t, "29 min", b.at(29*time.Minute))
	want(t, "30 min", b.at(30*time.Minute), "mail:escalated:L3")
	want(t, "45 min", b.at(45*time.Minute), "mail:escalated:L3")
	want(t, "2 h", b.at(2*time.Hour))
	tl, err := b.st.ListTimeline(context.Background(), store.ListTimelineParams{IncidentID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for _, e := range tl {
		if e.Kind == "escalation.paged" {
			pages = append(pages, e.Message)
		}
	}
	if len(pages) != 4 || !strings.Contains(pages[1], "Escalated to level 2") || !strings.Contains(pages[3], "repeat 1 of 1") {
		t.Fatalf("timeline pages = %q", pages)
	}
}

// The Containment budget (15 min) runs out at the moment level 2 is paged.
// The phase timer is the first job a worker takes, yet the breach waits for
// the page, so level 2 hears of the breach as well as level 1.
func TestBreachWaitsForThePageDueWithIt(t *testing.T) {
	b := setupWith(t, true)
	b.open()
	want(t, "0 min", b.at(0), "hook:opened:L1", "telegram:opened:L1")
	want(t, "5 min", b.at(5*time.Minute), "hook:sla_breach:L1", "telegram:sla_breach:L1")
	want(t, "15 min", b.at(15*time.Minute), "slack:escalated:L2")
	want(t, "15 min 1 s", b.at(15*time.Minute+time.Second), "hook:sla_breach:L1", "telegram:sla_breach:L1", "slack:sla_breach:L2")
}

// News of an ack waits for the page it follows: a receiver whose page
// failed once and is waiting for its retry hears "opened" before
// "acknowledged", in that order.
func TestNewsWaitsForItsPage(t *testing.T) {
	b := setup(t)
	b.chans["hook"].fail = []error{&notify.Error{Status: 500, Retry: true, Err: fmt.Errorf("boom")}}
	id := b.open()
	want(t, "0 s", b.at(0), "telegram:opened:L1")
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionAck}, "responder"); err != nil {
		t.Fatal(err)
	}
	want(t, "ack", b.at(0), "telegram:acknowledged:L1")
	var order []string
	for s := 1; s <= 20; s++ {
		b.clock.Advance(time.Second)
		if _, err := b.q.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		order = append(order, b.sent...)
		b.sent = nil
		b.mu.Unlock()
	}
	if strings.Join(order, " ") != "hook:opened:L1 hook:acknowledged:L1" {
		t.Fatalf("the hook heard %v, want the page, then the ack", order)
	}
}

// An acknowledgement at 10 minutes stops the escalation: no L2, and the
// paged level hears of the ack.
func TestAckStopsEscalation(t *testing.T) {
	b := setup(t)
	id := b.open()
	want(t, "0 min", b.at(0), "hook:opened:L1", "telegram:opened:L1")
	b.clock.Advance(10 * time.Minute)
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionAck}, "alice"); err != nil {
		t.Fatal(err)
	}
	want(t, "10 min", b.at(10*time.Minute), "hook:acknowledged:L1", "telegram:acknowledged:L1")
	want(t, "2 h", b.at(2*time.Hour))
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionResolve}, "alice"); err != nil {
		t.Fatal(err)
	}
	want(t, "resolve", b.at(2*time.Hour+time.Minute), "hook:resolved:L1", "telegram:resolved:L1")
}

// A receiver that fails with 500, 500, then 429 Retry-After: 2 gets the
// page exactly once, and every attempt is on the timeline.
func TestFlappingReceiver(t *testing.T) {
	b := setup(t)
	b.chans["hook"].fail = []error{
		&notify.Error{Status: 500, Retry: true, Err: fmt.Errorf("boom")},
		&notify.Error{Status: 500, Retry: true, Err: fmt.Errorf("boom")},
		&notify.Error{Status: 429, Retry: true, After: 2 * time.Second, Err: fmt.Errorf("slow down")},
	}
	id := b.open()
	got := b.at(0)
	want(t, "0 s", got, "telegram:opened:L1")
	var all []string
	for s := 1; s <= 30; s++ {
		all = append(all, b.at(time.Duration(s)*time.Second)...)
	}
	want(t, "30 s", all, "hook:opened:L1")
	tl, _ := b.st.ListTimeline(context.Background(), store.ListTimelineParams{IncidentID: id, Limit: 100})
	retries := 0
	for _, e := range tl {
		if e.Kind == "notification.retrying" {
			retries++
		}
	}
	if retries != 3 {
		t.Fatalf("%d retry entries on the timeline, want 3", retries)
	}
}

// A 4xx other than 429 is never retried.
func TestPermanentFailure(t *testing.T) {
	b := setup(t)
	b.chans["hook"].fail = []error{&notify.Error{Status: 401, Err: fmt.Errorf("invalid token")}}
	id := b.open()
	want(t, "0 s", b.at(0), "telegram:opened:L1")
	want(t, "10 min", b.at(10*time.Minute))
	tl, _ := b.st.ListTimeline(context.Background(), store.ListTimelineParams{IncidentID: id, Limit: 100})
	failed := 0
	for _, e := range tl {
		if e.Kind == "notification.failed" && strings.Contains(e.Message, "invalid token") {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d failure entries, want 1", failed)
	}
}

// A server restarted during the wait escalates on time: the pages are
// durable jobs, and a new queue and engine on the same database take them.
// One that comes back after the moment passed pages at once.
func TestRestartDuringTheWait(t *testing.T) {
	b := setup(t)
	b.open()
	want(t, "0 min", b.at(0), "hook:opened:L1", "telegram:opened:L1")
	lib, err := playbook.NewLibrary(nil)
	if err != nil {
		t.Fatal(err)
	}
	// "Restart": a fresh queue and engine; the old ones are gone.
	b.q = job.New(job.Config[store.Tx]{InTx: b.st.InTx, Now: b.clock.Now, Instance: "restarted"})
	channels := map[string]notify.Notifier{}
	for n, r := range b.chans {
		channels[n] = r
	}
	escalation.New(escalation.Config{Store: b.st, Queue: b.q, Playbooks: lib, Channels: channels, Now: b.clock.Now,
		Policies: []escalation.Policy{{Name: "default", Levels: map[int][]string{1: {"hook", "telegram"}, 2: {"slack"}, 3: {"mail"}}}}})
	want(t, "15 min", b.at(15*time.Minute), "slack:escalated:L2")
	// Down from 20 to 40 minutes: L3 (due at 30) pages when it is back.
	want(t, "40 min", b.at(40*time.Minute), "mail:escalated:L3")
}

// textRecorder keeps every message a channel got.
type textRecorder struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (r *textRecorder) Notify(_ context.Context, m notify.Message) (notify.Result, error) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return notify.Result{}, nil
}

// A storm of 1,000 incidents in 10 s to one channel: a handful of pages,
// then one summary that counts every other incident.
func TestStormIsBundled(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: t0}
	q := job.New(job.Config[store.Tx]{InTx: st.InTx, Now: c.Now, Instance: "test"})
	rec := &textRecorder{}
	esc := escalation.New(escalation.Config{Store: st, Queue: q, Now: c.Now, Channels: map[string]notify.Notifier{"hook": rec},
		Policies: []escalation.Policy{{Name: "default", Levels: map[int][]string{1: {"hook"}}}},
		Storm:    escalation.Storm{Threshold: 5, Window: time.Minute}})
	svc := respond.New(respond.Config{Store: st, Now: c.Now, Hooks: []respond.Hook{esc}})
	const n = 1000
	for i := range n {
		ev := incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: fmt.Sprint(i), Severity: incident.SeverityCritical,
			Labels: map[string]string{"alertname": fmt.Sprintf("Storm%d", i)}}
		err := st.InTx(ctx, func(tx store.Tx) error {
			b, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: c.Now()})
			if err != nil {
				return err
			}
			return svc.Ingested(ctx, tx, []incident.Event{ev}, b)
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(10 * time.Millisecond)
		if i%50 == 0 {
			if _, err := q.RunDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.Advance(time.Minute)
	if _, err := q.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	pages, counted := 0, 0
	for _, m := range rec.msgs {
		if strings.HasPrefix(m.Title, "Alert storm") {
			var k int
			fmt.Sscanf(m.Text, "+%d more incidents", &k)
			counted += k
			continue
		}
		pages++
	}
	if len(rec.msgs) > 7 {
		var titles []string
		for _, m := range rec.msgs {
			titles = append(titles, m.Title)
		}
		t.Fatalf("%d messages for a storm of %d incidents; want a handful: %q", len(rec.msgs), n, titles)
	}
	if pages+counted != n {
		t.Fatalf("%d paged + %d counted in summaries = %d; every one of %d incidents must be mentioned or counted", pages, counted, pages+counted, n)
	}
}
