package aggregate_test

import (
	"context"
	"fmt"
	"reflect"
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
		w.state.Marks[day(d)] = marked
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
		if _, ok := w.state.Stored[day(d)]; !ok {
			t.Errorf("no part for %s", d)
		}
	}
	if _, ok := w.state.Stored[day("2026-10-10")]; ok {
		t.Error("today was aggregated before it ended")
	}
	if _, ok := w.state.Marks[day("2026-10-10")]; !ok || len(w.state.Marks) != 1 {
		t.Errorf("dirty marks left = %v, want only today's", w.state.Marks)
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
	if _, ok := w.state.Marks[day("2026-10-02")]; !ok {
		t.Errorf("10-02 not marked after a late trait change: dirty = %v", w.state.Marks)
	}
	if _, ok := w.state.Marks[day("2026-10-03")]; !ok {
		t.Errorf("10-03 not marked after a late trait change: dirty = %v", w.state.Marks)
	}
	clear(w.state.Marks)
	if _, err := w.agg.Run(ctx, "t", all); err != nil {
		t.Fatal(err)
	}
	if len(w.state.Marks) != 0 {
		t.Errorf("a run covering the later days left marks: %v", w.state.Marks)
	}
	check(t, w, "dau 2026-10-03 filter=plan:pro value=1")
}

// TestTrialChainFitsOnePass aggregates a fresh range where, day after
// day, one account pays for the trial it began the day before and the
// next account starts its trial: a payment re-runs its trial's day only
// when it is new to the histories, so the run ends (it once re-ran every
// trial day on every pass and gave up after five), leaves no dirty mark,
// and a second run re-runs nothing.
func TestTrialChainFitsOnePass(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	now := time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC)
	w.agg.Now = func() time.Time { return now }
	var lines [][]byte
	for i := range 12 {
		trial := time.Date(2026, 10, 1+i, 10, 0, 0, 0, time.UTC)
		lines = append(lines,
			fmt.Appendf(nil, `{"type":"track","event":"Trial Started","messageId":"t%d","userId":"u%d","timestamp":%q}`, i, i, trial.Format(time.RFC3339)),
			fmt.Appendf(nil, `{"type":"track","event":"Subscription Started","messageId":"p%d","userId":"u%d","timestamp":%q,"properties":{"plan":"pro","amount":1200}}`, i, i, trial.Add(26*time.Hour).Format(time.RFC3339)))
	}
	w.send(t, 0, lines)
	days := kpi.Days(day("2026-10-01"), day("2026-10-13"))
	rep, err := w.agg.Run(context.Background(), "t", days)
	if err != nil {
		t.Fatalf("fresh range: %v", err)
	}
	if len(rep.Reruns) == 0 {
		t.Error("no trial day was re-run for its payment: the test would prove nothing")
	}
	if len(w.state.Marks) != 0 {
		t.Errorf("dirty marks left after a complete run: %v", w.state.Marks)
	}
	again, err := w.agg.Run(context.Background(), "t", days)
	if err != nil || len(again.Reruns) != 0 {
		t.Errorf("second run: reruns %v, err %v; want none", again.Reruns, err)
	}
	check(t, w, "free_to_paid_conversion 2026-10-01..2026-10-12 value=100")
}

// TestEventInLaterDaysFile: ingest files each event under its
// timestamp's UTC day, and the run promises its day builder the day's end
// once the next UTC day's files begin, so the builder keeps later events
// only of visitors whose sessions can reach them. An event of the day
// found in a later day's file (a file written by hand, an old import)
// breaks the promise: the run reads the window again keeping every event,
// and the part equals that of the same events filed right.
func TestEventInLaterDaysFile(t *testing.T) {
	page := func(at string, id string) []byte {
		return fmt.Appendf(nil, `{"type":"page","anonymousId":"v1","messageId":%q,"timestamp":%q,"properties":{"path":"/p"},"receivedAt":"2026-10-03T01:00:00Z"}`, id, at)
	}
	// One session from 23:55 to 00:10 of the day after.
	start := page("2026-10-02T23:55:00Z", "m1")
	after := page("2026-10-03T00:10:00Z", "m2")

	right := newWorld(kpi.DefaultConfig())
	right.raw.put("t", day("2026-10-02"), [][]byte{start})
	right.raw.put("t", day("2026-10-03"), [][]byte{after})
	wrong := newWorld(kpi.DefaultConfig())
	// The session's start filed a day late, after its end: when the end
	// is read, the visitor has no event of the day yet.
	wrong.raw.put("t", day("2026-10-03"), [][]byte{after, start})
	for _, w := range []*world{right, wrong} {
		if _, err := w.agg.Run(context.Background(), "t", []kpi.Day{day("2026-10-02")}); err != nil {
			t.Fatal(err)
		}
	}
	got, ok1 := wrong.state.Stored[day("2026-10-02")]
	want, ok2 := right.state.Stored[day("2026-10-02")]
	if !ok1 || !ok2 {
		t.Fatal("no part stored")
	}
	c := want.Counters
	if c[kpi.CounterSessions] != 1 || c[kpi.CounterSessionPages] != 2 || c[kpi.CounterSessionSeconds] != 900 {
		t.Fatalf("filed right: sessions %v pages %v seconds %v, want 1, 2 and 900", c[kpi.CounterSessions], c[kpi.CounterSessionPages], c[kpi.CounterSessionSeconds])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the part with an event filed a day late differs:\n got %v\nwant %v", got.Counters, want.Counters)
	}
}
