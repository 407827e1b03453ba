package phase_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

// t0 is Friday 4 December 2026, 16:00 UTC: the review of an incident
// resolved today is due on Monday.
var t0 = time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type bundle struct {
	t      *testing.T
	ctx    context.Context
	st     store.Store
	lib    *playbook.Library
	clock  *clock
	q      *job.Queue[store.Tx]
	svc    *respond.Service
	clocks *phase.Engine
	mu     sync.Mutex
	told   []string
}

func setup(t *testing.T) *bundle {
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
	lib, err := playbook.NewLibrary(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, ctx: ctx, st: st, lib: lib, clock: &clock{t: t0}}
	b.start("a")
	return b
}

// start builds the queue and engines over the store, as a (re)started
// server does: the timers are only in the database.
func (b *bundle) start(instance string) {
	b.q = job.New(job.Config[store.Tx]{InTx: b.st.InTx, Now: b.clock.Now, Instance: instance, MinBackoff: time.Second, MaxBackoff: time.Minute})
	cal, err := phase.NewCalendar("UTC", nil, []string{"2026-12-07"}, "17:00")
	if err != nil {
		b.t.Fatal(err)
	}
	b.clocks = phase.New(phase.Config{Store: b.st, Queue: b.q, Playbooks: b.lib, Calendar: cal, Now: b.clock.Now,
		Tell: func(_ context.Context, _ store.Tx, id int64, ev notify.Event, _ time.Time) ([]string, error) {
			b.mu.Lock()
			b.told = append(b.told, string(ev))
			b.mu.Unlock()
			return nil, nil
		}})
	steps := automation.New(automation.Config{Store: b.st, Queue: b.q, Playbooks: b.lib, Now: b.clock.Now, Instance: instance,
		Exec: &automation.Executors{}, Decided: b.clocks.OnDecided})
	b.svc = respond.New(respond.Config{Store: b.st, Now: b.clock.Now, Hooks: []respond.Hook{steps, b.clocks}, Automation: steps})
}

func (b *bundle) at(d time.Duration) {
	b.t.Helper()
	b.clock.Set(t0.Add(d))
	for range 100 {
		n, err := b.q.RunDue(b.ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	b.t.Fatal("jobs keep coming")
}

// alert posts one alert of the given name; it returns the incident it
// went to.
func (b *bundle) alert(name string, status incident.AlertStatus) int64 {
	b.t.Helper()
	ev := incident.Event{Source: incident.SourceGeneric, Status: status, Key: name, Severity: incident.SeverityCritical,
		Labels: map[string]string{"alertname": name, "service": "api"}}
	var id int64
	err := b.st.InTx(b.ctx, func(tx store.Tx) error {
		batch, err := incident.ApplyBatch(b.ctx, tx, []incident.Event{ev}, incident.Options{Now: b.clock.Now(), AutoResolve: true})
		if err != nil {
			return err
		}
		id = batch.Results[0].IncidentID
		return b.svc.Ingested(b.ctx, tx, []incident.Event{ev}, batch)
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

func (b *bundle) act(id int64, a incident.Action) error {
	_, err := b.svc.Act(b.ctx, id, a, "ana")
	return err
}

func (b *bundle) status(id int64) *phase.Status {
	b.t.Helper()
	inc, err := b.st.GetIncident(b.ctx, id)
	if err != nil {
		b.t.Fatal(err)
	}
	s, err := b.clocks.Status(b.ctx, inc)
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func breaches(s *phase.Status) string {
	var keys []string
	for _, br := range s.Breaches {
		keys = append(keys, br.Key)
	}
	return strings.Join(keys, ",")
}

// Phases move as people act, budgets are measured from the start, and
// each overrun is one breach, notified once.
func TestPhasesAndBreaches(t *testing.T) {
	b := setup(t)
	id := b.alert("HighQueueDepth", incident.AlertFiring)
	b.at(0)
	if s := b.status(id); s.Current != "detection-assessment" || *s.Phases[0].LeftSeconds != 300 || *s.Phases[1].LeftSeconds != 900 {
		t.Fatalf("at the start: current %s, left %d / %d", s.Current, *s.Phases[0].LeftSeconds, *s.Phases[1].LeftSeconds)
	}
	b.at(6 * time.Minute) // nobody acknowledged within 5 minutes
	if got := breaches(b.status(id)); got != "detection-assessment" {
		t.Fatalf("at 6 min, breaches %q", got)
	}
	b.at(7 * time.Minute)
	if err := b.act(id, incident.Action{Kind: incident.ActionAck}); err != nil {
		t.Fatal(err)
	}
	if s := b.status(id); s.Current != "containment" {
		t.Fatalf("after the ack: %s", s.Current)
	}
	b.at(10 * time.Minute)
	if err := b.act(id, incident.Action{Kind: incident.ActionPhase, Text: "investigation"}); err != nil {
		t.Fatal(err)
	}
	if err := b.act(id, incident.Action{Kind: incident.ActionPhase, Text: "diagnosis"}); incident.ErrorCode(err) != incident.EINVALID ||
		!strings.Contains(err.Error(), `phase: "diagnosis" is not a phase`) || !strings.Contains(err.Error(), "containment") {
		t.Fatalf("an unknown phase: %v", err)
	}
	b.at(16 * time.Minute) // left Containment in time
	b.at(61 * time.Minute) // still investigating at the hour
	s := b.status(id)
	if got := breaches(s); got != "detection-assessment,investigation" {
		t.Fatalf("at 61 min, breaches %q", got)
	}
	if *s.Phases[3].LeftSeconds != 4*3600-61*60 {
		t.Fatalf("Recovery's time left at 61 min: %d", *s.Phases[3].LeftSeconds)
	}
	b.mu.Lock()
	told := strings.Join(b.told, ",")
	b.mu.Unlock()
	if told != "sla_breach,sla_breach" {
		t.Fatalf("notified %q, want one sla_breach per breach", told)
	}
	b.at(70 * time.Minute)
	b.alert("HighQueueDepth", incident.AlertResolved)
	if s := b.status(id); s.Current != "recovery" || s.Watch == nil || s.Watch.Window != phase.DefaultWatch {
		t.Fatalf("after the resolve: %s, watch %+v", s.Current, s.Watch)
	}
	b.at(80 * time.Minute) // the watch (10 min by default) ended
	s = b.status(id)
	// Friday 17:20 resolved; Monday 7 December is a holiday: Tuesday.
	if s.Current != "post-incident-review" || s.Watches[0].Summary != "stayed resolved 10m" || !s.ReviewDue.Equal(time.Date(2026, 12, 8, 17, 0, 0, 0, time.UTC)) {
		t.Fatalf("after the watch: %s, %+v, due %s", s.Current, s.Watches, s.ReviewDue)
	}
	var kinds []string
	tl, _ := b.st.ListTimeline(b.ctx, store.ListTimelineParams{IncidentID: id, Limit: 500})
	for _, e := range tl {
		if strings.HasPrefix(string(e.Kind), "phase.") {
			kinds = append(kinds, string(e.Kind)+" "+e.Actor)
		}
	}
	want := "phase.breached firebreak,phase.entered ana,phase.entered ana,phase.breached firebreak,phase.entered firebreak," +
		"phase.watch firebreak,phase.watch_ended firebreak,phase.entered firebreak,phase.review_due firebreak"
	if got := strings.Join(kinds, ","); got != want {
		t.Fatalf("phase entries:\n got %s\nwant %s", got, want)
	}
}

// A timer handled late (a server down or busy at the deadline) judges the
// incident as it was at the deadline: acknowledged at 16 minutes, after
// both the Detection (5 min) and Containment (15 min) budgets ran out, it
// overran both, though it is in Containment when the timers run.
func TestLateTimerJudgesTheDeadline(t *testing.T) {
	b := setup(t)
	id := b.alert("HighQueueDepth", incident.AlertFiring)
	b.at(0)
	b.clock.Set(t0.Add(16 * time.Minute)) // no timer has run since the start
	if err := b.act(id, incident.Action{Kind: incident.ActionAck}); err != nil {
		t.Fatal(err)
	}
	b.at(16 * time.Minute)
	s := b.status(id)
	if got := breaches(s); got != "detection-assessment,containment" {
		t.Fatalf("breaches %q, want both overruns", got)
	}
	tl, _ := b.st.ListTimeline(b.ctx, store.ListTimelineParams{IncidentID: id, Limit: 500})
	found := false
	for _, e := range tl {
		if e.Kind == "phase.breached" && strings.Contains(e.Message, "the incident was in Detection & Assessment then, and is in Containment now") {
			found = true
		}
	}
	if !found {
		t.Fatal("the breach does not say where the incident was at the deadline")
	}
}

// A re-fire at minute 20 of the procedure's 30-minute watch ("Monitor
// error rate for 30 minutes") reopens the same incident; at minute 31 the
// watch is over and the alert opens a new one.
func TestRecoveryWatch(t *testing.T) {
	b := setup(t)
	id := b.alert("HighAPIErrorRate", incident.AlertFiring)
	b.at(0)
	b.at(5 * time.Minute)
	b.alert("HighAPIErrorRate", incident.AlertResolved)
	if w := b.status(id).Watch; w == nil || w.Window != 30*time.Minute || !strings.Contains(w.Source, "Monitor error rate for 30 minutes") {
		t.Fatalf("the watch: %+v", w)
	}
	b.at(25 * time.Minute)
	if again := b.alert("HighAPIErrorRate", incident.AlertFiring); again != id {
		t.Fatalf("a re-fire inside the watch opened incident %d, want %d reopened", again, id)
	}
	inc, _ := b.st.GetIncident(b.ctx, id)
	s := b.status(id)
	if inc.Status != incident.StatusTriggered || s.Current != "detection-assessment" || s.Watches[0].Summary != "re-fired at 20m" {
		t.Fatalf("after the re-fire: %s, phase %s, watches %+v", inc.Status, s.Current, s.Watches)
	}
	tl, _ := b.st.ListTimeline(b.ctx, store.ListTimelineParams{IncidentID: id, Limit: 500})
	found := false
	for _, e := range tl {
		if e.Kind == incident.KindReopened && strings.Contains(e.Message, "fired again 20m0s after it resolved") {
			found = true
		}
	}
	if !found {
		t.Fatal("the timeline does not say why the incident reopened")
	}
	b.at(30 * time.Minute)
	b.alert("HighAPIErrorRate", incident.AlertResolved)
	b.at(61 * time.Minute) // 31 minutes later: the watch ended
	if again := b.alert("HighAPIErrorRate", incident.AlertFiring); again == id {
		t.Fatal("a fire after the watch reopened the old incident instead of opening a new one")
	}
}

// A restart in the middle of every timer: each fires on time, or at once
// when its moment passed while the server was down.
func TestTimersSurviveRestarts(t *testing.T) {
	b := setup(t)
	id := b.alert("HighQueueDepth", incident.AlertFiring)
	b.at(0)
	b.start("b") // restarted before the Detection deadline
	b.at(4 * time.Minute)
	if got := breaches(b.status(id)); got != "" {
		t.Fatalf("breached early: %q", got)
	}
	b.at(5 * time.Minute) // on time
	if got := breaches(b.status(id)); got != "detection-assessment" {
		t.Fatalf("at 5 min: %q", got)
	}
	b.start("c") // down from 5 to 20 minutes: Containment's deadline (15) passed
	b.at(20 * time.Minute)
	s := b.status(id)
	if got := breaches(s); got != "detection-assessment,containment" || !s.Breaches[1].At.Equal(t0.Add(20*time.Minute)) ||
		!s.Breaches[1].Deadline.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("after the restart: %+v", s.Breaches)
	}
	if err := b.act(id, incident.Action{Kind: incident.ActionResolve}); err != nil {
		t.Fatal(err)
	}
	b.start("d") // down through the watch's end
	b.at(45 * time.Minute)
	s = b.status(id)
	if s.Current != "post-incident-review" || s.ReviewDue.IsZero() {
		t.Fatalf("the watch's end after a restart: %s", s.Current)
	}
	b.start("e") // down past the review's due date, Tuesday 17:00
	b.clock.Set(s.ReviewDue.Add(time.Hour))
	if _, err := b.q.RunDue(b.ctx); err != nil {
		t.Fatal(err)
	}
	if got := breaches(b.status(id)); got != "detection-assessment,containment,post-incident-review" {
		t.Fatalf("past the review's due date: %q", got)
	}
}
