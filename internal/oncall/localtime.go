package oncall

import "time"

const secondsPerDay = 86400

// A wall is a local wall-clock reading in whole seconds since 1970-01-01
// 00:00 on that clock. It is not an instant: a wall may happen once, twice
// or never in a zone.

// wallOf returns the wall clock reading of t in loc.
func wallOf(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	return t.Unix() + int64(off)
}

// instant returns when the wall clock in loc reads wall. A wall that happens
// twice gives its first occurrence; a wall in a spring-forward gap gives the
// instant of the change, the first one after the gap.
func instant(wall int64, loc *time.Location) time.Time {
	// Every offset in the tz database lies within ±16h, so the instant, and
	// any change that could hide it, lies within this window.
	const span = 16 * 3600
	t := time.Unix(wall-span, 0).In(loc)
	var prevEnd int64
	var prevOff int
	first := true
	for {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		u := wall - int64(off)
		if !first && start.Unix() == prevEnd && prevEnd+int64(prevOff) <= wall && wall < prevEnd+int64(off) {
			return start // in the gap
		}
		// Zones are visited in order, so the first that holds u is the
		// earliest occurrence.
		if (start.IsZero() || u >= start.Unix()) && (end.IsZero() || u < end.Unix()) {
			return time.Unix(u, 0).In(loc)
		}
		if end.IsZero() || end.Unix() > wall+span {
			// Unreachable for real zones; fall back to the current offset.
			return time.Unix(u, 0).In(loc)
		}
		first, prevEnd, prevOff = false, end.Unix(), off
		t = end
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// weekday of a day counted from 1970-01-01, a Thursday.
func weekday(day int64) time.Weekday { return time.Weekday(mod(day+4, 7)) }
