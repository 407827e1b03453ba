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
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/people"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

// chatRecorder stands for a channel that changes messages in place, as
// Slack and Telegram do: each new message gets a ref; a message with Ref
// set is an edit; one with Thread set is a reply.
type chatRecorder struct {
	mu   sync.Mutex
	name string
	next int
	log  []string
	msgs []notify.Message
}

func (r *chatRecorder) UpdatesInPlace() {}

func (r *chatRecorder) Notify(_ context.Context, m notify.Message) (notify.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	switch {
	case m.Ref != "":
		r.log = append(r.log, fmt.Sprintf("%s:edit %s:%s", r.name, m.Ref, m.Event))
		return notify.Result{Ref: m.Ref}, nil
	case m.Thread != "":
		r.log = append(r.log, fmt.Sprintf("%s:reply %s:%s", r.name, m.Thread, m.Event))
	default:
		r.log = append(r.log, fmt.Sprintf("%s:to %s:%s:L%d", r.name, orChannel(m.To), m.Event, m.Level))
	}
	r.next++
	return notify.Result{Ref: fmt.Sprintf("%s-%d", r.name, r.next)}, nil
}

func orChannel(to string) string {
	if to == "" {
		return "channel"
	}
	return to
}

func (r *chatRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	sort.Strings(out)
	return out
}

type peopleBundle struct {
	t     *testing.T
	st    store.Store
	clock *clock
	q     *job.Queue[store.Tx]
	svc   *respond.Service
	tg    *chatRecorder
	slack *chatRecorder
}

// setupPeople pages a rotation at level 1, a team at level 2 and a user at
// level 3; people are reached through their own contact methods, carried
// by the Telegram and Slack recorders.
func setupPeople(t *testing.T, policy escalation.Policy) *peopleBundle {
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
	roster := oncall.Roster{
		Users: []oncall.User{
			{Name: "ana", TelegramChatID: "1001"},
			{Name: "ben", TelegramChatID: "1002", SlackID: "U0BEN"},
			{Name: "cleo", SlackID: "U0CLEO"},
			{Name: "dev", Email: "dev@example.com"},
		},
		Teams: []oncall.Team{{Name: "leads", Members: []string{"ben", "cleo"}}},
		// Daily handoff at 09:00 UTC: at t0 (03:00 on 1 December) ana's
		// shift that began on 30 November is running; from 09:00, ben's.
		Rotations: []oncall.Rotation{{Name: "primary", Type: oncall.Daily, Start: "2026-11-30T09:00", TimeZone: "UTC",
			Participants: []string{"ana", "ben"}}},
	}
	dir := people.New(st, roster)
	c := &clock{t: t0}
	if err := dir.Sync(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	b := &peopleBundle{t: t, st: st, clock: c, tg: &chatRecorder{name: "tg"}, slack: &chatRecorder{name: "slack"}}
	b.q = job.New(job.Config[store.Tx]{InTx: st.InTx, Now: c.Now, Instance: "test", MinBackoff: time.Second, MaxBackoff: time.Minute})
	contact := func(kind oncall.ContactKind, address string) (escalation.Contact, error) {
		switch kind {
		case oncall.ContactTelegram:
			return escalation.Contact{Notifier: b.tg, To: address, Channel: "ops-telegram"}, nil
		case oncall.ContactSlack:
			return escalation.Contact{Notifier: b.slack, To: address, Channel: "ops-slack"}, nil
		}
		return escalation.Contact{}, fmt.Errorf("no %s channel is configured to carry it", kind)
	}
	esc := escalation.New(escalation.Config{Store: st, Queue: b.q, Playbooks: lib, Now: c.Now, People: dir, Contact: contact,
		Channels: map[string]notify.Notifier{"ops-telegram": b.tg}, Policies: []escalation.Policy{policy}})
	b.svc = respond.New(respond.Config{Store: st, Now: c.Now, Hooks: []respond.Hook{esc}})
	return b
}

func (b *peopleBundle) open() int64 {
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

func (b *peopleBundle) at(d time.Duration) []string {
	b.t.Helper()
	b.clock.Advance(t0.Add(d).Sub(b.clock.Now()))
	if _, err := b.q.RunDue(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	out := append(b.tg.take(), b.slack.take()...)
	sort.Strings(out)
	return out
}

func (b *peopleBundle) timeline(id int64, kind incident.EventKind) []string {
	b.t.Helper()
	tl, err := b.st.ListTimeline(context.Background(), store.ListTimelineParams{IncidentID: id, Limit: 500})
	if err != nil {
		b.t.Fatal(err)
	}
	var out []string
	for _, e := range tl {
		if e.Kind == kind {
			out = append(out, e.Message)
		}
	}
	return out
}

var peoplePolicy = escalation.Policy{Name: "default", Levels: map[int][]string{
	1: {"rotation:primary"}, 2: {"team:leads"}, 3: {"user:dev", "ops-telegram"}}}

// Levels page people: the rotation's person on call at the moment of the
// page, every member of a team by each of their contact methods, and a
// user who cannot be reached is said so on the timeline.
func TestLevelsPagePeople(t *testing.T) {
	b := setupPeople(t, peoplePolicy)
	id := b.open()
	want(t, "0 min", b.at(0), "tg:to 1001:opened:L1")
	want(t, "15 min", b.at(15*time.Minute), "tg:to 1002:escalated:L2", "slack:to U0BEN:escalated:L2", "slack:to U0CLEO:escalated:L2")
	// dev has only email, and no email carrier is configured.
	want(t, "30 min", b.at(30*time.Minute), "tg:to channel:escalated:L3")
	pages := b.timeline(id, "escalation.paged")
	if len(pages) != 3 || !strings.Contains(pages[0], "ana by telegram (rotation primary (on call until 2026-12-01 09:00 UTC))") ||
		!strings.Contains(pages[1], "ben by slack, telegram (team leads)") || !strings.Contains(pages[1], "cleo by slack (team leads)") {
		t.Fatalf("pages on the timeline: %q", pages)
	}
	failed := b.timeline(id, "notification.failed")
	if len(failed) != 1 || !strings.Contains(failed[0], "user:dev/email") || !strings.Contains(failed[0], "no email channel is configured") {
		t.Fatalf("the unreachable page: %q", failed)
	}
}

// The rotation pages whoever is on call when the level comes due: after
// the 09:00 handoff, ben, not ana.
func TestRotationPagesWhoeverIsOnCallThen(t *testing.T) {
	b := setupPeople(t, peoplePolicy)
	b.clock.Advance(6*time.Hour + time.Minute) // 09:01
	b.open()
	want(t, "09:01", b.at(6*time.Hour+time.Minute), "slack:to U0BEN:opened:L1", "tg:to 1002:opened:L1")
}

// An ack edits each page in place (the buttons say what still makes
// sense) and answers it in its thread; resolve does so again. Only the
// people paged hear of it.
func TestAckEditsPagesInPlace(t *testing.T) {
	b := setupPeople(t, peoplePolicy)
	id := b.open()
	want(t, "0 min", b.at(0), "tg:to 1001:opened:L1")
	b.clock.Advance(5 * time.Minute)
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionAck}, "ana"); err != nil {
		t.Fatal(err)
	}
	want(t, "ack", b.at(5*time.Minute), "tg:edit tg-1:acknowledged", "tg:reply tg-1:acknowledged")
	b.tg.mu.Lock()
	edit := b.tg.msgs[1]
	b.tg.mu.Unlock()
	if !edit.Actions || edit.Incident.Status != "acknowledged" || edit.Incident.Responder != "ana" {
		t.Fatalf("the edited page: actions %v, status %s, responder %q", edit.Actions, edit.Incident.Status, edit.Incident.Responder)
	}
	want(t, "20 min", b.at(20*time.Minute)) // no L2 after the ack
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionResolve}, "ana"); err != nil {
		t.Fatal(err)
	}
	want(t, "resolve", b.at(21*time.Minute), "tg:edit tg-1:resolved", "tg:reply tg-1:resolved")
	b.tg.mu.Lock()
	resolvedEdit := b.tg.msgs[3]
	b.tg.mu.Unlock()
	if resolvedEdit.Actions {
		t.Fatal("a resolved incident's page still offers buttons")
	}
}

// A policy's notify_on chooses the events it sends.
func TestNotifyOnChoosesEvents(t *testing.T) {
	p := peoplePolicy
	p.NotifyOn = []notify.Event{notify.EventOpened, notify.EventResolved}
	b := setupPeople(t, p)
	id := b.open()
	want(t, "0 min", b.at(0), "tg:to 1001:opened:L1")
	want(t, "15 min", b.at(15*time.Minute)) // escalated is not sent
	if msgs := b.timeline(id, "escalation.paged"); len(msgs) != 2 || !strings.Contains(msgs[1], "does not send escalated") {
		t.Fatalf("the unsent escalation is still on the timeline: %q", msgs)
	}
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionAck}, "ana"); err != nil {
		t.Fatal(err)
	}
	want(t, "ack", b.at(16*time.Minute)) // acknowledged is not sent
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionResolve}, "ana"); err != nil {
		t.Fatal(err)
	}
	want(t, "resolve", b.at(17*time.Minute), "tg:edit tg-1:resolved", "tg:reply tg-1:resolved")
}

// Escalating by hand pages the next level at once, with the responder on
// the timeline, and that level's timer does not page it again.
func TestEscalateByHand(t *testing.T) {
	b := setupPeople(t, peoplePolicy)
	id := b.open()
	want(t, "0 min", b.at(0), "tg:to 1001:opened:L1")
	b.clock.Advance(3 * time.Minute)
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionAck}, "ana"); err != nil {
		t.Fatal(err)
	}
	b.at(3 * time.Minute)
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionEscalate, Text: "need the database lead"}, "ana"); err != nil {
		t.Fatal(err)
	}
	want(t, "escalate at 3 min", b.at(3*time.Minute), "slack:to U0BEN:escalated:L2", "slack:to U0CLEO:escalated:L2", "tg:to 1002:escalated:L2")
	if msgs := b.timeline(id, "escalation.paged"); len(msgs) != 2 || !strings.Contains(msgs[1], "Escalated to level 2 (Engineering lead) by ana") {
		t.Fatalf("timeline: %q", msgs)
	}
	if msgs := b.timeline(id, incident.KindEscalated); len(msgs) != 1 || !strings.Contains(msgs[0], "need the database lead") {
		t.Fatalf("the request on the timeline: %q", msgs)
	}
	b.clock.Advance(time.Minute)
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionEscalate}, "ana"); err != nil {
		t.Fatal(err)
	}
	want(t, "second escalate", b.at(4*time.Minute), "tg:to channel:escalated:L3")
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionResolve}, "ana"); err != nil {
		t.Fatal(err)
	}
	b.at(5 * time.Minute)
	if _, err := b.svc.Act(context.Background(), id, incident.Action{Kind: incident.ActionEscalate}, "ana"); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Fatalf("escalating a resolved incident: %v, want a conflict", err)
	}
}
