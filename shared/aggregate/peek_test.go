package aggregate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/kpi"
)

// TestPeekedWindowSameParts runs days of generated data with the window's
// lines peeked at (the default: the decoders, or the builder, leave out
// the lines of the days around that cannot matter) and read in full, in
// three time zones, and wants the same parts, reruns included. The day
// after the big day reads it as its day before, the big day reads its
// day after once sealed.
func TestPeekedWindowSameParts(t *testing.T) {
	// Four days of 8,000 events each: the days around the two run are
	// full days, with sessions across both midnights and steps whose next
	// event is the day after.
	const perDay = 8000
	start := benchDay.AddDays(-1)
	pop := gen.NewPopulation(benchSeed, perDay, start)
	bd := &benchData{n: perDay, raw: gzRaw{newMemRaw()}, lines: map[kpi.Day]int{}, pop: pop}
	err := gen.Generate(gen.Config{Seed: benchSeed, Population: pop, Start: start, PerDay: []int{perDay, perDay, perDay, perDay}},
		func(f gen.File) error {
			_, err := bd.raw.put(f.Day, f.Lines)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	// A UTC day's object whose latest event is exactly the session
	// timeout before the day's start: it is read, and its visitor's first
	// page of the day continues that session (an off-by-one in leaving
	// objects out would make it a new one).
	page := func(id string, at time.Time) []byte {
		return fmt.Appendf(nil, `{"anonymousId":"edge","messageId":%q,"properties":{"path":"/p"},"receivedAt":%q,"timestamp":%q,"type":"page"}`,
			id, at.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
	}
	edge := benchDay.Start(time.UTC)
	for _, l := range []struct {
		day kpi.Day
		at  time.Time
	}{{benchDay.AddDays(-1), edge.Add(-kpi.DefaultConfig().SessionTimeout())}, {benchDay, edge}} {
		if _, err := bd.raw.put(l.day, [][]byte{page("edge-"+l.at.Format(time.RFC3339), l.at)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, zone := range []string{"UTC", "America/Los_Angeles", "Asia/Tokyo"} {
		cfg := kpi.DefaultConfig()
		cfg.TimeZone = zone
		for _, d := range []kpi.Day{benchDay, benchDay.AddDays(1)} {
			run := func(how func(*aggregate.Service)) map[kpi.Day]kpi.Part {
				st := bd.newStateIn(ctx, cfg)
				svc := &aggregate.Service{Raw: bd.raw, State: st, Now: func() time.Time { return benchClock },
					Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
				if how != nil {
					how(svc)
				}
				if _, err := svc.Run(ctx, benchTenant, []kpi.Day{d}); err != nil {
					t.Fatal(err)
				}
				return st.Stored
			}
			want := run(aggregate.ReadWindowsInFull)
			if len(want) == 0 || want[d].Counters[kpi.CounterSessions] == 0 {
				t.Fatalf("%s %s: no sessions in the day's part", zone, d)
			}
			for name, how := range map[string]func(*aggregate.Service){"peeked": nil, "builder decides": aggregate.LetBuilderDecide} {
				got := run(how)
				for day, p := range want {
					if !reflect.DeepEqual(got[day], p) {
						t.Errorf("%s, run of %s, %s: the part of %s differs from the window read in full:\n got %v\nwant %v",
							zone, d, name, day, got[day].Counters, p.Counters)
					}
				}
				if len(got) != len(want) {
					t.Errorf("%s, run of %s, %s: %d parts, want %d", zone, d, name, len(got), len(want))
				}
			}
		}
	}
}
