package phase

import (
	"strings"
	"testing"
	"time"
)

// The review is due on the next business day: across a weekend, a
// configured holiday, and in the calendar's own time zone (where a late
// evening in UTC may already be the next day).
func TestNextBusinessDay(t *testing.T) {
	berlin, err := NewCalendar("Europe/Berlin", nil, []string{"2026-12-24", "2026-12-25"}, "10:00")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := NewCalendar("America/New_York", []string{"mon", "tue", "wed", "thu"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cal  Calendar
		at   string
		want string
	}{
		{"a Tuesday", DefaultCalendar(), "2026-12-01T03:50:00Z", "2026-12-02T17:00:00Z"},
		{"a Friday: Monday", DefaultCalendar(), "2026-12-04T16:00:00Z", "2026-12-07T17:00:00Z"},
		{"a Saturday: Monday", DefaultCalendar(), "2026-12-05T10:00:00Z", "2026-12-07T17:00:00Z"},
		{"before two holidays: the Monday after", berlin, "2026-12-23T09:00:00+01:00", "2026-12-28T10:00:00+01:00"},
		// 23:30 UTC on Wednesday is already Thursday in Berlin.
		{"the zone's own date", berlin, "2026-12-02T23:30:00Z", "2026-12-04T10:00:00+01:00"},
		// A four-day week: Thursday's next business day is Monday; 17:00
		// local is after the clocks went back, so 22:00 UTC.
		{"a four-day week across the change to EST", ny, "2026-10-29T12:00:00-04:00", "2026-11-02T17:00:00-05:00"},
	}
	for _, c := range cases {
		at, _ := time.Parse(time.RFC3339, c.at)
		want, _ := time.Parse(time.RFC3339, c.want)
		if got := c.cal.NextBusinessDay(at); !got.Equal(want) {
			t.Errorf("%s: NextBusinessDay(%s) = %s, want %s", c.name, c.at, got, want)
		}
	}
}

func TestCalendarErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		zone, day, holiday, due, want string
	}{
		{zone: "Mars/Olympus", want: "phases.calendar.time_zone"},
		{day: "someday", want: "phases.calendar.weekdays[0]"},
		{holiday: "25/12/2026", want: "phases.calendar.holidays[0]"},
		{due: "5pm", want: "phases.calendar.review_due"},
	} {
		var days, hols []string
		if c.day != "" {
			days = []string{c.day}
		}
		if c.holiday != "" {
			hols = []string{c.holiday}
		}
		_, err := NewCalendar(c.zone, days, hols, c.due)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want it to name %s", c, err, c.want)
		}
	}
}
