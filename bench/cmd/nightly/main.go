// Command nightly runs Uptake's nightly aggregation (aggregate.Service)
// of one day over raw files in a local folder written by gendata, with the
// tenant's state in memory (shared/aggregate/memstate), and prints what it measured
// as JSON: the lines read (the day and a day on each side), the wall
// time, the process's peak resident memory, and the day's figures that
// bench/duckdb computes too.
//
//	go run ./bench/cmd/nightly -data bench/data -day 2026-10-02 -events 1000000 -start 2026-10-01
//
// The state starts as the generator's population left it before its first
// day (every user known, signed up and active on its creation day), so
// -events, -start and -seed must be gendata's; then the day before is run,
// untimed, as the previous night would have, and the day is measured. Its
// events/s count the lines of the day's window once, whatever days the run
// runs again.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/bench/measure"
	"github.com/uptakehq/uptake/bench/nightly"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/aggregate/memstate"
	"github.com/uptakehq/uptake/shared/kpi"
)

func main() {
	var (
		data     = flag.String("data", "", "folder gendata wrote (required)")
		dayFlag  = flag.String("day", "", "day to aggregate (required)")
		events   = flag.Int("events", 1_000_000, "gendata's -events")
		start    = flag.String("start", "2026-10-01", "gendata's -start")
		seed     = flag.Uint64("seed", gen.DefaultSeed, "gendata's -seed")
		tenant   = flag.String("tenant", "t", "tenant id")
		cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the run here")
		memProf  = flag.String("memprofile", "", "write an allocation profile of the run here")
		heapProf = flag.String("heapprofile", "", "write a heap profile here at the run's peak of live heap")
		out      = flag.String("o", "", "write the JSON here instead of stdout")
		logLevel = flag.String("log", "error", "log level")
	)
	flag.Parse()
	if err := run(*data, *dayFlag, *events, *start, *seed, *tenant, *cpuProf, *memProf, *heapProf, *out, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "nightly:", err)
		os.Exit(1)
	}
}

func run(data, dayFlag string, events int, start string, seed uint64, tenant, cpuProf, memProf, heapProf, out, logLevel string) error {
	if data == "" || dayFlag == "" {
		return fmt.Errorf("want -data and -day")
	}
	day, err := kpi.ParseDay(dayFlag)
	if err != nil {
		return fmt.Errorf("-day: %w", err)
	}
	first, err := kpi.ParseDay(start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
		return err
	}
	ctx := context.Background()
	raw := nightly.Dir{Root: data}
	n := 0
	for _, d := range kpi.Days(day.AddDays(-1), day.AddDays(1)) {
		keys, err := raw.Keys(ctx, aggregate.RawKind, tenant, d)
		if err != nil {
			return err
		}
		for _, k := range keys {
			c, err := nightly.CountLines(filepath.Join(data, k))
			if err != nil {
				return err
			}
			n += c
		}
	}
	if n == 0 {
		return fmt.Errorf("no raw files of %s under %s", day, data)
	}
	st, err := nightly.State(ctx, tenant, gen.NewPopulation(seed, events, first))
	if err != nil {
		return err
	}
	// The run's memory beyond the state: in Lambda the state is in
	// DynamoDB, and the function's GOMEMLIMIT bounds its heap. Here the
	// limit is what the in-memory state takes plus P1's 1 GiB, so the
	// collector does not let the heap double over a big state; a run that
	// needed more would still take it, and show.
	debug.FreeOSMemory()
	limit := goMemory() + runMemLimit
	debug.SetMemoryLimit(int64(limit))
	clock := day.AddDays(2).Start(time.UTC).Add(15 * time.Minute)
	svc := &aggregate.Service{Raw: raw, State: st, Now: func() time.Time { return clock },
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))}
	// The state as the previous night's run left it: the day before run
	// (untimed), so that the measured run does what a nightly run does.
	warm, err := svc.Run(ctx, tenant, []kpi.Day{day.AddDays(-1)})
	if err != nil {
		return fmt.Errorf("run of the day before: %w", err)
	}
	debug.FreeOSMemory()
	base := measure.RSSKB("VmRSS")
	measure.ResetPeakRSS() // the measured run's peak, not the day before's

	if cpuProf != "" {
		f, err := os.Create(cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	baseLive := liveHeap()
	stop := make(chan struct{})
	peakLive := make(chan uint64)
	go func() { // the live heap after each collection, kept at its peak
		peak, profiled := baseLive, baseLive
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				peak = max(peak, liveHeap())
				// A heap profile at each new peak 2% above the last one
				// profiled: what the peak is made of.
				if heapProf != "" && peak > profiled+profiled/50 {
					profiled = peak
					if err := writeHeapProfile(heapProf); err != nil {
						fmt.Fprintln(os.Stderr, "nightly: heap profile:", err)
					}
				}
			case <-stop:
				peakLive <- max(peak, liveHeap())
				return
			}
		}
	}()
	t0, c0 := time.Now(), measure.CPUSeconds()
	rep, runErr := svc.Run(ctx, tenant, []kpi.Day{day})
	elapsed, cpu := time.Since(t0), measure.CPUSeconds()-c0
	close(stop)
	peakLiveB := <-peakLive
	if cpuProf != "" {
		pprof.StopCPUProfile()
	}
	if runErr != nil {
		return runErr
	}
	peak := measure.RSSKB("VmHWM")
	if memProf != "" {
		f, err := os.Create(memProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}

	parts, err := st.Parts(ctx, tenant, day, day)
	if err != nil || len(parts) != 1 {
		return fmt.Errorf("the run left no part for %s: %v", day, err)
	}
	m := measure.Measure{Engine: "uptake", Day: day.String(), Events: n, Seconds: elapsed.Seconds(), CPUSeconds: cpu, EventsPerS: float64(n) / elapsed.Seconds(),
		PeakRSSMB: float64(peak) / 1024, BaseRSSMB: float64(base) / 1024, PeakLiveMB: float64(peakLiveB) / (1 << 20), BaseLiveMB: float64(baseLive) / (1 << 20), Figures: figures(parts[0], st, day),
		Reruns: rep.Reruns, WarmReruns: warm.Reruns}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// figures are the day's values that bench/duckdb computes from the same
// files: active users, sessions and their pages, survey answers by type
// and score bucket, users first completing each onboarding step (the
// data's history starts on the day before, which the state has run).
// runMemLimit is P1's memory goal: the nightly run's own memory.
const runMemLimit = 1 << 30

// goMemory is the memory the Go runtime holds from the OS.
func goMemory() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// writeHeapProfile writes the heap profile as of the last collection.
func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// liveHeap is the heap's live objects as the last collection found them.
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

func figures(p kpi.Part, st *memstate.State, day kpi.Day) map[string]float64 {
	f := map[string]float64{
		"dau":             p.Counters[kpi.CounterDAU],
		"sessions":        p.Counters[kpi.CounterSessions],
		"session_pages":   p.Counters[kpi.CounterSessionPages],
		"nps_promoters":   p.Counters[kpi.CounterNPSPromoters],
		"nps_passives":    p.Counters[kpi.CounterNPSPassives],
		"nps_detractors":  p.Counters[kpi.CounterNPSDetractors],
		"csat_positive":   0,
		"csat_other":      0,
		"survey_answers":  float64(len(p.Responses)),
		"page_visitors":   float64(p.Sets[kpi.SetPageVisitors].GetCardinality()),
		"pages_per_visit": 0,
	}
	if s := f["sessions"]; s > 0 {
		f["pages_per_visit"] = f["session_pages"] / s
	}
	for _, r := range p.Responses {
		if r.Type == "csat" {
			if r.Score >= 4 {
				f["csat_positive"]++
			} else {
				f["csat_other"]++
			}
		}
	}
	for k := range gen.StepNames {
		f["step_"+strconv.Itoa(k+1)] = float64(st.Reached(kpi.StepMilestone(k+1), day))
	}
	return f
}
