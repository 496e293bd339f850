package kpi_test

import (
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

// FuzzTrafficSource classifies arbitrary campaigns and URLs: no panic,
// and always one of the known sources.
func FuzzTrafficSource(f *testing.F) {
	f.Add("google", "cpc", "https://www.google.com/", "https://app.example.com/pricing")
	f.Add("newsletter", "Email", "", "https://example.com/")
	f.Add("", "", "https://www.google.co.uk/search?q=x", "https://example.com/")
	f.Add("", "", "https://t.co/abc", "https://example.com/")
	f.Add("", "", "https://blog.partner.io/post", "https://example.com/")
	f.Add("", "", "https://example.com/other", "https://example.com/")
	f.Add("partner", "affiliate", "", "")
	f.Add(" ", "referral", "", "")
	f.Add("", "", "news.ycombinator.com", "example.com")
	f.Add("", "", "http://[::1]:namedport", "%zz")
	f.Add("", "", "://", "https://")
	known := map[string]bool{kpi.SourcePaid: true, kpi.SourceEmail: true, kpi.SourceSocial: true, kpi.SourceOrganic: true,
		kpi.SourceReferral: true, kpi.SourceDirect: true, kpi.SourceCampaign: true}
	f.Fuzz(func(t *testing.T, source, medium, referrer, page string) {
		got := kpi.TrafficSource(source, medium, referrer, page)
		if !known[got] {
			t.Fatalf("TrafficSource(%q, %q, %q, %q) = %q, not a known source", source, medium, referrer, page, got)
		}
		// The same site as the page is never a referral.
		if source == "" && medium == "" && referrer != "" {
			if same := kpi.TrafficSource("", "", referrer, referrer); same != kpi.SourceDirect {
				t.Fatalf("referrer %q on its own page = %q, want direct", referrer, same)
			}
		}
	})
}

var fuzzZones = []string{"UTC", "Europe/Lisbon", "America/New_York", "America/Sao_Paulo", "America/Havana",
	"Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia", "Asia/Tehran", "Africa/Casablanca", "Pacific/Chatham", "Antarctica/Troll"}

// FuzzBusinessHours measures arbitrary spans against valid schedules:
// business time is never negative and never longer than the span.
func FuzzBusinessHours(f *testing.F) {
	lisbonSummer := time.Date(2026, 10, 23, 12, 0, 0, 0, time.UTC).Unix()
	f.Add(uint8(1), "09:00", "17:00", "09:00", "13:00", "2026-10-05", lisbonSummer, int64(3*24*3600))
	f.Add(uint8(0), "00:00", "24:00", "00:00", "24:00", "", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix(), int64(40*24*3600))
	f.Add(uint8(2), "09:00", "17:00", "10:00", "14:00", "", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC).Unix(), int64(3*24*3600))
	f.Add(uint8(2), "01:30", "02:30", "01:59", "03:01", "", time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC).Unix(), int64(24*3600))
	f.Add(uint8(4), "00:00", "24:00", "23:00", "24:00", "", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC).Unix(), int64(400*24*3600))
	f.Add(uint8(7), "00:00", "24:00", "00:00", "24:00", "2011-12-30", time.Date(2011, 12, 28, 0, 0, 0, 0, time.UTC).Unix(), int64(5*24*3600))
	f.Add(uint8(5), "02:00", "03:00", "00:00", "24:00", "", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).Unix(), int64(10*24*3600))
	f.Add(uint8(3), "00:00", "00:30", "23:30", "24:00", "2026-11-01", time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC).Unix(), int64(-3600))
	f.Fuzz(func(t *testing.T, zone uint8, wkOpen, wkClose, weOpen, weClose, holiday string, from, span int64) {
		b := &kpi.BusinessHours{
			TimeZone: fuzzZones[int(zone)%len(fuzzZones)],
			Week: map[string][2]string{
				"mon": {wkOpen, wkClose}, "tue": {wkOpen, wkClose}, "wed": {wkOpen, wkClose}, "thu": {wkOpen, wkClose},
				"fri": {wkOpen, wkClose}, "sat": {weOpen, weClose}, "sun": {weOpen, weClose},
			},
		}
		if holiday != "" {
			b.Holidays = []string{holiday}
		}
		// Spans within 2000..2100 and up to 400 days long, either way.
		const lo, years = 946684800, 100 * 365 * 24 * 3600
		a := time.Unix(lo+((from-lo)%years+years)%years, 0)
		z := a.Add(time.Duration(span%(400*24*3600)) * time.Second)
		if b.Validate() != nil {
			_ = b.Between(a, z) // an invalid schedule must not panic either
			return
		}
		got := b.Between(a, z)
		if got < 0 {
			t.Fatalf("%s %v: Between(%s, %s) = %v, negative", b.TimeZone, b.Week, a, z, got)
		}
		if cal := z.Sub(a); got > max(cal, 0) {
			t.Fatalf("%s week %v holidays %v: Between(%s, %s) = %v, longer than the %v between them",
				b.TimeZone, b.Week, b.Holidays, a.In(mustZone(t, b.TimeZone)), z.In(mustZone(t, b.TimeZone)), got, cal)
		}
	})
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
