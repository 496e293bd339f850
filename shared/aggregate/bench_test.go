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
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
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

	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
)

// benchEvents is the size of the benchmarked day; UPTAKE_BENCH_EVENTS
// overrides it (go test -bench with a smaller day).
const benchEvents = 1_000_000

// benchSeed fixes the generated data.
const benchSeed = 20261014

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
					if s.Type != "nps" || s.Score < 0 || s.Score > 10 {
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
	within("users active", float64(len(day.users)), 0.2*float64(len(bd.pop.users)), float64(len(bd.pop.users))+float64(day.signups))
	within("anonymous visitors", float64(len(day.visitors)), float64(len(day.users)), 1.1*float64(len(bd.pop.visitors)+len(bd.pop.bots)))
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
	for _, l := range lines {
		zw.Write(l)
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	g.m.put(benchTenant, day, [][]byte{buf.Bytes()})
	return buf.Len(), nil
}

func (g gzRaw) Keys(ctx context.Context, kind, tenantID string, day kpi.Day) ([]string, error) {
	return g.m.Keys(ctx, kind, tenantID, day)
}

func (g gzRaw) Lines(ctx context.Context, key string, fn func([]byte) error) error {
	return g.m.Lines(ctx, key, func(blob []byte) error {
		zr, err := gzip.NewReader(bytes.NewReader(blob))
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		defer zr.Close()
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			if err := fn(sc.Bytes()); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		return nil
	})
}

// ---- the data set ----

type benchData struct {
	n       int // events generated for the benchmarked day
	raw     gzRaw
	lines   map[kpi.Day]int // stored lines per UTC day
	files   int
	gzBytes int
	pop     *population
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
	st := newMemState(kpi.DefaultConfig())
	ids := make([]string, 0, 2*len(bd.pop.users)+len(bd.pop.visitors))
	for _, u := range bd.pop.users {
		ids = append(ids, u.id, u.anon)
	}
	for _, v := range bd.pop.visitors {
		ids = append(ids, v.anon)
	}
	if _, err := st.Identities(ctx, benchTenant, ids); err != nil {
		panic(err)
	}
	for _, u := range bd.pop.users {
		d := kpi.DayOf(u.createdAt, time.UTC)
		for _, m := range []kpi.Milestone{kpi.FirstActive, kpi.FirstSeen, kpi.SignedUp} {
			if _, _, err := st.SetFirst(ctx, benchTenant, u.id, m, kpi.First{At: u.createdAt, Day: d}); err != nil {
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

// ---- the generator ----

// population is the tenant's people. Its sizes are those of a tenant with
// a million events a day, scaled with the day's size.
type population struct {
	users    []benchUser
	visitors []benchVisitor // anonymous visitors of the marketing site
	bots     []benchVisitor
}

type benchUser struct {
	id, anon  string
	mobile    int8 // 0 web, 1 iOS app, 2 Android app
	ua        uint8
	plan      uint8
	company   int
	createdAt time.Time
}

type benchVisitor struct {
	anon string
	ua   uint8
}

func newPopulation(r *rand.Rand, n int) *population {
	scale := float64(n) / 1e6
	p := &population{
		users:    make([]benchUser, max(100, int(math.Round(50_000*scale)))),
		visitors: make([]benchVisitor, max(240, int(math.Round(120_000*scale)))),
		bots:     make([]benchVisitor, max(5, int(math.Round(200*scale)))),
	}
	for i := range p.users {
		u := &p.users[i]
		u.id = "usr_" + hex16(mix(1<<40|uint64(i)))
		u.anon = uuid(2<<40 | uint64(i))
		if x := r.Float64(); x < 0.15 {
			u.mobile = 1
		} else if x < 0.25 {
			u.mobile = 2
		}
		u.ua = uint8(r.IntN(len(browserUAs)))
		u.plan = uint8(r.IntN(len(plans)))
		u.company = r.IntN(max(10, len(p.users)/8))
		u.createdAt = benchDay.Start(time.UTC).Add(-time.Duration(1+r.IntN(700))*24*time.Hour + time.Duration(r.IntN(86400))*time.Second)
	}
	for i := range p.visitors {
		p.visitors[i] = benchVisitor{anon: uuid(3<<40 | uint64(i)), ua: uint8(r.IntN(len(browserUAs)))}
	}
	for i := range p.bots {
		p.bots[i] = benchVisitor{anon: uuid(4<<40 | uint64(i)), ua: uint8(r.IntN(len(botUAs)))}
	}
	return p
}

// newUserID is the userId a visitor gets when it signs up.
func newUserID(visitor int32) string { return "usr_" + hex16(mix(5<<40|uint64(visitor))) }

// A genEvent is one message before rendering, small enough to hold and
// sort the whole data set.
type genEvent struct {
	ts    int64  // unix milliseconds
	seq   uint32 // message number, unique in the data set
	actor int32  // index in the population's users, visitors or bots
	class uint8  // classUser, classVisitor, classBot
	kind  uint8  // kPage ... kSignup
	item  uint16 // page, screen or event index; the NPS score
	page  uint16 // the page the event happens on (web)
	prev  uint16 // the previous page, the referrer of an inner page
	src   uint8  // the landing's traffic source (first page of a session), 0 if none
}

const (
	classUser = iota
	classVisitor
	classBot
)

const (
	kPage = iota
	kScreen
	kTrack
	kIdentify
	kSurvey
	kSignup
)

// genBenchData generates the benchmarked day of n events and its
// neighbours of n/10, and stores them as ingest does.
func genBenchData(n int) (*benchData, error) {
	start := time.Now()
	pop := newPopulation(rand.New(rand.NewPCG(benchSeed, 0)), n)
	var evs []genEvent
	seq := uint32(0)
	for i, d := range []kpi.Day{benchDay.AddDays(-1), benchDay, benchDay.AddDays(1)} {
		m := n / 10
		if d.Equal(benchDay) {
			m = n
		}
		evs = genDay(rand.New(rand.NewPCG(benchSeed, uint64(i+1))), pop, d, m, &seq, evs)
	}
	slices.SortFunc(evs, func(a, b genEvent) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq))
	})

	// Requests of about 100 messages, in arrival order.
	r := rand.New(rand.NewPCG(benchSeed, 99))
	var reqs [][]genEvent
	for rest := evs; len(rest) > 0; {
		k := min(len(rest), 60+r.IntN(81))
		reqs = append(reqs, rest[:k])
		rest = rest[k:]
	}

	// Render, parse and compress in parallel; store in request order.
	type file struct {
		day   kpi.Day
		lines [][]byte
	}
	out := make([][]file, len(reqs))
	errs := make([]error, len(reqs))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(reqs); i = int(next.Add(1) - 1) {
				var files []file
				for _, e := range reqs[i] {
					msg := renderEvent(pop, e)
					p, err := event.Parse(msg, event.Arrival{ReceivedAt: benchReceivedAt})
					if err != nil {
						errs[i] = fmt.Errorf("generated message rejected: %v\n%s", err, msg)
						break
					}
					d := kpi.DayOf(p.Record.Timestamp, time.UTC)
					j := slices.IndexFunc(files, func(f file) bool { return f.day.Equal(d) })
					if j < 0 {
						j = len(files)
						files = append(files, file{day: d})
					}
					files[j].lines = append(files[j].lines, p.Line)
				}
				slices.SortFunc(files, func(a, b file) int { return cmpDay(a.day, b.day) })
				out[i] = files
			}
		})
	}
	wg.Wait()
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	bd := &benchData{n: n, raw: gzRaw{newMemRaw()}, lines: map[kpi.Day]int{}, pop: pop}
	for _, files := range out {
		for _, f := range files {
			size, err := bd.raw.put(f.day, f.lines)
			if err != nil {
				return nil, err
			}
			bd.lines[f.day] += len(f.lines)
			bd.files++
			bd.gzBytes += size
		}
	}
	bd.genTime = time.Since(start)
	return bd, nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// genDay appends m events of sessions starting on day d: 1% from bots
// crawling the site, the rest from users of the product (web and apps) and
// anonymous visitors of the marketing site, more of them in the afternoon
// (UTC) than at night. A session that starts late may end after midnight.
func genDay(r *rand.Rand, pop *population, d kpi.Day, m int, seq *uint32, evs []genEvent) []genEvent {
	dayStart := d.Start(time.UTC).UnixMilli()
	add := func(e genEvent) {
		e.seq = *seq
		*seq++
		evs = append(evs, e)
	}
	startLen := len(evs)
	room := func() int { return startLen + m - len(evs) }

	// Bots: crawls of 10 to 40 pages, a few seconds apart, at any hour.
	botRoom := m / 100
	for botRoom > 0 {
		bot := int32(r.IntN(len(pop.bots)))
		ts := dayStart + r.Int64N(86_400_000)
		for k := min(botRoom, 10+r.IntN(31)); k > 0; k-- {
			add(genEvent{ts: ts, actor: bot, class: classBot, kind: kPage, page: uint16(r.IntN(len(sitePages)))})
			ts += 1000 + r.Int64N(7000)
			botRoom--
		}
	}

	for room() > 0 {
		ts := dayStart + diurnal(r)
		gap := func() {
			if r.Float64() < 0.015 {
				ts += (31 + r.Int64N(90)) * 60_000 // a break: a new session
			} else {
				ts += 2000 + int64(r.ExpFloat64()*40_000)
			}
		}
		if r.Float64() < 0.42 {
			// A user of the product: half the sessions from a core of
			// daily users, the rest from anyone.
			var u int32
			if r.Float64() < 0.5 {
				u = int32(r.IntN(max(1, len(pop.users)/10)))
			} else {
				u = int32(r.IntN(len(pop.users)))
			}
			mobile := pop.users[u].mobile != 0
			k := min(room(), 2+int(r.ExpFloat64()*12))
			page := uint16(r.IntN(len(appPages)))
			survey := -1
			if r.Float64() < 0.025 {
				survey = r.IntN(k)
			}
			for j := range k {
				e := genEvent{ts: ts, actor: u, class: classUser, page: page}
				switch {
				case j == 0 && r.Float64() < 0.3:
					e.kind = kIdentify
				case j == survey:
					e.kind, e.item = kSurvey, npsScore(r)
				case mobile && r.Float64() < 0.55:
					e.kind, e.item = kScreen, uint16(r.IntN(len(appScreens)))
				case !mobile && r.Float64() < 0.5:
					e.kind, e.prev = kPage, page
					page = uint16(r.IntN(len(appPages)))
					e.page = page
				default:
					e.kind, e.item = kTrack, pick(r, userEvents)
				}
				add(e)
				gap()
			}
			continue
		}
		// An anonymous visitor of the marketing site; some sign up.
		v := int32(r.IntN(len(pop.visitors)))
		k := min(room(), 1+int(r.ExpFloat64()*2.5))
		page := landingPage(r)
		src := uint8(1 + pick(r, sources))
		signup := r.Float64() < 0.04 && k >= 2
		for j := range k {
			e := genEvent{ts: ts, actor: v, class: classVisitor, page: page}
			switch {
			case j == 0:
				e.kind, e.src = kPage, src
			case signup && j == k-1:
				e.kind = kSignup
			case r.Float64() < 0.8:
				e.kind, e.prev = kPage, page
				page = uint16(r.IntN(len(sitePages)))
				e.page = page
			default:
				e.kind, e.item = kTrack, pick(r, siteEvents)
			}
			add(e)
			gap()
		}
	}
	return evs
}

// diurnal is a time of day in milliseconds, busiest around 15:00 UTC and
// quietest around 03:00.
func diurnal(r *rand.Rand) int64 {
	for {
		ms := r.Int64N(86_400_000)
		h := float64(ms) / 3_600_000
		if r.Float64() < 0.2+0.8*(1-math.Cos(2*math.Pi*(h-3)/24))/2 {
			return ms
		}
	}
}

// npsScore: about 45% promoters, 30% passives, 25% detractors.
func npsScore(r *rand.Rand) uint16 {
	switch x := r.Float64(); {
	case x < 0.45:
		return uint16(9 + r.IntN(2))
	case x < 0.75:
		return uint16(7 + r.IntN(2))
	}
	return uint16(r.IntN(7))
}

type weighted struct {
	name   string
	weight float64
}

func pick(r *rand.Rand, ws []weighted) uint16 {
	total := 0.0
	for _, w := range ws {
		total += w.weight
	}
	x := r.Float64() * total
	for i, w := range ws {
		if x -= w.weight; x < 0 {
			return uint16(i)
		}
	}
	return uint16(len(ws) - 1)
}

func landingPage(r *rand.Rand) uint16 {
	if r.Float64() < 0.4 {
		return uint16(r.IntN(4)) // home, pricing, features, customers
	}
	return uint16(r.IntN(len(sitePages)))
}

// ---- rendering as Segment libraries send messages ----

const site = "https://www.acme.example"

type sitePage struct{ path, title, contentType string }

var sitePages, appPages = func() ([]sitePage, []sitePage) {
	site := []sitePage{
		{"/", "Acme | Product analytics for SaaS", "home"},
		{"/pricing", "Pricing | Acme", "pricing"},
		{"/features", "Features | Acme", "product"},
		{"/customers", "Customers | Acme", "customers"},
		{"/features/funnels", "Funnels | Acme", "product"},
		{"/features/retention", "Retention | Acme", "product"},
		{"/integrations", "Integrations | Acme", "product"},
		{"/signup", "Sign up | Acme", "signup"},
		{"/login", "Log in | Acme", "login"},
		{"/about", "About | Acme", "company"},
		{"/careers", "Careers | Acme", "company"},
		{"/blog", "Blog | Acme", "blog"},
		{"/docs", "Documentation | Acme", "docs"},
	}
	for i := range 24 {
		site = append(site, sitePage{fmt.Sprintf("/blog/post-%02d-how-teams-measure-activation", i+1), fmt.Sprintf("Post %d | Acme blog", i+1), "blog"})
	}
	for i := range 16 {
		site = append(site, sitePage{fmt.Sprintf("/docs/guides/topic-%02d", i+1), fmt.Sprintf("Guide %d | Acme docs", i+1), "docs"})
	}
	app := []sitePage{
		{"/app/dashboard", "Dashboard", "app"}, {"/app/reports", "Reports", "app"}, {"/app/funnels", "Funnels", "app"},
		{"/app/retention", "Retention", "app"}, {"/app/settings", "Settings", "app"}, {"/app/team", "Team", "app"},
		{"/app/billing", "Billing", "app"}, {"/app/alerts", "Alerts", "app"},
	}
	for i := range 20 {
		app = append(app, sitePage{fmt.Sprintf("/app/reports/r-%d", 1000+37*i), "Report", "app"})
	}
	for i := range 10 {
		app = append(app, sitePage{fmt.Sprintf("/app/projects/p-%d", 200+11*i), "Project", "app"})
	}
	return site, app
}()

var appScreens = []string{"Dashboard", "Reports", "Report Detail", "Funnels", "Settings", "Notifications", "Search", "Project"}

var userEvents = []weighted{
	{"Feature Used", 30}, {"Report Viewed", 15}, {"Dashboard Filtered", 12}, {"Search Performed", 10},
	{"Comment Added", 8}, {"Report Exported", 6}, {"Chart Created", 6}, {"Notification Opened", 5},
	{"Project Created", 3}, {"Alert Configured", 3}, {"Invite Sent", 2},
}

var features = []string{"funnels", "retention", "cohorts", "dashboards", "alerts", "exports", "segments", "annotations", "sql", "goals", "paths", "sharing"}

var siteEvents = []weighted{
	{"CTA Clicked", 50}, {"Video Played", 20}, {"Pricing Plan Selected", 15}, {"Newsletter Subscribed", 10}, {"Demo Requested", 5},
}

// sources are a landing's referrer and campaign: search, social, email,
// paid, partner and direct traffic.
var sources = []weighted{
	{"direct", 30}, {"google", 35}, {"bing", 4}, {"duckduckgo", 2}, {"twitter", 4}, {"linkedin", 5},
	{"hackernews", 2}, {"newsletter", 5}, {"adwords", 8}, {"g2", 5},
}

var sourceReferrers = map[string]string{
	"google": "https://www.google.com/", "bing": "https://www.bing.com/", "duckduckgo": "https://duckduckgo.com/",
	"twitter": "https://t.co/x9Qz3", "linkedin": "https://www.linkedin.com/", "hackernews": "https://news.ycombinator.com/",
	"g2": "https://www.g2.com/products/acme/reviews",
}

var sourceCampaigns = map[string][3]string{ // source, medium, name
	"newsletter": {"newsletter", "email", "october-digest"},
	"adwords":    {"google", "cpc", "brand-search"},
}

var plans = []string{"free", "starter", "pro", "enterprise"}

var browserUAs = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
}

var botUAs = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (compatible; Pingdom.com_bot_version_1.4; http://www.pingdom.com/)",
}

type pageContext struct {
	Path     string `json:"path"`
	Referrer string `json:"referrer"`
	Search   string `json:"search"`
	Title    string `json:"title"`
	URL      string `json:"url"`
}

type library struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type campaign struct {
	Source string `json:"source"`
	Medium string `json:"medium"`
	Name   string `json:"name"`
}

type webContext struct {
	IP        string       `json:"ip"`
	Library   library      `json:"library"`
	Locale    string       `json:"locale"`
	Page      *pageContext `json:"page,omitempty"`
	UserAgent string       `json:"userAgent"`
	Campaign  *campaign    `json:"campaign,omitempty"`
	Timezone  string       `json:"timezone"`
}

type appContext struct {
	App struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Build     string `json:"build"`
		Namespace string `json:"namespace"`
	} `json:"app"`
	Device struct {
		ID           string `json:"id"`
		Manufacturer string `json:"manufacturer"`
		Model        string `json:"model"`
		Type         string `json:"type"`
	} `json:"device"`
	Library library `json:"library"`
	Locale  string  `json:"locale"`
	Network struct {
		Wifi bool `json:"wifi"`
	} `json:"network"`
	OS struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"os"`
	Screen struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"screen"`
	Timezone string `json:"timezone"`
}

type message struct {
	Type         string         `json:"type"`
	MessageID    string         `json:"messageId"`
	AnonymousID  string         `json:"anonymousId,omitempty"`
	UserID       string         `json:"userId,omitempty"`
	Event        string         `json:"event,omitempty"`
	Name         string         `json:"name,omitempty"`
	Properties   map[string]any `json:"properties,omitempty"`
	Traits       map[string]any `json:"traits,omitempty"`
	Context      any            `json:"context"`
	Integrations struct{}       `json:"integrations"`
	Timestamp    string         `json:"timestamp"`
	SentAt       string         `json:"sentAt"`
}

var timezones = []string{"America/New_York", "Europe/London", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "Europe/Paris"}

// renderEvent writes a generated event as the Segment message its library
// would send. Details not fixed by the event come from a generator seeded
// by its number, so rendering is deterministic in any order.
func renderEvent(pop *population, e genEvent) []byte {
	r := rand.New(rand.NewPCG(benchSeed^0x5eed, uint64(e.seq)))
	ts := time.UnixMilli(e.ts).UTC()
	m := message{
		Timestamp: ts.Format("2006-01-02T15:04:05.000Z"),
		SentAt:    ts.Add(time.Duration(150+r.IntN(2500)) * time.Millisecond).Format("2006-01-02T15:04:05.000Z"),
	}
	var (
		ua     string
		mobile int8
		plan   string
		user   *benchUser
	)
	switch e.class {
	case classUser:
		user = &pop.users[e.actor]
		m.UserID, m.AnonymousID = user.id, user.anon
		ua, mobile, plan = browserUAs[user.ua], user.mobile, plans[user.plan]
	case classVisitor:
		v := pop.visitors[e.actor]
		m.AnonymousID, ua, plan = v.anon, browserUAs[v.ua], "free"
	default:
		v := pop.bots[e.actor]
		m.AnonymousID, ua = v.anon, botUAs[v.ua]
	}
	if mobile != 0 {
		m.MessageID = uuid(6<<40 | uint64(e.seq))
	} else {
		m.MessageID = "ajs-next-" + strconv.FormatInt(e.ts, 10) + "-" + hex16(mix(6<<40|uint64(e.seq)))
	}

	pages := sitePages
	if e.class == classUser {
		pages = appPages
	}
	cur := pages[int(e.page)%len(pages)]
	pc := &pageContext{Path: cur.path, Title: cur.title, URL: site + cur.path}
	if e.kind == kPage && e.src == 0 {
		pc.Referrer = site + pages[int(e.prev)%len(pages)].path
	}
	var camp *campaign
	if e.src != 0 {
		src := sources[e.src-1].name
		pc.Referrer = sourceReferrers[src]
		if c, ok := sourceCampaigns[src]; ok {
			camp = &campaign{Source: c[0], Medium: c[1], Name: c[2]}
			pc.Search = "?utm_source=" + c[0] + "&utm_medium=" + c[1] + "&utm_campaign=" + c[2]
			pc.URL += pc.Search
		}
	}

	switch e.kind {
	case kPage:
		m.Type, m.Name = event.Page, cur.title
		m.Properties = map[string]any{"path": pc.Path, "referrer": pc.Referrer, "search": pc.Search, "title": pc.Title, "url": pc.URL, "content_type": cur.contentType}
	case kScreen:
		m.Type, m.Name = event.Screen, appScreens[int(e.item)%len(appScreens)]
		m.Properties = map[string]any{"name": m.Name, "plan": plan}
	case kIdentify:
		m.Type = event.Identify
		m.Traits = map[string]any{
			"email": "user" + user.id[4:12] + "@company" + strconv.Itoa(user.company) + ".example", "plan": plan,
			"company":    map[string]any{"id": "c-" + strconv.Itoa(user.company), "name": "Company " + strconv.Itoa(user.company)},
			"created_at": user.createdAt.Format(time.RFC3339),
		}
	case kSurvey:
		m.Type, m.Event = event.Track, event.SurveyResponded
		m.Properties = map[string]any{"survey_type": "nps", "survey_id": "nps-2026-q4", "score": int(e.item), "channel": "in_app", "touchpoint": "dashboard"}
		if r.Float64() < 0.3 {
			m.Properties["comment"] = [...]string{"Love the funnels", "Too slow on big reports", "Exports are great", "Pricing is high"}[r.IntN(4)]
		}
	case kSignup:
		m.Type, m.Event = event.Track, event.SignedUp
		m.UserID = newUserID(e.actor)
		m.Properties = map[string]any{"plan": "free", "method": [...]string{"email", "google", "github"}[r.IntN(3)]}
	case kTrack:
		m.Type = event.Track
		switch e.class {
		case classUser:
			m.Event = userEvents[int(e.item)%len(userEvents)].name
			m.Properties = map[string]any{"plan": plan}
			switch m.Event {
			case "Feature Used":
				m.Properties["feature"] = features[r.IntN(len(features))]
			case "Report Viewed", "Report Exported":
				m.Properties["report_id"] = "r-" + strconv.Itoa(1000+37*r.IntN(20))
				m.Properties["format"] = [...]string{"table", "chart", "csv"}[r.IntN(3)]
				m.Properties["rows"] = r.IntN(5000)
			case "Search Performed":
				m.Properties["query"] = [...]string{"signup funnel", "weekly active", "churn", "nps"}[r.IntN(4)]
				m.Properties["results"] = r.IntN(40)
			default:
				m.Properties["value"] = r.IntN(100)
			}
		default:
			m.Event = siteEvents[int(e.item)%len(siteEvents)].name
			m.Properties = map[string]any{"location": cur.path, "label": [...]string{"Start free", "Book a demo", "See pricing"}[r.IntN(3)]}
		}
	}

	if mobile != 0 && (e.kind == kScreen || e.kind == kTrack || e.kind == kIdentify || e.kind == kSurvey) {
		var c appContext
		c.App.Name, c.App.Version, c.App.Build, c.App.Namespace = "Acme", "5.2.1", "5210", "com.acme.app"
		c.Device.ID = user.anon
		if mobile == 1 {
			c.Device.Manufacturer, c.Device.Model, c.Device.Type = "Apple", "iPhone15,2", "ios"
			c.Library = library{"analytics-swift", "1.6.1"}
			c.OS.Name, c.OS.Version = "iOS", "17.6.1"
			c.Screen.Width, c.Screen.Height = 393, 852
		} else {
			c.Device.Manufacturer, c.Device.Model, c.Device.Type = "Google", "Pixel 8", "android"
			c.Library = library{"analytics-kotlin", "1.16.3"}
			c.OS.Name, c.OS.Version = "Android", "14"
			c.Screen.Width, c.Screen.Height = 1080, 2400
		}
		c.Locale, c.Network.Wifi = "en-US", r.Float64() < 0.6
		c.Timezone = timezones[int(e.actor)%len(timezones)]
		m.Context = c
	} else {
		id := uint64(e.actor) | uint64(e.class)<<32
		m.Context = webContext{
			IP:      fmt.Sprintf("%d.%d.%d.%d", 11+mix(id)%200, mix(id+1)%256, mix(id+2)%256, 1+mix(id+3)%254),
			Library: library{"analytics.js", "npm:next-1.72.0"}, Locale: "en-US", Page: pc, UserAgent: ua, Campaign: camp,
			Timezone: timezones[int(e.actor)%len(timezones)],
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// mix is splitmix64's finaliser: ids that look random but are fixed.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hex16(x uint64) string { return fmt.Sprintf("%016x", x) }

func uuid(n uint64) string {
	a, b := mix(n), mix(n^0xabcdef)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, (b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}
