package kpi_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
)

// listDays generates day parts from first to last with survey answers and
// tickets: answers of every type with scores on and off every scale
// (fractions, negatives, over 100), many at the same second and from the
// same respondents; tickets of a few requesters created on the part's day
// in a zone that changes from day to day (UTC−12 to UTC+14, as parts built
// before and after a change of the tenant's zone), some exactly 7 days
// apart across month starts; the days of missing were never aggregated.
func listDays(first, last kpi.Day, missing map[kpi.Day]bool) []kpi.Part {
	r := rand.New(rand.NewPCG(5, 8))
	zones := []string{"UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12", "America/Los_Angeles"}
	scores := map[string][]float64{
		"nps":  {0, 1, 2, 3, 4, 5, 6, 6.5, 7, 8, 9, 10, -1, 150},
		"csat": {0, 1, 2, 3, 4, 5, 6, 9, 10, 2.5, -1, 101, 150},
		"ces":  {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 3.5, -2, 120},
	}
	types := []string{"nps", "csat", "ces", "other"}
	var out []kpi.Part
	for d := first; !d.After(last); d = d.AddDays(1) {
		p := kpi.NewPart(d)
		loc, err := time.LoadLocation(zones[r.IntN(len(zones))])
		if err != nil {
			panic(err)
		}
		start := d.Start(loc)
		for i := range 20 + r.IntN(40) {
			typ := types[r.IntN(len(types))]
			s := scores[typ]
			if s == nil {
				s = scores["nps"]
			}
			at := start.Add(time.Duration(r.IntN(12)) * 2 * time.Hour) // many answers at the same second
			p.Responses = append(p.Responses, kpi.Response{Type: typ, SurveyID: fmt.Sprintf("s%d", r.IntN(3)), Respondent: fmt.Sprintf("u%d", r.IntN(30)),
				MessageID: fmt.Sprintf("%s-%d", d, i), Time: at, Score: s[r.IntN(len(s))], Comment: []string{"", "slow", "bad"}[r.IntN(3)],
				Channel: []string{"", "email", "web"}[r.IntN(3)], Touchpoint: []string{"", "billing"}[r.IntN(2)]})
		}
		for i := range r.IntN(6) {
			req := fmt.Sprintf("r%d", r.IntN(40))
			if r.IntN(10) == 0 {
				req = ""
			}
			p.Tickets = append(p.Tickets, kpi.Ticket{ID: fmt.Sprintf("%s-%d", d, i), Requester: req, Created: start.Add(time.Duration(r.IntN(86400)) * time.Second)})
		}
		if d.Equal(kpi.MonthEnd(d)) {
			// x: two tickets exactly 7 days apart across the month start
			// (a repeat only when the range holds both), y: 7 days and a
			// second apart (never).
			at := d.Start(time.UTC).Add(12 * time.Hour)
			p.Tickets = append(p.Tickets, kpi.Ticket{ID: d.String() + "-x", Requester: "x" + d.String(), Created: at},
				kpi.Ticket{ID: d.String() + "-y", Requester: "y" + d.String(), Created: at})
		}
		if prev := d.AddDays(-7); prev.Equal(kpi.MonthEnd(prev)) {
			at := prev.Start(time.UTC).Add(12 * time.Hour).Add(7 * 24 * time.Hour)
			p.Tickets = append(p.Tickets, kpi.Ticket{ID: d.String() + "-x", Requester: "x" + prev.String(), Created: at},
				kpi.Ticket{ID: d.String() + "-y", Requester: "y" + prev.String(), Created: at.Add(time.Second)})
		}
		if !missing[d] {
			out = append(out, p)
		}
	}
	return out
}

// withoutListSummaries is months as merged before the follow-up and
// contact summaries.
func withoutListSummaries(months []kpi.Part) []kpi.Part {
	var out []kpi.Part
	for _, m := range months {
		m.Counters = maps.Clone(m.Counters)
		delete(m.Counters, kpi.CounterFollowUps)
		delete(m.Counters, kpi.CounterContacts)
		m.FollowUps, m.Contacts = nil, nil
		out = append(out, m)
	}
	return out
}

// TestListSummariesExact: detractor_followups and repeat_contact_rate
// evaluated as the query plans them (whole months from their month parts'
// summaries, the other days from day parts) equal their evaluation on
// every day part, to the last bit, for ranges within a month, across
// months, starting on a month's first day, on whole months and over most
// of the history; whatever the scales and the CES direction at query time
// (the month parts are merged once, before either is known), with a
// filter, with days never aggregated, and from month parts merged before
// the summaries.
func TestListSummariesExact(t *testing.T) {
	first, last := kpi.NewDay(2025, 11, 3), kpi.NewDay(2026, 6, 30)
	missing := map[kpi.Day]bool{kpi.NewDay(2026, 1, 30): true, kpi.NewDay(2026, 3, 1): true, kpi.NewDay(2026, 3, 2): true, kpi.NewDay(2026, 4, 15): true}
	days := listDays(first, last, missing)
	months := monthParts(t, days)
	ranges := []kpi.Span{
		{From: kpi.NewDay(2026, 2, 3), To: kpi.NewDay(2026, 2, 20)},
		{From: kpi.NewDay(2026, 1, 20), To: kpi.NewDay(2026, 3, 10)},
		{From: kpi.NewDay(2026, 2, 1), To: kpi.NewDay(2026, 2, 28)},
		{From: kpi.NewDay(2026, 2, 1), To: kpi.NewDay(2026, 3, 31)},
		{From: kpi.NewDay(2026, 1, 1), To: kpi.NewDay(2026, 4, 30)},
		{From: kpi.NewDay(2025, 12, 14), To: kpi.NewDay(2026, 6, 2)},
		{From: kpi.NewDay(2025, 12, 1), To: kpi.NewDay(2026, 5, 31)},
		{From: kpi.NewDay(2026, 5, 31), To: kpi.NewDay(2026, 6, 30)},
	}
	configs := map[string]kpi.Config{"default": kpi.DefaultConfig()}
	for _, tc := range []struct {
		name                   string
		csatMin, csatMax       int
		cesMin, cesMax         int
		cesHigherIsEasier      bool
		filter                 []kpi.Filter
		defaultScalesOtherwise bool
	}{
		{name: "CSAT 0-10, CES 1-7 lower is easier", csatMin: 0, csatMax: 10, cesMin: 1, cesMax: 7},
		{name: "CSAT 1-3, CES 0-10 higher is easier", csatMin: 1, csatMax: 3, cesMin: 0, cesMax: 10, cesHigherIsEasier: true},
		{name: "CSAT 99-100, CES 1-5", csatMin: 99, csatMax: 100, cesMin: 1, cesMax: 5, cesHigherIsEasier: true},
		{name: "CSAT 0-150 (unchecked)", csatMin: 0, csatMax: 150, cesMin: 1, cesMax: 5, cesHigherIsEasier: true},
		{name: "CES -2-5 (unchecked)", csatMin: 1, csatMax: 5, cesMin: -2, cesMax: 5},
	} {
		cfg := kpi.DefaultConfig()
		cfg.CSATScaleMin, cfg.CSATScaleMax, cfg.CESScaleMin, cfg.CESScaleMax, cfg.CESHigherIsEasier = tc.csatMin, tc.csatMax, tc.cesMin, tc.cesMax, tc.cesHigherIsEasier
		configs[tc.name] = cfg
	}
	filters := map[string][]kpi.Filter{"no filter": nil, "channel email": {{Dim: kpi.DimChannel, Value: "email"}}}
	var listed, lows, repeat float64
	for _, old := range []bool{false, true} {
		ms := months
		if old {
			ms = withoutListSummaries(months)
		}
		for name, cfg := range configs {
			for fname, flt := range filters {
				for _, rg := range ranges {
					for _, id := range []string{"detractor_followups", "repeat_contact_rate"} {
						def, _ := kpi.Lookup(id)
						in := kpi.Input{From: rg.From, To: rg.To, Config: cfg, Filters: flt}
						all := in
						all.Parts = days
						want := def.Evaluate(all)
						got := def.Evaluate(planned(t, def, in, days, ms))
						if diff := cmp.Diff(asJSON(t, got), asJSON(t, want)); diff != "" {
							t.Errorf("%s, %s, %s, %s to %s (old months %v): month parts answer differently (-months +days):\n%s", id, name, fname, rg.From, rg.To, old, diff)
						}
						if id == "repeat_contact_rate" {
							repeat += want.Numerator
						} else {
							lows += want.Numerator
							listed += float64(want.Details["listed"].(int))
						}
					}
				}
			}
		}
	}
	if lows <= listed || listed < 5000 || repeat < 100 {
		t.Errorf("%v low answers, %v listed, %v repeat requesters over all ranges: the test checks little", lows, listed, repeat)
	}
}

// TestContactsAcrossMonthStart: two tickets of a requester exactly 7 days
// apart, the first on a month's last day, are a repeat contact over a
// range that holds both, and not over one that starts on the month's
// first day; 7 days and a second apart, never; and two tickets less than
// 7 days apart whose later one, in the next month's part (UTC+14), was
// created before the month's end in UTC, are one.
func TestContactsAcrossMonthStart(t *testing.T) {
	jan31, feb7 := kpi.NewDay(2026, 1, 31), kpi.NewDay(2026, 2, 7)
	at := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	day := func(d kpi.Day, ts ...kpi.Ticket) kpi.Part {
		p := kpi.NewPart(d)
		p.Tickets = ts
		return p
	}
	// z: a ticket on January 24 (UTC) and one on February 1 in UTC+14,
	// created on January 31 at 11:00 UTC: 6 days and 14 hours apart.
	days := []kpi.Part{
		day(kpi.NewDay(2026, 1, 24), kpi.Ticket{ID: "5", Requester: "z", Created: time.Date(2026, 1, 24, 21, 0, 0, 0, time.UTC)}),
		day(jan31, kpi.Ticket{ID: "1", Requester: "x", Created: at}, kpi.Ticket{ID: "2", Requester: "y", Created: at}),
		day(kpi.NewDay(2026, 2, 1), kpi.Ticket{ID: "6", Requester: "z", Created: time.Date(2026, 1, 31, 11, 0, 0, 0, time.UTC)}),
		day(feb7, kpi.Ticket{ID: "3", Requester: "x", Created: at.Add(7 * 24 * time.Hour)}, kpi.Ticket{ID: "4", Requester: "y", Created: at.Add(7*24*time.Hour + time.Second)}),
	}
	var months []kpi.Part
	for _, m := range []kpi.Day{kpi.NewDay(2026, 1, 1), kpi.NewDay(2026, 2, 1)} {
		mp, ok := kpi.BuildMonth(between(days, m, kpi.MonthEnd(m)), nil)
		if !ok {
			t.Fatal("no month part")
		}
		months = append(months, mp)
	}
	def, _ := kpi.Lookup("repeat_contact_rate")
	for _, tc := range []struct {
		from, to          kpi.Day
		repeat, requested float64
	}{
		{kpi.NewDay(2026, 1, 1), kpi.NewDay(2026, 2, 28), 2, 3},
		{kpi.NewDay(2026, 1, 20), kpi.NewDay(2026, 2, 28), 2, 3},
		{kpi.NewDay(2026, 1, 1), kpi.NewDay(2026, 2, 3), 1, 3},
		{kpi.NewDay(2026, 2, 1), kpi.NewDay(2026, 2, 28), 0, 3},
		{kpi.NewDay(2026, 1, 1), kpi.NewDay(2026, 1, 31), 0, 3},
	} {
		got := def.Evaluate(planned(t, def, kpi.Input{From: tc.from, To: tc.to, Config: kpi.DefaultConfig()}, days, months))
		if got.Numerator != tc.repeat || got.Denominator != tc.requested {
			t.Errorf("%s to %s: %v repeat of %v requesters, want %v of %v", tc.from, tc.to, got.Numerator, got.Denominator, tc.repeat, tc.requested)
		}
	}
}
