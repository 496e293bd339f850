package kpi

import (
	"fmt"
	"time"
)

// DayLayout is how days are written everywhere: in the API, the raw file
// partitions and the stored parts.
const DayLayout = "2006-01-02"

// Day is a calendar date, independent of any zone.
type Day struct{ t time.Time } // midnight UTC of the date

// ParseDay parses YYYY-MM-DD strictly.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(DayLayout, s)
	if err != nil || t.Format(DayLayout) != s {
		return Day{}, fmt.Errorf("%q is not a date in YYYY-MM-DD form", s)
	}
	return Day{t}, nil
}

// DayOf is the calendar day of t in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// NewDay builds a day from its parts.
func NewDay(y int, m time.Month, d int) Day { return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

func (d Day) String() string { return d.t.Format(DayLayout) }

// AddDays moves n days.
func (d Day) AddDays(n int) Day { return Day{d.t.AddDate(0, 0, n)} }

// Before, After and Equal compare dates.
func (d Day) Before(o Day) bool { return d.t.Before(o.t) }
func (d Day) After(o Day) bool  { return d.t.After(o.t) }
func (d Day) Equal(o Day) bool  { return d.t.Equal(o.t) }

// Compare is -1, 0 or 1 as d is before, the same as or after o.
func (d Day) Compare(o Day) int { return d.t.Compare(o.t) }

// IsZero reports whether d is unset.
func (d Day) IsZero() bool { return d.t.IsZero() }

// DaysUntil is the number of days from d to o (negative if o is earlier).
func (d Day) DaysUntil(o Day) int { return int(o.t.Sub(d.t).Hours() / 24) }

// Start is the first instant of the day in loc.
func (d Day) Start(loc *time.Location) time.Time {
	y, m, dd := d.t.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}

// End is the first instant of the next day in loc.
func (d Day) End(loc *time.Location) time.Time { return d.AddDays(1).Start(loc) }

// Weekday is the day of the week.
func (d Day) Weekday() time.Weekday { return d.t.Weekday() }

// Month and Year of the date.
func (d Day) Month() time.Month { return d.t.Month() }
func (d Day) Year() int         { return d.t.Year() }

// Days lists from..to inclusive.
func Days(from, to Day) []Day {
	var out []Day
	for d := from; !d.After(to); d = d.AddDays(1) {
		out = append(out, d)
	}
	return out
}

// LocalDays are the local days (in loc) that a UTC day overlaps: raw files
// are partitioned by UTC day, KPIs by the tenant's day.
func LocalDays(utcDay Day, loc *time.Location) []Day {
	return Days(DayOf(utcDay.Start(time.UTC), loc), DayOf(utcDay.End(time.UTC).Add(-time.Nanosecond), loc))
}
