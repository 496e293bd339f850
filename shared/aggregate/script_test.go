package aggregate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

// A case file under testdata/ is a txtar archive, written to be read by a
// product person:
//
//	free text saying what the case shows
//	-- config.json --        (optional) the tenant's KPI configuration
//	-- events.ndjson --      Segment messages, one per line; a blank line
//	                         separates requests (arrival batches)
//	-- expect --             one line per check:
//	                         <kpi> <from>..<to> key=value ...
//
// Keys are value, numerator, denominator, complete, rows (breakdown rows),
// a key of details, or [row].value / .numerator / .denominator of a
// breakdown row, where nested details are reached by dotted paths
// (steps.0.reached); "null" is an undefined value. The words breakdown=<dim>,
// filter=<dim>:<value>, feature=<name> and interval=<i> shape the query
// itself. Every expected number was worked out by
// hand from the events.

var clock = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

type tcase struct {
	cfg      kpi.Config
	requests [][][]byte // requests of message lines
	expect   []string
}

func loadCase(t *testing.T, path string) tcase {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := tcase{cfg: kpi.DefaultConfig()}
	for _, f := range ar.Files {
		switch f.Name {
		case "config.json":
			if err := json.Unmarshal(f.Data, &c.cfg); err != nil {
				t.Fatalf("config.json: %v", err)
			}
			if err := c.cfg.Validate(); err != nil {
				t.Fatalf("config.json: %v", err)
			}
		case "events.ndjson":
			var req [][]byte
			for _, l := range bytes.Split(f.Data, []byte("\n")) {
				l = bytes.TrimSpace(l)
				switch {
				case len(l) == 0:
					if len(req) > 0 {
						c.requests = append(c.requests, req)
					}
					req = nil
				case l[0] == '#':
				default:
					req = append(req, l)
				}
			}
			if len(req) > 0 {
				c.requests = append(c.requests, req)
			}
		case "expect":
			for _, l := range strings.Split(string(f.Data), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					c.expect = append(c.expect, l)
				}
			}
		default:
			t.Fatalf("unknown section %q", f.Name)
		}
	}
	return c
}

// world is one tenant's stores with the aggregation and query services.
type world struct {
	raw   *memRaw
	state *memState
	agg   *aggregate.Service
	query *query.Service
	cfg   kpi.Config
	days  map[kpi.Day]bool
}

func newWorld(cfg kpi.Config) *world {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &world{raw: newMemRaw(), state: newMemState(cfg), cfg: cfg, days: map[kpi.Day]bool{}}
	w.agg = &aggregate.Service{Raw: w.raw, State: w.state, Now: func() time.Time { return clock }, Log: log}
	w.query = &query.Service{Store: w.state, Log: log}
	return w
}

// send stores one request as ingest does: validated, de-duplicated within
// the request, one file per UTC day.
func (w *world) send(t *testing.T, i int, lines [][]byte) {
	t.Helper()
	byDay := map[kpi.Day][][]byte{}
	for _, l := range lines {
		p, err := event.Parse(l, event.Arrival{ReceivedAt: clock.Add(time.Duration(i) * time.Second)})
		if err != nil {
			t.Fatalf("request %d: %s: %v", i, l, err)
		}
		d := kpi.DayOf(p.Record.Timestamp, time.UTC)
		byDay[d] = append(byDay[d], p.Line)
		for _, ld := range kpi.LocalDays(d, w.cfg.Location()) {
			w.days[ld] = true
		}
	}
	days := slices.SortedFunc(func(yield func(kpi.Day) bool) {
		for d := range byDay {
			if !yield(d) {
				return
			}
		}
	}, cmpDay)
	for _, d := range days {
		w.raw.put("t", d, byDay[d])
	}
}

func cmpDay(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) }

// aggregateAll runs every day that has events, and the days around them.
func (w *world) aggregateAll(t *testing.T) {
	t.Helper()
	days := slices.SortedFunc(func(yield func(kpi.Day) bool) {
		for d := range w.days {
			if !yield(d) {
				return
			}
		}
	}, cmpDay)
	if len(days) == 0 {
		return
	}
	if _, err := w.agg.Run(context.Background(), "t", kpi.Days(days[0].AddDays(-1), days[len(days)-1].AddDays(1))); err != nil {
		t.Fatal(err)
	}
}

func (w *world) answer(t *testing.T, id string, from, to kpi.Day) query.Answer {
	t.Helper()
	a, err := w.query.KPI(context.Background(), "t", query.Request{KPI: id, From: from, To: to})
	if err != nil {
		t.Fatalf("%s %s..%s: %v", id, from, to, err)
	}
	return a
}

func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases under testdata/: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			c := loadCase(t, f)
			w := newWorld(c.cfg)
			for i, r := range c.requests {
				w.send(t, i, r)
			}
			w.aggregateAll(t)
			for _, line := range c.expect {
				check(t, w, line)
			}
		})
	}
}

func check(t *testing.T, w *world, line string) {
	t.Helper()
	fields := strings.Fields(line)
	if len(fields) < 3 {
		t.Fatalf("expect line %q: want <kpi> <from>..<to> key=value ...", line)
	}
	fromS, toS, ok := strings.Cut(fields[1], "..")
	if !ok {
		toS = fromS
	}
	from, err1 := kpi.ParseDay(fromS)
	to, err2 := kpi.ParseDay(toS)
	if err1 != nil || err2 != nil {
		t.Fatalf("expect line %q: bad range", line)
	}
	q := query.Request{KPI: fields[0], From: from, To: to, Params: map[string]string{}}
	var checks []string
	for _, kv := range fields[2:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "breakdown":
			q.Breakdown = v
		case "filter":
			dim, val, _ := strings.Cut(v, ":")
			q.Filters = append(q.Filters, kpi.Filter{Dim: dim, Value: val})
		case "feature", "new_customers", "completion_now", "completion_target", "renewal_completed", "renewal_not_completed", "contract_value",
			"change_date", "flow", "saving_minutes", "hourly_wage", "attribution_pct":
			q.Params[k] = v
		case "interval":
			q.Interval = v
		default:
			checks = append(checks, kv)
		}
	}
	a, err := w.query.KPI(context.Background(), "t", q)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	got := map[string]any{"value": a.Value, "numerator": a.Numerator, "denominator": a.Denominator, "complete": a.Complete,
		"rows": float64(len(a.Breakdown))}
	flatten(got, "", a.Details)
	// Breakdown rows are checked as [key].value, [key].numerator, ...
	for _, r := range a.Breakdown {
		got["["+r.Key+"].value"] = r.Value
		got["["+r.Key+"].numerator"] = r.Numerator
		got["["+r.Key+"].denominator"] = r.Denominator
	}
	for _, kv := range checks {
		k, want, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("expect line %q: %q is not key=value", line, kv)
		}
		g, present := got[k]
		if !present {
			t.Errorf("%s: no %q in the answer (keys: %v)", line, k, slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			}))
			continue
		}
		if !sameValue(g, want) {
			t.Errorf("%s: %s = %v, want %s", fields[0]+" "+fields[1], k, show(g), want)
		}
	}
}

func show(v any) string {
	switch x := v.(type) {
	case *float64:
		if x == nil {
			return "null"
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func sameValue(got any, want string) bool {
	g := show(got)
	if want == "null" || g == "null" {
		return g == want
	}
	if want == "true" || want == "false" {
		return g == want
	}
	gf, err1 := strconv.ParseFloat(g, 64)
	wf, err2 := strconv.ParseFloat(want, 64)
	if err1 != nil || err2 != nil {
		return g == want
	}
	return math.Abs(gf-wf) <= 1e-9*math.Max(1, math.Abs(wf))
}

// snapshot is every KPI's answer on every day and over the whole span.
func (w *world) snapshot(t *testing.T) map[string]query.Answer {
	t.Helper()
	days := slices.SortedFunc(func(yield func(kpi.Day) bool) {
		for d := range w.days {
			if !yield(d) {
				return
			}
		}
	}, cmpDay)
	out := map[string]query.Answer{}
	for _, id := range kpi.Computed() {
		for _, d := range days {
			out[id+" "+d.String()] = w.answer(t, id, d, d)
		}
		if len(days) > 0 {
			out[id+" all"] = w.answer(t, id, days[0], days[len(days)-1])
		}
	}
	return out
}

// TestArrivalOrderAndRerun checks, on every case, that the answers do not
// depend on how events were batched or in which order they arrived (as
// long as a resent messageId arrives after its first copy), and that
// re-running any day changes nothing.
func TestArrivalOrderAndRerun(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			c := loadCase(t, f)
			base := newWorld(c.cfg)
			for i, r := range c.requests {
				base.send(t, i, r)
			}
			base.aggregateAll(t)
			want := base.snapshot(t)

			for seed := uint64(1); seed <= 5; seed++ {
				rng := rand.New(rand.NewPCG(seed, seed))
				var msgs [][]byte
				seen := map[string]bool{}
				for _, r := range c.requests {
					for _, l := range r {
						var m struct{ MessageID string }
						json.Unmarshal(l, &m)
						if !seen[m.MessageID] { // resends would arrive first after a shuffle
							seen[m.MessageID] = true
							msgs = append(msgs, l)
						}
					}
				}
				rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
				w := newWorld(c.cfg)
				for i := 0; len(msgs) > 0; i++ {
					n := min(len(msgs), 1+rng.IntN(4))
					w.send(t, i, msgs[:n])
					msgs = msgs[n:]
				}
				// Aggregate day by day in a random order, as late events would.
				days := slices.Collect(func(yield func(kpi.Day) bool) {
					for d := range w.days {
						if !yield(d) {
							return
						}
					}
				})
				rng.Shuffle(len(days), func(i, j int) { days[i], days[j] = days[j], days[i] })
				for _, d := range days {
					if _, err := w.agg.Run(context.Background(), "t", []kpi.Day{d}); err != nil {
						t.Fatal(err)
					}
				}
				w.aggregateAll(t)
				if diff := cmp.Diff(w.snapshot(t), want); diff != "" {
					t.Fatalf("seed %d: answers depend on arrival order (-got +want):\n%s", seed, diff)
				}
			}

			for d := range base.days {
				if _, err := base.agg.Run(context.Background(), "t", []kpi.Day{d}); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(base.snapshot(t), want); diff != "" {
				t.Fatalf("re-running days changed answers (-got +want):\n%s", diff)
			}
		})
	}
}

// flatten adds the scalars of a details value under dotted paths:
// steps.0.reached, cohorts.1.pct.0, ...
func flatten(out map[string]any, prefix string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		out[prefix] = fmt.Sprint(v)
		return
	}
	var x any
	json.Unmarshal(b, &x)
	var walk func(string, any)
	walk = func(p string, x any) {
		join := func(k string) string {
			if p == "" {
				return k
			}
			return p + "." + k
		}
		switch t := x.(type) {
		case map[string]any:
			for k, e := range t {
				walk(join(k), e)
			}
		case []any:
			for i, e := range t {
				walk(join(strconv.Itoa(i)), e)
			}
		case float64:
			f := t
			out[p] = &f
		case nil:
			out[p] = (*float64)(nil)
		default:
			out[p] = t
		}
	}
	walk(prefix, x)
}
