package oncall

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// RotationType says how often a rotation hands off.
type RotationType string

const (
	// Daily hands off every ShiftLength days at HandoffTime.
	Daily RotationType = "daily"
	// Weekly hands off every ShiftLength weeks on HandoffDay at HandoffTime.
	Weekly RotationType = "weekly"
	// Hourly hands off every ShiftLength hours of elapsed time from Start,
	// whatever the wall clock says.
	Hourly RotationType = "hourly"
)

// Rotation passes on-call duty through its participants in turn.
//
// Start anchors the rotation: the first handoff at or after Start (a local
// date or date-time in TimeZone) begins Participants[0]'s shift. The
// schedule repeats in both directions, so the rotation has an answer for
// instants before Start too.
type Rotation struct {
	Name string       `json:"name" yaml:"name"`
	Type RotationType `json:"type" yaml:"type"`
	// Start is "2026-01-05" or "2026-01-05T09:00", local to TimeZone.
	Start string `json:"start" yaml:"start"`
	// HandoffTime is "HH:MM" local to TimeZone; empty means Start's time of
	// day. Hourly rotations do not use it.
	HandoffTime string `json:"handoff_time,omitempty" yaml:"handoff_time,omitempty"`
	// HandoffDay is a weekday such as "monday", for weekly rotations only;
	// empty means Start's weekday.
	HandoffDay string `json:"handoff_day,omitempty" yaml:"handoff_day,omitempty"`
	// TimeZone is an IANA name such as "Europe/Berlin", or "UTC".
	TimeZone     string   `json:"time_zone" yaml:"time_zone"`
	Participants []string `json:"participants" yaml:"participants"`
	// ShiftLength is how many days, weeks or hours one shift lasts; 0 means 1.
	ShiftLength int        `json:"shift_length,omitempty" yaml:"shift_length,omitempty"`
	Overrides   []Override `json:"overrides,omitempty" yaml:"overrides,omitempty"`
}

// Override puts User on call from Start until End, in place of whoever the
// schedule says. With Replaces set it applies only while Replaces is the
// scheduled participant, as when two people swap a shift. Where overrides
// overlap, the later one in the list wins.
type Override struct {
	Start    time.Time `json:"start" yaml:"start"`
	End      time.Time `json:"end" yaml:"end"`
	User     string    `json:"user" yaml:"user"`
	Replaces string    `json:"replaces,omitempty" yaml:"replaces,omitempty"`
}

// Shift is a stretch of time with one person on call. Override shifts are
// cut out of the regular shifts they cover, so the shifts of a rotation
// tile time with no gaps or overlaps.
type Shift struct {
	User     string    `json:"user"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Override bool      `json:"override,omitempty"`
}

// Validate reports the first problem with r, as a *FieldError whose path
// starts "rotations.<name>.".
func (r *Rotation) Validate() error {
	_, err := r.compile()
	return err
}

// OnCall returns the shift in progress at t. A rotation that does not pass
// Validate has nobody on call: OnCall returns the zero Shift.
func (r *Rotation) OnCall(t time.Time) Shift {
	p, err := r.compile()
	if err != nil {
		return Shift{}
	}
	return p.at(t)
}

// Next returns the shift that follows the one in progress at t. At the
// exact instant of a handoff, the shift that has just begun is the current
// one, so Next returns the one after it.
func (r *Rotation) Next(t time.Time) Shift {
	p, err := r.compile()
	if err != nil {
		return Shift{}
	}
	return p.at(p.at(t).End)
}

// Schedule lists the shifts that overlap [from, to), overrides included, in
// order. The first and last shifts are not trimmed to the window. It returns
// nil for an empty window or a rotation that does not pass Validate.
func Schedule(r *Rotation, from, to time.Time) []Shift {
	p, err := r.compile()
	if err != nil || !from.Before(to) {
		return nil
	}
	var out []Shift
	for s := p.at(from); s.Start.Before(to); s = p.at(s.End) {
		out = append(out, s)
	}
	return out
}

// plan is a validated rotation in the form the schedule is computed from.
type plan struct {
	typ          RotationType
	loc          *time.Location
	participants []string
	overrides    []Override
	// bounds holds every override start and end, sorted.
	bounds []time.Time

	// Daily and weekly: shift k starts at the wall clock reading
	// (firstDay + k*periodDays) days plus handoff seconds.
	firstDay   int64
	handoff    int64
	periodDays int64

	// Hourly: shift k starts at anchor + k*period seconds.
	anchor int64
	period int64
}

func (r *Rotation) compile() (*plan, error) {
	if !nameRE.MatchString(r.Name) {
		return nil, fieldErrorf("rotations", "%q is not a rotation name (letters, digits and . _ @ + -)", r.Name)
	}
	path := "rotations." + r.Name + "."
	p := &plan{typ: r.Type, participants: r.Participants, overrides: r.Overrides}

	switch r.Type {
	case Daily, Weekly, Hourly:
	case "":
		return nil, fieldErrorf(path+"type", "must be daily, weekly or hourly")
	default:
		return nil, fieldErrorf(path+"type", "%q is not daily, weekly or hourly", r.Type)
	}

	if r.TimeZone == "" {
		return nil, fieldErrorf(path+"time_zone", "must name an IANA time zone such as Europe/Berlin or UTC")
	}
	// LoadLocation also takes "Local", which would make the schedule depend
	// on the machine it runs on.
	if r.TimeZone == "Local" {
		return nil, fieldErrorf(path+"time_zone", "must name an IANA time zone, not Local")
	}
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		return nil, fieldErrorf(path+"time_zone", "unknown time zone %q", r.TimeZone)
	}
	p.loc = loc

	startWall, startHasTime, ok := parseLocalDateTime(r.Start)
	if !ok {
		return nil, fieldErrorf(path+"start", "want YYYY-MM-DD or YYYY-MM-DDTHH:MM, got %q", r.Start)
	}

	n := int64(r.ShiftLength)
	switch {
	case n < 0:
		return nil, fieldErrorf(path+"shift_length", "must be positive, got %d", r.ShiftLength)
	case n == 0:
		n = 1
	case n > 1000:
		return nil, fieldErrorf(path+"shift_length", "%d is more than 1000", r.ShiftLength)
	}

	if len(r.Participants) == 0 {
		return nil, fieldErrorf(path+"participants", "must name at least one user")
	}
	for i, u := range r.Participants {
		if strings.TrimSpace(u) == "" {
			return nil, fieldErrorf(fmt.Sprintf("%sparticipants[%d]", path, i), "must name a user")
		}
	}

	if r.Type == Hourly {
		if r.HandoffTime != "" {
			return nil, fieldErrorf(path+"handoff_time", "hourly rotations hand off every shift_length hours from start; remove handoff_time")
		}
		if r.HandoffDay != "" {
			return nil, fieldErrorf(path+"handoff_day", "only weekly rotations have a handoff day")
		}
		p.anchor = instant(startWall, loc).Unix()
		p.period = n * 3600
	} else {
		startDay := floorDiv(startWall, secondsPerDay)
		startTOD := startWall - startDay*secondsPerDay
		p.handoff = startTOD
		if r.HandoffTime != "" {
			sec, ok := parseHHMM(r.HandoffTime)
			if !ok {
				return nil, fieldErrorf(path+"handoff_time", "want HH:MM, got %q", r.HandoffTime)
			}
			p.handoff = sec
		} else if !startHasTime {
			return nil, fieldErrorf(path+"handoff_time", "must be set when start has no time of day")
		}
		p.firstDay = startDay
		if startTOD > p.handoff {
			p.firstDay++
		}
		p.periodDays = n
		if r.Type == Weekly {
			p.periodDays = 7 * n
			day := weekday(startDay)
			if r.HandoffDay != "" {
				d, ok := parseWeekday(r.HandoffDay)
				if !ok {
					return nil, fieldErrorf(path+"handoff_day", "%q is not a weekday such as monday", r.HandoffDay)
				}
				day = d
			}
			for weekday(p.firstDay) != day {
				p.firstDay++
			}
		} else if r.HandoffDay != "" {
			return nil, fieldErrorf(path+"handoff_day", "only weekly rotations have a handoff day")
		}
	}

	for i, o := range r.Overrides {
		op := fmt.Sprintf("%soverrides[%d]", path, i) + "."
		switch {
		case strings.TrimSpace(o.User) == "":
			return nil, fieldErrorf(op+"user", "must name a user")
		case o.Start.IsZero():
			return nil, fieldErrorf(op+"start", "must be set")
		case o.End.IsZero():
			return nil, fieldErrorf(op+"end", "must be set")
		case !o.End.After(o.Start):
			return nil, fieldErrorf(op+"end", "%s is not after start %s", o.End.Format(time.RFC3339), o.Start.Format(time.RFC3339))
		}
		if o.Replaces != "" && !slices.Contains(r.Participants, o.Replaces) {
			return nil, fieldErrorf(op+"replaces", "%q is not a participant, so the override would never apply", o.Replaces)
		}
		p.bounds = append(p.bounds, o.Start, o.End)
	}
	slices.SortFunc(p.bounds, time.Time.Compare)
	return p, nil
}

// parseLocalDateTime reads "2006-01-02" or "2006-01-02T15:04" (a space for
// the T is fine too) as a wall clock reading.
func parseLocalDateTime(s string) (wall int64, hasTime, ok bool) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), layout != "2006-01-02", true
		}
	}
	return 0, false, false
}

// parseHHMM reads a 24-hour "HH:MM" as seconds into the day.
func parseHHMM(s string) (int64, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return int64(t.Hour()*3600 + t.Minute()*60), true
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if s == name || s == name[:3] {
			return d, true
		}
	}
	return 0, false
}
