// Package phase keeps each incident's place in the playbook's General
// Incident Response Process: Detection, Containment, Investigation,
// Recovery and Review, each with the time budget the document gives,
// measured from the incident's start as the document's windows are.
//
// Transitions follow what happens: acknowledging ends Detection, the first
// approved write step starts Containment, resolving starts Recovery and a
// recovery watch, and the watch's end (or a responder) opens Review, due
// on the next business day. A responder can move an incident to any phase.
// Budgets are durable timed jobs: an incident still in a phase (or an
// earlier one) when the phase's window ends has breached it, once, with a
// timeline entry, a metric and the sla_breach notification.
//
// The state of one incident is a State, kept by the store as a document;
// this file holds it and its pure transitions, engine.go the lifecycle hook
// and the timers.
package phase

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// Role is what a phase is for; transitions are defined on roles, so a
// playbook may name its phases as it likes.
type Role string

const (
	Detection     Role = "detection"
	Containment   Role = "containment"
	Investigation Role = "investigation"
	Recovery      Role = "recovery"
	Review        Role = "review"
)

var roleOrder = []Role{Detection, Containment, Investigation, Recovery, Review}

// Def is one phase of a playbook's process.
type Def struct {
	Number int    `json:"number"`
	Key    string `json:"key"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	// Budget is how long after the incident started the phase must be
	// over; zero for none. Review has a due date instead.
	Budget    time.Duration `json:"budget"`
	Window    string        `json:"window"`
	Checklist []string      `json:"checklist"`
}

// DefaultDefs are the phases of a playbook that has none: the reference
// playbook's.
var DefaultDefs = []Def{
	{Number: 1, Key: "detection", Name: "Detection & Assessment", Role: Detection, Budget: 5 * time.Minute, Window: "0-5 minutes"},
	{Number: 2, Key: "containment", Name: "Containment", Role: Containment, Budget: 15 * time.Minute, Window: "5-15 minutes"},
	{Number: 3, Key: "investigation", Name: "Investigation", Role: Investigation, Budget: time.Hour, Window: "15-60 minutes"},
	{Number: 4, Key: "recovery", Name: "Recovery", Role: Recovery, Budget: 4 * time.Hour, Window: "1-4 hours"},
	{Number: 5, Key: "review", Name: "Post-Incident Review", Role: Review, Window: "Next business day"},
}

// DefsOf returns a playbook's phases with their roles: by the words of
// their names, else by their place in the process.
func DefsOf(pb *playbook.Playbook) []Def {
	if pb == nil || len(pb.Phases) == 0 {
		return DefaultDefs
	}
	var out []Def
	used := map[Role]bool{}
	for i, p := range pb.Phases {
		d := Def{Number: p.Number, Key: p.Key, Name: p.Name, Window: p.Window.Text}
		if !p.Window.NextBusinessDay && p.Window.To > 0 {
			d.Budget = p.Window.To.D()
		}
		for _, c := range p.Checklist {
			d.Checklist = append(d.Checklist, c.Text)
		}
		d.Role = roleByWords(p.Name + " " + p.Key)
		if p.Window.NextBusinessDay {
			d.Role = Review
		}
		if d.Role == "" || used[d.Role] {
			d.Role = ""
			for j := min(i, len(roleOrder)-1); j < len(roleOrder); j++ {
				if !used[roleOrder[j]] {
					d.Role = roleOrder[j]
					break
				}
			}
		}
		if d.Role == "" {
			continue // more phases than roles: shown, never entered automatically
		}
		used[d.Role] = true
		out = append(out, d)
	}
	for _, r := range roleOrder {
		if !used[r] {
			// A process without, say, a review phase still gets one, so
			// that every incident ends in a review.
			for _, d := range DefaultDefs {
				if d.Role == r {
					d.Number = len(out) + 1
					out = append(out, d)
				}
			}
		}
	}
	sortDefs(out)
	return out
}

func sortDefs(ds []Def) {
	rank := map[Role]int{}
	for i, r := range roleOrder {
		rank[r] = i
	}
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && rank[ds[j].Role] < rank[ds[j-1].Role]; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

func roleByWords(s string) Role {
	s = strings.ToLower(s)
	switch {
	case strings.Contains(s, "review") || strings.Contains(s, "post-incident") || strings.Contains(s, "postmortem"):
		return Review
	case strings.Contains(s, "recover"):
		return Recovery
	case strings.Contains(s, "investig") || strings.Contains(s, "diagnos"):
		return Investigation
	case strings.Contains(s, "contain") || strings.Contains(s, "mitigat"):
		return Containment
	case strings.Contains(s, "detect") || strings.Contains(s, "assess") || strings.Contains(s, "triage"):
		return Detection
	}
	return ""
}

// Entered is one stay in a phase.
type Entered struct {
	Key   string    `json:"key"`
	Name  string    `json:"name"`
	Role  Role      `json:"role"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// By and Why say who or what moved the incident here.
	By  string `json:"by"`
	Why string `json:"why"`
}

// Breach is a phase whose budget ran out before the incident left it.
type Breach struct {
	Key      string        `json:"key"`
	Name     string        `json:"name"`
	Budget   time.Duration `json:"budget"`
	Deadline time.Time     `json:"deadline"`
	// At is when the breach was found: the deadline, or later when the
	// server was down then.
	At time.Time `json:"at"`
}

// WatchOutcome says how a recovery watch ended.
type WatchOutcome string

const (
	Watching       WatchOutcome = "watching"
	StayedResolved WatchOutcome = "stayed_resolved"
	Refired        WatchOutcome = "refired"
	Reopened       WatchOutcome = "reopened"
	EndedByHand    WatchOutcome = "ended_by_hand"
)

// Watch is the recovery watch after a resolve: an alert of the incident's
// group that fires again within it reopens the incident.
type Watch struct {
	Start   time.Time     `json:"start"`
	Until   time.Time     `json:"until"`
	Window  time.Duration `json:"window"`
	Source  string        `json:"source"`
	Outcome WatchOutcome  `json:"outcome"`
	// EndedAt is when the watch ended: its end, a re-fire or a hand move.
	EndedAt time.Time `json:"ended_at,omitzero"`
}

// Summary is the watch in words, for the API and the review: "stayed
// resolved 30m" or "re-fired at 12m".
func (w *Watch) Summary() string {
	if w == nil {
		return ""
	}
	switch w.Outcome {
	case StayedResolved:
		return "stayed resolved " + human(w.Window)
	case Refired:
		return "re-fired at " + human(w.EndedAt.Sub(w.Start))
	case Reopened:
		return "reopened by hand at " + human(w.EndedAt.Sub(w.Start))
	case EndedByHand:
		return "ended by hand at " + human(w.EndedAt.Sub(w.Start))
	}
	return fmt.Sprintf("watching for %s, until %s", human(w.Window), w.Until.UTC().Format("15:04 UTC"))
}

// Handover is a change of incident commander.
type Handover struct {
	From string    `json:"from,omitempty"`
	To   string    `json:"to"`
	At   time.Time `json:"at"`
	By   string    `json:"by"`
}

// Participant is a person who took part, and how.
type Participant struct {
	Name  string    `json:"name"`
	Roles []string  `json:"roles"`
	Since time.Time `json:"since"`
}

// State is an incident's phases, breaches, recovery watch and people.
type State struct {
	// Playbook is the playbook whose process applies.
	Playbook string    `json:"playbook,omitempty"`
	Started  time.Time `json:"started"`
	Entered  []Entered `json:"entered"`
	Breaches []Breach  `json:"breaches,omitempty"`
	Watch    *Watch    `json:"watch,omitempty"`
	// Watches are earlier recovery watches, when the incident re-fired.
	Watches   []Watch   `json:"watches,omitempty"`
	ReviewDue time.Time `json:"review_due,omitzero"`
	// ResumeRole is the role to go back to when a resolved incident comes
	// back: the phase it was in when it resolved.
	ResumeRole   Role          `json:"resume_role,omitempty"`
	Handovers    []Handover    `json:"handovers,omitempty"`
	Participants []Participant `json:"participants,omitempty"`
}

// Current is the phase the incident is in.
func (s *State) Current() *Entered {
	if len(s.Entered) == 0 {
		return nil
	}
	return &s.Entered[len(s.Entered)-1]
}

// At is the phase the incident was in at t: the last one entered by then.
func (s *State) At(t time.Time) *Entered {
	var at *Entered
	for i := range s.Entered {
		if s.Entered[i].Start.After(t) {
			break
		}
		at = &s.Entered[i]
	}
	return at
}

// rank orders roles in the process.
func rank(r Role) int {
	for i, x := range roleOrder {
		if x == r {
			return i
		}
	}
	return len(roleOrder)
}

// Start begins the process in Detection.
func Start(defs []Def, playbookID string, at time.Time) *State {
	s := &State{Playbook: playbookID, Started: at}
	s.enter(def(defs, Detection), at, "firebreak", "the incident opened")
	return s
}

func def(defs []Def, r Role) Def {
	for _, d := range defs {
		if d.Role == r {
			return d
		}
	}
	for _, d := range DefaultDefs {
		if d.Role == r {
			return d
		}
	}
	return Def{Key: string(r), Name: string(r), Role: r}
}

// DefByKey finds a phase by its key, role, number or name, as a responder
// may type it.
func DefByKey(defs []Def, s string) (Def, bool) {
	n := strings.ToLower(strings.TrimSpace(s))
	for _, d := range defs {
		if strings.ToLower(d.Key) == n || string(d.Role) == n || strconv.Itoa(d.Number) == n || strings.ToLower(d.Name) == n {
			return d, true
		}
	}
	return Def{}, false
}

func (s *State) enter(d Def, at time.Time, by, why string) {
	if cur := s.Current(); cur != nil && cur.End.IsZero() {
		cur.End = at
	}
	s.Entered = append(s.Entered, Entered{Key: d.Key, Name: d.Name, Role: d.Role, Start: at, By: by, Why: why})
}

// MoveTo moves the incident to phase d; it reports false when it is there
// already.
func (s *State) MoveTo(d Def, at time.Time, by, why string) bool {
	if cur := s.Current(); cur != nil && cur.Role == d.Role {
		return false
	}
	s.enter(d, at, by, why)
	return true
}

// Advance moves the incident to d only when it is in an earlier phase.
func (s *State) Advance(d Def, at time.Time, by, why string) bool {
	if cur := s.Current(); cur != nil && rank(cur.Role) >= rank(d.Role) {
		return false
	}
	s.enter(d, at, by, why)
	return true
}

// Breached reports whether phase key has a breach already.
func (s *State) Breached(key string) bool {
	for _, b := range s.Breaches {
		if b.Key == key {
			return true
		}
	}
	return false
}

// Time reports how long the incident spent in each phase by key, until
// now for the phase it is in.
func (s *State) Time(now time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, e := range s.Entered {
		end := e.End
		if end.IsZero() {
			end = now
		}
		out[e.Key] += end.Sub(e.Start)
	}
	return out
}

// AddParticipant records that name took part as role.
func (s *State) AddParticipant(name, role string, at time.Time) {
	if name == "" || name == "firebreak" {
		return
	}
	for i := range s.Participants {
		p := &s.Participants[i]
		if p.Name == name {
			for _, r := range p.Roles {
				if r == role {
					return
				}
			}
			p.Roles = append(p.Roles, role)
			return
		}
	}
	s.Participants = append(s.Participants, Participant{Name: name, Roles: []string{role}, Since: at})
}

var watchText = regexp.MustCompile(`(?i)\b(?:monitor|watch|observe)\b[^.\n]*?\bfor\s+(\d+)\s*(minutes?|mins?|m|hours?|hrs?|h)\b`)

// WatchWindow finds the recovery watch a procedure asks for in its Recovery
// section ("Monitor error rate for 30 minutes"), and says where it found
// it.
func WatchWindow(p *playbook.Procedure) (time.Duration, string) {
	if p == nil {
		return 0, ""
	}
	for _, sec := range p.Sections {
		if roleByWords(sec.Title+" "+sec.Key) != Recovery {
			continue
		}
		for _, t := range sec.Tasks {
			text := t.Text
			if text == "" {
				text = t.Name
			}
			m := watchText.FindStringSubmatch(text)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			unit := time.Minute
			if strings.HasPrefix(strings.ToLower(m[2]), "h") {
				unit = time.Hour
			}
			if n > 0 && n <= 7*24*60 {
				return time.Duration(n) * unit, fmt.Sprintf("the procedure's %q", strings.TrimSpace(text))
			}
		}
	}
	return 0, ""
}

// human writes a duration as people say it: 30m, 1h5m, 45s, 2m30s.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if sec > 0 {
		fmt.Fprintf(&b, "%ds", sec)
	}
	return b.String()
}

// Human is human for other packages: 30m, 1h5m, 45s.
func Human(d time.Duration) string { return human(d) }
