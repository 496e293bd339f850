// Command p1 writes benchmark P1's result from the measures of the two
// sides on the same files (bench/p1.sh runs them): Uptake's nightly run
// (bench/cmd/nightly) and DuckDB (bench/duckdb). It first checks that both
// computed the same daily figures, since a comparison of different answers
// is worthless, and fails if they differ.
//
//	go run ./bench/cmd/p1 -uptake u.json -duckdb d.json [-duckdb10m d10.json -uptake10m u10.json] [-notes notes.txt]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/uptakehq/uptake/bench/measure"
	"github.com/uptakehq/uptake/bench/result"
)

// memLimitMB is P1's memory goal at 10 M events a day.
const memLimitMB = 1024

func main() {
	var (
		up      = flag.String("uptake", "", "bench/cmd/nightly's JSON at 1 M events a day (required)")
		duck    = flag.String("duckdb", "", "bench/duckdb's JSON at 1 M events a day (required)")
		up10    = flag.String("uptake10m", "", "bench/cmd/nightly's JSON at 10 M events a day")
		duck10  = flag.String("duckdb10m", "", "bench/duckdb's JSON at 10 M events a day")
		notes   = flag.String("notes", "", "a file of notes, one a line (profile findings)")
		command = flag.String("command", "bench/p1.sh", "what reproduces the result")
	)
	flag.Parse()
	if err := run(*up, *duck, *up10, *duck10, *notes, *command); err != nil {
		fmt.Fprintln(os.Stderr, "p1:", err)
		os.Exit(1)
	}
}

func run(up, duck, up10, duck10, notesFile, command string) error {
	if up == "" || duck == "" {
		return fmt.Errorf("want -uptake and -duckdb")
	}
	u, err := read(up)
	if err != nil {
		return err
	}
	d, err := read(duck)
	if err != nil {
		return err
	}
	if err := same(u, d); err != nil {
		return err
	}
	r := result.Result{ID: "P1", Title: "Nightly aggregation of one day's raw files: Uptake against DuckDB", Command: command}
	r.Figures = append(r.Figures,
		result.Higher(fmt.Sprintf("nightly aggregation, 1 M events a day (%d lines read: the day and a day each side)", u.Events),
			u.EventsPerS, "events/s", "DuckDB, same files, same daily figures", d.EventsPerS, "≥ 1.0× DuckDB", 1.0),
		result.Lower("memory of the nightly run, 1 M events a day (peak live heap less the in-memory state)", u.PeakLiveMB-u.BaseLiveMB, "MB", "limit (P1's goal at 10 M)", memLimitMB, "≤ 1024 MB at 10 M: already over at 1 M if not met", 1.0),
	)
	r.Figures[1].Note = memNote(u, d)
	r.Notes = append(r.Notes, fmt.Sprintf("Both sides computed the same figures for %s: %s.", u.Day, summary(u.Figures)),
		fmt.Sprintf("1 M: Uptake %.1f s (RSS before the run, with the state of the day before's run: %.0f MB; days the run ran again: %v), DuckDB %.1f s; events/s are the lines of the day's window (%d) over the wall time of the run (Uptake: aggregate.Service.Run with an in-memory state; DuckDB: loading the files and its queries).",
			u.Seconds, u.BaseRSSMB, u.Reruns, d.Seconds, u.Events),
		fmt.Sprintf("CPU time (user+system, this machine's 2 cores are shared, so wall times carry others' load): Uptake %.1f s, DuckDB %.1f s; per CPU second Uptake does %.2f× DuckDB's events.",
			u.CPUSeconds, d.CPUSeconds, ratio(d.CPUSeconds, u.CPUSeconds)))
	if duck10 != "" {
		d10, err := read(duck10)
		if err != nil {
			return err
		}
		if up10 != "" {
			u10, err := read(up10)
			if err != nil {
				return err
			}
			if err := same(u10, d10); err != nil {
				return err
			}
			r.Figures = append(r.Figures,
				result.Higher(fmt.Sprintf("nightly aggregation, 10 M events a day (%d lines read)", u10.Events), u10.EventsPerS, "events/s", "DuckDB, same files, same daily figures", d10.EventsPerS, "≥ 1.0× DuckDB", 1.0),
				result.Lower("memory of the nightly run, 10 M events a day (peak live heap less the in-memory state)", u10.PeakLiveMB-u10.BaseLiveMB, "MB", "limit", memLimitMB, "≤ 1024 MB", 1.0))
			r.Figures[len(r.Figures)-1].Note = memNote(u10, d10)
			r.Notes = append(r.Notes, fmt.Sprintf("10 M: both sides computed the same figures: %s. Uptake %.1f s (CPU %.1f s; days the run ran again: %v), DuckDB %.1f s (CPU %.1f s).",
				summary(u10.Figures), u10.Seconds, u10.CPUSeconds, u10.Reruns, d10.Seconds, d10.CPUSeconds))
		} else {
			r.Figures = append(r.Figures,
				result.Higher("DuckDB at 10 M events a day (peer only: Uptake not run)", d10.EventsPerS, "events/s", "DuckDB at 1 M, same run", d.EventsPerS, "for reference", 0))
		}
	}
	if notesFile != "" {
		f, err := os.Open(notesFile)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				r.Notes = append(r.Notes, l)
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	return result.Write(r, "")
}

// memNote says what the memory figure is made of.
func memNote(u, d measure.Measure) string {
	return fmt.Sprintf("The run's own memory: the Go heap's live objects at their peak during the run (%.0f MB, sampled after each collection) less those before it (%.0f MB: the tenant's state, held in memory for the benchmark, in DynamoDB in production). Peak RSS %.0f MB, of which %.0f MB before the run; the run is given GOMEMLIMIT = the state + 1 GiB, as the function's GOMEMLIMIT bounds it in Lambda, so RSS also holds the collector's slack. DuckDB's peak RSS on the same files, same run: %.0f MB.",
		u.PeakLiveMB, u.BaseLiveMB, u.PeakRSSMB, u.BaseRSSMB, d.PeakRSSMB)
}

func read(path string) (measure.Measure, error) {
	var m measure.Measure
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	if m.Seconds <= 0 || m.Events <= 0 {
		return m, fmt.Errorf("%s: no measure", path)
	}
	return m, nil
}

// same checks that both sides computed the same figures of the same day
// from the same lines.
func same(u, d measure.Measure) error {
	if u.Day != d.Day || u.Events != d.Events {
		return fmt.Errorf("the sides read different data: %s %d lines, %s %d lines", u.Day, u.Events, d.Day, d.Events)
	}
	var diffs []string
	for _, k := range slices.Sorted(mapsKeys(u.Figures, d.Figures)) {
		if math.Abs(u.Figures[k]-d.Figures[k]) > 1e-9*math.Max(1, math.Abs(u.Figures[k])) {
			diffs = append(diffs, fmt.Sprintf("%s: uptake %v, duckdb %v", k, u.Figures[k], d.Figures[k]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the sides disagree on %s:\n%s", u.Day, strings.Join(diffs, "\n"))
	}
	return nil
}

func mapsKeys(ms ...map[string]float64) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

func summary(f map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(mapsKeys(f)) {
		parts = append(parts, fmt.Sprintf("%s %.4g", k, f[k]))
	}
	return strings.Join(parts, ", ")
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
