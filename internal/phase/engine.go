package phase

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Job kinds of the phase clocks.
const (
	KindDeadline  = "phase.deadline"
	KindWatch     = "phase.watch"
	KindReviewDue = "phase.review_due"
)

// A breach that falls due with a page waits for the page to go out first,
// up to maxPageWaits times, from pageWait doubling.
const (
	pageWait     = 200 * time.Millisecond
	maxPageWaits = 6
)

// DefaultWatch is the recovery watch of a procedure that states none.
const DefaultWatch = 10 * time.Minute

// Metrics is told what the clocks measure.
type Metrics interface {
	Breach(phase string, inc *incident.Incident)
	Acknowledged(inc *incident.Incident, after time.Duration)
	Resolved(inc *incident.Incident, after time.Duration)
}

// Config sets up an Engine.
type Config struct {
	Store     store.Store
	Queue     *job.Queue[store.Tx]
	Playbooks *playbook.Library
	Calendar  Calendar
	// DefaultWatch is the recovery watch when the procedure states none.
	DefaultWatch time.Duration
	// Tell sends an event to those paged for an incident by a moment, in
	// tx (the escalation engine's Tell); nil sends nothing.
	Tell func(ctx context.Context, tx store.Tx, incidentID int64, event notify.Event, by time.Time) ([]string, error)
	// PagesDue reports whether a page of the incident fell due by at and
	// has not gone out yet (the escalation engine's Unpaged). A breach
	// waits a moment for it, so that everyone due to be paged by the
	// deadline hears of the breach; nil waits for nothing.
	PagesDue func(ctx context.Context, tx store.Tx, incidentID int64, at time.Time) (bool, error)
	// Review, when set, is asked in tx to (re)write an incident's review
	// draft: when it resolves and when its recovery watch ends.
	Review  func(ctx context.Context, tx store.Tx, incidentID int64, why string) error
	Metrics Metrics
	Now     func() time.Time
	Logger  *slog.Logger
}

// Engine runs the phase clocks.
type Engine struct {
	cfg Config
}

// New returns an Engine and registers its timers on the queue.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultWatch <= 0 {
		cfg.DefaultWatch = DefaultWatch
	}
	if cfg.Calendar.Location == nil {
		cfg.Calendar = DefaultCalendar()
	}
	e := &Engine{cfg: cfg}
	cfg.Queue.Handle(KindDeadline, e.deadline)
	cfg.Queue.Handle(KindWatch, e.watchEnd)
	cfg.Queue.Handle(KindReviewDue, e.reviewDue)
	return e
}

func (e *Engine) now() time.Time { return e.cfg.Now().UTC() }

// Defs returns the phases that apply to an incident of the given state
// (its playbook's), or of a new incident.
func (e *Engine) Defs(s *State) []Def {
	if e.cfg.Playbooks != nil {
		if s != nil && s.Playbook != "" {
			if pb := e.cfg.Playbooks.Playbook(s.Playbook); pb != nil && len(pb.Phases) > 0 {
				return DefsOf(pb)
			}
		}
		if pb := e.processPlaybook(); pb != nil {
			return DefsOf(pb)
		}
	}
	return DefaultDefs
}

// processPlaybook is the first loaded playbook with a response process.
func (e *Engine) processPlaybook() *playbook.Playbook {
	if e.cfg.Playbooks == nil {
		return nil
	}
	for _, pb := range e.cfg.Playbooks.Playbooks() {
		if len(pb.Phases) > 0 {
			return pb
		}
	}
	return nil
}

// procedure returns the procedure whose run an incident has, if any.
func (e *Engine) procedure(ctx context.Context, incidentID int64) (*playbook.Playbook, *playbook.Procedure) {
	if e.cfg.Playbooks == nil {
		return nil, nil
	}
	runs, err := e.cfg.Store.RunsOfIncident(ctx, incidentID)
	if err != nil || len(runs) == 0 {
		return nil, nil
	}
	pb := e.cfg.Playbooks.Playbook(runs[0].PlaybookID)
	if pb == nil {
		return nil, nil
	}
	return pb, pb.Procedure(runs[0].ProcedureKey)
}

// Load reads an incident's state outside a transaction; nil when it has
// none (an incident from before phases were kept).
func (e *Engine) Load(ctx context.Context, incidentID int64) (*State, error) {
	m, err := e.cfg.Store.PhaseStates(ctx, []int64{incidentID})
	if err != nil || m[incidentID] == nil {
		return nil, err
	}
	return decode(m[incidentID])
}

// Decode reads a state the store kept.
func Decode(p *store.PhaseState) (*State, error) { return decode(p) }

func decode(p *store.PhaseState) (*State, error) {
	var s State
	if err := json.Unmarshal(p.State, &s); err != nil {
		return nil, fmt.Errorf("phase state of incident %d: %w", p.IncidentID, err)
	}
	return &s, nil
}

// change loads and locks an incident's state in tx, lets fn change it,
// and saves it with fn's timeline entries.
func (e *Engine) change(ctx context.Context, tx store.Tx, inc *incident.Incident, fn func(s *State, add func(kind incident.EventKind, actor, msg string, data any)) error) error {
	p, err := tx.LockPhaseState(ctx, inc.ID)
	if err != nil {
		return err
	}
	var s *State
	if p == nil {
		// An incident from before phases were kept starts now.
		s = Start(e.Defs(nil), e.playbookID(), inc.StartedAt)
	} else if s, err = decode(p); err != nil {
		return err
	}
	var entries []*incident.TimelineEntry
	add := func(kind incident.EventKind, actor, msg string, data any) {
		b, _ := json.Marshal(data)
		if data == nil {
			b = nil
		}
		entries = append(entries, &incident.TimelineEntry{IncidentID: inc.ID, At: e.now(), Actor: actor, Kind: kind, Message: msg, Data: b})
	}
	if err := fn(s, add); err != nil {
		return err
	}
	if err := e.save(ctx, tx, inc.ID, s); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	return tx.AppendTimeline(ctx, entries)
}

func (e *Engine) playbookID() string {
	if pb := e.processPlaybook(); pb != nil {
		return pb.ID
	}
	return ""
}

func (e *Engine) save(ctx context.Context, tx store.Tx, id int64, s *State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	ps := &store.PhaseState{IncidentID: id, State: b, UpdatedAt: e.now()}
	if s.Watch != nil && s.Watch.Outcome == Watching {
		ps.WatchUntil = s.Watch.Until
	}
	return tx.SavePhaseState(ctx, ps)
}

func key(id int64, what string) string { return fmt.Sprintf("phase/%d/%s", id, what) }

type timerPayload struct {
	IncidentID int64  `json:"incident_id"`
	Phase      string `json:"phase,omitempty"`
}

func (e *Engine) timer(ctx context.Context, tx store.Tx, kind, k string, at time.Time, p timerPayload) error {
	payload, _ := json.Marshal(p)
	_, err := e.cfg.Queue.Insert(ctx, tx, job.NewJob{Kind: kind, Key: k, Payload: payload, RunAt: at, MaxAttempts: 10})
	return err
}

// entered is the timeline entry of a move.
func entered(add func(incident.EventKind, string, string, any), d Def, by, why string) {
	msg := fmt.Sprintf("Entered %s", d.Name)
	if d.Window != "" {
		msg += " (" + d.Window + ")"
	}
	if why != "" {
		msg += ": " + why
	}
	add("phase.entered", by, msg, map[string]any{"phase": d.Key, "role": d.Role, "why": why})
}

// OnChange is the lifecycle hook: it starts the clocks of new incidents
// and moves incidents through their phases as people act.
func (e *Engine) OnChange(ctx context.Context, tx store.Tx, c *respond.Change) error {
	for _, inc := range c.Opened {
		if err := e.open(ctx, tx, inc); err != nil {
			return fmt.Errorf("start the phase clocks of incident %d: %w", inc.ID, err)
		}
	}
	ids := append(append([]int64(nil), c.Resolved...), c.Reopened...)
	if c.Incident != nil {
		ids = append(ids, c.Incident.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	incs, err := tx.IncidentsByID(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range c.Resolved {
		if inc := incs[id]; inc != nil {
			if err := e.resolved(ctx, tx, inc, c); err != nil {
				return err
			}
		}
	}
	for _, id := range c.Reopened {
		if inc := incs[id]; inc != nil {
			if err := e.reopened(ctx, tx, inc, c); err != nil {
				return err
			}
		}
	}
	if c.Action != nil && c.Incident != nil && c.Action.Kind != incident.ActionResolve && c.Action.Kind != incident.ActionReopen {
		return e.acted(ctx, tx, incs[c.Incident.ID], c)
	}
	return nil
}

func (e *Engine) open(ctx context.Context, tx store.Tx, inc *incident.Incident) error {
	defs := e.Defs(nil)
	s := Start(defs, e.playbookID(), inc.StartedAt)
	if err := e.save(ctx, tx, inc.ID, s); err != nil {
		return err
	}
	for _, d := range defs {
		if d.Budget <= 0 || d.Role == Review {
			continue
		}
		if err := e.timer(ctx, tx, KindDeadline, key(inc.ID, "deadline/"+d.Key), inc.StartedAt.Add(d.Budget), timerPayload{IncidentID: inc.ID, Phase: d.Key}); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) acted(ctx context.Context, tx store.Tx, inc *incident.Incident, c *respond.Change) error {
	if inc == nil {
		return nil
	}
	return e.change(ctx, tx, inc, func(s *State, add func(incident.EventKind, string, string, any)) error {
		defs := e.Defs(s)
		switch c.Action.Kind {
		case incident.ActionAck:
			s.AddParticipant(c.Actor, "acknowledged", c.At)
			if len(s.Handovers) == 0 && inc.Responder != "" {
				s.Handovers = append(s.Handovers, Handover{To: inc.Responder, At: c.At, By: c.Actor})
			}
			d := def(defs, Containment)
			if s.Advance(d, c.At, c.Actor, "acknowledged by "+c.Actor) {
				entered(add, d, c.Actor, "acknowledged by "+c.Actor)
			}
			if e.cfg.Metrics != nil {
				e.cfg.Metrics.Acknowledged(inc, c.At.Sub(inc.StartedAt))
			}
		case incident.ActionAssign:
			from := ""
			if n := len(s.Handovers); n > 0 {
				from = s.Handovers[n-1].To
			}
			s.Handovers = append(s.Handovers, Handover{From: from, To: c.Action.Text, At: c.At, By: c.Actor})
			s.AddParticipant(c.Action.Text, "commander", c.At)
			msg := fmt.Sprintf("Incident commander: %s, handed over by %s", or(c.Action.Text, "nobody"), c.Actor)
			if from != "" {
				msg = fmt.Sprintf("Incident commander handed over from %s to %s by %s", from, or(c.Action.Text, "nobody"), c.Actor)
			}
			add("incident.handover", c.Actor, msg, map[string]string{"from": from, "to": c.Action.Text})
		case incident.ActionNote:
			s.AddParticipant(c.Actor, "noted", c.At)
		case incident.ActionEscalate:
			s.AddParticipant(c.Actor, "escalated", c.At)
		case incident.ActionUpdate:
			s.AddParticipant(c.Actor, "updated", c.At)
		case incident.ActionPhase:
			d, ok := DefByKey(defs, c.Action.Text)
			if !ok {
				var keys []string
				for _, d := range defs {
					keys = append(keys, d.Key)
				}
				return incident.Errorf(incident.EINVALID, "phase: %q is not a phase of this incident's process; choose one of %s",
					c.Action.Text, strings.Join(keys, ", "))
			}
			if !s.MoveTo(d, c.At, c.Actor, "moved by "+c.Actor) {
				return incident.Errorf(incident.ECONFLICT, "incident %d is already in %s", inc.ID, d.Name)
			}
			s.AddParticipant(c.Actor, "moved the phase", c.At)
			entered(add, d, c.Actor, "moved by "+c.Actor)
			if d.Role == Review {
				return e.openReview(ctx, tx, inc, s, add, c.Actor, "moved to review by "+c.Actor)
			}
		}
		return nil
	})
}

// OnDecided is the step engine's hook, in the decision's transaction: the
// first approved write step starts Containment, and whoever decides takes
// part.
func (e *Engine) OnDecided(ctx context.Context, tx store.Tx, st *run.Step, inc *incident.Incident, kind, actor string) error {
	return e.change(ctx, tx, inc, func(s *State, add func(incident.EventKind, string, string, any)) error {
		switch kind {
		case "step.approved":
			s.AddParticipant(actor, "approved steps", e.now())
			if st.Risk == playbook.RiskWrite && st.Queued {
				d := def(e.Defs(s), Containment)
				why := fmt.Sprintf("the first approved write step (%s, approved by %s)", st.Name, actor)
				if s.Advance(d, e.now(), actor, why) {
					entered(add, d, actor, why)
				}
			}
		case "step.rejected":
			s.AddParticipant(actor, "rejected steps", e.now())
		default:
			s.AddParticipant(actor, "worked the checklist", e.now())
		}
		return nil
	})
}

func (e *Engine) resolved(ctx context.Context, tx store.Tx, inc *incident.Incident, c *respond.Change) error {
	_, proc := e.procedure(ctx, inc.ID)
	window, source := WatchWindow(proc)
	if window == 0 {
		window, source = e.cfg.DefaultWatch, "the default (phases.recovery_watch)"
	}
	err := e.change(ctx, tx, inc, func(s *State, add func(incident.EventKind, string, string, any)) error {
		cur := s.Current()
		if cur != nil && cur.Role == Review {
			return nil // resolved again after its review opened: the review stands
		}
		if cur != nil {
			s.ResumeRole = cur.Role
		}
		by := c.Actor
		d := def(e.Defs(s), Recovery)
		if s.Advance(d, c.At, by, c.Why()) {
			entered(add, d, by, c.Why())
		}
		s.Watch = &Watch{Start: c.At, Until: c.At.Add(window), Window: window, Source: source, Outcome: Watching}
		add("phase.watch", incident.ActorSystem, fmt.Sprintf("Recovery watch: %s, from %s, until %s. An alert of this incident that fires again before then reopens it.",
			human(window), source, s.Watch.Until.Format("15:04 UTC")), map[string]any{"window_seconds": int64(window / time.Second), "until": s.Watch.Until})
		return e.timer(ctx, tx, KindWatch, key(inc.ID, "watch"), s.Watch.Until, timerPayload{IncidentID: inc.ID})
	})
	if err != nil {
		return err
	}
	if e.cfg.Metrics != nil {
		e.cfg.Metrics.Resolved(inc, c.At.Sub(inc.StartedAt))
	}
	if e.cfg.Review != nil {
		return e.cfg.Review(ctx, tx, inc.ID, "the incident resolved")
	}
	return nil
}

func (e *Engine) reopened(ctx context.Context, tx store.Tx, inc *incident.Incident, c *respond.Change) error {
	if _, err := e.cfg.Queue.Cancel(ctx, tx, job.CancelParams{KeyPrefix: key(inc.ID, "watch")}); err != nil {
		return err
	}
	return e.change(ctx, tx, inc, func(s *State, add func(incident.EventKind, string, string, any)) error {
		var why string
		if w := s.Watch; w != nil && w.Outcome == Watching {
			w.Outcome, w.EndedAt = Refired, c.At
			why = fmt.Sprintf("re-fired %s after it resolved, during its %s recovery watch", human(c.At.Sub(w.Start)), human(w.Window))
			if c.Actor != incident.ActorSystem {
				w.Outcome = Reopened
				why = fmt.Sprintf("reopened by %s %s after it resolved, during its %s recovery watch", c.Actor, human(c.At.Sub(w.Start)), human(w.Window))
			}
			s.Watches = append(s.Watches, *w)
			s.Watch = nil
			add("phase.watch_ended", c.Actor, "Recovery watch over: "+s.Watches[len(s.Watches)-1].Summary(), map[string]any{"outcome": w.Outcome})
		} else {
			why = "reopened by " + c.Actor
		}
		back := s.ResumeRole
		if back == "" || rank(back) >= rank(Recovery) {
			back = Investigation
		}
		d := def(e.Defs(s), back)
		if s.MoveTo(d, c.At, c.Actor, why) {
			entered(add, d, c.Actor, why)
		}
		return nil
	})
}

// openReview sets the review's due date, the next business day, and its
// timer, and asks for the review draft.
func (e *Engine) openReview(ctx context.Context, tx store.Tx, inc *incident.Incident, s *State, add func(incident.EventKind, string, string, any), by, why string) error {
	if w := s.Watch; w != nil && w.Outcome == Watching {
		w.Outcome, w.EndedAt = EndedByHand, e.now()
		s.Watches = append(s.Watches, *w)
		s.Watch = nil
		if _, err := e.cfg.Queue.Cancel(ctx, tx, job.CancelParams{KeyPrefix: key(inc.ID, "watch")}); err != nil {
			return err
		}
	}
	from := inc.ResolvedAt
	if from.IsZero() {
		from = e.now()
	}
	s.ReviewDue = e.cfg.Calendar.NextBusinessDay(from).UTC()
	local := s.ReviewDue.In(e.cfg.Calendar.Location)
	add("phase.review_due", incident.ActorSystem, fmt.Sprintf("Post-incident review due %s (the next business day)", local.Format("Mon 2 Jan 2006 15:04 MST")),
		map[string]any{"due": s.ReviewDue})
	if err := e.timer(ctx, tx, KindReviewDue, key(inc.ID, "review-due"), s.ReviewDue, timerPayload{IncidentID: inc.ID}); err != nil {
		return err
	}
	if e.cfg.Review != nil {
		return e.cfg.Review(ctx, tx, inc.ID, why)
	}
	return nil
}

// timerJob runs fn on a locked incident and its state, for a timer.
func (e *Engine) timerJob(ctx context.Context, j *job.Job, fn func(tx store.Tx, inc *incident.Incident, p timerPayload) error) error {
	var p timerPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return job.Permanent(fmt.Errorf("phase timer %d: %w", j.ID, err))
	}
	return e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		incs, err := tx.IncidentsByID(ctx, []int64{p.IncidentID})
		if err != nil {
			return err
		}
		if incs[p.IncidentID] == nil {
			return nil
		}
		return fn(tx, incs[p.IncidentID], p)
	})
}

// deadline is a phase's budget running out: a breach when the incident
// was, at the deadline, still in that phase or an earlier one and not
// resolved. The state at the deadline decides, not the state when the
// timer is handled: a server that was down or busy then, or an ack that
// came a moment after, does not undo an overrun.
func (e *Engine) deadline(ctx context.Context, j *job.Job) error {
	return e.timerJob(ctx, j, func(tx store.Tx, inc *incident.Incident, p timerPayload) error {
		breached := false
		var b Breach
		err := e.change(ctx, tx, inc, func(s *State, add func(incident.EventKind, string, string, any)) error {
			d, ok := DefByKey(e.Defs(s), p.Phase)
			if !ok {
				return nil
			}
			due := inc.StartedAt.Add(d.Budget)
			then := s.At(due)
			resolvedBefore := inc.Status == incident.StatusResolved && !inc.ResolvedAt.After(due)
			if then == nil || s.Breached(d.Key) || resolvedBefore || rank(then.Role) > rank(d.Role) {
				return nil
			}
			if e.cfg.PagesDue != nil && j.Attempts <= maxPageWaits {
				// Those whose level was due by the deadline hear of the
				// breach: a page due by then goes out first. 0.2 s, 0.4 s,
				// … 6.4 s: some 12 s in all for a page that a busy server
				// is slow to send, leaving attempts for faults.
				pending, err := e.cfg.PagesDue(ctx, tx, inc.ID, due)
				if err != nil {
					return err
				}
				if pending {
					return job.Snooze(pageWait << (j.Attempts - 1))
				}
			}
			b = Breach{Key: d.Key, Name: d.Name, Budget: d.Budget, Deadline: due, At: e.now()}
			s.Breaches = append(s.Breaches, b)
			breached = true
			where := "the incident is still in " + then.Name
			if cur := s.Current(); cur != then {
				where = fmt.Sprintf("the incident was in %s then, and is in %s now", then.Name, cur.Name)
			}
			msg := fmt.Sprintf("SLA breach: %s overran its budget of %s from the start (due by %s); %s",
				d.Name, human(d.Budget), b.Deadline.Format("15:04 UTC"), where)
			add("phase.breached", incident.ActorSystem, msg, map[string]any{"phase": d.Key, "budget_seconds": int64(d.Budget / time.Second),
				"deadline": b.Deadline, "current": then.Key})
			return nil
		})
		if err != nil || !breached {
			return err
		}
		if e.cfg.Metrics != nil {
			e.cfg.Metrics.Breach(b.Key, inc)
		}
		if e.cfg.Tell != nil {
			if _, err := e.cfg.Tell(ctx, tx, inc.ID, notify.EventSLABreach, b.Deadline); err != nil {
				return err
			}
		}
		return nil
	})
}

// watchEnd is the end of a recovery watch: the incident stayed resolved,
// and its review opens.
func (e *Engine) watchEnd(ctx context.Context, j *job.Job) error {
	return e.timerJob(ctx, j, func(tx store.Tx, inc *incident.Incident, p timerPayload) error {
		if inc.Status != incident.StatusResolved {
			return nil
		}
		return e.change(ctx, tx, inc, func(s *State, add func(incident.EventKind, string, string, any)) error {
			w := s.Watch
			if w == nil || w.Outcome != Watching {
				return nil
			}
			w.Outcome, w.EndedAt = StayedResolved, w.Until
			s.Watches = append(s.Watches, *w)
			s.Watch = nil
			add("phase.watch_ended", incident.ActorSystem, "Recovery watch over: "+s.Watches[len(s.Watches)-1].Summary(), map[string]any{"outcome": w.Outcome})
			d := def(e.Defs(s), Review)
			if s.MoveTo(d, e.now(), incident.ActorSystem, "the recovery watch ended") {
				entered(add, d, incident.ActorSystem, "the recovery watch ended")
			}
			return e.openReview(ctx, tx, inc, s, add, incident.ActorSystem, "the recovery watch ended")
		})
	})
}

// reviewDue is the review's due date: a breach of the review phase when
// the review is not final by then.
func (e *Engine) reviewDue(ctx context.Context, j *job.Job) error {
	reviews, err := func() ([]store.Review, error) {
		var p timerPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			return nil, job.Permanent(err)
		}
		return e.cfg.Store.ListReviews(ctx, p.IncidentID)
	}()
	if err != nil {
		return err
	}
	if n := len(reviews); n > 0 && reviews[n-1].Status == "final" {
		return nil
	}
	return e.timerJob(ctx, j, func(tx store.Tx, inc *incident.Incident, p timerPayload) error {
		var name string
		err := e.change(ctx, tx, inc, func(s *State, add func(incident.EventKind, string, string, any)) error {
			d := def(e.Defs(s), Review)
			if s.Breached(d.Key) || s.ReviewDue.IsZero() {
				return nil
			}
			name = d.Name
			s.Breaches = append(s.Breaches, Breach{Key: d.Key, Name: d.Name, Deadline: s.ReviewDue, At: e.now()})
			add("phase.breached", incident.ActorSystem, fmt.Sprintf("SLA breach: the post-incident review was due %s and is not final",
				s.ReviewDue.In(e.cfg.Calendar.Location).Format("Mon 2 Jan 15:04 MST")), map[string]any{"phase": d.Key, "deadline": s.ReviewDue})
			return nil
		})
		if err != nil || name == "" {
			return err
		}
		if e.cfg.Metrics != nil {
			e.cfg.Metrics.Breach(def(e.Defs(nil), Review).Key, inc)
		}
		return nil
	})
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
