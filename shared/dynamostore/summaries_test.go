package dynamostore_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/bench/parts"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

// TestSummariesThroughDynamoDB: day parts of 75 days (bench/parts: 50,000
// users, 200 accounts renewing yearly) stored in DynamoDB Local and their
// months merged as the nightly run merges them; stickiness and the
// renewal KPIs read from the month parts' summaries (u# and n#) answer as
// the same store's day parts do, to the last bit, with a term of a year
// and, set after the merge, of 30 days (75 days hold no yearly renewal);
// so do detractor_followups and repeat_contact_rate (f# and c#), with the
// CES direction changed after the merge, and retention_cohorts (y#).
func TestSummariesThroughDynamoDB(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	last := day("2026-10-31")
	h := parts.New(last, 75, parts.Seed)
	putMerged(t, st, h)
	sep := day("2026-09-01")
	mp, err := st.MonthParts(ctx, "acme", sep, sep, kpi.FieldUsage|kpi.FieldRenewals)
	if err != nil || len(mp) != 1 {
		t.Fatalf("MonthParts of September = %d parts, %v", len(mp), err)
	}
	if len(mp[0].Usage) != 30 || len(mp[0].Spells) == 0 || mp[0].Counters[kpi.CounterUsage] != 30 {
		t.Fatalf("September's month part: %d days of usage, %d spells, usage counter %v; want 30, some, 30", len(mp[0].Usage), len(mp[0].Spells), mp[0].Counters[kpi.CounterUsage])
	}
	fc, err := st.MonthParts(ctx, "acme", sep, sep, kpi.FieldFollowUps|kpi.FieldContacts)
	if err != nil || len(fc) != 1 || len(fc[0].FollowUps) == 0 || fc[0].Contacts == nil || len(fc[0].Contacts.Requesters) == 0 ||
		fc[0].Counters[kpi.CounterFollowUps] != 30 || fc[0].Counters[kpi.CounterContacts] != 30 {
		t.Fatalf("September's follow-up and contact summaries: %+v, %v", fc, err)
	}
	co, err := st.MonthParts(ctx, "acme", sep, sep, kpi.FieldCohorts)
	if err != nil || len(co) != 1 || co[0].Cohorts == nil || len(co[0].Cohorts.Signups) != 30 || len(co[0].Cohorts.Hits[1]) == 0 ||
		co[0].Counters[kpi.CounterCohorts] != 30 || len(co[0].Sets) > 0 {
		t.Fatalf("September's cohort summary alone: %+v, %v", co, err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	monthly, daily := &query.Service{Store: st, Log: log}, &query.Service{Store: st, Log: log, DayParts: true}
	p := map[string]string{kpi.ParamNewCustomers: "1000", kpi.ParamCompletionTarget: "85", kpi.ParamContractValue: "5000"}
	due := 0.0
	cfg := kpi.DefaultConfig()
	for _, term := range []int{365, 30} {
		cfg.RenewalTermDays = term
		if err := st.PutConfig(ctx, "acme", cfg); err != nil {
			t.Fatal(err)
		}
		cfg.CESHigherIsEasier = term == 30 // low CES answers change after the merge
		if err := st.PutConfig(ctx, "acme", cfg); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"stickiness", "renewal_rate", "renewal_by_onboarding", "roi_projection", "detractor_followups", "repeat_contact_rate", "retention_cohorts"} {
			for _, rg := range []query.Period{{From: sep, To: last}, {From: sep.AddDays(-5), To: last.AddDays(-3)}} {
				q := query.Request{KPI: id, From: rg.From, To: rg.To}
				if id == "roi_projection" {
					q.Params = p
				}
				got, err := monthly.KPI(ctx, "acme", q)
				if err != nil {
					t.Fatal(err)
				}
				want, err := daily.KPI(ctx, "acme", q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := answerDiff(got, want); diff != "" {
					t.Errorf("%s, a term of %d days, %s to %s: month parts answer differently (-months +days):\n%s", id, term, rg.From, rg.To, diff)
				}
				if id == "renewal_rate" {
					due += want.Denominator
				}
			}
		}
	}
	if due == 0 {
		t.Error("no subscription due in the ranges: the renewal KPIs check nothing")
	}
}

// putMerged stores a history's day parts for tenant acme and merges their
// months, as the nightly run does.
func putMerged(t *testing.T, st *dynamostore.Store, h *parts.History) {
	t.Helper()
	ctx := context.Background()
	var days []kpi.Day
	for _, p := range h.All() {
		if err := st.PutPart(ctx, "acme", p, time.Now()); err != nil {
			t.Fatal(err)
		}
		days = append(days, p.Day)
	}
	agg := &aggregate.Service{State: st, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := agg.MergeMonths(ctx, "acme", days); err != nil {
		t.Fatal(err)
	}
}

// answerDiff compares two query answers through their JSON, which writes
// every float64 exactly.
func answerDiff(got, want query.Answer) string {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	return cmp.Diff(string(g), string(w))
}
