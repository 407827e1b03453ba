package oncall

import (
	"testing"
	"time"
)

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func daily(zone, start, handoff string, people ...string) *Rotation {
	return &Rotation{Name: "primary", Type: Daily, Start: start, HandoffTime: handoff, TimeZone: zone, Participants: people}
}

func checkShift(t *testing.T, got Shift, user, start, end string, override bool) {
	t.Helper()
	if got.User != user || !got.Start.Equal(ts(t, start)) || !got.End.Equal(ts(t, end)) || got.Override != override {
		t.Errorf("got %s %s..%s override=%v, want %s %s..%s override=%v",
			got.User, got.Start.Format(time.RFC3339), got.End.Format(time.RFC3339), got.Override,
			user, start, end, override)
	}
}

func TestOnCallAcrossDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rot        *Rotation
		at         string
		user       string
		start, end string
		hours      float64
	}{
		{"new york spring forward", daily("America/New_York", "2026-03-07", "09:00", "a", "b"),
			"2026-03-08T01:00:00-05:00", "a", "2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00", 23},
		{"new york day after spring forward", daily("America/New_York", "2026-03-07", "09:00", "a", "b"),
			"2026-03-08T09:00:00-04:00", "b", "2026-03-08T09:00:00-04:00", "2026-03-09T09:00:00-04:00", 24},
		{"new york fall back", daily("America/New_York", "2026-10-31", "09:00", "a", "b"),
			"2026-11-01T01:30:00-05:00", "a", "2026-10-31T09:00:00-04:00", "2026-11-01T09:00:00-05:00", 25},
		{"berlin spring forward", daily("Europe/Berlin", "2026-03-28", "09:00", "a", "b"),
			"2026-03-29T03:30:00+02:00", "a", "2026-03-28T09:00:00+01:00", "2026-03-29T09:00:00+02:00", 23},
		{"berlin fall back", daily("Europe/Berlin", "2026-10-24", "09:00", "a", "b"),
			"2026-10-25T02:30:00+01:00", "a", "2026-10-24T09:00:00+02:00", "2026-10-25T09:00:00+01:00", 25},
		{"berlin day before fall back", daily("Europe/Berlin", "2026-10-24", "09:00", "a", "b"),
			"2026-10-24T08:59:59+02:00", "b", "2026-10-23T09:00:00+02:00", "2026-10-24T09:00:00+02:00", 24},
		{"lord howe half-hour fall back", daily("Australia/Lord_Howe", "2026-04-04", "09:00", "a", "b"),
			"2026-04-05T01:45:00+10:30", "a", "2026-04-04T09:00:00+11:00", "2026-04-05T09:00:00+10:30", 24.5},
		{"lord howe half-hour spring forward", daily("Australia/Lord_Howe", "2026-10-03", "09:00", "a", "b"),
			"2026-10-04T03:00:00+11:00", "a", "2026-10-03T09:00:00+10:30", "2026-10-04T09:00:00+11:00", 23.5},
		{"kolkata has no DST", daily("Asia/Kolkata", "2026-01-01", "09:00", "a", "b", "c"),
			"2026-03-08T12:00:00+05:30", "a", "2026-03-08T09:00:00+05:30", "2026-03-09T09:00:00+05:30", 24},
		{"spring forward 02:30 handoff happens at 03:00", daily("America/New_York", "2026-03-07", "02:30", "a", "b"),
			"2026-03-08T03:10:00-04:00", "b", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", 23.5},
		{"shift before a 02:30 handoff in the gap", daily("America/New_York", "2026-03-07", "02:30", "a", "b"),
			"2026-03-08T01:59:59-05:00", "a", "2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", 23.5},
		{"fall back 01:30 handoff happens once, first time", daily("America/New_York", "2026-10-31", "01:30", "a", "b"),
			"2026-11-01T01:45:00-05:00", "b", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", 25},
		{"shift before a repeated 01:30 handoff", daily("America/New_York", "2026-10-31", "01:30", "a", "b"),
			"2026-11-01T01:29:00-04:00", "a", "2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", 24},
		{"lord howe 02:15 handoff in a 30-minute gap", daily("Australia/Lord_Howe", "2026-10-03", "02:15", "a", "b"),
			"2026-10-04T02:40:00+11:00", "b", "2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00", 23.75},
		{"weekly monday across spring forward",
			&Rotation{Name: "w", Type: Weekly, Start: "2026-03-02", HandoffTime: "09:00", HandoffDay: "monday", TimeZone: "America/New_York", Participants: []string{"a", "b"}},
			"2026-03-08T12:00:00-04:00", "a", "2026-03-02T09:00:00-05:00", "2026-03-09T09:00:00-04:00", 167},
		{"weekly monday across fall back",
			&Rotation{Name: "w", Type: Weekly, Start: "2026-01-05", HandoffTime: "09:00", HandoffDay: "Monday", TimeZone: "Europe/Berlin", Participants: []string{"a", "b"}},
			"2026-10-25T12:00:00+01:00", "b", "2026-10-19T09:00:00+02:00", "2026-10-26T09:00:00+01:00", 169},
		{"weekly start mid-week anchors on the next handoff day",
			&Rotation{Name: "w", Type: Weekly, Start: "2026-03-04T12:00", HandoffTime: "09:00", HandoffDay: "mon", TimeZone: "America/New_York", Participants: []string{"a", "b"}},
			"2026-03-09T09:00:00-04:00", "a", "2026-03-09T09:00:00-04:00", "2026-03-16T09:00:00-04:00", 168},
		{"two-day shifts across spring forward",
			&Rotation{Name: "d2", Type: Daily, Start: "2026-03-07T09:00", TimeZone: "America/New_York", ShiftLength: 2, Participants: []string{"a", "b"}},
			"2026-03-08T20:00:00-04:00", "a", "2026-03-07T09:00:00-05:00", "2026-03-09T09:00:00-04:00", 47},
		{"two-day shifts after spring forward",
			&Rotation{Name: "d2", Type: Daily, Start: "2026-03-07T09:00", TimeZone: "America/New_York", ShiftLength: 2, Participants: []string{"a", "b"}},
			"2026-03-10T20:00:00-04:00", "b", "2026-03-09T09:00:00-04:00", "2026-03-11T09:00:00-04:00", 48},
		{"hourly counts elapsed hours across spring forward",
			&Rotation{Name: "h", Type: Hourly, Start: "2026-03-08T00:00", TimeZone: "America/New_York", ShiftLength: 8, Participants: []string{"a", "b", "c"}},
			"2026-03-08T08:30:00-04:00", "a", "2026-03-08T00:00:00-05:00", "2026-03-08T09:00:00-04:00", 8},
		{"before start the schedule runs backwards", daily("UTC", "2026-01-10", "09:00", "a", "b", "c"),
			"2026-01-09T10:00:00Z", "c", "2026-01-09T09:00:00Z", "2026-01-10T09:00:00Z", 24},
		{"start after the handoff time anchors on the next day", daily("UTC", "2026-01-10T10:00", "09:00", "a", "b"),
			"2026-01-11T09:00:00Z", "a", "2026-01-11T09:00:00Z", "2026-01-12T09:00:00Z", 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.rot.Validate(); err != nil {
				t.Fatal(err)
			}
			got := tt.rot.OnCall(ts(t, tt.at))
			checkShift(t, got, tt.user, tt.start, tt.end, false)
			if h := got.End.Sub(got.Start).Hours(); h != tt.hours {
				t.Errorf("shift lasts %vh, want %vh", h, tt.hours)
			}
		})
	}
}

func TestHandoffStaysAtLocalTime(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"} {
		t.Run(zone, func(t *testing.T) {
			t.Parallel()
			r := daily(zone, "2026-01-01", "09:00", "a", "b", "c")
			loc, _ := time.LoadLocation(zone)
			from := time.Date(2026, 1, 1, 9, 0, 0, 0, loc)
			shifts := Schedule(r, from, from.AddDate(1, 0, 0))
			if len(shifts) != 365 {
				t.Fatalf("got %d shifts in 2026, want 365", len(shifts))
			}
			for i, s := range shifts {
				l := s.Start.In(loc)
				if l.Hour() != 9 || l.Minute() != 0 {
					t.Fatalf("shift %d starts at %s, not 09:00 local", i, l)
				}
				if want := []string{"a", "b", "c"}[i%3]; s.User != want {
					t.Fatalf("shift %d is %s, want %s", i, s.User, want)
				}
			}
		})
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	r := daily("America/New_York", "2026-03-07", "09:00", "a", "b", "c")
	r.Overrides = []Override{
		{Start: ts(t, "2026-03-10T12:00:00-04:00"), End: ts(t, "2026-03-10T14:00:00-04:00"), User: "x"},
	}
	tests := []struct {
		name       string
		at         string
		user       string
		start, end string
		override   bool
	}{
		{"mid-shift", "2026-03-07T20:00:00-05:00", "b", "2026-03-08T09:00:00-04:00", "2026-03-09T09:00:00-04:00", false},
		{"exactly at a handoff the shift after the new one", "2026-03-08T09:00:00-04:00", "c", "2026-03-09T09:00:00-04:00", "2026-03-10T09:00:00-04:00", false},
		{"one nanosecond before a handoff", "2026-03-08T08:59:59.999999999-04:00", "b", "2026-03-08T09:00:00-04:00", "2026-03-09T09:00:00-04:00", false},
		{"an override before the next handoff", "2026-03-10T10:00:00-04:00", "x", "2026-03-10T12:00:00-04:00", "2026-03-10T14:00:00-04:00", true},
		{"the rest of the shift after an override", "2026-03-10T12:00:00-04:00", "a", "2026-03-10T14:00:00-04:00", "2026-03-11T09:00:00-04:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkShift(t, r.Next(ts(t, tt.at)), tt.user, tt.start, tt.end, tt.override)
		})
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	// a: 03-01 09:00 to 03-02 09:00, b: to 03-03 09:00, a: to 03-04 09:00 (UTC).
	base := func(o ...Override) *Rotation {
		r := daily("UTC", "2026-03-01", "09:00", "a", "b")
		r.Overrides = o
		return r
	}
	ov := func(start, end, user, replaces string) Override {
		return Override{Start: ts(t, start), End: ts(t, end), User: user, Replaces: replaces}
	}
	type want struct {
		user, start, end string
		override         bool
	}
	tests := []struct {
		name   string
		rot    *Rotation
		shifts []want
	}{
		{"in the middle of a shift", base(ov("2026-03-01T12:00:00Z", "2026-03-01T14:00:00Z", "x", "")), []want{
			{"a", "2026-03-01T09:00:00Z", "2026-03-01T12:00:00Z", false},
			{"x", "2026-03-01T12:00:00Z", "2026-03-01T14:00:00Z", true},
			{"a", "2026-03-01T14:00:00Z", "2026-03-02T09:00:00Z", false},
			{"b", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z", false},
		}},
		{"spanning a handoff is one shift", base(ov("2026-03-01T20:00:00Z", "2026-03-02T12:00:00Z", "x", "")), []want{
			{"a", "2026-03-01T09:00:00Z", "2026-03-01T20:00:00Z", false},
			{"x", "2026-03-01T20:00:00Z", "2026-03-02T12:00:00Z", true},
			{"b", "2026-03-02T12:00:00Z", "2026-03-03T09:00:00Z", false},
		}},
		{"back to back", base(
			ov("2026-03-01T12:00:00Z", "2026-03-01T14:00:00Z", "x", ""),
			ov("2026-03-01T14:00:00Z", "2026-03-01T16:00:00Z", "y", ""),
		), []want{
			{"a", "2026-03-01T09:00:00Z", "2026-03-01T12:00:00Z", false},
			{"x", "2026-03-01T12:00:00Z", "2026-03-01T14:00:00Z", true},
			{"y", "2026-03-01T14:00:00Z", "2026-03-01T16:00:00Z", true},
			{"a", "2026-03-01T16:00:00Z", "2026-03-02T09:00:00Z", false},
			{"b", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z", false},
		}},
		{"covering a whole shift exactly", base(ov("2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z", "x", "")), []want{
			{"a", "2026-03-01T09:00:00Z", "2026-03-02T09:00:00Z", false},
			{"x", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z", true},
			{"a", "2026-03-03T09:00:00Z", "2026-03-04T09:00:00Z", false},
		}},
		{"replaces applies only to that participant's shift", base(ov("2026-03-01T20:00:00Z", "2026-03-02T12:00:00Z", "x", "a")), []want{
			{"a", "2026-03-01T09:00:00Z", "2026-03-01T20:00:00Z", false},
			{"x", "2026-03-01T20:00:00Z", "2026-03-02T09:00:00Z", true},
			{"b", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z", false},
		}},
		{"the later of overlapping overrides wins", base(
			ov("2026-03-01T12:00:00Z", "2026-03-01T18:00:00Z", "x", ""),
			ov("2026-03-01T14:00:00Z", "2026-03-01T16:00:00Z", "y", ""),
		), []want{
			{"a", "2026-03-01T09:00:00Z", "2026-03-01T12:00:00Z", false},
			{"x", "2026-03-01T12:00:00Z", "2026-03-01T14:00:00Z", true},
			{"y", "2026-03-01T14:00:00Z", "2026-03-01T16:00:00Z", true},
			{"x", "2026-03-01T16:00:00Z", "2026-03-01T18:00:00Z", true},
			{"a", "2026-03-01T18:00:00Z", "2026-03-02T09:00:00Z", false},
			{"b", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.rot.Validate(); err != nil {
				t.Fatal(err)
			}
			got := Schedule(tt.rot, ts(t, "2026-03-01T09:00:00Z"), ts(t, tt.shifts[len(tt.shifts)-1].start).Add(time.Second))
			if len(got) != len(tt.shifts) {
				t.Fatalf("got %d shifts, want %d: %+v", len(got), len(tt.shifts), got)
			}
			for i, w := range tt.shifts {
				checkShift(t, got[i], w.user, w.start, w.end, w.override)
				// OnCall anywhere in the shift gives the same shift.
				checkShift(t, tt.rot.OnCall(got[i].End.Add(-time.Nanosecond)), w.user, w.start, w.end, w.override)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := func(edit func(r *Rotation)) *Rotation {
		r := &Rotation{Name: "primary", Type: Weekly, Start: "2026-01-05", HandoffTime: "09:00", HandoffDay: "monday",
			TimeZone: "Europe/Berlin", Participants: []string{"ana", "bo"}}
		edit(r)
		return r
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rot  *Rotation
		want string
	}{
		{"valid", ok(func(r *Rotation) {}), ""},
		{"no name", ok(func(r *Rotation) { r.Name = "" }), `rotations: "" is not a rotation name (letters, digits and . _ @ + -)`},
		{"unknown zone", ok(func(r *Rotation) { r.TimeZone = "Mars/Olympus" }), `rotations.primary.time_zone: unknown time zone "Mars/Olympus"`},
		{"no zone", ok(func(r *Rotation) { r.TimeZone = "" }), `rotations.primary.time_zone: must name an IANA time zone such as Europe/Berlin or UTC`},
		{"local zone", ok(func(r *Rotation) { r.TimeZone = "Local" }), `rotations.primary.time_zone: must name an IANA time zone, not Local`},
		{"bad handoff time", ok(func(r *Rotation) { r.HandoffTime = "9am" }), `rotations.primary.handoff_time: want HH:MM, got "9am"`},
		{"handoff time out of range", ok(func(r *Rotation) { r.HandoffTime = "24:00" }), `rotations.primary.handoff_time: want HH:MM, got "24:00"`},
		{"handoff time without leading zero", ok(func(r *Rotation) { r.HandoffTime = "9:00" }), `rotations.primary.handoff_time: want HH:MM, got "9:00"`},
		{"no handoff time nor start time", ok(func(r *Rotation) { r.HandoffTime = "" }), `rotations.primary.handoff_time: must be set when start has no time of day`},
		{"bad handoff day", ok(func(r *Rotation) { r.HandoffDay = "funday" }), `rotations.primary.handoff_day: "funday" is not a weekday such as monday`},
		{"handoff day on a daily rotation", ok(func(r *Rotation) { r.Type = Daily }), `rotations.primary.handoff_day: only weekly rotations have a handoff day`},
		{"handoff time on an hourly rotation", ok(func(r *Rotation) { r.Type = Hourly; r.HandoffDay = "" }), `rotations.primary.handoff_time: hourly rotations hand off every shift_length hours from start; remove handoff_time`},
		{"no type", ok(func(r *Rotation) { r.Type = "" }), `rotations.primary.type: must be daily, weekly or hourly`},
		{"bad type", ok(func(r *Rotation) { r.Type = "monthly" }), `rotations.primary.type: "monthly" is not daily, weekly or hourly`},
		{"bad start", ok(func(r *Rotation) { r.Start = "next monday" }), `rotations.primary.start: want YYYY-MM-DD or YYYY-MM-DDTHH:MM, got "next monday"`},
		{"no participants", ok(func(r *Rotation) { r.Participants = nil }), `rotations.primary.participants: must name at least one user`},
		{"empty participant", ok(func(r *Rotation) { r.Participants = []string{"ana", " "} }), `rotations.primary.participants[1]: must name a user`},
		{"negative shift length", ok(func(r *Rotation) { r.ShiftLength = -1 }), `rotations.primary.shift_length: must be positive, got -1`},
		{"override ends before it starts", ok(func(r *Rotation) {
			r.Overrides = []Override{{Start: start, End: start.Add(-time.Hour), User: "cy"}}
		}), `rotations.primary.overrides[0].end: 2026-03-01T11:00:00Z is not after start 2026-03-01T12:00:00Z`},
		{"override without user", ok(func(r *Rotation) {
			r.Overrides = []Override{{Start: start, End: start.Add(time.Hour)}}
		}), `rotations.primary.overrides[0].user: must name a user`},
		{"override without end", ok(func(r *Rotation) {
			r.Overrides = []Override{{Start: start, User: "cy"}}
		}), `rotations.primary.overrides[0].end: must be set`},
		{"override replaces a stranger", ok(func(r *Rotation) {
			r.Overrides = []Override{{Start: start, End: start.Add(time.Hour), User: "cy", Replaces: "dee"}}
		}), `rotations.primary.overrides[0].replaces: "dee" is not a participant, so the override would never apply`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.rot.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if _, ok := err.(*FieldError); !ok {
				t.Errorf("got %T, want *FieldError", err)
			}
			if s := tt.rot.OnCall(start); s != (Shift{}) {
				t.Errorf("invalid rotation has %+v on call", s)
			}
		})
	}
}

func BenchmarkOnCall(b *testing.B) {
	r := daily("America/New_York", "2026-01-01", "09:00", "a", "b", "c")
	at := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	for b.Loop() {
		r.OnCall(at)
	}
}
