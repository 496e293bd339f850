// Command report writes docs/benchmarks.md from the results `make bench`
// left in bench/results (one JSON file per measurement, see bench/result),
// with the machine they were measured on.
//
//	go run ./bench/cmd/report > docs/benchmarks.md
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/uptakehq/uptake/bench/result"
)

// goals are issue 7's measures, in order, for the ones a run did not
// produce.
var goals = []struct{ id, title string }{
	{"P1", "nightly aggregation of one day's raw files: events/s and peak memory, against DuckDB"},
	{"P2", "KPI query latency, 30-day and 365-day ranges, every KPI"},
	{"P3", "ingest handler in process: events/s, against plain encoding/json decoding"},
	{"P4", "each function's bootstrap size and init time, against a hello-world bootstrap"},
	{"P5", "end-to-end ingest on the local stack, against RudderStack's 1.7 K events/s"},
	{"P6", "cost per million events ingested and aggregated, against PostHog Cloud"},
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	dir, err := result.Dir()
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	byID := map[string][]result.Result{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r result.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		// A goal's main result (<ID>.json) first, then its others by name.
		if filepath.Base(f) == r.ID+".json" {
			byID[r.ID] = append([]result.Result{r}, byID[r.ID]...)
		} else {
			byID[r.ID] = append(byID[r.ID], r)
		}
	}
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Written by `make bench` (`go run ./bench/cmd/report` over `bench/results/`); do not edit by hand.\n")
	fmt.Fprintf(w, "Every figure is compared with a baseline measured in the same run on the same machine and data, or with a fixed limit; ratios, not absolute times, are what carry over to another machine.\n\n")
	fmt.Fprintf(w, "## Machine\n\n%s\n", machine())
	fmt.Fprintf(w, "## Summary\n\n| goal | measure | figure | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|\n")
	for _, g := range goals {
		rs := byID[g.id]
		if len(rs) == 0 {
			fmt.Fprintf(w, "| %s | %s | not measured in this run | | | | |\n", g.id, g.title)
			continue
		}
		for _, r := range rs {
			for _, f := range headline(r) {
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.ID, f.Name, num(f.Value, f.Unit), baseline(f), ratio(f), f.Goal, yes(f.Met))
			}
		}
	}
	for _, g := range goals {
		for _, r := range byID[g.id] {
			fmt.Fprintf(w, "\n## %s: %s\n\n", r.ID, r.Title)
			if r.Command != "" {
				fmt.Fprintf(w, "`%s`, measured %s.\n\n", r.Command, r.MeasuredAt.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(w, "| measure | figure | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n")
			for _, f := range r.Figures {
				name := f.Name
				if f.Note != "" {
					name += " (" + f.Note + ")"
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", name, num(f.Value, f.Unit), baseline(f), ratio(f), f.Goal, yes(f.Met))
			}
			for _, t := range r.Tables {
				fmt.Fprintf(w, "\n%s\n\n| %s |\n|%s\n", t.Title, strings.Join(t.Header, " | "), strings.Repeat("---|", len(t.Header)))
				for _, row := range t.Rows {
					fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
				}
			}
			if len(r.Notes) > 0 {
				fmt.Fprintln(w)
				for _, n := range r.Notes {
					fmt.Fprintf(w, "- %s\n", n)
				}
			}
		}
	}
	return nil
}

// headline picks what a goal's summary rows show: every figure for short
// results, else the unmet ones and a count of the met.
func headline(r result.Result) []result.Figure {
	if len(r.Figures) <= 6 {
		return r.Figures
	}
	var out []result.Figure
	met := 0
	for _, f := range r.Figures {
		if f.Met {
			met++
		} else if len(out) < 5 {
			out = append(out, f)
		}
	}
	out = append(out, result.Figure{Name: fmt.Sprintf("%d of %d figures meet the target (details below)", met, len(r.Figures)), Met: met == len(r.Figures)})
	return out
}

func baseline(f result.Figure) string {
	if f.Baseline == "" {
		return ""
	}
	return f.Baseline + ": " + num(f.BaselineValue, f.Unit)
}

func ratio(f result.Figure) string {
	if f.Ratio == 0 {
		return ""
	}
	return strconv.FormatFloat(f.Ratio, 'f', 2, 64) + "×"
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func num(v float64, unit string) string {
	if unit == "" && v == 0 {
		return ""
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	switch {
	case v >= 1000:
		s = group(strconv.FormatFloat(v, 'f', 0, 64))
	case v >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	case v != 0:
		s = strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strings.TrimSpace(s + " " + unit)
}

func group(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// machine describes the host: CPU, cores, memory, Go, and the date.
func machine() string {
	cpu, mem := "unknown CPU", "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				mem = fmt.Sprintf("%.0f GB", float64(kb)/1024/1024)
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average at the end " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	lines := []string{
		fmt.Sprintf("- %s, %d cores, %s memory, %s/%s%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, load),
		"- " + runtime.Version() + "; DynamoDB Local and gofakes3 where a measure uses the local stack",
		"- written " + time.Now().UTC().Format("2006-01-02 15:04 MST"),
	}
	return strings.Join(lines, "\n") + "\n"
}
