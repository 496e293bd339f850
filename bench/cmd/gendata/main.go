// Command gendata writes a tenant's generated days (bench/gen) into a
// local folder in the layout Uptake keeps in S3 (shared/rawstore):
//
//	<out>/raw/tenant=<tenant>/dt=<YYYY-MM-DD>/<received-nanos>-<hex>-<latest-nanos>.ndjson.gz
//
// Each day's lines go to a few objects (-objects), each one gzip stream of
// newline-terminated lines, in arrival order, named as rawstore names them
// (rawstore.Name: the first request's receive time, and the latest event
// time in the object); the same flags write the same files.
//
//	go run ./bench/cmd/gendata -out bench/data -events 1000000 -days 30
package main

import (
	"flag"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

func main() {
	var (
		out     = flag.String("out", "", "folder to write into (required)")
		events  = flag.Int("events", 1_000_000, "events a day")
		days    = flag.Int("days", 30, "days to generate")
		start   = flag.String("start", "2026-10-01", "first day (UTC)")
		seed    = flag.Uint64("seed", gen.DefaultSeed, "generator seed")
		tenant  = flag.String("tenant", "t", "tenant id")
		objects = flag.Int("objects", 4, "objects a day (about)")
		cpuProf = flag.String("cpuprofile", "", "write a CPU profile here")
	)
	flag.Parse()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gendata:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*out, *events, *days, *start, *seed, *tenant, *objects); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(out string, events, days int, start string, seed uint64, tenant string, objects int) error {
	if out == "" || events < 1000 || days < 1 || objects < 1 {
		return fmt.Errorf("want -out, -events ≥ 1000, -days ≥ 1 and -objects ≥ 1")
	}
	first, err := kpi.ParseDay(start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	t0 := time.Now()
	perDay := make([]int, days)
	for i := range perDay {
		perDay[i] = events
	}
	w := &writer{root: filepath.Join(out, "raw", "tenant="+tenant), limit: (events + objects - 1) / objects,
		names: rand.New(rand.NewPCG(seed, 7)), open: map[kpi.Day]*object{}, lines: map[kpi.Day]int{}, dec: event.NewLineDecoder()}
	cfg := gen.Config{Seed: seed, Population: gen.NewPopulation(seed, events, first), Start: first, PerDay: perDay}
	if err := gen.Generate(cfg, w.add); err != nil {
		w.close()
		return err
	}
	if err := w.close(); err != nil {
		return err
	}
	for _, d := range kpi.Days(first.AddDays(-1), first.AddDays(days)) {
		if n := w.lines[d]; n > 0 {
			fmt.Printf("%s %d events\n", d, n)
		}
	}
	fmt.Printf("%d objects, %.1f MiB gzipped, in %s\n", w.files, float64(w.bytes)/(1<<20), time.Since(t0).Round(time.Millisecond))
	return nil
}

// writer appends each day's files to the day's current object and starts
// a new one after limit lines.
type writer struct {
	root  string
	limit int
	names *rand.Rand
	open  map[kpi.Day]*object
	lines map[kpi.Day]int
	files int
	bytes int64
	dec   *event.LineDecoder
}

type object struct {
	f        *os.File
	zw       *gzip.Writer
	lines    int
	received time.Time
	random   string
	latest   time.Time
}

func (w *writer) add(f gen.File) error {
	o := w.open[f.Day]
	if o == nil {
		dir := filepath.Join(w.root, "dt="+f.Day.String())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		// Named when finished, once its latest event is known.
		random := fmt.Sprintf("%016x", w.names.Uint64())
		file, err := os.Create(filepath.Join(dir, rawstore.Name(f.ReceivedAt, time.Time{}, random)))
		if err != nil {
			return err
		}
		zw, _ := gzip.NewWriterLevel(file, gzip.BestSpeed) // as rawstore.Encode writes objects
		o = &object{f: file, zw: zw, received: f.ReceivedAt, random: random}
		w.open[f.Day] = o
		w.files++
	}
	for _, l := range f.Lines {
		var r event.Record
		if err := w.dec.Peek(l, &r); err != nil {
			return fmt.Errorf("generated line: %w", err)
		}
		if r.Timestamp.After(o.latest) {
			o.latest = r.Timestamp
		}
		o.zw.Write(l)
		if _, err := o.zw.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	o.lines += len(f.Lines)
	w.lines[f.Day] += len(f.Lines)
	if o.lines >= w.limit {
		delete(w.open, f.Day)
		return w.finish(o)
	}
	return nil
}

func (w *writer) finish(o *object) error {
	err := o.zw.Close()
	if st, serr := o.f.Stat(); serr == nil {
		w.bytes += st.Size()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		dir := filepath.Dir(o.f.Name())
		err = os.Rename(o.f.Name(), filepath.Join(dir, rawstore.Name(o.received, o.latest, o.random)))
	}
	return err
}

func (w *writer) close() error {
	var first error
	for d, o := range w.open {
		if err := w.finish(o); err != nil && first == nil {
			first = err
		}
		delete(w.open, d)
	}
	return first
}
