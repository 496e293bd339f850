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
		"Mean time per query through query.Service.KPI on an in-memory store holding two years of realistic day and month parts (bench/parts), decoded on every read as from DynamoDB: every KPI, without DynamoDB (P2's DynamoDB Local and DuckDB results are bench/cmd/p2's).",
		"The store holds day parts and the month parts the nightly run merges from them (kpi.BuildMonth): a range reads the month parts of its whole months and day parts for its edges, so a year costs about 12 month parts where it cost 365 day parts. The parts carry survey answers, tickets, accounts and orders as JSON, as DynamoDB holds them, and a query decodes only the JSON fields its KPI reads.",
		"What still grows with the range: KPIs whose answer is made of every item of the range (survey answers for CSAT, CES and follow-ups; tickets for volume, response and resolution times, repeat contacts: medians and filters on the items' own fields) decode a year of items; KPIs of daily values (stickiness: each day's DAU over its rolling MAU; renewals: each day's customers due; retention cohorts: a triangle of cohorts × periods, O(days²) cells) read day parts. Each needs a per-KPI summary in the month part (score histograms, duration lists by channel, a daily ratio sum) to meet 3×.")
	return result.Write(r, "inprocess")
}
