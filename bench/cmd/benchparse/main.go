// Command benchparse turns the output of BenchmarkQuery (go test -bench)
// into P2's in-process result (bench/results/P2-inprocess.json): for every
// KPI, the 365-day query's time against the 30-day one measured in the
// same run (goal: at most 3×), on an in-memory store. bench/cmd/p2
// measures the same queries through the handler on DynamoDB Local.
//
//	go test -run '^$' -bench BenchmarkQuery -benchtime 5x ./shared/query/ | go run ./bench/cmd/benchparse
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/uptakehq/uptake/bench/result"
)

// line matches "BenchmarkQuery/<kpi>/days=<n>-<procs>  <N>  <ns> ns/op ...".
var line = regexp.MustCompile(`^BenchmarkQuery/([a-z_]+)/days=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchparse:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, echo io.Writer) error {
	ns := map[string]map[int]float64{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		fmt.Fprintln(echo, sc.Text())
		m := line.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		days, _ := strconv.Atoi(m[2])
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return err
		}
		if ns[m[1]] == nil {
			ns[m[1]] = map[int]float64{}
		}
		ns[m[1]][days] = v
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(ns) == 0 {
		return fmt.Errorf("no BenchmarkQuery lines in the input")
	}
	r := result.Result{
		ID:      "P2",
		Title:   "KPI query latency in process (memory store), 30-day and 365-day ranges, every KPI",
		Command: "go test -run '^$' -bench BenchmarkQuery -benchtime 5x ./shared/query/ | go run ./bench/cmd/benchparse",
	}
	met := 0
	var worst []string
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for k := range ns {
			if !yield(k) {
				return
			}
		}
	}) {
		a, b := ns[id][30], ns[id][365]
		if a == 0 || b == 0 {
			continue
		}
		f := result.Lower(id+": 365-day query in process", b/1e6, "ms", "the 30-day query", a/1e6, "≤ 3× the 30-day range", 3)
		if f.Met {
			met++
		} else {
			worst = append(worst, fmt.Sprintf("%s %.1f×", id, f.Ratio))
		}
		r.Figures = append(r.Figures, f)
	}
	r.Notes = append(r.Notes,
		fmt.Sprintf("%d of %d KPIs answer a 365-day range within 3× of a 30-day one; over: %s.", met, len(r.Figures), strings.Join(worst, ", ")),
		"Mean time per query through query.Service.KPI on an in-memory store holding two years of realistic day parts (bench/parts), decoded on every read as from DynamoDB: every KPI, without DynamoDB (the DynamoDB Local and DuckDB results of P2 are bench/cmd/p2's).",
		"A query reads one part per day of its range (O(days)), so a 365-day range costs about 12× a 30-day one, more where a KPI also reads a lookback; KPIs that read a long lookback or their whole history at both ranges stay within 3×. Meeting 3× needs pre-merged month parts that the nightly run maintains, so a year costs 12 month parts and a few days (on another branch).")
	return result.Write(r, "inprocess")
}
