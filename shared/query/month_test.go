package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/bench/parts"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

// exactDays is how many days of generated parts TestMonthPartsExact
// queries: a year with its lookbacks and some.
const exactDays = 400

// TestMonthPartsExact answers every computed KPI twice over the same
// generated parts (the benchmark's: users, visitors, sessions, features,
// cohorts, traits, NPS, CSAT and CES answers, tickets, accounts, trials,
// orders): once from a store with the month parts the nightly run merges,
// once from the same store without them, where every query reads day
// parts. Ranges fall within a month, across month boundaries, on whole
// months, on a year and on the first days of the history (lookbacks cut
// short); each KPI is asked plainly, with a monthly and a weekly series,
// and with each of its breakdowns and filters, trait ones included. The
// answers must be equal to the last bit: value, numerator, denominator,
// details, breakdown, series and complete.
func TestMonthPartsExact(t *testing.T) {
	st, _, err := genStore(parts.New(benchLast, exactDays, parts.Seed))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	monthly := &query.Service{Store: st, Log: log}
	ref, err := newRefStore(st)
	if err != nil {
		t.Fatal(err)
	}
	daily := &query.Service{Store: ref, Log: log, DayParts: true}
	last := st.first.AddDays(exactDays - 1)
	r := rand.New(rand.NewPCG(7, 11))
	ranges := exactRanges(r, st.first, last)
	ctx := context.Background()
	asked, withMonths := 0, 0
	for _, id := range kpi.Computed() {
		def, _ := kpi.Lookup(id)
		t.Run(id, func(t *testing.T) {
			for i, rg := range ranges {
				if def.Reads == nil && i%2 != 0 {
					continue // read day by day either way: a few ranges suffice
				}
				for _, q := range variants(r, def, rg, i) {
					st.monthly.Store(0)
					got, err := monthly.KPI(ctx, benchTenant, q)
					if err != nil {
						t.Fatalf("%s %+v: %v", id, q, err)
					}
					if st.monthly.Load() > 0 {
						withMonths++
					}
					want, err := daily.KPI(ctx, benchTenant, q)
					if err != nil {
						t.Fatalf("%s %+v: %v", id, q, err)
					}
					asked++
					if diff := answerDiff(t, got, want); diff != "" {
						t.Errorf("%s from %s to %s interval=%q breakdown=%q filters=%v params=%v: month parts answer differently (-months +days):\n%s",
							id, q.From, q.To, q.Interval, q.Breakdown, q.Filters, q.Params, diff)
					}
				}
			}
		})
	}
	t.Logf("%d queries compared, %d of them read month parts", asked, withMonths)
	if withMonths < asked/3 {
		t.Errorf("only %d of %d queries read month parts", withMonths, asked)
	}
}

// answerDiff compares two answers through their JSON, which writes every
// float64 exactly.
func answerDiff(t *testing.T, got, want query.Answer) string {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil {
		t.Fatalf("encode answers: %v %v", err1, err2)
	}
	if string(g) == string(w) {
		return ""
	}
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if d := gocmp.Diff(gv, wv); d != "" {
		return d
	}
	return fmt.Sprintf("%s\n%s", g, w)
}

// exactRanges are the ranges asked: within a month, across one or more
// month boundaries, whole months, years, and from the history's start.
func exactRanges(r *rand.Rand, first, last kpi.Day) []query.Period {
	span := first.DaysUntil(last)
	day := func(lo int) kpi.Day { return first.AddDays(lo + r.IntN(span-lo+1)) }
	var out []query.Period
	// Within a month.
	d := day(40)
	m := kpi.MonthOf(d)
	out = append(out, query.Period{From: m.AddDays(2), To: m.AddDays(20)})
	// Across a boundary, and across several.
	d = day(60)
	out = append(out, query.Period{From: kpi.MonthOf(d).AddDays(-9), To: kpi.MonthOf(d).AddDays(12)})
	d = day(120)
	out = append(out, query.Period{From: d.AddDays(-95), To: d})
	// Whole months: one, and three.
	m = kpi.MonthOf(day(40))
	out = append(out, query.Period{From: m, To: kpi.MonthEnd(m)})
	// A year ending mid-month.
	d = last.AddDays(-1 - r.IntN(27))
	out = append(out, query.Period{From: d.AddDays(-364), To: d})
	// From the history's start: lookbacks and the day before cut short.
	out = append(out, query.Period{From: first, To: kpi.MonthEnd(kpi.NextMonth(first))})
	return out
}

// variants are the queries of a KPI over the i-th range: plain, and two of
// its variants in turn (a monthly series, a weekly one, each breakdown and
// filter, trait ones for KPIs of user sets), so that over the ranges each
// variant is asked on some.
func variants(r *rand.Rand, def kpi.Definition, rg query.Period, i int) []query.Request {
	base := query.Request{KPI: def.ID, From: rg.From, To: rg.To, Params: params(def, rg)}
	var all []func(q *query.Request)
	all = append(all, func(q *query.Request) { q.Interval = "month" }, func(q *query.Request) { q.Interval = "week" })
	values := map[string][]string{
		kpi.DimSource: {kpi.SourceOrganic, kpi.SourcePaid}, kpi.DimDevice: {"mobile"}, kpi.DimContentType: {"blog"},
		kpi.DimLandingPage: {"/pricing", "/blog/post-07"}, "channel": {"organic", "email", "chat", "in_app"},
		kpi.DimSurvey: {"csat-1", "ces-2", "nps-q"}, kpi.DimTouchpoint: {"support"}, kpi.DimTag: {"billing", "escalated"},
		kpi.DimPriority: {"urgent"},
	}
	for _, dim := range def.Breakdowns {
		all = append(all, func(q *query.Request) { q.Breakdown = dim })
	}
	for _, dim := range def.Filters {
		if vs := values[dim]; len(vs) > 0 {
			v := vs[r.IntN(len(vs))]
			all = append(all, func(q *query.Request) { q.Filters = []kpi.Filter{{Dim: dim, Value: v}}; q.Interval = "month" })
		}
	}
	if def.Segments {
		all = append(all, func(q *query.Request) { q.Breakdown = "plan" },
			func(q *query.Request) { q.Filters = []kpi.Filter{{Dim: "region", Value: "eu"}}; q.Interval = "month" })
	}
	out := []query.Request{base}
	for j := range 2 {
		q := base
		q.Params = params(def, rg)
		all[(2*i+j)%len(all)](&q)
		out = append(out, q)
	}
	return out
}

// params are a KPI's own parameters, with a change date inside the range.
func params(def kpi.Definition, rg query.Period) map[string]string {
	p := map[string]string{}
	for _, name := range def.Params {
		switch name {
		case "feature":
			p[name] = "retention"
		case kpi.ParamChangeDate:
			p[name] = rg.From.AddDays(rg.From.DaysUntil(rg.To)/2 + 1).String()
		case kpi.ParamSavingMinutes, kpi.ParamHourlyWage:
			p[name] = "12.5"
		case kpi.ParamNewCustomers:
			p[name] = "1000"
		case kpi.ParamCompletionTarget:
			p[name] = "85"
		case kpi.ParamContractValue:
			p[name] = "5000"
		}
	}
	return p
}

// refStore is the reference of the month parts: the same day parts,
// decoded once with all their fields, and no month part.
type refStore struct {
	cfg   kpi.Config
	parts []kpi.Part
	dirty []kpi.Dirty
}

// Its parts have no score counters (kpi.ScoreCounter) and no ticket
// counts, as parts written before them: it answers CSAT, CES and
// ticket_volume from the answers and tickets, against which the counters
// of the store with month parts are compared.
func newRefStore(st *memStore) (*refStore, error) {
	parts, err := st.Parts(context.Background(), benchTenant, st.first, st.first.AddDays(len(st.parts)))
	for _, p := range parts {
		for k := range p.Counters {
			if addedCounter(k) {
				delete(p.Counters, k)
			}
		}
		for k := range p.Lists {
			if addedList(k) {
				delete(p.Lists, k)
			}
		}
	}
	return &refStore{cfg: st.cfg, parts: parts, dirty: st.dirty}, err
}

// addedCounter reports whether k is one of the counters added to parts
// for KPIs that counted their answers or tickets before (score
// histograms, ticket counts).
func addedCounter(k string) bool {
	return k == kpi.CounterScoreHistograms || strings.HasPrefix(k, "csat_score=") || strings.HasPrefix(k, "ces_score=") ||
		k == kpi.CounterTicketCounts || k == kpi.CounterTickets || k == kpi.CounterTicketDurations ||
		strings.HasPrefix(k, kpi.EscalationCounter(""))
}

// addedList reports whether k is one of the lists added to parts for
// KPIs that timed their tickets before.
func addedList(k string) bool {
	return k == kpi.ListFirstResponseMinutes || k == kpi.ListResolutionHours || k == kpi.ListResolvedAt || k == kpi.ListEscalatedMinutes
}

func (s *refStore) Config(context.Context, string) (kpi.Config, error) { return s.cfg, nil }

func (s *refStore) DayParts(_ context.Context, _ string, from, to kpi.Day, _ kpi.Fields) ([]kpi.Part, error) {
	var out []kpi.Part
	for _, p := range s.parts {
		if !p.Day.Before(from) && !p.Day.After(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *refStore) PartsOnly(ctx context.Context, t string, from, to kpi.Day, _ []string) ([]kpi.Part, error) {
	return s.DayParts(ctx, t, from, to, kpi.AllFields)
}

func (s *refStore) MonthParts(context.Context, string, kpi.Day, kpi.Day, kpi.Fields) ([]kpi.Part, error) {
	return nil, nil
}

func (s *refStore) MonthPartsOnly(context.Context, string, kpi.Day, kpi.Day, []string) ([]kpi.Part, error) {
	return nil, nil
}

func (s *refStore) DirtyDays(_ context.Context, _ string, from, to kpi.Day) ([]kpi.Dirty, error) {
	var out []kpi.Dirty
	for _, d := range s.dirty {
		if !d.Day.Before(from) && !d.Day.After(to) {
			out = append(out, d)
		}
	}
	return out, nil
}

// TestMonthPartsComplete: with month parts, complete still says whether
// every day of the range is aggregated and clean. A dirty day makes the
// ranges that hold it incomplete; so does a day never aggregated, whose
// month part merges the other days (as the nightly run merges it), and the
// answers still equal those of day parts.
func TestMonthPartsComplete(t *testing.T) {
	st, _, err := genStore(parts.New(benchLast, 75, parts.Seed))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sep := kpi.NewDay(2026, 9, 1)
	whole := query.Request{KPI: "dau", From: sep, To: kpi.MonthEnd(sep)}
	oct := query.Request{KPI: "dau", From: kpi.NewDay(2026, 10, 1), To: benchLast}
	check := func(name string, q query.Request, want bool) {
		t.Helper()
		ref, err := newRefStore(st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := (&query.Service{Store: st, Log: log}).KPI(ctx, benchTenant, q)
		if err != nil {
			t.Fatal(err)
		}
		refAnswer, err := (&query.Service{Store: ref, Log: log, DayParts: true}).KPI(ctx, benchTenant, q)
		if err != nil {
			t.Fatal(err)
		}
		if got.Complete != want {
			t.Errorf("%s: %s..%s complete = %v, want %v", name, q.From, q.To, got.Complete, want)
		}
		if diff := answerDiff(t, got, refAnswer); diff != "" {
			t.Errorf("%s: %s..%s differs from day parts (-months +days):\n%s", name, q.From, q.To, diff)
		}
	}
	st.monthly.Store(0)
	check("clean", whole, true)
	if st.monthly.Load() == 0 {
		t.Fatal("a whole month read no month part")
	}
	check("clean", oct, true)
	st.dirty = []kpi.Dirty{{Day: sep.AddDays(11), At: 1}}
	check("a dirty day", whole, false)
	check("a dirty day in another month", oct, true)
	st.dirty = nil
	// September 12 never aggregated: its month part merges 29 days.
	st.missing = map[kpi.Day]bool{sep.AddDays(11): true}
	parts, err := st.Parts(ctx, benchTenant, sep, kpi.MonthEnd(sep))
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.Parts(ctx, benchTenant, sep.AddDays(-kpi.MonthLookback), sep.AddDays(-1))
	if err != nil {
		t.Fatal(err)
	}
	mp, _ := kpi.BuildMonth(parts, before)
	if mp.Days != 29 {
		t.Fatalf("September's month part merges %d days, want 29", mp.Days)
	}
	if st.months[sep], err = store(mp); err != nil {
		t.Fatal(err)
	}
	check("a day not aggregated", whole, false)
	check("a day not aggregated", query.Request{KPI: "sessions", From: sep.AddDays(-20), To: kpi.MonthEnd(sep), Interval: "month"}, false)
	check("a day not aggregated in another month", oct, true)
}

// TestScoreCountersOfOldMonths: a month part without the score counters
// or the ticket counts (merged from days written before them) is not read
// for CSAT, CES and ticket_volume from counters: the query reads its
// days, which it counts from their answers and tickets, and answers as
// day parts do; a month part with them is read.
func TestScoreCountersOfOldMonths(t *testing.T) {
	st, _, err := genStore(parts.New(benchLast, 75, parts.Seed))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sep := kpi.NewDay(2026, 9, 1)
	ref, err := newRefStore(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []bool{false, true} {
		if old {
			// September's days and month written before the counters.
			for k := range st.months[sep].counters {
				if addedCounter(k) {
					delete(st.months[sep].counters, k)
				}
			}
			for i := range st.parts {
				if kpi.MonthOf(st.parts[i].day).Equal(sep) {
					st.parts[i].counters = maps.Clone(st.parts[i].counters)
					delete(st.parts[i].counters, kpi.CounterScoreHistograms)
					delete(st.parts[i].counters, kpi.CounterTicketCounts)
					delete(st.parts[i].counters, kpi.CounterTicketDurations)
				}
			}
		}
		for _, id := range []string{"csat", "ces", "ticket_volume", "first_response_time", "resolution_time", "resolution_rate", "escalation_response_time"} {
			q := query.Request{KPI: id, From: sep.AddDays(-3), To: kpi.MonthEnd(sep)}
			st.reads.Store(0)
			got, err := (&query.Service{Store: st, Log: log}).KPI(ctx, benchTenant, q)
			if err != nil {
				t.Fatal(err)
			}
			// The 3 days before September, and its 30 when its month part
			// is left out.
			if days := st.reads.Load(); days > 3 != old {
				t.Errorf("%s, month part without counters %v: %d day parts read", id, old, days)
			}
			want, err := (&query.Service{Store: ref, Log: log, DayParts: true}).KPI(ctx, benchTenant, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := answerDiff(t, got, want); diff != "" {
				t.Errorf("%s, month part without counters %v: differs from day parts (-months +days):\n%s", id, old, diff)
			}
		}
	}
}

// summaryKPIs read the month parts' summaries (kpi's summary.go).
var summaryKPIs = []string{"stickiness", "renewal_rate", "renewal_by_onboarding", "roi_projection", "detractor_followups", "repeat_contact_rate"}

// summaryQueries are the queries asked of summaryKPIs: a year of whole
// months, a year ending mid-month, and a monthly series.
func summaryQueries(id string) []query.Request {
	p := params(kpi.Definition{Params: []string{kpi.ParamNewCustomers, kpi.ParamCompletionTarget, kpi.ParamContractValue}}, query.Period{})
	if id != "roi_projection" {
		p = map[string]string{}
	}
	mid := benchLast.AddDays(-12)
	return []query.Request{
		{KPI: id, From: benchLast.AddDays(-364), To: benchLast, Params: p},
		{KPI: id, From: mid.AddDays(-364), To: mid, Params: p},
		{KPI: id, From: benchLast.AddDays(-200), To: mid, Interval: "month", Params: p},
	}
}

// summaryStores are the summary tests' store of 430 days of generated
// parts with their month parts, and its reference of day parts.
func summaryStores(t *testing.T) (*memStore, *refStore) {
	t.Helper()
	st, _, err := genStore(parts.New(benchLast, 430, parts.Seed))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := newRefStore(st)
	if err != nil {
		t.Fatal(err)
	}
	return st, ref
}

// TestSummariesRead: stickiness, the renewal KPIs, detractor_followups and
// repeat_contact_rate answer a year of
// whole months from its month parts' summaries, reading the day parts of
// at most the two months around it (the renewals of the 30 days before
// the range and the customers of the day before it), and answer every
// query of summaryQueries as day parts do.
func TestSummariesRead(t *testing.T) {
	st, ref := summaryStores(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, id := range summaryKPIs {
		for i, q := range summaryQueries(id) {
			st.reads.Store(0)
			st.monthly.Store(0)
			got, err := (&query.Service{Store: st, Log: log}).KPI(ctx, benchTenant, q)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 && (st.reads.Load() > 62 || st.monthly.Load() < 12) {
				t.Errorf("%s over the year %s to %s: %d day parts and %d month parts read, want at most 62 and 12", id, q.From, q.To, st.reads.Load(), st.monthly.Load())
			}
			want, err := (&query.Service{Store: ref, Log: log, DayParts: true}).KPI(ctx, benchTenant, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := answerDiff(t, got, want); diff != "" {
				t.Errorf("%s %s to %s interval=%q: differs from day parts (-months +days):\n%s", id, q.From, q.To, q.Interval, diff)
			}
		}
	}
}

// TestSummariesOfOldMonths: a month part merged before the summaries
// (without them and their counters) is not read for the KPIs that need
// them: the query reads its days, with the 29 days before them that
// stickiness's windows need, though those lie in a month read from its
// month part, and answers as day parts do.
func TestSummariesOfOldMonths(t *testing.T) {
	st, ref := summaryStores(t)
	for _, m := range []kpi.Day{kpi.NewDay(2026, 3, 1), kpi.NewDay(2025, 11, 1), kpi.NewDay(2026, 10, 1)} {
		sp := st.months[m]
		sp.counters = maps.Clone(sp.counters)
		delete(sp.counters, kpi.CounterUsage)
		delete(sp.counters, kpi.CounterRenewals)
		delete(sp.counters, kpi.CounterFollowUps)
		delete(sp.counters, kpi.CounterContacts)
		sp.blobs = maps.Clone(sp.blobs)
		for _, k := range []string{"usage", "followups", "contacts"} {
			if _, ok := sp.blobs[k]; !ok {
				t.Fatalf("month part %s has no %s to remove", m, k)
			}
		}
		for _, k := range []string{"usage", "spells", "renewed", "followups", "contacts"} {
			delete(sp.blobs, k)
		}
		st.months[m] = sp
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, id := range summaryKPIs {
		for i, q := range summaryQueries(id) {
			st.reads.Store(0)
			got, err := (&query.Service{Store: st, Log: log}).KPI(ctx, benchTenant, q)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 && st.reads.Load() < 3*28 {
				t.Errorf("%s over the year %s to %s: %d day parts read, want the days of the three old months at least", id, q.From, q.To, st.reads.Load())
			}
			want, err := (&query.Service{Store: ref, Log: log, DayParts: true}).KPI(ctx, benchTenant, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := answerDiff(t, got, want); diff != "" {
				t.Errorf("%s %s to %s interval=%q, old month parts: differs from day parts (-months +days):\n%s", id, q.From, q.To, q.Interval, diff)
			}
		}
	}
}
