package aggregate_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

// TestNightly runs the scheduled job at 00:15: it aggregates yesterday,
// re-runs an old day that received late events (with its neighbours, whose
// sessions they may extend), clears their marks, and leaves today alone.
func TestNightly(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	now := time.Date(2026, 10, 10, 0, 15, 0, 0, time.UTC)
	w.agg.Now = func() time.Time { return now }
	w.send(t, 0, [][]byte{
		[]byte(`{"type":"track","event":"E","messageId":"y1","userId":"u1","timestamp":"2026-10-09T12:00:00Z"}`),
		[]byte(`{"type":"track","event":"E","messageId":"l1","userId":"u2","timestamp":"2026-10-03T12:00:00Z"}`),
		[]byte(`{"type":"track","event":"E","messageId":"t1","userId":"u3","timestamp":"2026-10-10T00:05:00Z"}`),
	})
	marked := now.Add(-time.Hour).UnixNano()
	for _, d := range []string{"2026-10-03", "2026-10-09", "2026-10-10"} {
		w.state.dirty[day(d)] = marked
	}
	reports, err := w.agg.Nightly(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 {
		t.Fatalf("reports = %v, want one tenant", reports)
	}
	want := []string{"2026-10-02", "2026-10-03", "2026-10-04", "2026-10-08", "2026-10-09"}
	if got := reports[0].Days; !slices.Equal(got, want) {
		t.Errorf("days run = %v, want %v", got, want)
	}
	for _, d := range want {
		if _, ok := w.state.parts[day(d)]; !ok {
			t.Errorf("no part for %s", d)
		}
	}
	if _, ok := w.state.parts[day("2026-10-10")]; ok {
		t.Error("today was aggregated before it ended")
	}
	if _, ok := w.state.dirty[day("2026-10-10")]; !ok || len(w.state.dirty) != 1 {
		t.Errorf("dirty marks left = %v, want only today's", w.state.dirty)
	}
	check(t, w, "dau 2026-10-03 value=1 new=1")
	check(t, w, "dau 2026-10-09 value=1 new=1")
}

func day(s string) kpi.Day {
	d, err := kpi.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestLateTraitsMarkLaterDays: a late identify changes what later,
// already aggregated days count. Run alone, its day marks them for the
// nightly run; run with them, they are simply run after it.
func TestLateTraitsMarkLaterDays(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	w.send(t, 0, [][]byte{
		[]byte(`{"type":"track","event":"E","messageId":"a1","userId":"u1","timestamp":"2026-10-01T12:00:00Z"}`),
		[]byte(`{"type":"track","event":"E","messageId":"a2","userId":"u1","timestamp":"2026-10-02T12:00:00Z"}`),
		[]byte(`{"type":"track","event":"E","messageId":"a3","userId":"u1","timestamp":"2026-10-03T12:00:00Z"}`),
	})
	ctx := context.Background()
	all := kpi.Days(day("2026-10-01"), day("2026-10-03"))
	if _, err := w.agg.Run(ctx, "t", all); err != nil {
		t.Fatal(err)
	}
	w.send(t, 1, [][]byte{[]byte(`{"type":"identify","messageId":"i1","userId":"u1","timestamp":"2026-10-01T08:00:00Z","traits":{"plan":"pro"}}`)})
	if _, err := w.agg.Run(ctx, "t", all[:1]); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.state.dirty[day("2026-10-02")]; !ok {
		t.Errorf("10-02 not marked after a late trait change: dirty = %v", w.state.dirty)
	}
	if _, ok := w.state.dirty[day("2026-10-03")]; !ok {
		t.Errorf("10-03 not marked after a late trait change: dirty = %v", w.state.dirty)
	}
	clear(w.state.dirty)
	if _, err := w.agg.Run(ctx, "t", all); err != nil {
		t.Fatal(err)
	}
	if len(w.state.dirty) != 0 {
		t.Errorf("a run covering the later days left marks: %v", w.state.dirty)
	}
	check(t, w, "dau 2026-10-03 filter=plan:pro value=1")
}
