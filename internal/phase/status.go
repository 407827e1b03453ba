package phase

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// PhaseView is one phase as the API and the console show it.
type PhaseView struct {
	Number    int      `json:"number"`
	Key       string   `json:"key"`
	Name      string   `json:"name"`
	Role      Role     `json:"role"`
	Window    string   `json:"window,omitempty"`
	Checklist []string `json:"checklist"`
	// State is done, current or upcoming.
	State         string    `json:"state"`
	Start         time.Time `json:"start,omitzero"`
	End           time.Time `json:"end,omitzero"`
	SpentSeconds  int64     `json:"spent_seconds"`
	BudgetSeconds int64     `json:"budget_seconds,omitempty"`
	// Deadline is when the budget runs out (the review's due date for
	// Review); LeftSeconds how long until then, negative once past, for
	// phases not yet over on an open incident.
	Deadline    time.Time `json:"deadline,omitzero"`
	LeftSeconds *int64    `json:"left_seconds,omitempty"`
	Breached    bool      `json:"breached"`
}

// WatchView is a recovery watch with its outcome in words.
type WatchView struct {
	Watch
	WindowSeconds int64  `json:"window_seconds"`
	Summary       string `json:"summary"`
}

// Status is an incident's phases and clocks.
type Status struct {
	IncidentID int64       `json:"incident_id"`
	Current    string      `json:"current"`
	Phases     []PhaseView `json:"phases"`
	Breaches   []Breach    `json:"breaches"`
	Watch      *WatchView  `json:"watch,omitempty"`
	Watches    []WatchView `json:"past_watches,omitempty"`
	ReviewDue  time.Time   `json:"review_due,omitzero"`
	// Commander is the incident's responder, the template's
	// "Investigating: [Team member]".
	Commander    string        `json:"commander,omitempty"`
	Handovers    []Handover    `json:"handovers"`
	Participants []Participant `json:"participants"`
	Entered      []Entered     `json:"history"`
}

func watchView(w Watch) WatchView {
	return WatchView{Watch: w, WindowSeconds: int64(w.Window / time.Second), Summary: w.Summary()}
}

// Status returns where inc stands, at now.
func (e *Engine) Status(ctx context.Context, inc *incident.Incident) (*Status, error) {
	s, err := e.Load(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = Start(e.Defs(nil), e.playbookID(), inc.StartedAt)
	}
	return View(e.Defs(s), s, inc, e.now()), nil
}

// View is Status for a state already loaded.
func View(defs []Def, s *State, inc *incident.Incident, now time.Time) *Status {
	out := &Status{IncidentID: inc.ID, Breaches: s.Breaches, ReviewDue: s.ReviewDue, Commander: inc.Responder,
		Handovers: s.Handovers, Participants: s.Participants, Entered: s.Entered}
	if out.Breaches == nil {
		out.Breaches = []Breach{}
	}
	if out.Handovers == nil {
		out.Handovers = []Handover{}
	}
	if out.Participants == nil {
		out.Participants = []Participant{}
	}
	cur := s.Current()
	if cur != nil {
		out.Current = cur.Key
	}
	spent := s.Time(now)
	for _, d := range defs {
		v := PhaseView{Number: d.Number, Key: d.Key, Name: d.Name, Role: d.Role, Window: d.Window, Checklist: d.Checklist,
			SpentSeconds: int64(spent[d.Key] / time.Second), BudgetSeconds: int64(d.Budget / time.Second), Breached: s.Breached(d.Key)}
		if v.Checklist == nil {
			v.Checklist = []string{}
		}
		switch {
		case cur != nil && cur.Key == d.Key:
			v.State = "current"
		case cur != nil && rank(d.Role) < rank(cur.Role):
			v.State = "done"
		default:
			v.State = "upcoming"
		}
		for _, en := range s.Entered {
			if en.Key != d.Key {
				continue
			}
			if v.Start.IsZero() {
				v.Start = en.Start
			}
			v.End = en.End
		}
		if v.State == "current" {
			v.End = time.Time{}
		}
		if d.Budget > 0 && d.Role != Review {
			v.Deadline = inc.StartedAt.Add(d.Budget)
		}
		if d.Role == Review {
			v.Deadline = s.ReviewDue
		}
		over := v.State == "done" || (inc.Status == incident.StatusResolved && d.Role != Review)
		if !v.Deadline.IsZero() && !over {
			left := int64(v.Deadline.Sub(now) / time.Second)
			v.LeftSeconds = &left
		}
		out.Phases = append(out.Phases, v)
	}
	if s.Watch != nil {
		w := watchView(*s.Watch)
		out.Watch = &w
	}
	for _, w := range s.Watches {
		out.Watches = append(out.Watches, watchView(w))
	}
	return out
}
