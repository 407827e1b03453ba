package oncall

import (
	"sort"
	"time"
)

// Shifts are computed from "sources": regular shift k of the schedule, or
// override i. A Shift is a maximal run of time with one source, so an
// override that spans a handoff is one shift, while the regular shift it
// interrupts is cut into the pieces before and after it.
type source struct {
	override int // index into plan.overrides, or -1
	k        int64
}

// regularStart is when regular shift k begins.
func (p *plan) regularStart(k int64) time.Time {
	if p.typ == Hourly {
		return time.Unix(p.anchor+k*p.period, 0)
	}
	return instant((p.firstDay+k*p.periodDays)*secondsPerDay+p.handoff, p.loc)
}

// regular returns the index of the regular shift in progress at t.
func (p *plan) regular(t time.Time) int64 {
	var k int64
	if p.typ == Hourly {
		k = floorDiv(t.Unix()-p.anchor, p.period)
	} else {
		// The local day whose handoff wall time is at or before t's, which
		// is right unless a handoff fell into a gap; the loops fix that.
		day := floorDiv(wallOf(t, p.loc)-p.handoff, secondsPerDay)
		k = floorDiv(day-p.firstDay, p.periodDays)
	}
	for t.Before(p.regularStart(k)) {
		k--
	}
	for !t.Before(p.regularStart(k + 1)) {
		k++
	}
	return k
}

func (p *plan) user(k int64) string {
	return p.participants[mod(k, int64(len(p.participants)))]
}

// sourceAt returns who is on call at t and why.
func (p *plan) sourceAt(t time.Time) (source, string) {
	k := p.regular(t)
	scheduled := p.user(k)
	for i := len(p.overrides) - 1; i >= 0; i-- {
		o := p.overrides[i]
		if !t.Before(o.Start) && t.Before(o.End) && (o.Replaces == "" || o.Replaces == scheduled) {
			return source{override: i}, o.User
		}
	}
	return source{override: -1, k: k}, scheduled
}

// at returns the shift in progress at t.
func (p *plan) at(t time.Time) Shift {
	src, user := p.sourceAt(t)

	// Walk back over boundaries that do not change the source.
	start := t
	for {
		b := p.boundaryAtOrBefore(start)
		before := b.Add(-time.Nanosecond)
		if s, _ := p.sourceAt(before); s != src {
			start = b
			break
		}
		start = before
	}

	// Walk forward likewise.
	end := t
	for {
		b := p.boundaryAfter(end)
		if s, _ := p.sourceAt(b); s != src {
			end = b
			break
		}
		end = b
	}
	return Shift{User: user, Start: start.In(p.loc), End: end.In(p.loc), Override: src.override >= 0}
}

// boundaryAtOrBefore returns the latest handoff or override edge at or
// before t.
func (p *plan) boundaryAtOrBefore(t time.Time) time.Time {
	b := p.regularStart(p.regular(t))
	i := sort.Search(len(p.bounds), func(i int) bool { return p.bounds[i].After(t) })
	if i > 0 && p.bounds[i-1].After(b) {
		b = p.bounds[i-1]
	}
	return b
}

// boundaryAfter returns the earliest handoff or override edge after t.
func (p *plan) boundaryAfter(t time.Time) time.Time {
	b := p.regularStart(p.regular(t) + 1)
	i := sort.Search(len(p.bounds), func(i int) bool { return p.bounds[i].After(t) })
	if i < len(p.bounds) && p.bounds[i].Before(b) {
		b = p.bounds[i]
	}
	return b
}
