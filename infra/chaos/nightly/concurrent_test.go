package nightly

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/aggregate"
)

// concurrent runs the nightly job twice at the same time on the same
// stack, from two states: nothing aggregated yet (both runs create the
// identities and claim everything) and the late events waiting (both
// re-run days). The state and every KPI must be those of one undisturbed
// run.
func concurrent(t *testing.T, e *env, ingested, base *stack, want snapshot) {
	start := time.Now()
	comparisons, runs := 0, 0
	rounds := 1
	if full() {
		rounds = 3
	}
	for round := range rounds {
		from := []struct {
			name string
			s    *stack
		}{{"fresh", ingested}, {"late", base}}
		if !full() {
			from = from[:1]
		}
		for _, from := range from {
			s := newStack(t, e, from.s)
			reps := make([][]aggregate.Report, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				// Each run has its own service and client, as two
				// function instances would.
				agg := s.aggregator(nil, nil)
				wg.Go(func() { reps[i], errs[i] = agg.Nightly(context.Background()) })
			}
			wg.Wait()
			runs += 2
			for i, err := range errs {
				if err != nil {
					t.Errorf("%s, round %d: run %d of two at once: %v", from.name, round, i, err)
				}
			}
			comparisons += compare(t, fmt.Sprintf("%s, round %d: two nightly runs at once", from.name, round), s.snapshot(t), want)
		}
	}
	t.Logf("%d runs in pairs, %d comparisons with the undisturbed run; %v", runs, comparisons, time.Since(start).Round(time.Millisecond))
}
