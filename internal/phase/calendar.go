package phase

import (
	"fmt"
	"strings"
	"time"
)

// Calendar says which days are business days, for the review's due date:
// weekdays in a time zone, less holidays.
type Calendar struct {
	Location *time.Location
	// Weekdays are the business days of the week.
	Weekdays map[time.Weekday]bool
	// Holidays are dates ("2026-12-25") that are not business days.
	Holidays map[string]bool
	// DueHour and DueMinute are when on the next business day the review is
	// due, local time.
	DueHour, DueMinute int
}

// DefaultCalendar is Monday to Friday in UTC, reviews due at 17:00.
func DefaultCalendar() Calendar {
	return Calendar{Location: time.UTC, Weekdays: map[time.Weekday]bool{time.Monday: true, time.Tuesday: true,
		time.Wednesday: true, time.Thursday: true, time.Friday: true}, Holidays: map[string]bool{}, DueHour: 17}
}

var weekdayNames = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// NewCalendar builds a calendar from configuration values, naming the field
// that is wrong. Empty values keep DefaultCalendar's.
func NewCalendar(zone string, weekdays, holidays []string, due string) (Calendar, error) {
	c := DefaultCalendar()
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return c, fmt.Errorf("phases.calendar.time_zone: %q is not an IANA time zone such as Europe/Berlin", zone)
		}
		c.Location = loc
	}
	if len(weekdays) > 0 {
		c.Weekdays = map[time.Weekday]bool{}
		for i, w := range weekdays {
			d, ok := weekdayNames[strings.ToLower(w)]
			if !ok {
				for name, day := range weekdayNames {
					if len(w) >= 3 && strings.HasPrefix(name, strings.ToLower(w)) {
						d, ok = day, true
					}
				}
			}
			if !ok {
				return c, fmt.Errorf("phases.calendar.weekdays[%d]: %q is not a day of the week", i, w)
			}
			c.Weekdays[d] = true
		}
	}
	for i, h := range holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return c, fmt.Errorf("phases.calendar.holidays[%d]: %q is not a date such as 2026-12-25", i, h)
		}
		c.Holidays[h] = true
	}
	if due != "" {
		t, err := time.Parse("15:04", due)
		if err != nil {
			return c, fmt.Errorf("phases.calendar.review_due: %q is not a time of day such as 17:00", due)
		}
		c.DueHour, c.DueMinute = t.Hour(), t.Minute()
	}
	return c, nil
}

// BusinessDay reports whether the local date of t is a business day.
func (c Calendar) BusinessDay(t time.Time) bool {
	l := t.In(c.Location)
	return c.Weekdays[l.Weekday()] && !c.Holidays[l.Format(time.DateOnly)]
}

// NextBusinessDay returns when on the first business day after t's local
// date the review is due. Days are counted on the calendar, so a
// daylight-saving change does not move the time of day.
func (c Calendar) NextBusinessDay(t time.Time) time.Time {
	l := t.In(c.Location)
	y, m, d := l.Date()
	for i := 1; i <= 366; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, c.Location)
		if c.BusinessDay(day) {
			dy, dm, dd := day.Date()
			return time.Date(dy, dm, dd, c.DueHour, c.DueMinute, 0, 0, c.Location)
		}
	}
	// A calendar with no business day at all: a day later.
	return t.Add(24 * time.Hour)
}
