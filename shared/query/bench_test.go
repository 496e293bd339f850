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
//	ns/op           the query
//	ns/day          ns/op divided by the range's days
//	parts/op        day parts the query read (range plus the KPI's lookback)
//	history-parts/op parts read through PartsOnly (KPIs that sum all history)
//	ratio-365/30    on the days=365 line: its ns/op over the days=30 ns/op of
//	                the same KPI in the same run (about 12 when the cost is
//	                O(days); reported only when both ran)
//
// The store holds no raw events at all: a query can only be answered from
// parts. It keeps each part as DynamoDB does (counters, and sets as roaring
// bytes) and decodes them on every read as dynamostore.decodePart does, so
// a read costs what it costs after the network. Parts come from
// bench/parts (realistic days of a tenant with 50,000 users, about 100 KiB
// of sets a part); P2 (bench/cmd/p2) queries the same parts through the
// handler on DynamoDB Local.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
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

// storedPart is a part as the store holds it.
type storedPart struct {
	counters map[string]float64
	sets     map[string][]byte
	lists    map[string][]float64
}

// memStore is an in-memory query.Store: one stored part per day, the
// default configuration, no dirty days.
type memStore struct {
	first   kpi.Day
	parts   []storedPart // by day from first
	cfg     kpi.Config
	reads   atomic.Int64 // parts decoded by Parts
	history atomic.Int64 // parts decoded by PartsOnly
}

func (m *memStore) Config(context.Context, string) (kpi.Config, error) { return m.cfg, nil }

func (m *memStore) DirtyDays(context.Context, string, kpi.Day, kpi.Day) ([]kpi.Dirty, error) {
	return nil, nil
}

// span is the stored days of from..to, as indexes into parts.
func (m *memStore) span(from, to kpi.Day) (int, int) {
	lo := max(0, m.first.DaysUntil(from))
	hi := min(len(m.parts)-1, m.first.DaysUntil(to))
	return lo, hi
}

func (m *memStore) Parts(_ context.Context, _ string, from, to kpi.Day) ([]kpi.Part, error) {
	lo, hi := m.span(from, to)
	out := make([]kpi.Part, 0, max(0, hi-lo+1))
	for i := lo; i <= hi; i++ {
		p, err := m.decode(i, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	m.reads.Add(int64(len(out)))
	return out, nil
}

func (m *memStore) PartsOnly(_ context.Context, _ string, from, to kpi.Day, names []string) ([]kpi.Part, error) {
	lo, hi := m.span(from, to)
	out := make([]kpi.Part, 0, max(0, hi-lo+1))
	for i := lo; i <= hi; i++ {
		p, err := m.decode(i, names)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	m.history.Add(int64(len(out)))
	return out, nil
}

// decode rebuilds the part of day index i, all of it or only names.
func (m *memStore) decode(i int, names []string) (kpi.Part, error) {
	sp := m.parts[i]
	p := kpi.NewPart(m.first.AddDays(i))
	keep := func(k string) bool { return names == nil || slices.Contains(names, k) }
	for k, v := range sp.counters {
		if keep(k) {
			p.Counters[k] = v
		}
	}
	for k, raw := range sp.sets {
		if !keep(k) {
			continue
		}
		b := roaring.New()
		if _, err := b.FromBuffer(raw); err != nil {
			return kpi.Part{}, fmt.Errorf("part %s set %s: %w", p.Day, k, err)
		}
		p.Sets[k] = b
	}
	for k, l := range sp.lists {
		if keep(k) {
			p.Lists[k] = slices.Clone(l)
		}
	}
	return p, nil
}

func store(p kpi.Part) (storedPart, error) {
	sp := storedPart{counters: maps.Clone(p.Counters), sets: make(map[string][]byte, len(p.Sets)), lists: maps.Clone(p.Lists)}
	for k, b := range p.Sets {
		raw, err := b.ToBytes()
		if err != nil {
			return storedPart{}, err
		}
		sp.sets[k] = raw
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
					for b.Loop() {
						if _, err := svc.KPI(ctx, benchTenant, q); err != nil {
							b.Fatal(err)
						}
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(ns/float64(days), "ns/day")
					b.ReportMetric(float64(st.reads.Load())/float64(b.N), "parts/op")
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
	return m, size, nil
}
