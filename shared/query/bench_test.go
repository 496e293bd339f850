package query_test

// BenchmarkQuery measures what a KPI query costs as its range grows:
//
//	go test -run '^$' -bench . ./shared/query/
//
// For every computed KPI it answers the last 30 days and the last 365 days
// of a tenant with two years of daily parts, through query.Service.KPI on
// an in-memory store. Each range is a sub-benchmark,
// BenchmarkQuery/<kpi>/days=30 and .../days=365, reporting:
//
//	ns/op            the query
//	ns/day           ns/op divided by the range's days
//	parts/op         day parts the query read (edges, day spans, lookbacks;
//	                 every day of the range for KPIs read day by day)
//	month-parts/op   month parts it read (whole months of its range)
//	history-parts/op parts read through PartsOnly and MonthPartsOnly
//	                 (KPIs that sum all history, and the complete check)
//	ratio-365/30     on the days=365 line: its ns/op over the days=30 ns/op of
//	                 the same KPI in the same run (P2's goal: at most 3;
//	                 about 12 when the cost is O(days); reported only when
//	                 both ran)
//
// The store holds no raw events at all: a query can only be answered from
// parts. It keeps each part as DynamoDB does (counters, sets as roaring
// bytes, answers, tickets, accounts and orders as JSON) and decodes them
// on every read as dynamostore does, so a read costs what it costs after
// the network. It holds day parts and month parts, filled as the nightly
// run fills the real store: day parts from bench/parts (a tenant with
// 50,000 users, answers, tickets and accounts: see its doc), then each
// month's day parts read back and merged by kpi.BuildMonth (aggregate's
// mergeMonths). P2 (bench/cmd/p2) queries the same parts through the
// handler on DynamoDB Local.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/uptakehq/uptake/bench/parts"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

const (
	benchHistoryDays = 730 // two years: the 365-day range and a lookback as long
	benchTenant      = "t"
)

var benchLast = kpi.NewDay(2026, 10, 31)

// storedPart is a part as the store holds it: sets as roaring bytes,
// answers, tickets, accounts and orders as JSON, as dynamostore does.
type storedPart struct {
	day      kpi.Day
	days     int
	counters map[string]float64
	sets     map[string][]byte
	lists    map[string][]float64
	blobs    map[string][]byte
}

// memStore is an in-memory query.Store: one stored part per day and one
// per month, the default configuration, and dirty days (none in the
// benchmark).
type memStore struct {
	first   kpi.Day
	parts   []storedPart // by day from first
	months  map[kpi.Day]storedPart
	cfg     kpi.Config
	reads   atomic.Int64     // day parts decoded by Parts
	history atomic.Int64     // parts decoded by PartsOnly and MonthPartsOnly
	monthly atomic.Int64     // month parts decoded by MonthParts
	dirty   []kpi.Dirty      // none in the benchmark
	missing map[kpi.Day]bool // days never aggregated (tests)
}

func (m *memStore) Config(context.Context, string) (kpi.Config, error) { return m.cfg, nil }

func (m *memStore) DirtyDays(_ context.Context, _ string, from, to kpi.Day) ([]kpi.Dirty, error) {
	var out []kpi.Dirty
	for _, d := range m.dirty {
		if !d.Day.Before(from) && !d.Day.After(to) {
			out = append(out, d)
		}
	}
	return out, nil
}

// span is the stored days of from..to, as indexes into parts.
func (m *memStore) span(from, to kpi.Day) (int, int) {
	lo := max(0, m.first.DaysUntil(from))
	hi := min(len(m.parts)-1, m.first.DaysUntil(to))
	return lo, hi
}

func (m *memStore) Parts(ctx context.Context, t string, from, to kpi.Day) ([]kpi.Part, error) {
	return m.DayParts(ctx, t, from, to, kpi.AllFields)
}

func (m *memStore) DayParts(_ context.Context, _ string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	lo, hi := m.span(from, to)
	out := make([]kpi.Part, 0, max(0, hi-lo+1))
	for i := lo; i <= hi; i++ {
		if m.missing[m.parts[i].day] {
			continue
		}
		p, err := decodeFields(m.parts[i], nil, fields)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	m.reads.Add(int64(len(out)))
	return out, nil
}

// monthSpan lists the stored month parts of the months from..to touch.
func (m *memStore) monthSpan(from, to kpi.Day) []storedPart {
	var out []storedPart
	for mo := kpi.MonthOf(from); !mo.After(to); mo = kpi.NextMonth(mo) {
		if sp, ok := m.months[mo]; ok {
			out = append(out, sp)
		}
	}
	return out
}

func (m *memStore) MonthParts(_ context.Context, _ string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	var out []kpi.Part
	for _, sp := range m.monthSpan(from, to) {
		p, err := decodeFields(sp, nil, fields)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	m.monthly.Add(int64(len(out)))
	return out, nil
}

func (m *memStore) MonthPartsOnly(_ context.Context, _ string, from, to kpi.Day, names []string) ([]kpi.Part, error) {
	if names == nil {
		names = []string{} // only the days merged
	}
	var out []kpi.Part
	for _, sp := range m.monthSpan(from, to) {
		p, err := decode(sp, names)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	m.history.Add(int64(len(out)))
	return out, nil
}

func (m *memStore) PartsOnly(_ context.Context, _ string, from, to kpi.Day, names []string) ([]kpi.Part, error) {
	if names == nil {
		names = []string{} // only which days have a part
	}
	lo, hi := m.span(from, to)
	out := make([]kpi.Part, 0, max(0, hi-lo+1))
	for i := lo; i <= hi; i++ {
		if m.missing[m.parts[i].day] {
			continue
		}
		p, err := decode(m.parts[i], names)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	m.history.Add(int64(len(out)))
	return out, nil
}

// decode rebuilds a stored part, all of it (names nil) or only the named
// counters and sets, as PartsOnly reads them.
func decode(sp storedPart, names []string) (kpi.Part, error) {
	return decodeFields(sp, names, kpi.AllFields)
}

// decodeFields decodes a part with only some of its fields, as
// dynamostore's MonthParts does (the named sets, when names is not nil).
func decodeFields(sp storedPart, names []string, fields kpi.Fields) (kpi.Part, error) {
	p := kpi.NewPart(sp.day)
	p.Days = sp.days
	keep := func(k string) bool { return names == nil || slices.Contains(names, k) }
	for k, v := range sp.counters {
		if keep(k) {
			p.Counters[k] = v
		}
	}
	for k, raw := range sp.sets {
		if !keep(k) || names == nil && fields&kpi.FieldSets == 0 && (fields&kpi.FieldAccountSets == 0 || !kpi.IsAccountSet(k)) {
			continue
		}
		b := roaring.New()
		if _, err := b.FromBuffer(raw); err != nil {
			return kpi.Part{}, fmt.Errorf("part %s set %s: %w", p.Day, k, err)
		}
		p.Sets[k] = b
	}
	if names != nil {
		return p, nil
	}
	for k, l := range sp.lists {
		if fields&kpi.FieldLists != 0 {
			p.Lists[k] = slices.Clone(l)
		}
	}
	for k, raw := range sp.blobs {
		var err error
		switch {
		case k == "responses" && fields&kpi.FieldResponses != 0:
			err = json.Unmarshal(raw, &p.Responses)
		case k == "tickets" && fields&kpi.FieldTickets != 0:
			err = json.Unmarshal(raw, &p.Tickets)
		case k == "accounts" && fields&kpi.FieldAccounts != 0:
			err = json.Unmarshal(raw, &p.Accounts)
		case k == "orders" && fields&kpi.FieldOrders != 0:
			err = json.Unmarshal(raw, &p.Orders)
		case k == "usage" && fields&kpi.FieldUsage != 0:
			err = json.Unmarshal(raw, &p.Usage)
		case k == "spells" && fields&kpi.FieldRenewals != 0:
			err = json.Unmarshal(raw, &p.Spells)
		case k == "renewed" && fields&kpi.FieldRenewals != 0:
			err = json.Unmarshal(raw, &p.Renewed)
		case k == "followups" && fields&kpi.FieldFollowUps != 0:
			err = json.Unmarshal(raw, &p.FollowUps)
		case k == "contacts" && fields&kpi.FieldContacts != 0:
			err = json.Unmarshal(raw, &p.Contacts)
		case k == "cohorts" && fields&kpi.FieldCohorts != 0:
			p.Cohorts = new(kpi.CohortSummary)
			err = p.Cohorts.UnmarshalBinary(raw)
		}
		if err != nil {
			return kpi.Part{}, fmt.Errorf("part %s %s: %w", p.Day, k, err)
		}
	}
	return p, nil
}

func store(p kpi.Part) (storedPart, error) {
	sp := storedPart{day: p.Day, days: p.Days, counters: maps.Clone(p.Counters), sets: make(map[string][]byte, len(p.Sets)),
		lists: maps.Clone(p.Lists), blobs: map[string][]byte{}}
	for k, b := range p.Sets {
		raw, err := b.ToBytes()
		if err != nil {
			return storedPart{}, err
		}
		sp.sets[k] = raw
	}
	for k, v := range map[string]any{"responses": p.Responses, "tickets": p.Tickets, "accounts": p.Accounts, "orders": p.Orders,
		"usage": p.Usage, "spells": p.Spells, "renewed": p.Renewed, "followups": p.FollowUps} {
		if reflect.ValueOf(v).Len() == 0 {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return storedPart{}, err
		}
		sp.blobs[k] = raw
	}
	if p.Contacts != nil {
		raw, err := json.Marshal(p.Contacts)
		if err != nil {
			return storedPart{}, err
		}
		sp.blobs["contacts"] = raw
	}
	if p.Cohorts != nil { // binary, as dynamostore keeps it
		raw, err := p.Cohorts.MarshalBinary()
		if err != nil {
			return storedPart{}, err
		}
		sp.blobs["cohorts"] = raw
	}
	return sp, nil
}

var (
	benchOnce  sync.Once
	benchStore *memStore
	benchBytes int
	benchErr   error
)

func loadStore(b *testing.B) *memStore {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		benchStore, benchBytes, benchErr = genStore(parts.New(benchLast, benchHistoryDays, parts.Seed))
		if benchErr == nil {
			b.Logf("store: %d days of parts, %.1f MiB of sets, built in %s", len(benchStore.parts), float64(benchBytes)/(1<<20), time.Since(start).Round(time.Millisecond))
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func BenchmarkQuery(b *testing.B) {
	st := loadStore(b)
	svc := &query.Service{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	for _, id := range kpi.Computed() {
		b.Run(id, func(b *testing.B) {
			ns30 := 0.0
			for _, days := range []int{30, 365} {
				b.Run("days="+strconv.Itoa(days), func(b *testing.B) {
					q := query.Request{KPI: id, From: benchLast.AddDays(1 - days), To: benchLast}
					if a, err := svc.KPI(ctx, benchTenant, q); err != nil || !a.Complete {
						b.Fatalf("%s over %d days: complete=%v, %v", id, days, a.Complete, err)
					}
					st.reads.Store(0)
					st.history.Store(0)
					st.monthly.Store(0)
					for b.Loop() {
						if _, err := svc.KPI(ctx, benchTenant, q); err != nil {
							b.Fatal(err)
						}
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(ns/float64(days), "ns/day")
					b.ReportMetric(float64(st.reads.Load())/float64(b.N), "parts/op")
					b.ReportMetric(float64(st.monthly.Load())/float64(b.N), "month-parts/op")
					b.ReportMetric(float64(st.history.Load())/float64(b.N), "history-parts/op")
					if days == 30 {
						ns30 = ns
					} else if ns30 > 0 {
						b.ReportMetric(ns/ns30, "ratio-365/30")
					}
				})
			}
		})
	}
}

// TestBenchStore checks the benchmark's store on a few days: parts read
// back equal to what bench/parts made, and their sizes are as announced.
func TestBenchStore(t *testing.T) {
	h := parts.New(benchLast, 10, parts.Seed)
	st, _, err := genStore(h)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range st.parts {
		d := st.first.AddDays(i)
		want := h.Part(i)
		got, err := st.Parts(ctx, benchTenant, d, d)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %v %v", d, got, err)
		}
		if !maps.Equal(got[0].Counters, want.Counters) || len(got[0].Sets) != len(want.Sets) ||
			!maps.EqualFunc(got[0].Lists, want.Lists, slices.Equal[[]float64]) {
			t.Fatalf("%s: part read back differs", d)
		}
		for k, b := range want.Sets {
			if !got[0].Sets[k].Equals(b) {
				t.Fatalf("%s: set %s read back differs", d, k)
			}
		}
		if n := got[0].Sets[kpi.SetActiveUsers].GetCardinality(); n < 5000 || n > 10000 || got[0].Sets[kpi.SetActiveUsers].Maximum() >= parts.Users {
			t.Errorf("%s: %d active users, want 5,000 to 10,000 of %d", d, n, parts.Users)
		}
		if only, err := st.PartsOnly(ctx, benchTenant, kpi.NewDay(2000, 1, 1), d, []string{kpi.SetActiveUsers}); err != nil || len(only) != i+1 || len(only[i].Sets) != 1 || len(only[i].Counters) != 0 {
			t.Fatalf("%s: PartsOnly = %d parts, %v", d, len(only), err)
		}
	}
	svc := &query.Service{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	a, err := svc.KPI(ctx, benchTenant, query.Request{KPI: "dau", From: benchLast.AddDays(-6), To: benchLast})
	if err != nil || !a.Complete || a.Value == nil || *a.Value < 5000 || *a.Value > 10000 {
		t.Fatalf("dau over 7 days = %+v, %v", a, err)
	}
}

// genStore stores the parts of h, made in parallel.
func genStore(h *parts.History) (*memStore, int, error) {
	m := &memStore{first: h.First, cfg: h.Config, parts: make([]storedPart, h.Days)}
	size := 0
	for i, p := range h.All() {
		sp, err := store(p)
		if err != nil {
			return nil, 0, err
		}
		m.parts[i] = sp
		for _, raw := range sp.sets {
			size += len(raw)
		}
	}
	// Month parts, as the nightly run merges them (aggregate's
	// mergeMonths): each month's stored day parts read back and merged.
	m.months = map[kpi.Day]storedPart{}
	last := m.first.AddDays(h.Days - 1)
	for mo := kpi.MonthOf(m.first); !mo.After(last); mo = kpi.NextMonth(mo) {
		parts, err := m.Parts(context.Background(), benchTenant, mo, kpi.MonthEnd(mo))
		if err != nil {
			return nil, 0, err
		}
		active, signups := kpi.MonthWindow(mo)
		before, err := m.PartsOnly(context.Background(), benchTenant, active.From, active.To, []string{kpi.SetActiveUsers, kpi.SetSignups})
		if err != nil {
			return nil, 0, err
		}
		older, err := m.PartsOnly(context.Background(), benchTenant, signups.From, signups.To, []string{kpi.SetSignups})
		if err != nil {
			return nil, 0, err
		}
		if mp, ok := kpi.BuildMonth(parts, append(older, before...)); ok {
			if m.months[mo], err = store(mp); err != nil {
				return nil, 0, err
			}
		}
	}
	m.reads.Store(0)
	m.history.Store(0)
	return m, size, nil
}
