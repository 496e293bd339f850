package kpi_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
)

// cohortDays generates day parts from first to last with signups (a few
// users each day, some days none, now and then a user signing up again
// on a later day) and active users: signed-up users, each active on a day
// with a chance that falls with their age, and visitors who never signed
// up; the days of missing were never aggregated, and some days have no
// active user.
func cohortDays(first, last kpi.Day, missing map[kpi.Day]bool) []kpi.Part {
	r := rand.New(rand.NewPCG(31, 37))
	type user struct {
		id     uint32
		signup kpi.Day
	}
	var users []user
	next := uint32(1000)
	var out []kpi.Part
	for d := first; !d.After(last); d = d.AddDays(1) {
		p := kpi.NewPart(d)
		signups := roaring.New()
		if r.IntN(6) > 0 {
			for range 1 + r.IntN(5) {
				users = append(users, user{next, d})
				signups.Add(next)
				next++
			}
		}
		if len(users) > 20 && r.IntN(10) == 0 { // signs up again
			u := users[r.IntN(len(users)-5)]
			signups.Add(u.id)
			users = append(users, user{u.id, d})
		}
		p.Sets[kpi.SetSignups] = signups
		active := roaring.New()
		for _, u := range users {
			age := u.signup.DaysUntil(d)
			if r.IntN(100) < 40/(1+age/20)+2 {
				active.Add(u.id)
			}
		}
		for range r.IntN(20) {
			active.Add(uint32(r.IntN(500))) // visitors and users who never signed up
		}
		if r.IntN(12) > 0 {
			p.Sets[kpi.SetActiveUsers] = active
			p.Counters[kpi.CounterDAU] = float64(active.GetCardinality())
		}
		if !missing[d] {
			out = append(out, p)
		}
	}
	return out
}

// cohortMonths merges the months of days as the nightly run does, each
// with the days before it that kpi.MonthWindow names.
func cohortMonths(days []kpi.Part) []kpi.Part {
	var out []kpi.Part
	for m := kpi.MonthOf(days[0].Day); !m.After(days[len(days)-1].Day); m = kpi.NextMonth(m) {
		active, signups := kpi.MonthWindow(m)
		if mp, ok := kpi.BuildMonth(between(days, m, kpi.MonthEnd(m)), between(days, signups.From, active.To)); ok {
			out = append(out, mp)
		}
	}
	return out
}

// retentionByUnions is retention_cohorts as it was computed before month
// summaries, from day parts alone: each cohort member's period, its days'
// active users unioned and intersected with the member's signups.
func retentionByUnions(in kpi.Input) kpi.Result {
	interval := in.Params["interval"]
	if interval == "" {
		interval = "week"
	}
	byDay := map[kpi.Day]kpi.Part{}
	last := kpi.Day{}
	for _, p := range in.Parts {
		if p.Day.Before(in.From) || p.Day.After(in.To.AddDays(366)) {
			continue
		}
		byDay[p.Day] = p
		if p.Day.After(last) {
			last = p.Day
		}
	}
	type member struct {
		day   kpi.Day
		users *roaring.Bitmap
	}
	cohorts := map[kpi.Day][]member{}
	for _, d := range kpi.Days(in.From, in.To) {
		if s := byDay[d].Sets[kpi.SetSignups]; s != nil && !s.IsEmpty() {
			c := kpi.CohortStart(d, interval)
			cohorts[c] = append(cohorts[c], member{d, s})
		}
	}
	pct := func(a, b float64) *float64 {
		if b == 0 {
			return nil
		}
		v := a / b * 100
		return &v
	}
	rows := []kpi.CohortRow{}
	var num, den []float64
	for _, c := range slices.SortedFunc(func(yield func(kpi.Day) bool) {
		for c := range cohorts {
			if !yield(c) {
				return
			}
		}
	}, kpi.Day.Compare) {
		row := kpi.CohortRow{Cohort: c.String(), Active: []*float64{}, Pct: []*float64{}}
		for _, m := range cohorts[c] {
			row.Size += int(m.users.GetCardinality())
		}
		for n := 0; ; n++ {
			ended, active := true, 0.0
			for _, m := range cohorts[c] {
				from, to := kpi.RetentionPeriod(m.day, n, interval)
				if to.After(last) {
					ended = false
					break
				}
				union := roaring.New()
				for _, d := range kpi.Days(from, to) {
					if b := byDay[d].Sets[kpi.SetActiveUsers]; b != nil {
						union.Or(b)
					}
				}
				active += float64(m.users.AndCardinality(union))
			}
			if !ended {
				break
			}
			a := active
			row.Active = append(row.Active, &a)
			row.Pct = append(row.Pct, pct(active, float64(row.Size)))
			for len(num) <= n {
				num, den = append(num, 0), append(den, 0)
			}
			num[n] += active
			den[n] += float64(row.Size)
		}
		rows = append(rows, row)
	}
	for i := range rows {
		for len(rows[i].Active) < len(num) {
			rows[i].Active, rows[i].Pct = append(rows[i].Active, nil), append(rows[i].Pct, nil)
		}
	}
	average := make([]*float64, len(num))
	for n := range average {
		average[n] = pct(num[n], den[n])
	}
	var dataUntil *string
	if !last.IsZero() {
		s := last.String()
		dataUntil = &s
	}
	var value *float64
	var n1, d1 float64
	if len(num) > 1 {
		value, n1, d1 = average[1], num[1], den[1]
	}
	return kpi.Result{Value: value, Numerator: n1, Denominator: d1,
		Details: map[string]any{"interval": interval, "cohorts": rows, "average_pct": average, "data_until": dataUntil}}
}

// TestCohortSummariesExact: retention_cohorts evaluated as the query plans
// it (whole months from their cohort summaries, the other days from their
// day parts) and on day parts alone equal the cohort triangle computed by
// unions of each member's period, to the last bit: for each interval, for
// ranges within a month, across months, of a year and longer than month
// parts' horizon, with days never aggregated, users who sign up twice and
// periods that end after the data.
func TestCohortSummariesExact(t *testing.T) {
	first, last := kpi.NewDay(2024, 1, 5), kpi.NewDay(2026, 10, 20)
	missing := map[kpi.Day]bool{kpi.NewDay(2025, 3, 1): true, kpi.NewDay(2025, 6, 30): true, kpi.NewDay(2025, 7, 1): true,
		kpi.NewDay(2026, 1, 31): true, kpi.NewDay(2026, 2, 1): true, kpi.NewDay(2026, 10, 3): true}
	days := cohortDays(first, last, missing)
	months := cohortMonths(days)
	def, _ := kpi.Lookup("retention_cohorts")
	ranges := []kpi.Span{
		{From: kpi.NewDay(2026, 9, 21), To: kpi.NewDay(2026, 10, 20)},  // the last 30 days
		{From: kpi.NewDay(2025, 10, 21), To: kpi.NewDay(2026, 10, 20)}, // the last year
		{From: kpi.NewDay(2025, 3, 1), To: kpi.NewDay(2025, 3, 31)},    // a whole month, a year before the end
		{From: kpi.NewDay(2025, 1, 14), To: kpi.NewDay(2025, 2, 20)},   // across months, data after the lookforward
		{From: kpi.NewDay(2024, 12, 1), To: kpi.NewDay(2025, 11, 30)},  // whole months, lookforward within the data
		{From: kpi.NewDay(2024, 1, 5), To: kpi.NewDay(2026, 10, 20)},   // all of it: beyond the horizon
		{From: kpi.NewDay(2024, 2, 10), To: kpi.NewDay(2025, 5, 31)},   // longer than a year
	}
	hits := 0.0
	for _, interval := range []string{"day", "week", "month"} {
		for _, rg := range ranges {
			in := kpi.Input{From: rg.From, To: rg.To, Config: kpi.DefaultConfig(), Params: map[string]string{"interval": interval}}
			all := in
			all.Parts = days
			want := asJSON(t, retentionByUnions(all))
			if diff := cmp.Diff(asJSON(t, def.Evaluate(all)), want); diff != "" {
				t.Errorf("%s, %s to %s: day parts answer differently from unions (-got +want):\n%s", interval, rg.From, rg.To, diff)
			}
			pin := planned(t, def, in, days, months)
			if len(pin.Months) == 0 && rg.From.DaysUntil(rg.To) > 40 {
				t.Errorf("%s to %s read no month part", rg.From, rg.To)
			}
			got := def.Evaluate(pin)
			if diff := cmp.Diff(asJSON(t, got), want); diff != "" {
				t.Errorf("%s, %s to %s: month parts answer differently from unions (-got +want):\n%s", interval, rg.From, rg.To, diff)
			}
			hits += got.Numerator
		}
	}
	if hits < 100 {
		t.Errorf("only %v users active in period 1 over all ranges: the test checks little", hits)
	}
}

// TestCohortSummaryBinary: a month's cohort summary reads back as it was
// written, and every truncation of it, or a byte more, is refused.
func TestCohortSummaryBinary(t *testing.T) {
	days := cohortDays(kpi.NewDay(2026, 1, 1), kpi.NewDay(2026, 3, 31), nil)
	m := cohortMonths(days)[2]
	raw, err := m.Cohorts.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back kpi.CohortSummary
	if err := back.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&back, m.Cohorts); diff != "" {
		t.Errorf("read back (-got +want):\n%s", diff)
	}
	if len(m.Cohorts.Signups) < 20 || len(m.Cohorts.Hits[1]) == 0 {
		t.Fatalf("March's summary has %d signup days and %d bytes of weekly hits: the test checks little", len(m.Cohorts.Signups), len(m.Cohorts.Hits[1]))
	}
	for n := range len(raw) {
		if err := new(kpi.CohortSummary).UnmarshalBinary(raw[:n]); err == nil {
			t.Errorf("the first %d of %d bytes read as a summary", n, len(raw))
		}
	}
	if err := new(kpi.CohortSummary).UnmarshalBinary(append(raw, 0)); err == nil {
		t.Error("a byte more reads as a summary")
	}
}
