package nightly

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

// hookedRaw is the raw store with a hook: the first time the run lists
// the files of day `on`, the hook runs once the listing is done, so the
// run reads the files as they were and not what the hook adds.
type hookedRaw struct {
	*rawstore.Store
	on   kpi.Day
	once sync.Once
	hook func()
}

func (h *hookedRaw) Keys(ctx context.Context, kind, tenantID string, day kpi.Day) ([]string, error) {
	keys, err := h.Store.Keys(ctx, kind, tenantID, day)
	if err == nil && day.Equal(h.on) {
		h.once.Do(h.hook)
	}
	return keys, err
}

// lateDuringRun ingests the late events while the first nightly run is
// in progress: when the run lists the last day's files (in the window of
// the day before it), the first day has been run already. The next
// nightly run must pick the first day up again (its mark is newer than
// the run's start) and give the state and KPIs of an undisturbed run that
// had all the events.
func lateDuringRun(t *testing.T, e *env, w *workload, want snapshot) {
	start := time.Now()
	s := newStack(t, e, nil)
	s.ingest(t, w.bulk)
	last := kpi.DayOf(day0.AddDate(0, 0, nDays-1), time.UTC)
	injected := false
	raw := &hookedRaw{Store: rawstore.New(localstack.NewS3Client(e.s3), s.bucket), on: last, hook: func() {
		s.ingest(t, w.late)
		injected = true
	}}
	first := nightly(t, s.aggregator(nil, raw))
	if !injected {
		t.Fatalf("the run never listed %s's files: the late events were not injected", last)
	}
	dirty, err := s.aggregator(nil, nil).State.DirtyDays(context.Background(), tenantID, kpi.NewDay(2000, 1, 1), last.AddDays(1))
	if err != nil {
		t.Fatal(err)
	}
	second := nightly(t, s.aggregator(nil, nil))
	n := compare(t, "late events during the run, then the next nightly run", s.snapshot(t), want)
	days, _ := json.Marshal(dirty)
	t.Logf("%d late messages injected during a run of %d days; marks left for the next run: %s; it ran %d days (+%d re-runs); %d comparisons; %v",
		len(w.late), len(first[0].Days), days, len(second[0].Days), len(second[0].Reruns), n, time.Since(start).Round(time.Millisecond))
}

var _ aggregate.RawReader = (*hookedRaw)(nil)
