package load

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// outcome is how one scheduled request ended.
type outcome struct {
	latency time.Duration // from its scheduled time to its final answer
	status  int           // the final answer's status; 0 if none came
	retries int           // 5xx answers and broken connections retried
	failed  bool          // gave up: no answer below 500 after every retry
	wrong   string        // a 2xx whose body broke the contract
	err     string        // why a 4xx or a failure
}

// recorder keeps every request's latency, by route (exact samples: a run
// has at most a few hundred thousand requests).
type recorder struct {
	mu     sync.Mutex
	routes map[string]*routeSamples
}

type routeSamples struct {
	latencies []time.Duration
	ok        int
	clientErr int // 4xx
	wrong     int // 2xx with a body that breaks the contract
	failed    int
	retries   int
	examples  []string
}

const maxExamples = 3

func newRecorder() *recorder { return &recorder{routes: map[string]*routeSamples{}} }

func (rec *recorder) add(route string, o outcome) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := rec.routes[route]
	if s == nil {
		s = &routeSamples{}
		rec.routes[route] = s
	}
	s.latencies = append(s.latencies, o.latency)
	s.retries += o.retries
	var example string
	switch {
	case o.failed:
		s.failed++
		example = "gave up: " + o.err
	case o.status >= 400:
		s.clientErr++
		example = fmt.Sprintf("%d: %s", o.status, o.err)
	case o.wrong != "":
		s.wrong++
		example = "wrong answer: " + o.wrong
	default:
		s.ok++
	}
	if example != "" && len(s.examples) < maxExamples {
		s.examples = append(s.examples, example)
	}
}

// totals returns the requests done, errors and retries so far.
func (rec *recorder) totals() (requests, errors, retries int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, s := range rec.routes {
		requests += len(s.latencies)
		errors += s.clientErr + s.wrong + s.failed
		retries += s.retries
	}
	return
}

// RouteStats are one route's figures over a run.
type RouteStats struct {
	Route              string
	Requests, OK       int
	PerSecond          float64 // answered requests per second of the run
	P50, P95, P99, Max time.Duration
	// ClientErrors are 4xx answers; Wrong, 2xx answers that break the
	// contract; Failed, requests given up after retries; Retries, the 5xx
	// answers and broken connections that were retried.
	ClientErrors, Wrong, Failed, Retries int
	Examples                             []string
}

// Errors is what counts against the run.
func (s RouteStats) Errors() int { return s.ClientErrors + s.Wrong + s.Failed }

// stats returns each route's figures, and the figures of all requests.
func (rec *recorder) stats(elapsed time.Duration) ([]RouteStats, RouteStats) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []RouteStats
	total := &routeSamples{}
	for route, s := range rec.routes {
		out = append(out, s.figures(route, elapsed))
		total.latencies = append(total.latencies, s.latencies...)
		total.ok += s.ok
		total.clientErr += s.clientErr
		total.wrong += s.wrong
		total.failed += s.failed
		total.retries += s.retries
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out, total.figures("all routes", elapsed)
}

func (s *routeSamples) figures(route string, elapsed time.Duration) RouteStats {
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	return RouteStats{Route: route, Requests: len(l), OK: s.ok, PerSecond: float64(len(l)) / elapsed.Seconds(),
		P50: quantile(l, 0.50), P95: quantile(l, 0.95), P99: quantile(l, 0.99), Max: quantile(l, 1),
		ClientErrors: s.clientErr, Wrong: s.wrong, Failed: s.failed, Retries: s.retries, Examples: slices.Clone(s.examples)}
}

// quantile is the nearest-rank quantile of sorted samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// writeRoutes prints the per-route table, with a total row, and a few
// examples of each route's errors.
func writeRoutes(w io.Writer, routes []RouteStats, all RouteStats) {
	const row = "%-34s %9s %8s %9s %9s %9s %9s %7s %8s\n"
	fmt.Fprintf(w, row, "route", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "retried")
	for _, s := range append(slices.Clone(routes), all) {
		fmt.Fprintf(w, row, s.Route, fmt.Sprint(s.Requests), fmt.Sprintf("%.2f", s.PerSecond), ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max),
			fmt.Sprint(s.Errors()), fmt.Sprint(s.Retries))
	}
	for _, s := range routes {
		for _, e := range s.Examples {
			fmt.Fprintf(w, "  %s: %s\n", s.Route, strings.TrimSpace(e))
		}
	}
}
