package report

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/phase"
)

var day = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday

// inc is an incident that started at start minutes into day, acknowledged
// ack minutes after it started and resolved res minutes after (-1: not).
func inc(id int64, svc string, sev incident.Severity, start, ack, res int) Input {
	i := incident.Incident{ID: id, Service: svc, Severity: sev, Status: incident.StatusTriggered,
		StartedAt: day.Add(time.Duration(start) * time.Minute)}
	if ack >= 0 {
		i.AcknowledgedAt = i.StartedAt.Add(time.Duration(ack) * time.Minute)
		i.Status = incident.StatusAcknowledged
	}
	if res >= 0 {
		i.ResolvedAt = i.StartedAt.Add(time.Duration(res) * time.Minute)
		i.Status = incident.StatusResolved
	}
	return Input{Incident: i}
}

func secs(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// MTTA and MTTR over a set of incidents, against a table worked out by
// hand:
//
//	id  service  severity  started      ack   resolved  pages
//	1   api      critical  Mon 00:00    4m    40m       1
//	2   api      warning   Mon 12:00    10m   60m       3
//	3   db       critical  Tue 00:00    2m    -         2
//	4   db       critical  Tue 06:00    -     -         1
//	5   api      critical  Mon 09:00    6m    20m       1    (outside: started before from)
//
// Over 1-4: acknowledged 1,2,3: MTTA (4+10+2)/3 = 5m20s = 320 s. Resolved
// 1,2: MTTR (40+60)/2 = 50m = 3000 s. Escalations: (3-1)+(2-1) = 3.
// api: MTTA (4+10)/2 = 7m = 420 s, MTTR 3000 s. db: MTTA 120 s, no MTTR.
// critical: 1,3,4: MTTA (4+2)/2 = 180 s, MTTR 2400 s.
func TestHandComputedTable(t *testing.T) {
	ins := []Input{
		inc(1, "api", incident.SeverityCritical, 0, 4, 40),
		inc(2, "api", incident.SeverityWarning, 12*60, 10, 60),
		inc(3, "db", incident.SeverityCritical, 24*60, 2, -1),
		inc(4, "db", incident.SeverityCritical, 30*60, -1, -1),
		inc(5, "api", incident.SeverityCritical, -15*60, 6, 20),
	}
	ins[1].Pages, ins[2].Pages, ins[0].Pages, ins[3].Pages = 3, 2, 1, 1
	// Incident 1 spent 4m in Detection and breached Containment.
	ins[0].Phases = &phase.State{Entered: []phase.Entered{
		{Key: "detection", Role: phase.Detection, Start: ins[0].Incident.StartedAt, End: ins[0].Incident.StartedAt.Add(4 * time.Minute)},
		{Key: "containment", Role: phase.Containment, Start: ins[0].Incident.StartedAt.Add(4 * time.Minute), End: ins[0].Incident.StartedAt.Add(40 * time.Minute)},
	}, Breaches: []phase.Breach{{Key: "containment"}}}
	// Incident 2 spent 10m in Detection.
	ins[1].Phases = &phase.State{Entered: []phase.Entered{
		{Key: "detection", Role: phase.Detection, Start: ins[1].Incident.StartedAt, End: ins[1].Incident.StartedAt.Add(10 * time.Minute)},
	}}
	p := Params{From: day, To: day.Add(48 * time.Hour), Period: "day"}
	r := Compute(ins, p, day.Add(72*time.Hour))
	o := r.Overall
	if o.Incidents != 4 || o.Acknowledged != 3 || o.Resolved != 2 || secs(o.MTTASeconds) != 320 || secs(o.MTTRSeconds) != 3000 || o.Escalations != 3 {
		t.Fatalf("overall: %+v mtta %v mttr %v", o, secs(o.MTTASeconds), secs(o.MTTRSeconds))
	}
	if o.Breaches["containment"] != 1 || o.BreachTotal != 1 || o.TimeInPhaseSeconds["detection"] != 420 || o.TimeInPhaseSeconds["containment"] != 36*60 {
		t.Fatalf("phases: breaches %v, time in phase %v", o.Breaches, o.TimeInPhaseSeconds)
	}
	api, db := r.ByService["api"], r.ByService["db"]
	if secs(api.MTTASeconds) != 420 || secs(api.MTTRSeconds) != 3000 || secs(db.MTTASeconds) != 120 || db.MTTRSeconds != nil {
		t.Fatalf("by service: api %v/%v db %v/%v", secs(api.MTTASeconds), secs(api.MTTRSeconds), secs(db.MTTASeconds), secs(db.MTTRSeconds))
	}
	crit := r.BySeverity["critical"]
	if crit.Incidents != 3 || secs(crit.MTTASeconds) != 180 || secs(crit.MTTRSeconds) != 2400 {
		t.Fatalf("critical: %+v %v %v", crit, secs(crit.MTTASeconds), secs(crit.MTTRSeconds))
	}
	if len(r.Periods) != 2 || r.Periods[0].Incidents != 2 || r.Periods[1].Incidents != 2 || !r.Periods[1].Start.Equal(day.Add(24*time.Hour)) {
		t.Fatalf("periods: %+v", r.Periods)
	}
	if len(r.Phases) != 2 || r.Phases[0] != "detection" {
		t.Fatalf("phase order: %v", r.Phases)
	}
	r = Compute(ins, Params{From: day, To: day.Add(48 * time.Hour), Service: "db", Severity: incident.SeverityCritical}, day)
	if r.Overall.Incidents != 2 || len(r.ByService) != 1 {
		t.Fatalf("filtered: %+v", r.Overall)
	}
}

func TestParamsNameTheField(t *testing.T) {
	for _, c := range []struct {
		p    Params
		want string
	}{
		{Params{}, "from, to"},
		{Params{From: day, To: day}, "to: must be after from"},
		{Params{From: day, To: day.Add(400 * 24 * time.Hour)}, "at most 366 days"},
		{Params{From: day, To: day.Add(time.Hour), Severity: "urgent"}, `severity: "urgent"`},
		{Params{From: day, To: day.Add(time.Hour), Period: "month"}, `period: "month"`},
	} {
		if err := c.p.Validate(); err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.p, err, c.want)
		}
	}
	if _, err := ParseSince("30x"); err == nil {
		t.Error("ParseSince took 30x")
	}
	if d, err := ParseSince("2w"); err != nil || d != 14*24*time.Hour {
		t.Errorf("2w = %s, %v", d, err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
