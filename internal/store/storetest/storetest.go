// Package storetest is the conformance suite that every store engine runs.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Factory returns a fresh, migrated, empty store. When shared is non-nil it
// returns a second handle on the same database as shared, as a second
// `firebreak serve` instance would open it.
type Factory func(t *testing.T) store.Store

// SecondHandle opens another store on the database of s, or nil when the
// engine cannot be shared between instances.
type SecondHandle func(t *testing.T, s store.Store) store.Store

var t0 = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

type bundle struct {
	s   store.Store
	ctx context.Context
	opt incident.Options
}

func setup(t *testing.T, f Factory) *bundle {
	t.Helper()
	return &bundle{s: f(t), ctx: context.Background(), opt: incident.Options{AutoResolve: true, Now: t0}}
}

func (b *bundle) apply(t *testing.T, events ...incident.Event) []incident.Result {
	t.Helper()
	var res []incident.Result
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		res, _, err = incident.Apply(b.ctx, tx, events, b.opt)
		return err
	})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

func (b *bundle) act(t *testing.T, id int64, a incident.Action, actor string) (*incident.Incident, error) {
	t.Helper()
	var inc *incident.Incident
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		inc, err = incident.Act(b.ctx, tx, id, a, actor, b.opt.Now)
		return err
	})
	return inc, err
}

func (b *bundle) incident(t *testing.T, id int64) *incident.Incident {
	t.Helper()
	inc, err := b.s.GetIncident(b.ctx, id)
	if err != nil {
		t.Fatalf("get incident %d: %v", id, err)
	}
	return inc
}

func (b *bundle) alerts(t *testing.T, id int64) []incident.Alert {
	t.Helper()
	var all []incident.Alert
	var after int64
	for {
		page, err := b.s.ListAlerts(b.ctx, store.ListAlertsParams{IncidentID: id, AfterID: after, Limit: 1000})
		if err != nil {
			t.Fatalf("list alerts: %v", err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all
		}
		after = page[len(page)-1].ID
	}
}

func (b *bundle) timeline(t *testing.T, id int64) []incident.TimelineEntry {
	t.Helper()
	tl, err := b.s.ListTimeline(b.ctx, store.ListTimelineParams{IncidentID: id, Limit: 1000})
	if err != nil {
		t.Fatalf("timeline: %v", err)
	}
	return tl
}

// am returns an Alertmanager-like firing event.
func am(name, service, fp string) incident.Event {
	return incident.Event{
		Source: incident.SourceAlertmanager, Status: incident.AlertFiring, Key: fp,
		Labels:      map[string]string{"alertname": name, "service": service, "severity": "critical"},
		Annotations: map[string]string{"summary": name + " on " + service},
		Summary:     name + " on " + service, Severity: incident.SeverityCritical, StartsAt: t0,
	}
}

func resolved(e incident.Event) incident.Event {
	e.Status = incident.AlertResolved
	e.EndsAt = t0.Add(time.Minute)
	return e
}

// Run runs the whole suite against an engine.
func Run(t *testing.T, f Factory, second SecondHandle) {
	t.Run("MigrateTwice", func(t *testing.T) {
		b := setup(t, f)
		if err := b.s.Migrate(b.ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
	})
	t.Run("OpenGroupRepeat", func(t *testing.T) { testOpenGroupRepeat(t, f) })
	t.Run("RetriesCountNotDuplicate", func(t *testing.T) { testRetries(t, f) })
	t.Run("AutoResolveAndRefire", func(t *testing.T) { testAutoResolve(t, f) })
	t.Run("AutoResolveOff", func(t *testing.T) { testAutoResolveOff(t, f) })
	t.Run("FireAndResolveInOneBatch", func(t *testing.T) { testSameBatch(t, f) })
	t.Run("Storm", func(t *testing.T) { testStorm(t, f) })
	t.Run("Actions", func(t *testing.T) { testActions(t, f) })
	t.Run("ManualResolveClosesAlerts", func(t *testing.T) { testManualResolve(t, f) })
	t.Run("AcknowledgeEvent", func(t *testing.T) { testAckEvent(t, f) })
	t.Run("RepeatSummaries", func(t *testing.T) { testRepeatSummaries(t, f) })
	t.Run("ListFiltersAndPages", func(t *testing.T) { testList(t, f) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, f) })
	t.Run("PlaybookVersions", func(t *testing.T) { testPlaybookVersions(t, f) })
	t.Run("HostileValuesStoredVerbatim", func(t *testing.T) { testHostile(t, f) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, f, second) })
	t.Run("Jobs", func(t *testing.T) { runJobs(t, f, second) })
	t.Run("Runs", func(t *testing.T) { runRuns(t, f, second) })
	t.Run("People", func(t *testing.T) { runPeople(t, f, second) })
	t.Run("Response", func(t *testing.T) { runResponse(t, f) })
}

func testOpenGroupRepeat(t *testing.T, f Factory) {
	b := setup(t, f)
	res := b.apply(t, am("HighQueueDepth", "job-worker", "a1"), am("HighQueueDepth", "job-worker", "a2"), am("HighQueueDepth", "api", "a3"))
	if res[0].Outcome != incident.OutcomeOpened || res[1].Outcome != incident.OutcomeGrouped || res[2].Outcome != incident.OutcomeOpened {
		t.Fatalf("outcomes = %v %v %v, want opened grouped opened", res[0].Outcome, res[1].Outcome, res[2].Outcome)
	}
	if res[0].IncidentID != res[1].IncidentID || res[0].IncidentID == res[2].IncidentID {
		t.Fatalf("incident ids = %d %d %d: a1 and a2 share one, a3 has its own", res[0].IncidentID, res[1].IncidentID, res[2].IncidentID)
	}
	inc := b.incident(t, res[0].IncidentID)
	if inc.AlertCount != 2 || inc.FiringCount != 2 || inc.Status != incident.StatusTriggered || inc.Severity != incident.SeverityCritical {
		t.Fatalf("incident = %+v", inc)
	}
	if inc.Service != "job-worker" || inc.Title != "HighQueueDepth: HighQueueDepth on job-worker" {
		t.Fatalf("service %q title %q", inc.Service, inc.Title)
	}
	if inc.GroupLabels["alertname"] != "HighQueueDepth" || inc.GroupLabels["service"] != "job-worker" {
		t.Fatalf("group labels = %v", inc.GroupLabels)
	}
	// A later batch groups into the open incident too.
	res2 := b.apply(t, am("HighQueueDepth", "job-worker", "a4"), am("HighQueueDepth", "job-worker", "a1"))
	if res2[0].Outcome != incident.OutcomeGrouped || res2[0].IncidentID != res[0].IncidentID {
		t.Fatalf("a4 = %+v, want grouped into %d", res2[0], res[0].IncidentID)
	}
	if res2[1].Outcome != incident.OutcomeRepeat {
		t.Fatalf("a1 again = %+v, want repeat", res2[1])
	}
	alerts := b.alerts(t, res[0].IncidentID)
	if len(alerts) != 3 {
		t.Fatalf("%d alerts, want 3", len(alerts))
	}
	if alerts[0].Fingerprint != "alertmanager:a1" || alerts[0].Count != 2 || alerts[0].Labels["service"] != "job-worker" {
		t.Fatalf("first alert = %+v", alerts[0])
	}
}

func testRetries(t *testing.T, f Factory) {
	b := setup(t, f)
	e := am("HighQueueDepth", "job-worker", "fp1")
	var id int64
	for i := 0; i < 5; i++ {
		res := b.apply(t, e)
		if id == 0 {
			id = res[0].IncidentID
		}
		if res[0].IncidentID != id {
			t.Fatalf("retry %d went to incident %d, want %d", i, res[0].IncidentID, id)
		}
	}
	incs, err := b.s.ListIncidents(b.ctx, store.ListIncidentsParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	alerts := b.alerts(t, id)
	if len(alerts) != 1 || alerts[0].Count != 5 {
		t.Fatalf("alerts = %d (count %d), want 1 alert received 5 times", len(alerts), alerts[0].Count)
	}
	if incs[0].Repeats != 4 {
		t.Fatalf("incident repeats = %d, want 4", incs[0].Repeats)
	}
}

func testAutoResolve(t *testing.T, f Factory) {
	b := setup(t, f)
	a1, a2 := am("ServiceDown", "api", "s1"), am("ServiceDown", "api", "s2")
	res := b.apply(t, a1, a2)
	id := res[0].IncidentID
	b.apply(t, resolved(a1))
	if inc := b.incident(t, id); inc.Status != incident.StatusTriggered || inc.FiringCount != 1 {
		t.Fatalf("after one resolve: status %s firing %d", inc.Status, inc.FiringCount)
	}
	b.apply(t, resolved(a2))
	inc := b.incident(t, id)
	if inc.Status != incident.StatusResolved || inc.ResolvedAt.IsZero() || inc.FiringCount != 0 {
		t.Fatalf("after all resolved: %+v", inc)
	}
	// Firing again later opens a new incident, as PagerDuty does.
	res = b.apply(t, a1)
	if res[0].Outcome != incident.OutcomeOpened || res[0].IncidentID == id {
		t.Fatalf("refire = %+v, want a new incident", res[0])
	}
	// Resolving an alert that is not firing is ignored.
	res = b.apply(t, resolved(am("Unknown", "x", "nope")))
	if res[0].Outcome != incident.OutcomeIgnored {
		t.Fatalf("resolve of unknown = %v", res[0].Outcome)
	}
	kinds := kindsOf(b.timeline(t, id))
	want := []incident.EventKind{incident.KindOpened, incident.KindAlertResolve, incident.KindAlertResolve, incident.KindResolved}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("timeline kinds = %v, want %v", kinds, want)
	}
}

func kindsOf(tl []incident.TimelineEntry) []incident.EventKind {
	var out []incident.EventKind
	for _, e := range tl {
		out = append(out, e.Kind)
	}
	return out
}

func testAutoResolveOff(t *testing.T, f Factory) {
	b := setup(t, f)
	b.opt.AutoResolve = false
	a := am("ServiceDown", "api", "s1")
	id := b.apply(t, a)[0].IncidentID
	b.apply(t, resolved(a))
	inc := b.incident(t, id)
	if inc.Status != incident.StatusTriggered || inc.FiringCount != 0 {
		t.Fatalf("with auto-resolve off: status %s firing %d", inc.Status, inc.FiringCount)
	}
	// The same alert firing again joins the still-open incident.
	res := b.apply(t, a)
	if res[0].IncidentID != id || res[0].Outcome != incident.OutcomeGrouped {
		t.Fatalf("refire = %+v, want grouped into %d", res[0], id)
	}
}

func testSameBatch(t *testing.T, f Factory) {
	b := setup(t, f)
	a := am("Flap", "api", "f1")
	res := b.apply(t, a, resolved(a), a)
	if res[0].Outcome != incident.OutcomeOpened || res[1].Outcome != incident.OutcomeResolved || res[2].Outcome != incident.OutcomeOpened {
		t.Fatalf("outcomes %v %v %v", res[0].Outcome, res[1].Outcome, res[2].Outcome)
	}
	if res[0].IncidentID == res[2].IncidentID {
		t.Fatalf("the refire should open a new incident after the auto-resolve")
	}
	first := b.alerts(t, res[0].IncidentID)
	if len(first) != 1 || first[0].Status != incident.AlertResolved {
		t.Fatalf("first episode = %+v", first)
	}
	// An alert already stored that flaps within one batch: the resolved
	// episode is written before the new one takes the fingerprint.
	res = b.apply(t, resolved(a), a)
	if res[0].Outcome != incident.OutcomeResolved || res[1].Outcome != incident.OutcomeOpened {
		t.Fatalf("flap of a stored alert: %v %v", res[0].Outcome, res[1].Outcome)
	}
}

func testStorm(t *testing.T, f Factory) {
	b := setup(t, f)
	const n, batch = 10000, 500
	var id int64
	for i := 0; i < n; i += batch {
		events := make([]incident.Event, batch)
		for j := range events {
			e := am("HighAPIErrorRate", "telegram-platform", fmt.Sprintf("storm-%05d", i+j))
			e.Labels = map[string]string{"alertname": "HighAPIErrorRate", "service": "telegram-platform", "pod": fmt.Sprintf("pod-%d", i+j)}
			events[j] = e
		}
		for _, r := range b.apply(t, events...) {
			if id == 0 {
				id = r.IncidentID
			}
			if r.IncidentID != id {
				t.Fatalf("alert went to incident %d, want %d", r.IncidentID, id)
			}
		}
	}
	incs, err := b.s.ListIncidents(b.ctx, store.ListIncidentsParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].AlertCount != n || incs[0].FiringCount != n {
		t.Fatalf("incidents = %d, first = %+v; want one holding %d alerts", len(incs), incs[0], n)
	}
	if got := len(b.alerts(t, id)); got != n {
		t.Fatalf("%d alerts stored, want %d", got, n)
	}
	if tl := b.timeline(t, id); len(tl) != 1 {
		t.Fatalf("timeline has %d entries before a flush, want only the opening: joins are summarised", len(tl))
	}
	err = b.s.InTx(b.ctx, func(tx store.Tx) error {
		_, err := incident.FlushSummaries(b.ctx, tx, t0, 100)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tl := b.timeline(t, id)
	if len(tl) != 2 || tl[0].Message != "Incident opened: HighAPIErrorRate: HighAPIErrorRate on telegram-platform (critical), 500 alerts" || tl[1].Message != "+9500 alerts joined" {
		t.Fatalf("timeline = %+v", tl)
	}
}

func testActions(t *testing.T, f Factory) {
	b := setup(t, f)
	id := b.apply(t, am("HighQueueDepth", "job-worker", "q1"))[0].IncidentID
	inc, err := b.act(t, id, incident.Action{Kind: incident.ActionAck}, "alice")
	if err != nil || inc.Status != incident.StatusAcknowledged || inc.Responder != "alice" || inc.AcknowledgedAt.IsZero() {
		t.Fatalf("ack: %+v %v", inc, err)
	}
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionAck}, "bob"); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Fatalf("second ack: err = %v, want conflict", err)
	}
	impact, eta := "Jobs delayed ~10 min", "20 minutes"
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionUpdate, Impact: &impact, ETA: &eta}, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionAssign, Text: "bob"}, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionNote, Text: "scaled job-worker to 15"}, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionNote, Text: "  "}, "bob"); incident.ErrorCode(err) != incident.EINVALID {
		t.Fatalf("empty note: err = %v, want invalid", err)
	}
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionResolve}, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionReopen}, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.act(t, 999999, incident.Action{Kind: incident.ActionAck}, "bob"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("ack of missing: err = %v, want not found", err)
	}
	inc = b.incident(t, id)
	if inc.Status != incident.StatusTriggered || inc.Impact != impact || inc.ETA != eta || inc.Responder != "bob" || !inc.ResolvedAt.IsZero() {
		t.Fatalf("after actions: %+v", inc)
	}
	tl := b.timeline(t, id)
	want := []struct {
		kind  incident.EventKind
		actor string
	}{
		{incident.KindOpened, incident.ActorSystem}, {incident.KindAcknowledged, "alice"}, {incident.KindUpdated, "alice"},
		{incident.KindAssigned, "alice"}, {incident.KindNote, "bob"}, {incident.KindResolved, "bob"}, {incident.KindReopened, "carol"},
	}
	if len(tl) != len(want) {
		t.Fatalf("timeline = %v, want %d entries", kindsOf(tl), len(want))
	}
	for i, w := range want {
		if tl[i].Kind != w.kind || tl[i].Actor != w.actor {
			t.Errorf("timeline[%d] = %s by %s, want %s by %s", i, tl[i].Kind, tl[i].Actor, w.kind, w.actor)
		}
		if i > 0 && tl[i].ID <= tl[i-1].ID {
			t.Errorf("timeline ids not increasing at %d", i)
		}
	}
	if tl[4].Message != "scaled job-worker to 15" {
		t.Errorf("note message = %q", tl[4].Message)
	}
}

func testManualResolve(t *testing.T, f Factory) {
	b := setup(t, f)
	a := am("HighQueueDepth", "job-worker", "m1")
	id := b.apply(t, a)[0].IncidentID
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionResolve}, "alice"); err != nil {
		t.Fatal(err)
	}
	if al := b.alerts(t, id); al[0].Status != incident.AlertResolved {
		t.Fatalf("alert after manual resolve = %s", al[0].Status)
	}
	res := b.apply(t, a)
	if res[0].Outcome != incident.OutcomeOpened || res[0].IncidentID == id {
		t.Fatalf("fire after manual resolve = %+v, want a new incident", res[0])
	}
	// Reopening the old one would put two open incidents on one group.
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionReopen}, "alice"); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Fatalf("reopen with another open incident in the group: err = %v, want conflict", err)
	}
}

func testAckEvent(t *testing.T, f Factory) {
	b := setup(t, f)
	e := incident.Event{Source: incident.SourcePagerDuty, Status: incident.AlertFiring, Key: "dk1",
		Labels: map[string]string{"alertname": "disk", "service": "db"}, Summary: "Disk full", Severity: incident.SeverityWarning}
	id := b.apply(t, e)[0].IncidentID
	e.Status = incident.AlertAcknowledged
	e.Labels = nil
	res := b.apply(t, e)
	if res[0].Outcome != incident.OutcomeAcknowledged {
		t.Fatalf("ack outcome = %v", res[0].Outcome)
	}
	if inc := b.incident(t, id); inc.Status != incident.StatusAcknowledged {
		t.Fatalf("status = %s", inc.Status)
	}
	e.Status = incident.AlertResolved
	b.apply(t, e)
	if inc := b.incident(t, id); inc.Status != incident.StatusResolved {
		t.Fatalf("status after resolve event = %s", inc.Status)
	}
	// A resolve without labels keeps the labels the alert fired with.
	if al := b.alerts(t, id); al[0].Labels["service"] != "db" {
		t.Fatalf("labels after resolve = %v", al[0].Labels)
	}
}

func testRepeatSummaries(t *testing.T, f Factory) {
	b := setup(t, f)
	e := am("HighQueueDepth", "job-worker", "r1")
	id := b.apply(t, e)[0].IncidentID
	for i := 0; i < 37; i++ {
		b.apply(t, e)
	}
	if n := len(b.timeline(t, id)); n != 1 {
		t.Fatalf("37 repeats wrote %d timeline entries before a flush, want only the opening", n)
	}
	var flushed int
	err := b.s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		flushed, err = incident.FlushSummaries(b.ctx, tx, t0, 100)
		return err
	})
	if err != nil || flushed != 1 {
		t.Fatalf("flush: %d, %v", flushed, err)
	}
	tl := b.timeline(t, id)
	if len(tl) != 2 || tl[1].Message != "+37 repeats" {
		t.Fatalf("timeline = %+v", tl)
	}
	// Nothing more to flush; a note after three more repeats summarises them first.
	for i := 0; i < 3; i++ {
		b.apply(t, e)
	}
	if _, err := b.act(t, id, incident.Action{Kind: incident.ActionNote, Text: "looking"}, "alice"); err != nil {
		t.Fatal(err)
	}
	tl = b.timeline(t, id)
	if len(tl) != 4 || tl[2].Message != "+3 repeats" || tl[3].Kind != incident.KindNote {
		t.Fatalf("timeline = %v", kindsOf(tl))
	}
}

func testList(t *testing.T, f Factory) {
	b := setup(t, f)
	var ids []int64
	for i := 0; i < 7; i++ {
		e := am(fmt.Sprintf("Alert%d", i), "svc-"+fmt.Sprint(i%2), fmt.Sprintf("l%d", i))
		if i%3 == 0 {
			e.Severity = incident.SeverityWarning
		}
		ids = append(ids, b.apply(t, e)[0].IncidentID)
	}
	if _, err := b.act(t, ids[1], incident.Action{Kind: incident.ActionAck}, "alice"); err != nil {
		t.Fatal(err)
	}
	var got []int64
	p := store.ListIncidentsParams{Limit: 3}
	for {
		page, err := b.s.ListIncidents(b.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range page {
			got = append(got, i.ID)
		}
		if len(page) < p.Limit {
			break
		}
		p.BeforeID = page[len(page)-1].ID
	}
	if len(got) != 7 || got[0] != ids[6] || got[6] != ids[0] {
		t.Fatalf("paged ids = %v, want the 7 newest first", got)
	}
	filter := func(p store.ListIncidentsParams) int {
		p.Limit = 100
		l, err := b.s.ListIncidents(b.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	if n := filter(store.ListIncidentsParams{Status: []incident.Status{incident.StatusAcknowledged}}); n != 1 {
		t.Errorf("acknowledged = %d, want 1", n)
	}
	if n := filter(store.ListIncidentsParams{Severity: []incident.Severity{incident.SeverityWarning}}); n != 3 {
		t.Errorf("warning = %d, want 3", n)
	}
	if n := filter(store.ListIncidentsParams{Service: "svc-1"}); n != 3 {
		t.Errorf("svc-1 = %d, want 3", n)
	}
	counts, err := b.s.CountOpenIncidents(b.ctx)
	sum := func(sev incident.Severity) int {
		n := 0
		for _, bySev := range counts {
			n += bySev[sev]
		}
		return n
	}
	if err != nil || sum(incident.SeverityCritical) != 4 || sum(incident.SeverityWarning) != 3 || len(counts[incident.StatusAcknowledged]) != 1 ||
		counts[incident.StatusResolved] != nil {
		t.Errorf("open counts = %v, %v", counts, err)
	}
}

func testTokens(t *testing.T, f Factory) {
	b := setup(t, f)
	if ok, err := b.s.HasAdmin(b.ctx); err != nil || ok {
		t.Fatalf("fresh store has admin = %v, %v", ok, err)
	}
	h := sha256.Sum256([]byte("fbt_secret"))
	tok := &auth.Token{Name: "alice", Role: auth.RoleAdmin, Hash: h[:], Prefix: "fbt_secr", CreatedAt: t0}
	err := b.s.InTx(b.ctx, func(tx store.Tx) error { return tx.CreateToken(b.ctx, tok) })
	if err != nil || tok.ID == 0 {
		t.Fatalf("create token: %v", err)
	}
	got, err := b.s.TokenByHash(b.ctx, h[:])
	if err != nil || got.Name != "alice" || got.Role != auth.RoleAdmin {
		t.Fatalf("by hash = %+v, %v", got, err)
	}
	if ok, _ := b.s.HasAdmin(b.ctx); !ok {
		t.Fatal("HasAdmin = false after creating one")
	}
	h2 := sha256.Sum256([]byte("other"))
	dup := &auth.Token{Name: "alice", Role: auth.RoleViewer, Hash: h2[:], Prefix: "x", CreatedAt: t0}
	err = b.s.InTx(b.ctx, func(tx store.Tx) error { return tx.CreateToken(b.ctx, dup) })
	if incident.ErrorCode(err) != incident.ECONFLICT {
		t.Fatalf("duplicate live name: err = %v, want conflict", err)
	}
	err = b.s.InTx(b.ctx, func(tx store.Tx) error {
		if err := tx.RevokeToken(b.ctx, tok.ID, t0); err != nil {
			return err
		}
		return tx.AppendAudit(b.ctx, &auth.AuditEntry{At: t0, Actor: "root", Action: "token.revoke", Target: "alice"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.TokenByHash(b.ctx, h[:]); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("revoked token lookup: err = %v, want not found", err)
	}
	// The name is free again once revoked.
	err = b.s.InTx(b.ctx, func(tx store.Tx) error { return tx.CreateToken(b.ctx, dup) })
	if err != nil {
		t.Fatalf("reuse of a revoked name: %v", err)
	}
	all, err := b.s.ListTokens(b.ctx)
	if err != nil || len(all) != 2 || all[0].RevokedAt.IsZero() {
		t.Fatalf("list = %+v, %v", all, err)
	}
}

func testPlaybookVersions(t *testing.T, f Factory) {
	b := setup(t, f)
	v := store.PlaybookVersion{Hash: "abc", Name: "telegram-platform", Path: "p.md", Content: []byte("# ðŸ”´ text\n"), LoadedAt: t0}
	for i := 0; i < 2; i++ {
		if err := b.s.SavePlaybookVersion(b.ctx, v); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	got, err := b.s.GetPlaybookVersion(b.ctx, "abc")
	if err != nil || string(got.Content) != string(v.Content) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := b.s.GetPlaybookVersion(b.ctx, "nope"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("missing version: %v", err)
	}
	v2 := store.PlaybookVersion{Hash: "def", Name: "telegram-platform", Path: "p.md", Content: []byte("# v2\n"), LoadedAt: t0.Add(time.Hour)}
	other := store.PlaybookVersion{Hash: "zzz", Name: "other", Path: "o.md", Content: []byte("# o\n"), LoadedAt: t0}
	for _, x := range []store.PlaybookVersion{v2, other} {
		if err := b.s.SavePlaybookVersion(b.ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	list, err := b.s.ListPlaybookVersions(b.ctx, "telegram-platform", 10)
	if err != nil || len(list) != 2 || list[0].Hash != "def" || list[1].Hash != "abc" || list[0].Content != nil || !list[0].LoadedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ListPlaybookVersions = %+v, %v", list, err)
	}
}

func testHostile(t *testing.T, f Factory) {
	b := setup(t, f)
	hostile := []string{"'; DROP TABLE alerts; --", "$(touch /tmp/pwned)", "`id`", "a\nb\r\nc", "%s%d%n", "\x00nul", "ðŸ”´ 🔴"}
	for i, h := range hostile {
		e := am(h, h, fmt.Sprintf("h%d", i))
		e.Annotations = map[string]string{"summary": h, h: h}
		e.Summary = h
		id := b.apply(t, e)[0].IncidentID
		al := b.alerts(t, id)
		if len(al) != 1 || al[0].Labels["alertname"] != h || al[0].Annotations[h] != h || al[0].Summary != h {
			t.Fatalf("hostile %q stored as %+v", h, al)
		}
	}
	incs, err := b.s.ListIncidents(b.ctx, store.ListIncidentsParams{Limit: 100})
	if err != nil || len(incs) != len(hostile) {
		t.Fatalf("after hostile values: %d incidents, %v", len(incs), err)
	}
}

// testConcurrent races writers that open the same groups. With a second
// handle (another instance on the same database) they race across
// instances too. Whatever the interleaving, each group has one incident and
// each fingerprint one firing alert.
func testConcurrent(t *testing.T, f Factory, second SecondHandle) {
	b := setup(t, f)
	stores := []store.Store{b.s}
	if second != nil {
		stores = append(stores, second(t, b.s))
	}
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := stores[w%len(stores)]
			for r := 0; r < rounds; r++ {
				events := []incident.Event{
					am("Shared", "api", fmt.Sprintf("w%d-r%d", w, r)),
					am("Shared", "api", "common"),
					am(fmt.Sprintf("Own%d", w), "api", fmt.Sprintf("own-%d-%d", w, r)),
				}
				err := s.InTx(b.ctx, func(tx store.Tx) error {
					_, _, err := incident.Apply(b.ctx, tx, events, b.opt)
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	incs, err := b.s.ListIncidents(b.ctx, store.ListIncidentsParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != workers+1 {
		t.Fatalf("%d incidents, want %d (one shared + one per worker)", len(incs), workers+1)
	}
	for _, inc := range incs {
		want := rounds
		if inc.GroupLabels["alertname"] == "Shared" {
			want = workers*rounds + 1
		}
		if inc.AlertCount != want || inc.FiringCount != want {
			t.Errorf("%s: alert_count %d firing %d, want %d", inc.Title, inc.AlertCount, inc.FiringCount, want)
		}
		if got := len(b.alerts(t, inc.ID)); got != want {
			t.Errorf("%s: %d alert rows, want %d", inc.Title, got, want)
		}
	}
}
