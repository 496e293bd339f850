package kpi

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BusinessHours is a tenant's support schedule: opening hours per weekday
// in a time zone, and holidays (closed all day).
type BusinessHours struct {
	TimeZone string `json:"timezone"`
	// Week maps mon..sun to opening and closing times ("09:00", "17:30");
	// a day that is absent is closed.
	Week     map[string][2]string `json:"week"`
	Holidays []string             `json:"holidays"`
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Validate reports every problem at once.
func (b *BusinessHours) Validate() error {
	if b == nil {
		return nil
	}
	var errs []error
	if _, err := time.LoadLocation(b.TimeZone); err != nil || b.TimeZone == "" || strings.EqualFold(b.TimeZone, "local") {
		errs = append(errs, fmt.Errorf("business_hours.timezone %q is not an IANA time zone name", b.TimeZone))
	}
	if len(b.Week) == 0 {
		errs = append(errs, errors.New("business_hours.week must open on at least one day"))
	}
	for day, span := range b.Week {
		if !contains(weekdays, day) {
			errs = append(errs, fmt.Errorf("business_hours.week: %q is not one of mon, tue, wed, thu, fri, sat, sun", day))
			continue
		}
		open, err1 := clock(span[0])
		shut, err2 := clock(span[1])
		if err1 != nil || err2 != nil || shut <= open {
			errs = append(errs, fmt.Errorf("business_hours.week.%s must be [\"HH:MM\", \"HH:MM\"] with opening before closing", day))
		}
	}
	for _, h := range b.Holidays {
		if _, err := ParseDay(h); err != nil {
			errs = append(errs, fmt.Errorf("business_hours.holidays: %v", err))
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clock parses "HH:MM" (24:00 allowed) into the time of day.
func clock(s string) (time.Duration, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || len(s) != 5 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m > 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// Between is the business time from a to b: the parts of it inside
// opening hours, on days that are not holidays, in the schedule's zone.
func (b *BusinessHours) Between(a, z time.Time) time.Duration {
	if b == nil || !z.After(a) {
		return 0
	}
	loc, err := time.LoadLocation(b.TimeZone)
	if err != nil {
		return 0
	}
	holidays := map[string]bool{}
	for _, h := range b.Holidays {
		holidays[h] = true
	}
	var total time.Duration
	for d := DayOf(a, loc); !d.After(DayOf(z, loc)); d = d.AddDays(1) {
		span, ok := b.Week[weekdays[d.Weekday()]]
		if !ok || holidays[d.String()] {
			continue
		}
		open, err1 := clock(span[0])
		shut, err2 := clock(span[1])
		if err1 != nil || err2 != nil {
			continue
		}
		// Opening hours are wall-clock times: built with time.Date, a day
		// with a daylight-saving change keeps them (and 24:00 is the next
		// midnight, whatever the day's length).
		y, m, dd := d.t.Date()
		from := time.Date(y, m, dd, int(open/time.Hour), int(open%time.Hour/time.Minute), 0, 0, loc)
		to := time.Date(y, m, dd, int(shut/time.Hour), int(shut%time.Hour/time.Minute), 0, 0, loc)
		if from.Before(a) {
			from = a
		}
		if to.After(z) {
			to = z
		}
		if to.After(from) {
			total += to.Sub(from)
		}
	}
	return total
}
