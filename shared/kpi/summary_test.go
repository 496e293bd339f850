package kpi_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
)

// summaryDays generates day parts from first to last: active users (DAU
// counters and sets), customer accounts that start, renew a term after,
// cancel and come back, with starts at any hour (so that the time zone
// moves their due dates), onboarded or not, renewals, signups and
// completions; the days of missing were never aggregated.
func summaryDays(first, last kpi.Day, missing map[kpi.Day]bool) []kpi.Part {
	r := rand.New(rand.NewPCG(17, 23))
	const users, accounts = 400, 150
	type acct struct {
		since     time.Time
		customer  bool
		onboarded bool
	}
	accts := make([]acct, accounts)
	for i := range accts {
		// Starts up to 400 days before the first day, so some fall due
		// in the days generated whatever the term.
		accts[i] = acct{since: first.Start(time.UTC).Add(-time.Duration(r.IntN(400*24)) * time.Hour), customer: r.IntN(5) > 0, onboarded: r.IntN(2) == 0}
	}
	var out []kpi.Part
	for d := first; !d.After(last); d = d.AddDays(1) {
		p := kpi.NewPart(d)
		active := roaring.New()
		for range 20 + r.IntN(80) {
			active.Add(uint32(r.IntN(users)))
		}
		if r.IntN(15) > 0 { // some days have no active user
			p.Sets[kpi.SetActiveUsers] = active
			p.Counters[kpi.CounterDAU] = float64(active.GetCardinality())
		}
		p.Counters[kpi.CounterSignups] = float64(r.IntN(10))
		p.Counters[kpi.CounterOnboarded] = float64(r.IntN(int(p.Counters[kpi.CounterSignups]) + 1))
		renewed := roaring.New()
		for i := range accts {
			a := &accts[i]
			switch x := r.IntN(1000); {
			case x < 6 && a.customer: // renewed: a new term
				renewed.Add(uint32(1000 + i))
				a.since = d.Start(time.UTC).Add(time.Duration(r.IntN(24)) * time.Hour)
			case x < 9:
				a.customer = !a.customer
				if a.customer {
					a.since = d.Start(time.UTC).Add(time.Duration(r.IntN(24)) * time.Hour)
				}
			case x < 14:
				a.onboarded = !a.onboarded
			}
			if a.customer {
				p.Accounts = append(p.Accounts, kpi.AccountState{Ordinal: uint32(1000 + i), ID: "a", ACV: 100, Since: a.since, Onboarded: a.onboarded})
			}
		}
		if !renewed.IsEmpty() {
			p.Sets[kpi.SetRenewed] = renewed
		}
		if !missing[d] {
			out = append(out, p)
		}
	}
	return out
}

// monthParts merges the months of days as the nightly run does, each with
// the kpi.MonthLookback days before it.
func monthParts(t *testing.T, days []kpi.Part) []kpi.Part {
	t.Helper()
	var out []kpi.Part
	for m := kpi.MonthOf(days[0].Day); !m.After(days[len(days)-1].Day); m = kpi.NextMonth(m) {
		mp, ok := kpi.BuildMonth(between(days, m, kpi.MonthEnd(m)), between(days, m.AddDays(-kpi.MonthLookback), m.AddDays(-1)))
		if ok {
			out = append(out, mp)
		}
	}
	return out
}

func between(parts []kpi.Part, from, to kpi.Day) []kpi.Part {
	var out []kpi.Part
	for _, p := range parts {
		if !p.Day.Before(from) && !p.Day.After(to) {
			out = append(out, p)
		}
	}
	return out
}

// planned is the input the query gives a KPI planned on month parts: the
// month parts of the whole months of its cover spans, and day parts for
// the rest of them and for its day spans only.
func planned(t *testing.T, def kpi.Definition, in kpi.Input, days, months []kpi.Part) kpi.Input {
	t.Helper()
	cover, daySpans, ok := def.Plan(in, "")
	if !ok {
		t.Fatalf("%s is not planned on month parts", def.ID)
	}
	read := map[kpi.Day]bool{}
	want := map[kpi.Day]bool{}
	for _, x := range daySpans {
		for _, d := range kpi.Days(x.From, x.To) {
			read[d] = true
		}
	}
	for _, x := range cover {
		whole := map[kpi.Day]bool{}
		for _, m := range kpi.WholeMonths(x.From, x.To) {
			whole[m] = true
		}
		for _, d := range kpi.Days(x.From, x.To) {
			if whole[kpi.MonthOf(d)] {
				want[kpi.MonthOf(d)] = true
			} else {
				read[d] = true
			}
		}
	}
	for _, m := range months {
		if want[kpi.MonthOf(m.Day)] {
			in.Months = append(in.Months, m)
		}
	}
	for _, p := range days {
		if read[p.Day] {
			in.Parts = append(in.Parts, p)
		}
	}
	return in
}

// TestSummariesExact: stickiness and the renewal KPIs evaluated as the
// query plans them (whole months from their month parts' summaries, the
// other days from the day parts their plan reads, and nothing else)
// equal their evaluation on every day part, to the last bit, for ranges
// within a month, across months, on whole months and over most of the
// history; with days never aggregated, and whatever the term and the time
// zone at query time (the month parts are merged once, before either is
// known).
func TestSummariesExact(t *testing.T) {
	first, last := kpi.NewDay(2025, 11, 3), kpi.NewDay(2026, 6, 30)
	missing := map[kpi.Day]bool{kpi.NewDay(2026, 1, 30): true, kpi.NewDay(2026, 3, 1): true, kpi.NewDay(2026, 3, 2): true, kpi.NewDay(2026, 4, 15): true}
	// And days before some due dates (of a year, in UTC), whose accounts
	// are not known to be due then.
	for _, p := range summaryDays(first, last, nil) {
		for _, a := range p.Accounts {
			if kpi.DayOf(a.Since, time.UTC).AddDays(365).Equal(p.Day.AddDays(1)) && len(missing) < 10 && p.Day.After(first.AddDays(60)) {
				missing[p.Day] = true
			}
		}
	}
	days := summaryDays(first, last, missing)
	months := monthParts(t, days)
	ranges := []kpi.Span{
		{From: kpi.NewDay(2026, 2, 3), To: kpi.NewDay(2026, 2, 20)},
		{From: kpi.NewDay(2026, 1, 20), To: kpi.NewDay(2026, 3, 10)},
		{From: kpi.NewDay(2026, 3, 1), To: kpi.NewDay(2026, 3, 31)},
		{From: kpi.NewDay(2026, 1, 1), To: kpi.NewDay(2026, 4, 30)},
		{From: kpi.NewDay(2025, 12, 14), To: kpi.NewDay(2026, 6, 2)},
		{From: kpi.NewDay(2025, 12, 1), To: kpi.NewDay(2026, 5, 31)},
	}
	configs := map[string]kpi.Config{}
	for _, tc := range []struct {
		name string
		term int
		zone string
	}{{"a year in UTC", 365, "UTC"}, {"30 days in Tokyo", 30, "Asia/Tokyo"}, {"90 days in Los Angeles", 90, "America/Los_Angeles"}} {
		cfg := kpi.DefaultConfig()
		cfg.RenewalTermDays, cfg.TimeZone = tc.term, tc.zone
		configs[tc.name] = cfg
	}
	params := map[string]string{kpi.ParamNewCustomers: "1000", kpi.ParamCompletionTarget: "85", kpi.ParamContractValue: "5000"}
	due := 0.0
	for name, cfg := range configs {
		for _, rg := range ranges {
			for _, id := range []string{"stickiness", "renewal_rate", "renewal_by_onboarding", "roi_projection"} {
				def, _ := kpi.Lookup(id)
				in := kpi.Input{From: rg.From, To: rg.To, Config: cfg, Params: params}
				all := in
				all.Parts = days
				want := def.Evaluate(all)
				got := def.Evaluate(planned(t, def, in, days, months))
				if diff := cmp.Diff(asJSON(t, got), asJSON(t, want)); diff != "" {
					t.Errorf("%s, %s, %s to %s: month parts answer differently (-months +days):\n%s", id, name, rg.From, rg.To, diff)
				}
				if id == "renewal_rate" {
					due += want.Denominator
				}
			}
		}
	}
	if due < 200 {
		t.Errorf("only %v subscriptions due over all ranges: the test checks little", due)
	}
}

func asJSON(t *testing.T, r kpi.Result) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBuildMonthUsage: a month part's usage counts, for each of its days,
// the active users of the 30 days ending on it, the days before the month
// included, and its spells and renewals say which accounts were customers
// and renewed on which days.
func TestBuildMonthUsage(t *testing.T) {
	sep, oct := kpi.NewDay(2026, 9, 1), kpi.NewDay(2026, 10, 1)
	since := time.Date(2025, 10, 2, 23, 0, 0, 0, time.UTC)
	part := func(d kpi.Day, users []uint32, accts ...kpi.AccountState) kpi.Part {
		p := kpi.NewPart(d)
		p.Sets[kpi.SetActiveUsers] = roaring.BitmapOf(users...)
		p.Counters[kpi.CounterDAU] = float64(len(users))
		p.Accounts = accts
		return p
	}
	before := []kpi.Part{
		part(sep, []uint32{9}),                  // out of every window of October
		part(sep.AddDays(1), []uint32{1, 2}),    // September 2: in October 1's window
		part(oct.AddDays(-1), []uint32{2, 3}),   // September 30
		part(oct.AddDays(-40), []uint32{7, 8}),  // far before: ignored
		part(oct.AddDays(-400), []uint32{7, 8}), // far before: ignored
	}
	a := kpi.AccountState{Ordinal: 5, Since: since}
	b := kpi.AccountState{Ordinal: 6, Since: since, Onboarded: true}
	renewedA := a
	renewedA.Since = since.AddDate(1, 0, 0)
	days := []kpi.Part{
		part(oct, []uint32{3}, a, b),
		part(oct.AddDays(1), []uint32{4}, renewedA, b),
		part(oct.AddDays(2), []uint32{4, 5}, renewedA),
		// October 4 never aggregated
		part(oct.AddDays(4), nil, renewedA),
	}
	days[1].Sets[kpi.SetRenewed] = roaring.BitmapOf(5)
	m, ok := kpi.BuildMonth(days, before)
	if !ok {
		t.Fatal("no month part")
	}
	wantUsage := []kpi.DayUsage{{Day: 1, DAU: 1, MAU: 3}, {Day: 2, DAU: 1, MAU: 3}, {Day: 3, DAU: 2, MAU: 4}, {Day: 5, DAU: 0, MAU: 4}}
	if diff := cmp.Diff(m.Usage, wantUsage); diff != "" {
		t.Errorf("usage (-got +want):\n%s", diff)
	}
	wantSpells := []kpi.AccountSpell{
		{Ordinal: 5, Since: since, First: 1, Last: 1},
		{Ordinal: 6, Since: since, Onboarded: true, First: 1, Last: 2},
		{Ordinal: 5, Since: renewedA.Since, First: 2, Last: 3},
		{Ordinal: 5, Since: renewedA.Since, First: 5, Last: 5},
	}
	if diff := cmp.Diff(m.Spells, wantSpells); diff != "" {
		t.Errorf("spells (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(m.Renewed, []kpi.Renewal{{Day: 2, Ordinal: 5}}); diff != "" {
		t.Errorf("renewals (-got +want):\n%s", diff)
	}
	if m.Counters[kpi.CounterUsage] != 4 || m.Counters[kpi.CounterRenewals] != 4 || !m.Holds([]string{kpi.CounterUsage, kpi.CounterRenewals}) {
		t.Errorf("summary counters %v, %v: want 4 (the days merged)", m.Counters[kpi.CounterUsage], m.Counters[kpi.CounterRenewals])
	}
}
