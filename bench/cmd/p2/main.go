// Command p2 measures benchmark P2, KPI query latency, through the handler
// the API serves (query.Service.Handle, wired by shared/stack as in the
// deployed function, with the real authenticator and a read key) on
// DynamoDB Local, and writes its results:
//
//   - bench/results/P2.json: for the KPIs of -kpis (a few by default, see
//     defaultKPIs; -kpis all for every computed one), the p50 and p99
//     latency of its 30-day and 365-day ranges ending on the last day of a
//     tenant seeded with two years of realistic day parts (bench/parts,
//     written through dynamostore's PutPart), and the ratio of the p50s
//     (goal: 365-day ≤ 3× 30-day); with -inprocess, BenchmarkQuery's
//     in-process means of the same queries side by side.
//   - bench/results/P2-duckdb.json, with -data and -duckdb: a few KPIs of
//     one day of P1's raw files, answered by Uptake from the parts its real
//     nightly run (aggregate.Service over the files, state in memory, as
//     bench/cmd/nightly runs it) wrote into DynamoDB Local, and by DuckDB
//     scanning the same files (bench/duckdb/query's JSON); both answers
//     must be equal or nothing is written (goal: Uptake ≥ 100× faster).
//
// Usage:
//
//	go run ./bench/cmd/p2 [-rounds 10] [-inprocess bench.txt] [-data bench/data/p1-1000000-20261014-l2 -duckdb duck.json]
//
// bench/p2.sh runs it all.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/bench/nightly"
	"github.com/uptakehq/uptake/bench/parts"
	"github.com/uptakehq/uptake/bench/result"
	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/router"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/aggregate/memstate"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/stack"
)

type options struct {
	history   int
	last      kpi.Day
	rounds    int
	rounds365 int
	warmup    int
	kpis      []string
	inprocess string
	// The DuckDB comparison.
	data, duckdb, duckdb10m string
	dayBefore               bool
	day                     kpi.Day
	events                  int
	start                   kpi.Day
	seed                    uint64
	command                 string
}

func main() {
	var (
		o         options
		last      = flag.String("last", "2026-10-31", "last day of the seeded history, where the ranges end")
		kpis      = flag.String("kpis", defaultKPIs, `KPIs to measure on DynamoDB Local, comma-separated, or "all" (every computed KPI: more than an hour)`)
		day       = flag.String("day", "2026-10-02", "the day of -data compared with DuckDB")
		start     = flag.String("start", "2026-10-01", "gendata's -start")
		printOnly = flag.Bool("n", false, "print the KPIs and exit")
	)
	flag.IntVar(&o.history, "history", 730, "days of parts seeded (the 365-day range and a lookback as long)")
	flag.IntVar(&o.rounds, "rounds", 10, "timed 30-day queries of each KPI")
	flag.IntVar(&o.rounds365, "rounds365", 2, "timed 365-day queries of each KPI (each takes seconds on DynamoDB Local)")
	flag.IntVar(&o.warmup, "warmup", 1, "untimed queries of each KPI and range first")
	flag.StringVar(&o.inprocess, "inprocess", "", "BenchmarkQuery's output (go test -bench) to show its in-process means alongside")
	flag.StringVar(&o.data, "data", "", "gendata's folder at 1 M events a day, for the DuckDB comparison (skipped if empty)")
	flag.StringVar(&o.duckdb, "duckdb", "", "bench/duckdb/query's JSON over -data")
	flag.StringVar(&o.duckdb10m, "duckdb10m", "", "bench/duckdb/query's JSON over the same day at 10 M events a day")
	flag.IntVar(&o.events, "events", 1_000_000, "gendata's -events of -data")
	flag.Uint64Var(&o.seed, "seed", gen.DefaultSeed, "gendata's -seed of -data")
	flag.BoolVar(&o.dayBefore, "daybefore", false, "run the nightly of the day before -day first, as P1 does (its part is not read)")
	flag.StringVar(&o.command, "command", "bench/p2.sh", "what reproduces the result")
	flag.Parse()
	var err error
	if o.last, err = kpi.ParseDay(*last); err == nil {
		if o.day, err = kpi.ParseDay(*day); err == nil {
			o.start, err = kpi.ParseDay(*start)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "p2:", err)
		os.Exit(2)
	}
	switch *kpis {
	case "all":
		o.kpis = kpi.Computed()
	case "none":
	default:
		o.kpis = strings.Split(*kpis, ",")
	}
	if *printOnly {
		fmt.Println(strings.Join(o.kpis, "\n"))
		return
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "p2:", err)
		os.Exit(1)
	}
}

// defaultKPIs are the KPIs measured on DynamoDB Local by default: those
// compared with DuckDB, and one or two of each kind that month parts
// answer (counters, score histograms, ticket durations, onboarding lists,
// accounts). KPIs that read every day part of a long range (clv over 365
// days of accounts, stickiness, renewals, retention cohorts) take seconds
// a query on DynamoDB Local, whose Query reads every item left in the
// range for each 1 MB page, so every KPI does not fit in the benchmark's
// minutes (P2_KPIS=all); BenchmarkQuery covers every KPI in process.
const defaultKPIs = "dau,sessions,nps,csat,ces,ticket_volume,first_response_time,onboarding_completion_rate,time_to_first_value,churn_rate"

// Tenants of the run: one seeded with generated parts, one with the parts
// of the nightly run over P1's files.
var (
	historyTenant = devstack.Tenant{ID: "history", WriteKey: "history-write-key", ReadKey: "history-read-key", AdminKey: "history-admin-key", WebhookSecret: "history-webhook-secret"}
	nightlyTenant = devstack.Tenant{ID: "nightly", WriteKey: "nightly-write-key", ReadKey: "nightly-read-key", AdminKey: "nightly-admin-key", WebhookSecret: "nightly-webhook-secret"}
)

func run(ctx context.Context, o options) error {
	if o.rounds < 1 || o.rounds365 < 1 {
		return fmt.Errorf("-rounds and -rounds365 must be at least 1")
	}
	var duck *scan
	if o.data != "" {
		if o.duckdb == "" {
			return fmt.Errorf("-data needs -duckdb, DuckDB's answers over it")
		}
		s, err := readScan(o.duckdb)
		if err != nil {
			return err
		}
		duck = &s
	}
	var means map[string]map[int]float64
	if o.inprocess != "" {
		var err error
		if means, err = readBench(o.inprocess); err != nil {
			return err
		}
	}

	t0 := time.Now()
	db, err := localstack.StartDynamoDB(ctx, localstack.DynamoDBOptions{})
	if err != nil {
		return fmt.Errorf("start DynamoDB Local: %w", err)
	}
	defer db.Stop()
	s3, err := localstack.StartS3(localstack.S3Options{})
	if err != nil {
		return fmt.Errorf("start S3 server: %w", err)
	}
	defer s3.Stop()
	calls := &counter{next: http.DefaultTransport.(*http.Transport).Clone()}
	ds, err := devstack.New(ctx, devstack.Options{DynamoDBEndpoint: db.Endpoint(), S3Endpoint: s3.Endpoint(), Table: "uptake", Bucket: "uptake-p2",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Transport: calls})
	if err != nil {
		return err
	}
	for _, t := range []devstack.Tenant{historyTenant, nightlyTenant} {
		if err := ds.Provision(ctx, t); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "p2: DynamoDB Local and the stack up in %s\n", time.Since(t0).Round(time.Millisecond))

	// The generated history.
	t0 = time.Now()
	h := parts.New(o.last, o.history, parts.Seed)
	size, err := seed(ctx, ds.App, historyTenant.ID, h)
	if err != nil {
		return err
	}
	if err := seedMonths(ctx, ds.App, historyTenant.ID, h.First, h.Last); err != nil {
		return err
	}
	seeded := time.Since(t0)
	fmt.Fprintf(os.Stderr, "p2: %d days of parts (%.1f MiB as stored) seeded in %s\n", h.Days, float64(size)/(1<<20), seeded.Round(time.Millisecond))

	lat := map[string]map[int]latency{}
	if len(o.kpis) > 0 {
		t0 = time.Now()
		if lat, err = measureRanges(ctx, ds.App, calls, o); err != nil {
			return err
		}
		measured := time.Since(t0)
		if err := writeLatency(o, h, size, seeded, measured, lat, means); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "p2: %d KPIs × 2 ranges measured in %s; bench/results/P2.json written\n", len(o.kpis), measured.Round(time.Millisecond))
	}

	if duck == nil {
		return nil
	}
	return compare(ctx, ds.App, calls, o, *duck, lat)
}

// seed writes the history's parts through dynamostore's PutPart, as the
// nightly run writes a day's part, a few days at a time.
func seed(ctx context.Context, app *stack.Stack, tenantID string, h *parts.History) (int, error) {
	var (
		next atomic.Int64
		size atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, h.Days)
	)
	for range max(4, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < h.Days; i = int(next.Add(1) - 1) {
				p := h.Part(i)
				size.Add(int64(p.Size()))
				errs[i] = app.Store.PutPart(ctx, tenantID, p, h.Last.AddDays(1).Start(time.UTC))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return 0, fmt.Errorf("put part of %s: %w", h.First.AddDays(i), err)
		}
	}
	return int(size.Load()), nil
}

// seedMonths gives the seeded day parts the month parts that the nightly
// run maintains after writing its day parts (aggregate.Service.MergeMonths:
// each month's day parts read back, merged by kpi.BuildMonth and written
// with State.PutMonthPart), so queries read month parts as in production.
func seedMonths(ctx context.Context, app *stack.Stack, tenantID string, first, last kpi.Day) error {
	return app.Aggregate.MergeMonths(ctx, tenantID, kpi.Days(first, last))
}

// counter counts the HTTP requests of the stack's AWS clients (DynamoDB
// calls: a query reads its parts in pages of at most 1 MB).
type counter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// request is the API Gateway event of GET /v1/kpis/{id}?from=…&to=… with
// the tenant's read key, as the router makes it for the local stack.
func request(id string, from, to kpi.Day, key string) events.APIGatewayV2HTTPRequest {
	r := httptest.NewRequest(http.MethodGet, "/v1/kpis/"+id+"?from="+from.String()+"&to="+to.String(), nil)
	r.Header.Set("Authorization", "Bearer "+key)
	return router.Event(r, nil, "GET /v1/kpis/{id}", map[string]string{"id": id})
}

// answer is what the tests read of a query's answer.
type answer struct {
	Value       *float64 `json:"value"`
	Numerator   float64  `json:"numerator"`
	Denominator float64  `json:"denominator"`
	Complete    bool     `json:"complete"`
}

// timed runs a request warmup times, then rounds times timed; it checks
// every answer is a complete 200, and returns the durations, the DynamoDB
// calls of one query and the last answer.
func timed(ctx context.Context, handle httpapi.Func, calls *counter, ev events.APIGatewayV2HTTPRequest, warmup, rounds int) ([]time.Duration, int, answer, error) {
	var a answer
	ask := func() error {
		resp, err := handle(ctx, ev)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s?%s: status %d: %s", ev.RawPath, ev.RawQueryString, resp.StatusCode, resp.Body)
		}
		if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
			return fmt.Errorf("%s: %w", ev.RawPath, err)
		}
		if !a.Complete {
			return fmt.Errorf("%s?%s: answer not complete: %s", ev.RawPath, ev.RawQueryString, resp.Body)
		}
		return nil
	}
	n0 := calls.n.Load()
	for range warmup {
		if err := ask(); err != nil {
			return nil, 0, a, err
		}
	}
	perQuery := 0
	if warmup > 0 {
		perQuery = int(calls.n.Load()-n0) / warmup
	}
	var ds []time.Duration
	for range rounds {
		t0 := time.Now()
		resp, err := handle(ctx, ev)
		d := time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, 0, a, fmt.Errorf("%s?%s: status %d, %v", ev.RawPath, ev.RawQueryString, resp.StatusCode, err)
		}
		ds = append(ds, d)
	}
	return ds, perQuery, a, nil
}

// latency is one KPI's measures over one range.
type latency struct {
	p50, p99 time.Duration
	calls    int
}

// measureRanges queries every KPI over the last 30 and 365 days of the
// history, warm-up first; the two ranges' rounds alternate, so that the
// machine's load weighs on both alike.
func measureRanges(ctx context.Context, app *stack.Stack, calls *counter, o options) (map[string]map[int]latency, error) {
	out := map[string]map[int]latency{}
	for _, id := range o.kpis {
		out[id] = map[int]latency{}
		evs := map[int]events.APIGatewayV2HTTPRequest{}
		all := map[int][]time.Duration{}
		for _, days := range []int{30, 365} {
			evs[days] = request(id, o.last.AddDays(1-days), o.last, string(historyTenant.ReadKey))
			_, n, _, err := timed(ctx, app.Query.Handle, calls, evs[days], o.warmup, 0)
			if err != nil {
				return nil, err
			}
			out[id][days] = latency{calls: n}
		}
		rounds := map[int]int{30: o.rounds, 365: o.rounds365}
		for i := range max(o.rounds, o.rounds365) {
			for _, days := range []int{30, 365} {
				if i >= rounds[days] {
					continue
				}
				ds, _, _, err := timed(ctx, app.Query.Handle, calls, evs[days], 0, 1)
				if err != nil {
					return nil, err
				}
				all[days] = append(all[days], ds...)
			}
		}
		for _, days := range []int{30, 365} {
			l := out[id][days]
			l.p50, l.p99 = percentile(all[days], 0.50), percentile(all[days], 0.99)
			out[id][days] = l
		}
		fmt.Fprintf(os.Stderr, "p2: %-28s 30 days p50 %7.1f ms p99 %7.1f ms; 365 days p50 %7.1f ms p99 %7.1f ms (%.1f×)\n", id,
			ms(out[id][30].p50), ms(out[id][30].p99), ms(out[id][365].p50), ms(out[id][365].p99), ms(out[id][365].p50)/ms(out[id][30].p50))
	}
	return out, nil
}

// percentile is the nearest-rank percentile p of ds (with fewer than 100
// rounds, p99 is the slowest).
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func writeLatency(o options, h *parts.History, size int, seeded, measured time.Duration, lat map[string]map[int]latency, means map[string]map[int]float64) error {
	r := result.Result{ID: "P2", Title: "KPI query latency through the query handler on DynamoDB Local, 30-day and 365-day ranges", Command: o.command}
	t := result.Table{Title: fmt.Sprintf("Latency on DynamoDB Local per KPI (ms): %d rounds at 30 days, %d at 365 days, after %d warm-up, ranges ending %s; DynamoDB calls of one query", o.rounds, o.rounds365, o.warmup, o.last),
		Header: []string{"KPI", "30-day p50", "30-day p99", "365-day p50", "365-day p99", "365/30 (p50)", "DynamoDB calls 30 / 365"}}
	if means != nil {
		t.Header = append(t.Header, "in process (memory store) mean 30 / 365", "in process 365/30")
	}
	met := 0
	var over []string
	for _, id := range o.kpis {
		a, b := lat[id][30], lat[id][365]
		f := result.Lower(id+": 365-day p50 on DynamoDB Local", ms(b.p50), "ms", "the 30-day p50", ms(a.p50), "≤ 3× the 30-day range", 3)
		f.Note = fmt.Sprintf("p99 %s ms against %s ms", num(ms(b.p99)), num(ms(a.p99)))
		if f.Met {
			met++
		} else {
			over = append(over, fmt.Sprintf("%s %.1f×", id, f.Ratio))
		}
		r.Figures = append(r.Figures, f)
		row := []string{id, num(ms(a.p50)), num(ms(a.p99)), num(ms(b.p50)), num(ms(b.p99)), fmt.Sprintf("%.2f×", f.Ratio), fmt.Sprintf("%d / %d", a.calls, b.calls)}
		if means != nil {
			m := means[id]
			ratio := ""
			if m[30] > 0 {
				ratio = fmt.Sprintf("%.2f×", m[365]/m[30])
			}
			row = append(row, num(m[30]/1e6)+" / "+num(m[365]/1e6), ratio)
		}
		t.Rows = append(t.Rows, row)
	}
	r.Tables = append(r.Tables, t)
	if len(over) == 0 {
		over = []string{"none"}
	}
	r.Notes = append(r.Notes,
		fmt.Sprintf("%d of %d KPIs measured on DynamoDB Local answer a 365-day range within 3× of a 30-day one; over: %s. Every KPI is measured in process (the P2 in-process result).", met, len(r.Figures), strings.Join(over, ", ")),
		fmt.Sprintf("Method: DynamoDB Local (in memory, started as infra/localstack does) holds the table as the stack creates it (dynamostore.CreateTable, through infra/devstack); one tenant is seeded with %d days of parts ending %s from bench/parts (BenchmarkQuery's generator: 50,000 users, 5,000-10,000 active a day, about 20,000 page visitors, sessions by source, device, content type and landing page, features, NPS answers, signup cohorts; about %.0f KiB a part), written through dynamostore's PutPart in %s. Each query is the API Gateway event of GET /v1/kpis/{id}?from=…&to=… with the tenant's read key (infra/router.Event, as the local stack makes it), answered by query.Service.Handle as shared/stack wires it for the deployed function (authenticator with its key cache, dynamostore on DynamoDB Local), JSON answer included; every answer is checked complete. Per KPI, %d untimed query of each range, then the timed rounds, the 30-day and 365-day queries alternating; p50 and p99 are nearest-rank percentiles of the rounds (with fewer than 100 rounds, p99 is the slowest). Measured in %s.",
			h.Days, h.Last, float64(size)/float64(h.Days)/1024, seeded.Round(time.Second), o.warmup, measured.Round(time.Second)),
		"A query reads the month parts of its range's whole months and the day parts of its edges, and day parts where a KPI's plan needs days (kpi.Definition reads: daily series, rolling windows, trait breakdowns), each with a paged DynamoDB Query (1 MB pages). DynamoDB Local reads every item left in a key range to serve each page (a probe of a 365-day range of day parts: the first page about 430 ms, the last 9 ms), so ranges of many day parts cost it about the square of their days, which DynamoDB itself does not; its absolute times are not DynamoDB's, and this machine's 2 cores were shared.",
		"Only a few KPIs are measured on DynamoDB Local (bench/cmd/p2 -kpis; `-kpis all` measures every one, for much longer); the in-process result measures every KPI on the same parts, day and month.",
	)
	if means != nil {
		r.Notes = append(r.Notes, "The in-process columns are BenchmarkQuery's means (shared/query, the same generated parts in memory, decoded on each read, through query.Service.KPI) from the same bench/p2.sh run: the computation without DynamoDB.")
	}
	return result.Write(r, "")
}

// num formats a time in ms as the report does.
func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// benchLine matches "BenchmarkQuery/<kpi>/days=<n>-<procs>  <N>  <ns> ns/op ...".
var benchLine = regexp.MustCompile(`^BenchmarkQuery/([a-z_]+)/days=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

// readBench reads BenchmarkQuery's means (ns) by KPI and range.
func readBench(path string) (map[string]map[int]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ns := map[string]map[int]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		days, _ := strconv.Atoi(m[2])
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, err
		}
		if ns[m[1]] == nil {
			ns[m[1]] = map[int]float64{}
		}
		ns[m[1]][days] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("%s: no BenchmarkQuery lines", path)
	}
	return ns, nil
}

// aggregateRun is the real nightly run over P1's files, as bench/cmd/nightly
// runs it: the state seeded with the generator's population, the day
// before run as the previous night if o.dayBefore, then the day.
func aggregateRun(ctx context.Context, o options) (*memstate.State, aggregate.Report, time.Duration, error) {
	t0 := time.Now()
	st, err := nightly.State(ctx, "t", gen.NewPopulation(o.seed, o.events, o.start))
	if err != nil {
		return nil, aggregate.Report{}, 0, err
	}
	clock := o.day.AddDays(2).Start(time.UTC).Add(15 * time.Minute)
	svc := &aggregate.Service{Raw: nightly.Dir{Root: o.data}, State: st, Now: func() time.Time { return clock },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if o.dayBefore {
		if _, err := svc.Run(ctx, "t", []kpi.Day{o.day.AddDays(-1)}); err != nil {
			return nil, aggregate.Report{}, 0, fmt.Errorf("nightly run of %s: %w", o.day.AddDays(-1), err)
		}
	}
	rep, err := svc.Run(ctx, "t", []kpi.Day{o.day})
	if err != nil {
		return nil, aggregate.Report{}, 0, fmt.Errorf("nightly run of %s: %w", o.day, err)
	}
	return st, rep, time.Since(t0), nil
}
