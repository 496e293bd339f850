package kpi_test

import (
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

func TestBusinessHours(t *testing.T) {
	b := &kpi.BusinessHours{
		TimeZone: "Europe/Lisbon",
		Week: map[string][2]string{
			"mon": {"09:00", "17:00"}, "tue": {"09:00", "17:00"}, "wed": {"09:00", "17:00"},
			"thu": {"09:00", "17:00"}, "fri": {"09:00", "13:00"},
		},
		Holidays: []string{"2026-10-05"}, // a Monday
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	lis, _ := time.LoadLocation("Europe/Lisbon")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, lis)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		from, to string
		want     time.Duration
	}{
		{"inside one day", "2026-09-29 10:00", "2026-09-29 11:30", 90 * time.Minute},
		{"before opening to after closing", "2026-09-29 07:00", "2026-09-29 20:00", 8 * time.Hour},
		{"overnight", "2026-09-29 16:00", "2026-09-30 10:00", 2 * time.Hour},
		{"friday short day, weekend, holiday monday", "2026-10-02 12:00", "2026-10-06 10:00", 2 * time.Hour},
		{"all weekend", "2026-10-03 00:00", "2026-10-04 23:59", 0},
		{"reversed", "2026-09-29 11:00", "2026-09-29 10:00", 0},
		// Lisbon leaves summer time on 2026-10-25 (a Sunday): Monday's hours stay 09:00-17:00 local.
		{"across the clock change", "2026-10-23 12:00", "2026-10-26 10:00", time.Hour + time.Hour},
	}
	for _, tc := range tests {
		if got := b.Between(at(tc.from), at(tc.to)); got != tc.want {
			t.Errorf("%s: Between(%s, %s) = %v, want %v", tc.name, tc.from, tc.to, got, tc.want)
		}
	}
	bad := &kpi.BusinessHours{TimeZone: "Nowhere", Week: map[string][2]string{"mon": {"17:00", "09:00"}, "xyz": {"09:00", "10:00"}}, Holidays: []string{"2026-13-01"}}
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted a broken schedule")
	}
}
