package aggregate_test

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

// checkMonths fails unless every month with day parts has a month part
// equal to the merge of its stored day parts, and no other month has one.
func checkMonths(t *testing.T, w *world) {
	t.Helper()
	byMonth := map[kpi.Day][]kpi.Part{}
	for d, p := range w.state.Stored {
		byMonth[kpi.MonthOf(d)] = append(byMonth[kpi.MonthOf(d)], p)
	}
	if got, want := slices.Collect(maps.Keys(w.state.Months)), slices.Collect(maps.Keys(byMonth)); len(got) != len(want) {
		t.Fatalf("month parts of %v, want one for each month of day parts %v", got, want)
	}
	for m, days := range byMonth {
		var before []kpi.Part
		active, signups := kpi.MonthWindow(m)
		for _, d := range kpi.Days(signups.From, active.To) {
			if p, ok := w.state.Stored[d]; ok {
				before = append(before, p)
			}
		}
		want, _ := kpi.BuildMonth(days, before)
		got, ok := w.state.Months[m]
		if !ok {
			t.Errorf("no month part for %s", m)
			continue
		}
		if got.Days != want.Days || !got.Day.Equal(want.Day) {
			t.Errorf("month %s: part of %d days from %s, want %d from %s", m, got.Days, got.Day, want.Days, want.Day)
		}
		if diff := cmp.Diff(got.Counters, want.Counters); diff != "" {
			t.Errorf("month %s counters (-got +want):\n%s", m, diff)
		}
		if diff := cmp.Diff(got.Lists, want.Lists); diff != "" {
			t.Errorf("month %s lists (-got +want):\n%s", m, diff)
		}
		if diff := cmp.Diff(got.Usage, want.Usage); diff != "" {
			t.Errorf("month %s usage (-got +want):\n%s", m, diff)
		}
		if diff := cmp.Diff(got.Spells, want.Spells); diff != "" {
			t.Errorf("month %s spells (-got +want):\n%s", m, diff)
		}
		if diff := cmp.Diff(got.Renewed, want.Renewed); diff != "" {
			t.Errorf("month %s renewals (-got +want):\n%s", m, diff)
		}
		if diff := cmp.Diff(got.Cohorts, want.Cohorts, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("month %s cohort summary (-got +want):\n%s", m, diff)
		}
		if len(got.Sets) != len(want.Sets) {
			t.Errorf("month %s: %d sets, want %d", m, len(got.Sets), len(want.Sets))
		}
		for k, b := range want.Sets {
			if g := got.Sets[k]; g == nil || !g.Equals(b) {
				t.Errorf("month %s set %s = %v, want %v", m, k, g, b)
			}
		}
	}
}

// TestMonthPartsFollowDays: a run merges the months of the days it ran,
// and a later run of one day (late events that also move a user's first
// active day) merges them again, so month parts always equal their days.
func TestMonthPartsFollowDays(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	var lines [][]byte
	for _, d := range []string{"2026-09-29", "2026-09-30", "2026-10-01", "2026-10-02"} {
		for _, u := range []string{"u1", "u2"} {
			lines = append(lines, []byte(`{"type":"page","messageId":"`+d+u+`","userId":"`+u+`","anonymousId":"a`+u+`","timestamp":"`+d+`T12:00:00Z","context":{"referrer":"https://www.google.com/"}}`))
		}
	}
	w.send(t, 0, lines)
	ctx := context.Background()
	if _, err := w.agg.Run(ctx, "t", kpi.Days(day("2026-09-29"), day("2026-10-02"))); err != nil {
		t.Fatal(err)
	}
	checkMonths(t, w)
	if n := w.state.Months[day("2026-10-01")].Counters[kpi.CounterDAU]; n != 4 {
		t.Errorf("October's month part counts %v active user-days, want 4", n)
	}
	// Late events on 09-28 for a new user u3 and for u1 on October 2:
	// running 09-28 alone re-merges September; running October 2 again
	// re-merges October.
	w.send(t, 1, [][]byte{
		[]byte(`{"type":"track","event":"E","messageId":"late1","userId":"u3","timestamp":"2026-09-28T09:00:00Z"}`),
		[]byte(`{"type":"track","event":"E","messageId":"late2","userId":"u3","timestamp":"2026-10-02T09:00:00Z"}`),
	})
	if _, err := w.agg.Run(ctx, "t", []kpi.Day{day("2026-09-28")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.agg.Run(ctx, "t", []kpi.Day{day("2026-10-02")}); err != nil {
		t.Fatal(err)
	}
	checkMonths(t, w)
	if got := w.state.Months[day("2026-09-01")]; got.Days != 3 || !got.Day.Equal(day("2026-09-28")) {
		t.Errorf("September's month part merges %d days from %s, want 3 from 2026-09-28", got.Days, got.Day)
	}
	if n := w.state.Months[day("2026-10-01")].Counters[kpi.CounterDAU]; n != 5 {
		t.Errorf("October's month part counts %v active user-days after the late event, want 5", n)
	}
	for k := range w.state.Marks {
		if strings.HasPrefix(k.String(), "2026-09") || strings.HasPrefix(k.String(), "2026-10") {
			t.Errorf("dirty mark left on %s", k)
		}
	}
}

// TestMonthSummariesFollowDaysBefore: a month part's usage counts the
// active users of the 29 days before the month, so running a day again
// merges again the months whose first days' windows hold it: February
// and, February being short, March (January 31 is in the window of March
// 1). The month parts then equal the merge of their days, and stickiness
// read from them equals stickiness read from day parts.
func TestMonthSummariesFollowDaysBefore(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	page := func(d, u string) []byte {
		return []byte(`{"type":"page","messageId":"` + d + u + `","userId":"` + u + `","timestamp":"` + d + `T12:00:00Z"}`)
	}
	var lines [][]byte
	for _, d := range []string{"2026-01-31", "2026-02-10", "2026-03-01", "2026-03-05"} {
		lines = append(lines, page(d, "u1"))
	}
	w.send(t, 0, lines)
	ctx := context.Background()
	if _, err := w.agg.Run(ctx, "t", []kpi.Day{day("2026-01-31"), day("2026-02-10"), day("2026-03-01"), day("2026-03-05")}); err != nil {
		t.Fatal(err)
	}
	checkMonths(t, w)
	// A late event of a new user on January 31: only that day runs.
	w.send(t, 1, [][]byte{page("2026-01-31", "u9")})
	if _, err := w.agg.Run(ctx, "t", []kpi.Day{day("2026-01-31")}); err != nil {
		t.Fatal(err)
	}
	checkMonths(t, w)
	mar := day("2026-03-01")
	want := []kpi.DayUsage{{Day: 1, DAU: 1, MAU: 2}, {Day: 5, DAU: 1, MAU: 1}}
	if diff := cmp.Diff(w.state.Months[mar].Usage, want); diff != "" {
		t.Errorf("March's usage after January 31 ran again (-got +want):\n%s", diff)
	}
	sameAsDays(t, w, query.Request{KPI: "stickiness", From: mar, To: kpi.MonthEnd(mar)})
}

// sameAsDays fails unless q answers from month parts as from day parts.
func sameAsDays(t *testing.T, w *world, q query.Request) {
	t.Helper()
	ctx := context.Background()
	got, err := w.query.KPI(ctx, "t", q)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := (&query.Service{Store: w.state, Log: slog.New(slog.DiscardHandler), DayParts: true}).KPI(ctx, "t", q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, ref); diff != "" {
		t.Errorf("%s %s to %s %v from month parts differs from day parts (-months +days):\n%s", q.KPI, q.From, q.To, q.Params, diff)
	}
}

// TestCohortSummariesFollowSignups: a month part's cohort summary counts
// the users of the signup days of the kpi.CohortHorizon days before it, so
// a late signup on a July day, run alone, merges September again; its
// month parts then equal the merge of their days, and retention_cohorts
// read from them equals retention_cohorts read from day parts.
func TestCohortSummariesFollowSignups(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	page := func(d, u string) []byte {
		return []byte(`{"type":"page","messageId":"p` + d + u + `","userId":"` + u + `","timestamp":"` + d + `T12:00:00Z"}`)
	}
	signup := func(d, u string) []byte {
		return []byte(`{"type":"track","event":"Signed Up","messageId":"s` + d + u + `","userId":"` + u + `","timestamp":"` + d + `T09:00:00Z"}`)
	}
	w.send(t, 0, [][]byte{
		signup("2026-07-10", "u1"), page("2026-07-10", "u1"), page("2026-09-05", "u1"),
		page("2026-07-12", "u2"), page("2026-09-05", "u2"), page("2026-09-20", "u2"),
	})
	ctx := context.Background()
	days := []kpi.Day{day("2026-07-10"), day("2026-07-12"), day("2026-09-05"), day("2026-09-20")}
	if _, err := w.agg.Run(ctx, "t", days); err != nil {
		t.Fatal(err)
	}
	checkMonths(t, w)
	// u2 signed up on July 12 after all: only that day runs.
	w.send(t, 1, [][]byte{signup("2026-07-12", "u2")})
	ran, err := w.agg.Run(ctx, "t", []kpi.Day{day("2026-07-12")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ran.Days) != 1 {
		t.Fatalf("ran %v, want July 12 alone", ran.Days)
	}
	checkMonths(t, w)
	for _, interval := range []string{"day", "week", "month"} {
		sameAsDays(t, w, query.Request{KPI: "retention_cohorts", From: day("2026-07-01"), To: day("2026-07-31"), Params: map[string]string{"interval": interval}})
	}
}
