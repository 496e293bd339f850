package aggregate_test

import (
	"context"
	"testing"

	"github.com/uptakehq/uptake/shared/kpi"
)

// racingState is memState where another run sets each first milestone
// just before this run does, after this run read the identities.
type racingState struct{ *memState }

func (r racingState) SetFirst(ctx context.Context, tenantID, id string, m kpi.Milestone, f kpi.First) (kpi.First, bool, error) {
	if _, _, err := r.memState.SetFirst(ctx, tenantID, id, m, f); err != nil {
		return kpi.First{}, false, err
	}
	return r.memState.SetFirst(ctx, tenantID, id, m, f)
}

// TestFirstSetByAnotherRun: when a concurrent run of the same day set a
// user's first active time first, this run's part still counts the user
// as new (the chaos suite found dau_new 0 after two runs at once: the
// run that wrote its part last had lost the race to set the first day).
func TestFirstSetByAnotherRun(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	w.agg.State = racingState{w.state}
	w.send(t, 0, [][]byte{[]byte(`{"type":"track","event":"E","messageId":"a1","userId":"u1","timestamp":"2026-10-01T12:00:00Z"}`)})
	if _, err := w.agg.Run(context.Background(), "t", []kpi.Day{day("2026-10-01")}); err != nil {
		t.Fatal(err)
	}
	check(t, w, "dau 2026-10-01 value=1 new=1")
}
