package storetest

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

func runResponse(t *testing.T, f Factory) {
	t.Run("Communications", func(t *testing.T) { testCommunications(t, f) })
	t.Run("PhaseStates", func(t *testing.T) { testPhaseStates(t, f) })
	t.Run("WatchedByGroup", func(t *testing.T) { testWatchedByGroup(t, f) })
	t.Run("Reviews", func(t *testing.T) { testReviews(t, f) })
	t.Run("ListByStart", func(t *testing.T) { testListByStart(t, f) })
	t.Run("CountTimeline", func(t *testing.T) { testCountTimeline(t, f) })
}

func testCommunications(t *testing.T, f Factory) {
	b := setup(t, f)
	id := b.apply(t, am("Comms", "api", "c1"))[0].IncidentID
	c := &incident.Communication{IncidentID: id, Status: incident.CommDraft, Subject: "Degraded", Body: "We are \x00 on it",
		CreatedBy: "ana", CreatedAt: t0, UpdatedAt: t0}
	b.tx(t, func(tx store.Tx) error { return tx.SaveCommunication(b.ctx, c) })
	if c.ID == 0 {
		t.Fatal("no ID")
	}
	c.Status, c.Channel, c.SentBy, c.SentAt, c.UpdatedAt = incident.CommSent, "status-page", "ana", t0.Add(time.Minute), t0.Add(time.Minute)
	b.tx(t, func(tx store.Tx) error {
		got, err := tx.LockCommunication(b.ctx, c.ID)
		if err != nil || got.Body != c.Body || got.Status != incident.CommDraft {
			t.Fatalf("LockCommunication = %+v, %v", got, err)
		}
		return tx.SaveCommunication(b.ctx, c)
	})
	got, err := b.s.GetCommunication(b.ctx, c.ID)
	if err != nil || got.Status != incident.CommSent || got.Channel != "status-page" || !got.SentAt.Equal(t0.Add(time.Minute)) || got.Body != c.Body {
		t.Fatalf("GetCommunication = %+v, %v", got, err)
	}
	list, err := b.s.ListCommunications(b.ctx, id)
	if err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("ListCommunications = %+v, %v", list, err)
	}
	if _, err := b.s.GetCommunication(b.ctx, c.ID+100); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("missing communication: %v", err)
	}
}

func testPhaseStates(t *testing.T, f Factory) {
	b := setup(t, f)
	id := b.apply(t, am("Phases", "api", "p1"))[0].IncidentID
	b.tx(t, func(tx store.Tx) error {
		p, err := tx.LockPhaseState(b.ctx, id)
		if err != nil || p != nil {
			t.Fatalf("no state yet: %+v, %v", p, err)
		}
		return tx.SavePhaseState(b.ctx, &store.PhaseState{IncidentID: id, State: []byte(`{"phase":"detection"}`), UpdatedAt: t0})
	})
	b.tx(t, func(tx store.Tx) error {
		return tx.SavePhaseState(b.ctx, &store.PhaseState{IncidentID: id, State: []byte(`{"phase":"recovery"}`), WatchUntil: t0.Add(30 * time.Minute), UpdatedAt: t0.Add(time.Minute)})
	})
	got, err := b.s.PhaseStates(b.ctx, []int64{id, id + 1})
	if err != nil || len(got) != 1 || string(got[id].State) != `{"phase":"recovery"}` || !got[id].WatchUntil.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("PhaseStates = %+v, %v", got, err)
	}
}

// An incident under recovery watch is found by its group until the watch
// ends; one that is open, or whose watch ended, is not.
func testWatchedByGroup(t *testing.T, f Factory) {
	b := setup(t, f)
	res := b.apply(t, am("Flappy", "api", "w1"))
	id := res[0].IncidentID
	b.apply(t, resolved(am("Flappy", "api", "w1")))
	inc := b.incident(t, id)
	if inc.Status != incident.StatusResolved {
		t.Fatalf("status %s", inc.Status)
	}
	watch := func(at time.Time) map[string]*incident.Incident {
		var out map[string]*incident.Incident
		b.tx(t, func(tx store.Tx) error {
			var err error
			out, err = tx.WatchedByGroup(b.ctx, []string{inc.GroupKey, "other"}, at)
			return err
		})
		return out
	}
	if got := watch(t0); len(got) != 0 {
		t.Fatalf("no watch yet, got %v", got)
	}
	b.tx(t, func(tx store.Tx) error {
		return tx.SavePhaseState(b.ctx, &store.PhaseState{IncidentID: id, State: []byte(`{}`), WatchUntil: t0.Add(30 * time.Minute), UpdatedAt: t0})
	})
	if got := watch(t0.Add(29 * time.Minute)); got[inc.GroupKey] == nil || got[inc.GroupKey].ID != id || len(got) != 1 {
		t.Fatalf("inside the watch: %v", got)
	}
	if got := watch(t0.Add(30 * time.Minute)); len(got) != 0 {
		t.Fatalf("the watch ended at 30 min, got %v", got)
	}
}

func testReviews(t *testing.T, f Factory) {
	b := setup(t, f)
	id := b.apply(t, am("Review", "api", "r1"))[0].IncidentID
	for i, status := range []string{"draft", "draft", "final"} {
		r := &store.Review{IncidentID: id, Status: status, Markdown: "# v" + string(rune('1'+i)), CreatedBy: "ana", CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
		b.tx(t, func(tx store.Tx) error { return tx.AddReview(b.ctx, r) })
		if r.Version != i+1 {
			t.Fatalf("version %d, want %d", r.Version, i+1)
		}
	}
	vs, err := b.s.ListReviews(b.ctx, id)
	if err != nil || len(vs) != 3 || vs[2].Status != "final" || vs[0].Markdown != "# v1" || !vs[1].CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ListReviews = %+v, %v", vs, err)
	}
}

func testListByStart(t *testing.T, f Factory) {
	b := setup(t, f)
	for i, name := range []string{"A", "B", "C"} {
		b.opt.Now = t0.Add(time.Duration(i) * time.Hour)
		b.apply(t, am(name, "api", name))
	}
	got, err := b.s.ListIncidents(b.ctx, store.ListIncidentsParams{StartedFrom: t0.Add(time.Hour), StartedTo: t0.Add(2 * time.Hour), Limit: 10})
	if err != nil || len(got) != 1 || got[0].GroupLabels["alertname"] != "B" {
		t.Fatalf("ListIncidents by start = %+v, %v", got, err)
	}
}

func testCountTimeline(t *testing.T, f Factory) {
	b := setup(t, f)
	a := b.apply(t, am("A", "api", "a"))[0].IncidentID
	c := b.apply(t, am("C", "api", "c"))[0].IncidentID
	for _, id := range []int64{a, a, c} {
		if _, err := b.act(t, id, incident.Action{Kind: incident.ActionNote, Text: "n"}, "ana"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.s.CountTimeline(b.ctx, []int64{a, c, c + 100}, []string{string(incident.KindNote), string(incident.KindOpened)})
	if err != nil {
		t.Fatal(err)
	}
	if got[a]["note"] != 2 || got[c]["note"] != 1 || got[a][string(incident.KindOpened)] != 1 || len(got) != 2 {
		t.Fatalf("CountTimeline = %v", got)
	}
}
