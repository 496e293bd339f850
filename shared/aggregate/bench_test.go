package aggregate_test

// The nightly run's cost on one large day, measured by benchmarks (never by
// timed assertions):
//
//	go test -run '^$' -bench . -benchtime 1x ./shared/aggregate/
//	UPTAKE_BENCH_EVENTS=100000 go test -run '^$' -bench . -benchtime 1x ./shared/aggregate/
//
// BenchmarkNightlyDay runs aggregate.Service.Run for one local day of a UTC
// tenant over a generated day of benchEvents events, plus a tenth of that
// on each neighbouring UTC day (the run reads a day on each side for the
// sessions that cross midnight). It reports:
//
//	events/s         lines the run read (the day and its neighbours) per second
//	events-read      how many lines that is
//	decode-events/s  the baseline below, measured (timer stopped) right
//	                 before each run
//	ratio-vs-decode  events/s ÷ decode-events/s (1 would mean aggregation is free)
//	peak-MB          peak heap in use during the run (MiB), see heapSampler
//	base-MB          heap in use just before the run: the stored input and the
//	                 fake state, which a Lambda would not hold (it streams S3)
//	part-sets-KB     serialized size of the day part's sets (what the store
//	                 writes, and what every query of the day reads back)
//
// BenchmarkDecodeBaseline is the floor any aggregation pays on the same
// files: gunzip, split lines and decode each one into an event.Record with
// plain encoding/json, keeping nothing.
//
// The data is generated once per process, outside the timer, by a
// deterministic generator (math/rand/v2, fixed seed) and stored as the
// ingest path stores it: each message through event.Parse, lines grouped
// in requests of about 100 messages, one gzipped NDJSON file per request
// and UTC day (rawstore.Put's format), read back as rawstore.Lines does.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

// benchEvents is the size of the benchmarked day; UPTAKE_BENCH_EVENTS
// overrides it (go test -bench with a smaller day).
const benchEvents = 1_000_000

// benchSeed fixes the generated data.
const benchSeed = gen.DefaultSeed

var (
	benchDay = kpi.NewDay(2026, 10, 14) // a Wednesday
	// benchReceivedAt is the arrival time of every generated request.
	benchReceivedAt = time.Date(2026, 10, 16, 0, 5, 0, 0, time.UTC)
	benchClock      = time.Date(2026, 10, 16, 0, 15, 0, 0, time.UTC)
)

const benchTenant = "t"

// dynamoPartLimit is dynamostore's maxItemBytes: the most a stored part's
// sets and lists may take.
const dynamoPartLimit = 390 * 1024

func benchSize() (int, error) {
	s := strings.ReplaceAll(os.Getenv("UPTAKE_BENCH_EVENTS"), "_", "")
	if s == "" {
		return benchEvents, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 {
		return 0, fmt.Errorf("UPTAKE_BENCH_EVENTS=%q: want a whole number of events of at least 1000", s)
	}
	return n, nil
}

var (
	benchOnce sync.Once
	benchSet  *benchData
	benchErr  error
)

// loadBenchData generates the benchmark's data once per process.
func loadBenchData(b *testing.B) *benchData {
	b.Helper()
	benchOnce.Do(func() {
		n, err := benchSize()
		if err != nil {
			benchErr = err
			return
		}
		benchSet, benchErr = genBenchData(n)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchSet
}

func BenchmarkNightlyDay(b *testing.B) {
	bd := loadBenchData(b)
	ctx := context.Background()
	b.Logf("data: %d events on %s, %d and %d on its neighbours, %d files, %.1f MiB gzipped, generated in %s",
		bd.lines[benchDay], benchDay, bd.lines[benchDay.AddDays(-1)], bd.lines[benchDay.AddDays(1)], bd.files,
		float64(bd.gzBytes)/(1<<20), bd.genTime.Round(time.Millisecond))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hs := startHeapSampler(2 * time.Millisecond)
	defer hs.stop()
	var st *memState
	var base uint64
	var decodeTime time.Duration
	for b.Loop() {
		b.StopTimer()
		hs.arm(false)
		// The baseline, measured next to each run so that both see the
		// same machine load.
		runtime.GC()
		t0 := time.Now()
		if _, err := bd.decodeWindow(ctx); err != nil {
			b.Fatal(err)
		}
		decodeTime += time.Since(t0)
		st = bd.newState(ctx)
		svc := &aggregate.Service{Raw: bd.raw, State: st, Now: func() time.Time { return benchClock }, Log: log}
		runtime.GC()
		base = max(base, heapInUse())
		hs.arm(true)
		b.StartTimer()

		if _, err := svc.Run(ctx, benchTenant, []kpi.Day{benchDay}); err != nil {
			b.Fatal(err)
		}
	}
	hs.arm(false)
	parts, err := st.Parts(ctx, benchTenant, benchDay, benchDay)
	if err != nil || len(parts) != 1 || parts[0].Counters[kpi.CounterDAU] == 0 {
		b.Fatalf("the run left no usable part for %s: %v %v", benchDay, parts, err)
	}
	partBytes := 0
	for _, set := range parts[0].Sets {
		partBytes += int(set.GetSerializedSizeInBytes())
	}
	if partBytes > dynamoPartLimit {
		b.Logf("the part's sets take %d bytes, over the %d that dynamostore.PutPart accepts in one item", partBytes, dynamoPartLimit)
	}
	read := bd.windowLines()
	rate := float64(read) * float64(b.N) / b.Elapsed().Seconds()
	decodeRate := float64(read) * float64(b.N) / decodeTime.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(float64(read), "events-read")
	b.ReportMetric(decodeRate, "decode-events/s")
	b.ReportMetric(rate/decodeRate, "ratio-vs-decode")
	b.ReportMetric(float64(hs.peak())/(1<<20), "peak-MB")
	b.ReportMetric(float64(base)/(1<<20), "base-MB")
	b.ReportMetric(float64(partBytes)/1024, "part-sets-KB")
}

func BenchmarkDecodeBaseline(b *testing.B) {
	bd := loadBenchData(b)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		var err error
		if n, err = bd.decodeWindow(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n), "events-read")
}

// TestBenchDataShape checks the generator on a small day, so that the
// benchmark's data is tested by go test without running the benchmark.
func TestBenchDataShape(t *testing.T) {
	const n = 5000
	bd, err := genBenchData(n)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type tally struct {
		lines, bots, surveys, signups int
		types                         map[string]int
		users, visitors               map[string]bool
		hours                         map[int]bool
	}
	byDay := map[kpi.Day]*tally{}
	ids := map[string]bool{}
	perFile := []int{}
	for _, d := range kpi.Days(benchDay.AddDays(-1), benchDay.AddDays(2)) {
		tl := &tally{types: map[string]int{}, users: map[string]bool{}, visitors: map[string]bool{}, hours: map[int]bool{}}
		byDay[d] = tl
		keys, err := bd.raw.Keys(ctx, aggregate.RawKind, benchTenant, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			inFile := 0
			err := bd.raw.Lines(ctx, k, func(line []byte) error {
				inFile++
				var r event.Record
				if err := json.Unmarshal(line, &r); err != nil {
					return fmt.Errorf("%s: stored line does not decode: %v\n%s", k, err, line)
				}
				if _, err := event.Parse(line, event.Arrival{ReceivedAt: benchReceivedAt}); err != nil {
					return fmt.Errorf("%s: stored line is not a valid message: %v\n%s", k, err, line)
				}
				if got := kpi.DayOf(r.Timestamp, time.UTC); !got.Equal(d) {
					return fmt.Errorf("%s: event of %s in the file of %s", k, got, d)
				}
				if !r.ReceivedAt.Equal(benchReceivedAt) {
					return fmt.Errorf("%s: receivedAt %s, want %s", k, r.ReceivedAt, benchReceivedAt)
				}
				if ids[r.MessageID] {
					return fmt.Errorf("messageId %s stored twice", r.MessageID)
				}
				ids[r.MessageID] = true
				tl.lines++
				tl.types[r.Type]++
				tl.hours[r.Timestamp.Hour()] = true
				if kpi.IsBot(r.Context.UserAgent) {
					tl.bots++
				}
				if r.UserID != "" {
					tl.users[string(r.UserID)] = true
				} else {
					tl.visitors[string(r.AnonymousID)] = true
				}
				if s, ok := r.Survey(); ok {
					if (s.Type != "nps" || s.Score < 0 || s.Score > 10) && (s.Type != "csat" || s.Score < 1 || s.Score > 5) {
						return fmt.Errorf("survey answer %+v", s)
					}
					tl.surveys++
				}
				if r.Type == event.Track && r.Event == event.SignedUp {
					if r.UserID == "" || r.AnonymousID == "" {
						return fmt.Errorf("Signed Up without both ids: %s", line)
					}
					tl.signups++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			perFile = append(perFile, inFile)
		}
	}
	day := byDay[benchDay]
	t.Logf("%s: %d lines, types %v, %d bots, %d users, %d anonymous visitors, %d surveys, %d signups; neighbours %d and %d; %d files",
		benchDay, day.lines, day.types, day.bots, len(day.users), len(day.visitors), day.surveys, day.signups,
		byDay[benchDay.AddDays(-1)].lines, byDay[benchDay.AddDays(1)].lines, len(perFile))

	within := func(what string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s = %.4g, want between %.4g and %.4g", what, got, lo, hi)
		}
	}
	// Sessions that start before midnight may end after it: a few events
	// move to the next day's file.
	within("lines of the day", float64(day.lines), 0.97*n, 1.03*n)
	within("lines of the day before", float64(byDay[benchDay.AddDays(-1)].lines), 0.07*n, 0.13*n)
	within("lines of the day after", float64(byDay[benchDay.AddDays(1)].lines), 0.07*n, 0.13*n)
	within("bot share", float64(day.bots)/float64(day.lines), 0.005, 0.02)
	for typ, share := range map[string][2]float64{
		event.Page: {0.35, 0.65}, event.Track: {0.25, 0.55}, event.Screen: {0.02, 0.2}, event.Identify: {0.005, 0.08},
	} {
		within(typ+" share", float64(day.types[typ])/float64(day.lines), share[0], share[1])
	}
	within("users active", float64(len(day.users)), 0.2*float64(len(bd.pop.Users)), float64(len(bd.pop.Users))+float64(day.signups))
	within("anonymous visitors", float64(len(day.visitors)), float64(len(day.users)), 1.1*float64(len(bd.pop.Visitors)+len(bd.pop.Bots)))
	if day.surveys == 0 || day.signups == 0 {
		t.Errorf("no survey answers (%d) or no signups (%d) on the day", day.surveys, day.signups)
	}
	if len(day.hours) < 22 {
		t.Errorf("events in %d hours of the day, want them across the day", len(day.hours))
	}
	avg := float64(0)
	for _, c := range perFile {
		avg += float64(c)
	}
	within("messages per file", avg/float64(len(perFile)), 50, 110)

	// Same seed, same files.
	again, err := genBenchData(n)
	if err != nil {
		t.Fatal(err)
	}
	if !bd.raw.m.equal(again.raw.m) {
		t.Error("two generations with the same seed differ")
	}

	// The benchmark's run works on this data.
	st := bd.newState(ctx)
	svc := &aggregate.Service{Raw: bd.raw, State: st, Now: func() time.Time { return benchClock }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := svc.Run(ctx, benchTenant, []kpi.Day{benchDay}); err != nil {
		t.Fatal(err)
	}
	parts, err := st.Parts(ctx, benchTenant, benchDay, benchDay)
	if err != nil || len(parts) != 1 {
		t.Fatalf("parts = %v, %v", parts, err)
	}
	c := parts[0].Counters
	t.Logf("part counters: dau %v (new %v), sessions %v, pages %v, conversions %v, nps %v/%v/%v",
		c[kpi.CounterDAU], c[kpi.CounterDAUNew], c[kpi.CounterSessions], c[kpi.CounterSessionPages], c[kpi.CounterConversionEvents],
		c[kpi.CounterNPSPromoters], c[kpi.CounterNPSPassives], c[kpi.CounterNPSDetractors])
	if c[kpi.CounterDAU] == 0 || c[kpi.CounterSessions] == 0 || c[kpi.CounterConversionEvents] == 0 ||
		c[kpi.CounterNPSPromoters]+c[kpi.CounterNPSPassives]+c[kpi.CounterNPSDetractors] == 0 {
		t.Errorf("the day's part misses what the data holds: %v", c)
	}
	// Returning users were seeded as first active before the day: the new
	// ones are mostly the day's signups.
	within("new users among active", c[kpi.CounterDAUNew]/c[kpi.CounterDAU], 0, 0.2)
}

func (m *memRaw) equal(o *memRaw) bool {
	if len(m.files) != len(o.files) {
		return false
	}
	for k, v := range m.files {
		if !slices.EqualFunc(v, o.files[k], bytes.Equal) {
			return false
		}
	}
	return true
}

// ---- reading the raw files as the raw store does ----

// gzRaw keeps each file as rawstore.Put writes it, one gzip stream of
// newline-terminated lines (held as the single "line" of a memRaw file),
// and reads it back as rawstore.Lines does.
type gzRaw struct{ m *memRaw }

func (g gzRaw) put(day kpi.Day, lines [][]byte) (int, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	var latest time.Time
	dec := event.NewLineDecoder()
	for _, l := range lines {
		var r event.Record
		if err := dec.Peek(l, &r); err != nil {
			return 0, err
		}
		if r.Timestamp.After(latest) {
			latest = r.Timestamp
		}
		zw.Write(l)
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	g.m.putNamed(benchTenant, day, latest, [][]byte{buf.Bytes()})
	return buf.Len(), nil
}

func (g gzRaw) Keys(ctx context.Context, kind, tenantID string, day kpi.Day) ([]string, error) {
	return g.m.Keys(ctx, kind, tenantID, day)
}

func (g gzRaw) Lines(ctx context.Context, key string, fn func([]byte) error) error {
	return g.m.Lines(ctx, key, func(blob []byte) error {
		return rawstore.ReadLines(key, bytes.NewReader(blob), true, fn)
	})
}

// ---- the data set ----

type benchData struct {
	n       int // events generated for the benchmarked day
	raw     gzRaw
	lines   map[kpi.Day]int // stored lines per UTC day
	files   int
	gzBytes int
	pop     *gen.Population
	genTime time.Duration
}

// windowDays are the UTC days the run of benchDay reads (for a UTC
// tenant: the day and one on each side).
func (bd *benchData) windowDays() []kpi.Day {
	return kpi.Days(benchDay.AddDays(-1), benchDay.AddDays(1))
}

func (bd *benchData) windowLines() int {
	n := 0
	for _, d := range bd.windowDays() {
		n += bd.lines[d]
	}
	return n
}

// decodeWindow is the baseline: read and decode every line the run reads,
// keeping nothing.
func (bd *benchData) decodeWindow(ctx context.Context) (int, error) {
	n := 0
	for _, d := range bd.windowDays() {
		keys, err := bd.raw.Keys(ctx, aggregate.RawKind, benchTenant, d)
		if err != nil {
			return 0, err
		}
		for _, k := range keys {
			err := bd.raw.Lines(ctx, k, func(line []byte) error {
				var r event.Record
				if err := json.Unmarshal(line, &r); err != nil {
					return err
				}
				n++
				return nil
			})
			if err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// newState is the tenant's state before the run: every known user and
// visitor has its ordinal, and the users that existed before the day have
// signed up, been seen and been active on their account's creation day.
// The day's signups are new to it.
func (bd *benchData) newState(ctx context.Context) *memState {
	return bd.newStateIn(ctx, kpi.DefaultConfig())
}

// newStateIn is newState for a tenant of cfg.
func (bd *benchData) newStateIn(ctx context.Context, cfg kpi.Config) *memState {
	st := newMemState(cfg)
	ids := make([]string, 0, 2*len(bd.pop.Users)+len(bd.pop.Visitors))
	for _, u := range bd.pop.Users {
		ids = append(ids, u.ID, u.Anon)
	}
	for _, v := range bd.pop.Visitors {
		ids = append(ids, v.Anon)
	}
	if _, err := st.Identities(ctx, benchTenant, ids); err != nil {
		panic(err)
	}
	for _, u := range bd.pop.Users {
		d := kpi.DayOf(u.CreatedAt, time.UTC)
		for _, m := range []kpi.Milestone{kpi.FirstActive, kpi.FirstSeen, kpi.SignedUp} {
			if _, _, err := st.SetFirst(ctx, benchTenant, u.ID, m, kpi.First{At: u.CreatedAt, Day: d}); err != nil {
				panic(err)
			}
		}
	}
	return st
}

// ---- heap sampling ----

// heapSampler records the high-water mark of the heap in use (the
// runtime's HeapInuse: spans holding objects, live or not yet swept) while
// armed, read every few milliseconds through runtime/metrics, which unlike
// runtime.ReadMemStats does not stop the world. A peak shorter than the
// period can be missed; the run's peak (all the window's records held at
// once) lasts far longer.
type heapSampler struct {
	armed atomic.Bool
	max   atomic.Uint64
	done  chan struct{}
	wg    sync.WaitGroup
}

func startHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		s := heapSamples()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
				if h.armed.Load() {
					metrics.Read(s)
					v := s[0].Value.Uint64() + s[1].Value.Uint64()
					for old := h.max.Load(); v > old && !h.max.CompareAndSwap(old, v); old = h.max.Load() {
					}
				}
			}
		}
	}()
	return h
}

func (h *heapSampler) arm(on bool)  { h.armed.Store(on) }
func (h *heapSampler) peak() uint64 { return h.max.Load() }
func (h *heapSampler) stop()        { close(h.done); h.wg.Wait() }

// heapSamples read HeapInuse: objects plus the unused part of their spans.
func heapSamples() []metrics.Sample {
	return []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
}

func heapInUse() uint64 {
	s := heapSamples()
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// ---- the data ----

// genBenchData generates the benchmarked day of n events and its
// neighbours of n/10 (bench/gen), and stores them as ingest does.
func genBenchData(n int) (*benchData, error) {
	start := time.Now()
	pop := gen.NewPopulation(benchSeed, n, benchDay)
	bd := &benchData{n: n, raw: gzRaw{newMemRaw()}, lines: map[kpi.Day]int{}, pop: pop}
	cfg := gen.Config{Seed: benchSeed, Population: pop, Start: benchDay.AddDays(-1), PerDay: []int{n / 10, n, n / 10}, ReceivedAt: benchReceivedAt}
	err := gen.Generate(cfg, func(f gen.File) error {
		size, err := bd.raw.put(f.Day, f.Lines)
		if err != nil {
			return err
		}
		bd.lines[f.Day] += len(f.Lines)
		bd.files++
		bd.gzBytes += size
		return nil
	})
	if err != nil {
		return nil, err
	}
	bd.genTime = time.Since(start)
	return bd, nil
}
