package nightly

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/aggregate"
)

// nightly runs the scheduled job once, undisturbed.
func nightly(t *testing.T, agg *aggregate.Service) []aggregate.Report {
	t.Helper()
	reps, err := agg.Nightly(context.Background())
	if err != nil {
		t.Fatalf("nightly run: %v", err)
	}
	return reps
}

// TestNightlyChaos disturbs the nightly run of the workload in the ways
// of its subtests; each compares with one undisturbed run.
func TestNightlyChaos(t *testing.T) {
	start := time.Now()
	e := newEnv(t)
	w := generate(seed)
	// ingested is the state before any run: every subtest that needs it
	// starts from a copy (sharing its raw events).
	ingested := newStack(t, e, nil)
	ingested.ingest(t, w.all())
	ref := newStack(t, e, ingested)
	nightly(t, ref.aggregator(nil, nil))
	want := ref.snapshot(t)
	// base is the past of the late events: the bulk, its nightly run,
	// then the late events ingested.
	base := newStack(t, e, nil)
	base.ingest(t, w.bulk)
	nightly(t, base.aggregator(nil, nil))
	base.ingest(t, w.late)
	t.Logf("workload: %d bulk + %d late messages (late days %v), %d users, %d tickets, %d survey answers; reference and base ready in %v",
		len(w.bulk), len(w.late), len(w.lateDays), w.users, w.tickets, w.answers, time.Since(start).Round(time.Millisecond))

	t.Run("killed", func(t *testing.T) { t.Parallel(); killed(t, e, base, want, false) })
	t.Run("killed, days packed", func(t *testing.T) { t.Parallel(); killed(t, e, base, want, true) })
	t.Run("concurrent", func(t *testing.T) { t.Parallel(); concurrent(t, e, ingested, base, want) })
	t.Run("late during run", func(t *testing.T) { t.Parallel(); lateDuringRun(t, e, w, want) })
}

// killed kills the nightly run that folds the late events in after some
// of its writes, at points spread over its writes (the first part
// written, identities' first days, survey answer and ticket claims, the
// indexes written after them, dirty marks), then lets the next nightly
// run: the state and every KPI must be those of the undisturbed run.
// With packDays, the runs store every day part packed over several items
// (the base's are one item each), as a part over the item limit is.
func killed(t *testing.T, e *env, base *stack, want snapshot, packDays bool) {
	start := time.Now()
	// Unkilled, the late run must already give the reference.
	ctl := newStack(t, e, base)
	ctl.packDays = packDays
	count := newFaultDB(e.db, -1, func() {})
	reps, err := ctl.aggregator(count, nil).Nightly(context.Background())
	if err != nil {
		t.Fatalf("late nightly run: %v", err)
	}
	writes := count.Writes()
	comparisons := compare(t, "late nightly run, not killed", ctl.snapshot(t), want)
	t.Logf("the late run ran %d days (+%d re-runs) in %d writes: %s", len(reps[0].Days), len(reps[0].Reruns), len(writes), writeKinds(writes))

	points := killPoints(writes, full())
	killed := 0
	for _, p := range points {
		s := newStack(t, e, base)
		s.packDays = packDays
		ctx, cancel := context.WithCancel(context.Background())
		f := newFaultDB(e.db, p.n, cancel)
		_, err := s.aggregator(f, nil).Nightly(ctx)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("killed after %d writes (%s): run ended with %v, want context.Canceled", p.n, p.why, err)
			continue
		}
		killed++
		nightly(t, s.aggregator(nil, nil))
		comparisons += compare(t, fmt.Sprintf("killed after %d writes (%s), then run again", p.n, p.why), s.snapshot(t), want)
	}
	t.Logf("%d kill points of %d writes (full sweep %v); %d comparisons with the undisturbed run; %v",
		killed, len(writes), full(), comparisons, time.Since(start).Round(time.Millisecond))
}

type killPoint struct {
	n   int // writes done before the kill
	why string
}

// killPoints are where to kill a run whose writes were writes: right
// after the first write of each kind (so the write that follows it, often
// an index, is lost), after the first part and half-way; the full sweep
// adds a point every few writes.
func killPoints(writes []string, full bool) []killPoint {
	var pts []killPoint
	seen := map[string]bool{}
	add := func(n int, why string) {
		if n <= 0 || n >= len(writes) || slices.ContainsFunc(pts, func(p killPoint) bool { return p.n == n }) {
			return
		}
		pts = append(pts, killPoint{n, why})
	}
	// The short sweep: right after the first write of each kind (so the
	// write that follows it, often an index or the re-run of a day the
	// write invalidated, is lost), and a few points before the first
	// claim; the full sweep adds a point every few writes.
	for i, w := range writes {
		if !seen[w] {
			seen[w] = true
			add(i+1, "after the first "+w)
		}
	}
	firstClaim := slices.IndexFunc(writes, func(w string) bool {
		return w == "UpdateItem RESP" || w == "PutItem TICKET" || w == "UpdateItem ID first"
	})
	for n := 1; n < firstClaim; n += max(1, firstClaim/4) {
		add(n, "before the first claim: after "+writes[n-1])
	}
	if full {
		add(len(writes)/2, "half-way")
		step := max(1, len(writes)/40)
		for n := step; n < len(writes); n += step {
			add(n, "sweep: after "+writes[n-1])
		}
	}
	slices.SortFunc(pts, func(a, b killPoint) int { return a.n - b.n })
	return pts
}

// writeKinds counts writes by kind.
func writeKinds(writes []string) string {
	n := map[string]int{}
	for _, w := range writes {
		n[w]++
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(n)) {
		out = append(out, fmt.Sprintf("%s ×%d", k, n[k]))
	}
	return strings.Join(out, ", ")
}
