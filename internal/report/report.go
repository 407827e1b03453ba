// Package report measures incident response over a period: MTTA, MTTR,
// time in each phase, SLA breaches and escalations, overall and by
// service, severity and day or week. Compute is pure; Load gathers its
// inputs from the store.
package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Params choose the incidents: those that started in [From, To), of a
// service and severity when set, bucketed by Period ("day", "week" or
// "" for none).
type Params struct {
	From, To time.Time
	Service  string
	Severity incident.Severity
	Period   string
	// Location cuts periods into days; nil means UTC.
	Location *time.Location
}

// Validate names what is wrong with p.
func (p Params) Validate() error {
	switch {
	case p.From.IsZero() || p.To.IsZero():
		return incident.Errorf(incident.EINVALID, "from, to: both are required (RFC 3339)")
	case !p.To.After(p.From):
		return incident.Errorf(incident.EINVALID, "to: must be after from")
	case p.To.Sub(p.From) > 366*24*time.Hour:
		return incident.Errorf(incident.EINVALID, "to: a report covers at most 366 days")
	case p.Severity != "" && !p.Severity.Valid():
		return incident.Errorf(incident.EINVALID, "severity: %q is not critical, warning or info", p.Severity)
	case p.Period != "" && p.Period != "day" && p.Period != "week":
		return incident.Errorf(incident.EINVALID, "period: %q is not day or week", p.Period)
	}
	return nil
}

// Summary measures a set of incidents.
type Summary struct {
	Incidents    int `json:"incidents"`
	Acknowledged int `json:"acknowledged"`
	Resolved     int `json:"resolved"`
	// MTTASeconds is the mean time from start to acknowledgement over the
	// acknowledged incidents; MTTRSeconds from start to resolution over the
	// resolved ones. Nil when there are none to average.
	MTTASeconds *float64 `json:"mtta_seconds"`
	MTTRSeconds *float64 `json:"mttr_seconds"`
	// TimeInPhaseSeconds is the mean time spent in each phase, by phase
	// key, over the incidents that entered it.
	TimeInPhaseSeconds map[string]float64 `json:"time_in_phase_seconds"`
	// Breaches counts SLA breaches by phase key.
	Breaches    map[string]int `json:"breaches"`
	BreachTotal int            `json:"breach_total"`
	// Escalations counts pages past each incident's first.
	Escalations int `json:"escalations"`

	ackSum, resSum time.Duration
	phaseSum       map[string]time.Duration
	phaseN         map[string]int
}

// Period is the summary of one day or week.
type Period struct {
	Start time.Time `json:"start"`
	Summary
}

// Report is the measure of a period.
type Report struct {
	From       time.Time          `json:"from"`
	To         time.Time          `json:"to"`
	Service    string             `json:"service,omitempty"`
	Severity   string             `json:"severity,omitempty"`
	Overall    Summary            `json:"overall"`
	ByService  map[string]Summary `json:"by_service"`
	BySeverity map[string]Summary `json:"by_severity"`
	Periods    []Period           `json:"periods,omitempty"`
	// Phases names the phase keys in process order, for tables.
	Phases []string `json:"phases"`
}

// Input is one incident with what the report reads of it.
type Input struct {
	Incident incident.Incident
	// Phases is its phase state, nil when it has none.
	Phases *phase.State
	// Pages is how many escalation pages it had.
	Pages int
}

func (s *Summary) add(in *Input, now time.Time) {
	inc := &in.Incident
	s.Incidents++
	if !inc.AcknowledgedAt.IsZero() {
		s.Acknowledged++
		s.ackSum += inc.AcknowledgedAt.Sub(inc.StartedAt)
	}
	if inc.Status == incident.StatusResolved && !inc.ResolvedAt.IsZero() {
		s.Resolved++
		s.resSum += inc.ResolvedAt.Sub(inc.StartedAt)
	}
	if in.Pages > 1 {
		s.Escalations += in.Pages - 1
	}
	if in.Phases == nil {
		return
	}
	if s.phaseSum == nil {
		s.phaseSum, s.phaseN, s.Breaches = map[string]time.Duration{}, map[string]int{}, map[string]int{}
	}
	// The review phase goes on after the resolve: time in the phase an
	// incident is in counts to now.
	for k, d := range in.Phases.Time(now) {
		s.phaseSum[k] += d
		s.phaseN[k]++
	}
	for _, b := range in.Phases.Breaches {
		s.Breaches[b.Key]++
		s.BreachTotal++
	}
}

func (s *Summary) finish() {
	if s.Acknowledged > 0 {
		v := (s.ackSum / time.Duration(s.Acknowledged)).Seconds()
		s.MTTASeconds = &v
	}
	if s.Resolved > 0 {
		v := (s.resSum / time.Duration(s.Resolved)).Seconds()
		s.MTTRSeconds = &v
	}
	s.TimeInPhaseSeconds = map[string]float64{}
	for k, d := range s.phaseSum {
		s.TimeInPhaseSeconds[k] = (d / time.Duration(s.phaseN[k])).Seconds()
	}
	if s.Breaches == nil {
		s.Breaches = map[string]int{}
	}
}

// Compute measures the incidents of p in ins, at now.
func Compute(ins []Input, p Params, now time.Time) Report {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	r := Report{From: p.From.UTC(), To: p.To.UTC(), Service: p.Service, Severity: string(p.Severity),
		ByService: map[string]Summary{}, BySeverity: map[string]Summary{}}
	periods := map[time.Time]*Summary{}
	phaseOrder := map[string]int{}
	for i := range ins {
		in := &ins[i]
		inc := &in.Incident
		if inc.StartedAt.Before(p.From) || !inc.StartedAt.Before(p.To) ||
			(p.Service != "" && inc.Service != p.Service) || (p.Severity != "" && inc.Severity != p.Severity) {
			continue
		}
		r.Overall.add(in, now)
		svc := inc.Service
		if svc == "" {
			svc = "(none)"
		}
		s := r.ByService[svc]
		s.add(in, now)
		r.ByService[svc] = s
		v := r.BySeverity[string(inc.Severity)]
		v.add(in, now)
		r.BySeverity[string(inc.Severity)] = v
		if p.Period != "" {
			start := periodStart(inc.StartedAt.In(loc), p.Period)
			if periods[start] == nil {
				periods[start] = &Summary{}
			}
			periods[start].add(in, now)
		}
		if in.Phases != nil {
			for j, e := range in.Phases.Entered {
				if _, ok := phaseOrder[e.Key]; !ok {
					phaseOrder[e.Key] = rankOf(e.Role)*100 + j
				}
			}
		}
	}
	r.Overall.finish()
	for k, s := range r.ByService {
		s.finish()
		r.ByService[k] = s
	}
	for k, s := range r.BySeverity {
		s.finish()
		r.BySeverity[k] = s
	}
	for start, s := range periods {
		s.finish()
		r.Periods = append(r.Periods, Period{Start: start.UTC(), Summary: *s})
	}
	sort.Slice(r.Periods, func(i, j int) bool { return r.Periods[i].Start.Before(r.Periods[j].Start) })
	for k := range phaseOrder {
		r.Phases = append(r.Phases, k)
	}
	sort.Slice(r.Phases, func(i, j int) bool { return phaseOrder[r.Phases[i]] < phaseOrder[r.Phases[j]] })
	if r.Phases == nil {
		r.Phases = []string{}
	}
	return r
}

func rankOf(r phase.Role) int {
	for i, x := range []phase.Role{phase.Detection, phase.Containment, phase.Investigation, phase.Recovery, phase.Review} {
		if x == r {
			return i
		}
	}
	return 9
}

// periodStart is the local midnight that starts t's day, or the Monday
// that starts its week.
func periodStart(t time.Time, period string) time.Time {
	y, m, d := t.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	if period == "week" {
		back := (int(day.Weekday()) + 6) % 7
		day = time.Date(y, m, d-back, 0, 0, 0, 0, t.Location())
	}
	return day
}

// maxIncidents bounds what one report reads.
const maxIncidents = 50000

// Load reads the incidents of p from st and measures them at now.
func Load(ctx context.Context, st store.Store, p Params, now time.Time) (Report, error) {
	if err := p.Validate(); err != nil {
		return Report{}, err
	}
	var incs []incident.Incident
	var before int64
	for {
		page, err := st.ListIncidents(ctx, store.ListIncidentsParams{StartedFrom: p.From, StartedTo: p.To, Service: p.Service,
			BeforeID: before, Limit: 1000})
		if err != nil {
			return Report{}, err
		}
		incs = append(incs, page...)
		if len(page) < 1000 {
			break
		}
		if len(incs) >= maxIncidents {
			return Report{}, incident.Errorf(incident.EINVALID, "from, to: more than %d incidents in the period; ask for a shorter one", maxIncidents)
		}
		before = page[len(page)-1].ID
	}
	ins := make([]Input, len(incs))
	ids := make([]int64, len(incs))
	for i := range incs {
		ins[i].Incident, ids[i] = incs[i], incs[i].ID
	}
	for chunk := 0; chunk < len(ids); chunk += 1000 {
		part := ids[chunk:min(chunk+1000, len(ids))]
		states, err := st.PhaseStates(ctx, part)
		if err != nil {
			return Report{}, err
		}
		counts, err := st.CountTimeline(ctx, part, []string{"escalation.paged"})
		if err != nil {
			return Report{}, err
		}
		for i := chunk; i < chunk+len(part); i++ {
			id := ids[i]
			ins[i].Pages = counts[id]["escalation.paged"]
			if ps := states[id]; ps != nil {
				s, err := phase.Decode(ps)
				if err != nil {
					return Report{}, err
				}
				ins[i].Phases = s
			}
		}
	}
	return Compute(ins, p, now), nil
}

// ParseSince reads "30d", "12h" or "2w" as a span back from now.
func ParseSince(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("--since %q: want a span such as 30d, 2w or 12h", s)
	}
	var n int
	if _, err := fmt.Sscanf(s[:len(s)-1], "%d", &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("--since %q: want a span such as 30d, 2w or 12h", s)
	}
	switch s[len(s)-1] {
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	case 'w':
		return time.Duration(n) * 7 * 24 * time.Hour, nil
	case 'h':
		return time.Duration(n) * time.Hour, nil
	}
	return 0, fmt.Errorf("--since %q: want a span such as 30d, 2w or 12h", s)
}
