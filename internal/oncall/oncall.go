// Package oncall holds people, teams and rotations, and answers "who is on
// call now, and who is next". It is pure: no storage, no HTTP, no clock.
// Callers pass the instant they care about.
//
// Rotations hand off at a wall-clock time in a named IANA time zone, so a
// daily 09:00 handoff stays at 09:00 local across daylight-saving changes
// and the shift that spans a change lasts 23 or 25 hours. Shifts are counted
// in calendar days and weeks of the zone, never in 24-hour durations.
//
// Two wall-clock times need a rule, and this package uses one everywhere:
//
//   - A local time that does not exist (it falls in the gap when clocks
//     spring forward) means the first instant after the gap, the moment of
//     the change itself. A 02:30 handoff in America/New_York on 8 March 2026
//     happens at 03:00 EDT. RFC 5545 and java.time would pick 03:30 instead;
//     we pick the earliest existing instant so no shift is stretched by the
//     length of the gap.
//   - A local time that happens twice (clocks fall back) means its first
//     occurrence, in the earlier offset. A 01:30 handoff in America/New_York
//     on 1 November 2026 happens at 01:30 EDT, once.
package oncall

import "fmt"

// FieldError is a validation error that names the offending field by its
// configuration path, such as "rotations.primary.time_zone".
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
