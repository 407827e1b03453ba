package config

import (
	"fmt"
	"time"
)

// Phases configures the phase clocks: the business calendar the review's
// due date follows, and the recovery watch of procedures that state none.
type Phases struct {
	Calendar struct {
		// TimeZone is an IANA name; default UTC.
		TimeZone string `yaml:"time_zone"`
		// Weekdays are the business days; default monday to friday.
		Weekdays []string `yaml:"weekdays"`
		// Holidays are dates (2026-12-25) that are not business days.
		Holidays []string `yaml:"holidays"`
		// ReviewDue is the time on the next business day the review is due;
		// default 17:00.
		ReviewDue string `yaml:"review_due"`
	} `yaml:"calendar"`
	// RecoveryWatch is how long a resolved incident stays under watch when
	// its procedure states no window (default 10m).
	RecoveryWatch Duration `yaml:"recovery_watch"`
}

func (c *Config) validatePhases() error {
	if w := time.Duration(c.Phases.RecoveryWatch); w < 0 || w > 7*24*time.Hour {
		return fmt.Errorf("phases.recovery_watch: %s is not between 0 and 7 days", w)
	}
	return nil
}
