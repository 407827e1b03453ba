package oncall

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Zones with unusual changes: a 30-minute shift (Lord_Howe), changes at
// midnight (Santiago, Havana), southern-hemisphere summer (Sydney), none.
var propertyZones = []string{
	"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC",
	"America/Santiago", "America/Havana", "Australia/Sydney", "Pacific/Auckland",
}

var propertyHandoffs = []string{"00:00", "00:30", "01:30", "02:00", "02:15", "02:30", "03:00", "09:00", "23:30"}

// checkShiftAt checks the invariants that hold for every instant t.
func checkShiftAt(t *testing.T, r *Rotation, at time.Time) {
	t.Helper()
	s := r.OnCall(at)
	if s.Start.After(at) || !at.Before(s.End) {
		t.Fatalf("%+v: OnCall(%s) = %s..%s does not contain it", r, at, s.Start, s.End)
	}
	if n := r.Next(at); !n.Start.Equal(s.End) || !n.End.After(n.Start) {
		t.Fatalf("%+v: Next(%s) = %s..%s does not follow %s..%s", r, at, n.Start, n.End, s.Start, s.End)
	}
	if got := r.OnCall(s.Start); !sameShift(got, s) {
		t.Fatalf("%+v: OnCall(start %s) = %+v, want %+v", r, s.Start, got, s)
	}
	if got := r.OnCall(s.End.Add(-time.Nanosecond)); !sameShift(got, s) {
		t.Fatalf("%+v: OnCall(end-1ns %s) = %+v, want %+v", r, s.End, got, s)
	}
	if r.Type == Hourly || s.Override {
		return
	}
	for _, o := range r.Overrides {
		if s.Start.Equal(o.End) {
			return // the rest of a regular shift after an override
		}
	}
	// A regular shift starts at the handoff time, or at a clock change
	// when the handoff time fell into its gap.
	loc, _ := time.LoadLocation(r.TimeZone)
	l := s.Start.In(loc)
	if got := l.Format("15:04"); got != r.HandoffTime {
		_, before := s.Start.Add(-time.Second).In(loc).Zone()
		_, after := l.Zone()
		if before == after {
			t.Fatalf("%+v: shift starts at %s, neither %s nor a clock change", r, l, r.HandoffTime)
		}
	}
}

func sameShift(a, b Shift) bool {
	return a.User == b.User && a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Override == b.Override
}

func randomRotation(rng *rand.Rand) *Rotation {
	r := &Rotation{
		Name:         "p",
		Type:         []RotationType{Daily, Weekly, Hourly}[rng.IntN(3)],
		Start:        fmt.Sprintf("2025-%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(28)),
		TimeZone:     propertyZones[rng.IntN(len(propertyZones))],
		Participants: []string{"a", "b", "c"}[:1+rng.IntN(3)],
		ShiftLength:  rng.IntN(4),
	}
	switch r.Type {
	case Hourly:
		r.Start += fmt.Sprintf("T%02d:%02d", rng.IntN(24), 30*rng.IntN(2))
	case Weekly:
		r.HandoffDay = time.Weekday(rng.IntN(7)).String()
		fallthrough
	default:
		r.HandoffTime = propertyHandoffs[rng.IntN(len(propertyHandoffs))]
	}
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range rng.IntN(4) {
		start := year.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		o := Override{Start: start, End: start.Add(time.Duration(1 + rng.Int64N(int64(72*time.Hour)))), User: "x"}
		if rng.IntN(2) == 0 {
			o.Replaces = r.Participants[0]
		}
		r.Overrides = append(r.Overrides, o)
	}
	return r
}

// Over a year, shifts tile time: each starts where the one before ended.
func TestShiftsTileAYear(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 2026))
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(1, 0, 0)
	for i := range 60 {
		r := randomRotation(rng)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			shifts := Schedule(r, from, to)
			if len(shifts) == 0 || shifts[0].Start.After(from) || shifts[len(shifts)-1].End.Before(to) {
				t.Fatalf("%+v: schedule does not cover 2026", r)
			}
			for j, s := range shifts {
				if !s.End.After(s.Start) {
					t.Fatalf("%+v: empty shift %+v", r, s)
				}
				if j > 0 && !shifts[j-1].End.Equal(s.Start) {
					t.Fatalf("%+v: gap or overlap between %+v and %+v", r, shifts[j-1], s)
				}
				if j > 0 && shifts[j-1].Override && s.Override && shifts[j-1].User == s.User && len(r.Overrides) == 1 {
					t.Fatalf("%+v: one override split in two: %+v %+v", r, shifts[j-1], s)
				}
			}
			for range 50 {
				checkShiftAt(t, r, from.Add(time.Duration(rng.Int64N(int64(to.Sub(from))))))
			}
		})
	}
}

func FuzzOnCall(f *testing.F) {
	f.Add(int64(1772953200), uint8(0), uint8(0), uint8(7), uint8(1), int64(0), uint32(0))       // New York spring forward, 02:30
	f.Add(int64(1793511000), uint8(0), uint8(0), uint8(4), uint8(1), int64(0), uint32(0))       // New York fall back, 01:30
	f.Add(int64(1791072000), uint8(2), uint8(1), uint8(6), uint8(2), int64(-600), uint32(7200)) // Lord Howe
	f.Add(int64(1774746000), uint8(1), uint8(2), uint8(0), uint8(8), int64(100), uint32(90000)) // Berlin, hourly
	f.Fuzz(func(t *testing.T, unix int64, zone, typ, handoff, length uint8, ovOffset int64, ovLen uint32) {
		// Stay within a few centuries of now, where the tz data means something.
		unix = 946684800 + mod(unix-946684800, 200*365*secondsPerDay)
		rng := rand.New(rand.NewPCG(uint64(unix), uint64(zone)))
		r := randomRotation(rng)
		r.TimeZone = propertyZones[int(zone)%len(propertyZones)]
		r.Type = []RotationType{Daily, Weekly, Hourly}[int(typ)%3]
		r.HandoffTime, r.HandoffDay = "", ""
		switch r.Type {
		case Weekly:
			r.HandoffDay = "monday"
			fallthrough
		case Daily:
			r.HandoffTime = propertyHandoffs[int(handoff)%len(propertyHandoffs)]
		case Hourly:
			r.Start = r.Start[:len("2006-01-02")] + "T02:30"
		}
		r.ShiftLength = int(length % 10)
		at := time.Unix(unix, 0)
		r.Overrides = nil
		if ovLen > 0 {
			s := at.Add(time.Duration(ovOffset%(100*3600)) * time.Second)
			r.Overrides = []Override{{Start: s, End: s.Add(time.Duration(ovLen) * time.Second), User: "x"}}
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		checkShiftAt(t, r, at)
	})
}
