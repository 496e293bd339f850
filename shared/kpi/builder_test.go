package kpi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
)

// sameFacts fails t when the builder's facts differ from the reference's.
func sameFacts(t *testing.T, what string, got, want kpi.Facts) {
	t.Helper()
	norm := func(f kpi.Facts) kpi.Facts {
		for _, ks := range f.NextAfter {
			for k, n := range ks {
				n.After = n.After.UTC()
				ks[k] = n
			}
		}
		return f
	}
	got, want = norm(got), norm(want)
	if reflect.DeepEqual(got, want) {
		return
	}
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			g, _ := json.Marshal(gv.Field(i).Interface())
			w, _ := json.Marshal(wv.Field(i).Interface())
			t.Errorf("%s: %s differs:\n got %.600s\nwant %.600s", what, gv.Type().Field(i).Name, g, w)
		}
	}
}

// window is a day's window as the nightly run reads it: the records of
// the UTC days around it, file by file, in arrival order, with the index
// of the first file of a UTC day past the day's end.
type window struct {
	recs   []event.Record
	sealAt int // records before this index include every one of the day
}

func readWindow(t *testing.T, files map[kpi.Day][][][]byte, cfg kpi.Config, day kpi.Day) window {
	t.Helper()
	loc := cfg.Location()
	from, to := day.Start(loc).Add(-24*time.Hour), day.End(loc).Add(24*time.Hour)
	dec := event.NewLineDecoder()
	w := window{sealAt: -1}
	for _, u := range kpi.Days(kpi.DayOf(from, time.UTC), kpi.DayOf(to.Add(-time.Nanosecond), time.UTC)) {
		if w.sealAt < 0 && !u.Start(time.UTC).Before(day.End(loc)) {
			w.sealAt = len(w.recs)
		}
		for _, f := range files[u] {
			for _, line := range f {
				var r event.Record
				if err := dec.Decode(line, &r); err != nil {
					t.Fatalf("line %s: %v", line, err)
				}
				r.Properties, r.Traits = bytes.Clone(r.Properties), bytes.Clone(r.Traits)
				if r.Timestamp.Before(from) || !r.Timestamp.Before(to) {
					continue
				}
				w.recs = append(w.recs, r)
			}
		}
	}
	if w.sealAt < 0 {
		w.sealAt = len(w.recs)
	}
	return w
}

// build feeds a window to a builder, promising the end of the day where
// the window's files allow it.
func build(cfg kpi.Config, day kpi.Day, w window, seal bool) (kpi.Facts, bool) {
	b := kpi.NewDayBuilder(cfg, day)
	for i := range w.recs {
		if seal && i == w.sealAt {
			b.NoMoreDay()
		}
		b.Add(&w.recs[i])
	}
	return b.Facts(), b.Broken()
}

// TestDayBuilderSameAsReference compares DayBuilder's facts with the
// reference's on generated days (users, anonymous visitors, bots,
// sessions across midnight, onboarding, surveys, tickets, subscriptions),
// in four time zones, with and without the promise of the day's end, and
// with requests sent twice.
// genFiles generates four days of raw files from start, by UTC day.
func genFiles(t *testing.T, seed uint64, perDay int, start kpi.Day) map[kpi.Day][][][]byte {
	t.Helper()
	files := map[kpi.Day][][][]byte{}
	err := gen.Generate(gen.Config{Seed: seed, Population: gen.NewPopulation(seed, perDay, start), Start: start, PerDay: []int{perDay, perDay, perDay, perDay}},
		func(f gen.File) error {
			files[f.Day] = append(files[f.Day], f.Lines)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestDayBuilderSameAsReference(t *testing.T) {
	const seed, perDay = 7, 12_000
	start := kpi.NewDay(2026, 10, 1)
	files := genFiles(t, seed, perDay, start)
	// Retried requests: a few files arrive again, later.
	rng := rand.New(rand.NewPCG(seed, 1))
	for d, fs := range files {
		for range len(fs) / 10 {
			fs = append(fs, fs[rng.IntN(len(fs))])
		}
		files[d] = fs
	}
	var seen [5]int // sessions, next steps, answers, tickets, subscription events compared
	defer func() {
		if seen[0] == 0 || seen[1] == 0 || seen[2] == 0 || seen[3] == 0 || seen[4] == 0 {
			t.Errorf("the generated days lack sessions, steps, answers, tickets or subscriptions: %v", seen)
		}
	}()
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"} {
		cfg := kpi.DefaultConfig()
		cfg.TimeZone = zone
		cfg.ConversionEvent = "Trial Started"
		cfg.ValueEvents = []string{"Report Viewed"}
		cfg.FeatureEvents = []string{"Report Exported"}
		for _, day := range []kpi.Day{start.AddDays(1), start.AddDays(2)} {
			w := readWindow(t, files, cfg, day)
			want := kpi.ComputeDayRef(cfg, day, w.recs)
			seen[0] += want.Sessions
			seen[1] += len(want.NextAfter)
			seen[2] += len(want.Responses)
			seen[3] += len(want.Tickets)
			seen[4] += len(want.SubEvents)
			for _, seal := range []bool{false, true} {
				got, broken := build(cfg, day, w, seal)
				if broken {
					t.Fatalf("%s %s: a record of the day came after the day's files", zone, day)
				}
				sameFacts(t, fmt.Sprintf("%s %s seal=%v", zone, day, seal), got, want)
			}
		}
	}
}

// TestDayBuilderKeepsNoLine feeds the builder records decoded from one
// buffer that is overwritten after each Add, as the nightly run reuses
// its buffers: the records' strings alias the line (LineDecoder), so a
// string the builder kept without copying it would read as garbage.
func TestDayBuilderKeepsNoLine(t *testing.T) {
	const seed, perDay = 11, 6_000
	start := kpi.NewDay(2026, 10, 1)
	files := genFiles(t, seed, perDay, start)
	day := start.AddDays(1)
	for _, zone := range []string{"UTC", "Pacific/Chatham"} {
		cfg := kpi.DefaultConfig()
		cfg.TimeZone = zone
		cfg.ConversionEvent = "Trial Started"
		cfg.ValueEvents = []string{"Report Viewed"}
		cfg.FeatureEvents = []string{"Report Exported"}
		w := readWindow(t, files, cfg, day)
		want, _ := build(cfg, day, w, false)
		if len(want.TraitChanges) == 0 || len(want.Links) == 0 || len(want.Features) == 0 || len(want.Orders)+len(want.SubEvents) == 0 {
			t.Fatalf("the generated day lacks traits, links, features or orders")
		}
		loc := cfg.Location()
		from, to := day.Start(loc).Add(-24*time.Hour), day.End(loc).Add(24*time.Hour)
		b := kpi.NewDayBuilder(cfg, day)
		dec := event.NewLineDecoder()
		var buf []byte
		for _, u := range kpi.Days(kpi.DayOf(from, time.UTC), kpi.DayOf(to.Add(-time.Nanosecond), time.UTC)) {
			for _, f := range files[u] {
				for _, line := range f {
					buf = append(buf[:0], line...)
					var r event.Record
					if err := dec.Decode(buf, &r); err != nil {
						t.Fatal(err)
					}
					if !r.Timestamp.Before(from) && r.Timestamp.Before(to) {
						b.Add(&r)
					}
					for i := range buf {
						buf[i] = 'x'
					}
				}
			}
		}
		sameFacts(t, zone, b.Facts(), want)
	}
}

// TestDayBuilderBroken: a record of the day after NoMoreDay is reported.
func TestDayBuilderBroken(t *testing.T) {
	day := kpi.NewDay(2026, 10, 2)
	b := kpi.NewDayBuilder(kpi.DefaultConfig(), day)
	late := event.Record{Type: "track", Event: "x", MessageID: "m", UserID: "u", Timestamp: day.Start(time.UTC).Add(25 * time.Hour)}
	b.NoMoreDay()
	b.Add(&late)
	if b.Broken() {
		t.Fatal("a record of the day after broke the promise")
	}
	in := late
	in.Timestamp = day.Start(time.UTC).Add(time.Hour)
	b.Add(&in)
	if !b.Broken() {
		t.Fatal("a record of the day after NoMoreDay was not reported")
	}
}

// FuzzDayBuilder compares DayBuilder with the reference on small random
// windows around midnight: few visitors and users, equal times, pages,
// screens, steps, signups, conversions, identify calls, bots and resent
// messages.
func FuzzDayBuilder(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(bytes.Repeat([]byte{0, 200, 7, 33, 90, 1, 255, 3}, 12))
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox"))
	day := kpi.NewDay(2026, 10, 2)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := kpi.DefaultConfig()
		cfg.ConversionEvent = "Trial Started"
		cfg.OnboardingSteps = []string{"a", "b"}
		recs := fuzzWindow(data, day)
		want := kpi.ComputeDayRef(cfg, day, recs)
		got := kpi.ComputeDay(cfg, day, recs)
		sameFacts(t, "fuzz", got, want)
		// The promise, after every record before the day's end.
		var w window
		for i, r := range recs {
			if !r.Timestamp.Before(day.End(time.UTC)) {
				continue
			}
			w.recs = append(w.recs, recs[i])
		}
		w.sealAt = len(w.recs)
		for _, r := range recs {
			if !r.Timestamp.Before(day.End(time.UTC)) {
				w.recs = append(w.recs, r)
			}
		}
		want = kpi.ComputeDayRef(cfg, day, w.recs)
		sealed, broken := build(cfg, day, w, true)
		if broken {
			t.Fatal("broken without a late record")
		}
		sameFacts(t, "fuzz sealed", sealed, want)
	})
}

// fuzzWindow turns bytes into records: each record takes 4 bytes.
func fuzzWindow(data []byte, day kpi.Day) []event.Record {
	mid := day.End(time.UTC)
	kinds := []func(r *event.Record, b byte){
		func(r *event.Record, b byte) { r.Type = "page"; r.Context.Page.Path = fmt.Sprintf("/p%d", b%3) },
		func(r *event.Record, b byte) { r.Type = "screen"; r.Name = fmt.Sprintf("S%d", b%2) },
		func(r *event.Record, b byte) { r.Type = "track"; r.Event = "Clicked" },
		func(r *event.Record, b byte) { r.Type = "track"; r.Event = event.SignedUp },
		func(r *event.Record, b byte) {
			r.Type = "track"
			r.Event = "Onboarding Step Completed"
			r.Properties = json.RawMessage(fmt.Sprintf(`{"step":%q}`, []string{"a", "b", "zz"}[b%3]))
		},
		func(r *event.Record, b byte) { r.Type = "track"; r.Event = "Trial Started" },
		func(r *event.Record, b byte) {
			r.Type = "identify"
			r.Traits = json.RawMessage(`{"plan":"pro","created_at":"2026-10-01T10:00:00Z"}`)
		},
		func(r *event.Record, b byte) {
			r.Type = "page"
			r.Context.UserAgent = "Googlebot/2.1"
		},
		func(r *event.Record, b byte) {
			r.Type = "page"
			r.Context.Campaign.Source, r.Context.Campaign.Medium = "news", "email"
			r.Properties = json.RawMessage(`{"content_type":"blog"}`)
			r.Context.Page.Path = "/blog"
		},
		func(r *event.Record, b byte) { r.Type = "track"; r.Event = "Guide Played" },
	}
	var recs []event.Record
	for i := 0; i+4 <= len(data); i += 4 {
		b := data[i : i+4]
		if b[0] == 255 && len(recs) > 0 {
			recs = append(recs, recs[int(b[1])%len(recs)]) // sent again
			continue
		}
		// Times from 3 hours before midnight to 1 hour after, in steps
		// of 5 minutes (or equal to the previous record's).
		at := mid.Add(time.Duration(int(b[1])%48-36) * 5 * time.Minute)
		if b[1] >= 240 && len(recs) > 0 {
			at = recs[len(recs)-1].Timestamp
		}
		at = at.Add(-24 * time.Hour * time.Duration(b[3]%2)) // the day's start, too
		r := event.Record{MessageID: fmt.Sprintf("m%d", i), Timestamp: at}
		switch b[2] % 4 {
		case 0:
			r.UserID = event.ID(fmt.Sprintf("u%d", b[2]%3))
		case 1:
			r.AnonymousID = event.ID(fmt.Sprintf("a%d", b[2]%2))
		default:
			r.UserID, r.AnonymousID = event.ID(fmt.Sprintf("u%d", b[2]%3)), event.ID(fmt.Sprintf("a%d", b[2]%2))
		}
		kinds[int(b[0])%len(kinds)](&r, b[0])
		recs = append(recs, r)
	}
	return recs
}

// TestDayBuilderFarPoints holds the builder to the reference where its
// points keep values in side maps: a user's next event 4 days after a
// step (past the 48 bits of a point's time) and sessions of 9,000 device
// types (past the 16 bits of its source).
func TestDayBuilderFarPoints(t *testing.T) {
	day := kpi.NewDay(2026, 10, 2)
	cfg := kpi.DefaultConfig()
	cfg.OnboardingSteps = []string{"a"}
	start := day.Start(time.UTC)
	var recs []event.Record
	for i := range 9000 {
		r := event.Record{Type: "page", MessageID: fmt.Sprintf("p%d", i), AnonymousID: event.ID(fmt.Sprintf("v%d", i)),
			Timestamp: start.Add(time.Duration(i) * time.Second)}
		r.Context.Device.Type = fmt.Sprintf("kind %d", i)
		r.Context.Page.Path = fmt.Sprintf("/p%d", i%7)
		recs = append(recs, r)
	}
	step := event.Record{Type: "track", Event: "Onboarding Step Completed", MessageID: "s", UserID: "u", Timestamp: start.Add(time.Hour),
		Properties: json.RawMessage(`{"step":"a"}`)}
	far := event.Record{Type: "track", Event: "Report Viewed", MessageID: "f", UserID: "u", Timestamp: start.Add(4 * 24 * time.Hour)}
	recs = append(recs, step, far)
	got, want := kpi.ComputeDay(cfg, day, recs), kpi.ComputeDayRef(cfg, day, recs)
	sameFacts(t, "far points", got, want)
	if n := got.NextAfter["u"][1]; n.Label != "Report Viewed" {
		t.Errorf("next after the step: got %+v, want the event 4 days later", n)
	}
	if n := len(got.SessionsBy[kpi.DimDevice]); n != 9001 {
		t.Errorf("sessions by device: %d device types, want 9001 (9,000 kinds and the user's unknown)", n)
	}
}

// TestDayBuilderTimeoutBefore: an event exactly the session timeout
// before the day's start still joins the visitor's first session of the
// day (the builder keeps no earlier one), one a nanosecond earlier does
// not; and the day after's visitors without a session of the day count
// for nothing, sealed or not.
func TestDayBuilderTimeoutBefore(t *testing.T) {
	day := kpi.NewDay(2026, 10, 2)
	cfg := kpi.DefaultConfig()
	start, timeout := day.Start(time.UTC), cfg.SessionTimeout()
	page := func(id, v string, at time.Time) event.Record {
		r := event.Record{Type: "page", MessageID: id, AnonymousID: event.ID(v), Timestamp: at}
		r.Context.Page.Path = "/"
		return r
	}
	w := window{recs: []event.Record{
		page("a0", "joined", start.Add(-timeout)), page("a1", "joined", start),
		page("b0", "apart", start.Add(-timeout-1)), page("b1", "apart", start),
		page("c0", "old", start.Add(-5*time.Hour)), page("c1", "old", start.Add(time.Hour)),
	}}
	w.sealAt = len(w.recs)
	w.recs = append(w.recs, page("d0", "tomorrow", start.Add(25*time.Hour)), page("e0", "apart", start.Add(24*time.Hour+time.Second)))
	want := kpi.ComputeDayRef(cfg, day, w.recs)
	if want.Sessions != 2 {
		t.Fatalf("reference: %d sessions, want 2 (apart and old)", want.Sessions)
	}
	for _, seal := range []bool{false, true} {
		got, _ := build(cfg, day, w, seal)
		sameFacts(t, fmt.Sprintf("seal=%v", seal), got, want)
	}
}

// TestDayBuilderLeavesOut feeds generated windows to a builder leaving out
// what the window's reader leaves out undecoded (records before Before
// until sealed; once sealed, records Wants refuses, or whose ids are
// outside Interest), and wants the facts of every record.
func TestDayBuilderLeavesOut(t *testing.T) {
	const seed, perDay = 11, 12_000
	start := kpi.NewDay(2026, 10, 1)
	files := genFiles(t, seed, perDay, start)
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Kolkata"} {
		cfg := kpi.DefaultConfig()
		cfg.TimeZone = zone
		for _, day := range []kpi.Day{start.AddDays(1), start.AddDays(2)} {
			w := readWindow(t, files, cfg, day)
			want, _ := build(cfg, day, w, true)
			for _, how := range []string{"Wants", "Interest"} {
				b := kpi.NewDayBuilder(cfg, day)
				var ids map[string]struct{}
				out := [2]int{} // before, after
				for i := range w.recs {
					r := &w.recs[i]
					if i == w.sealAt {
						b.NoMoreDay()
						ids = b.Interest()
					}
					t := r.Timestamp.UnixNano()
					switch {
					case i < w.sealAt && t < b.Before():
						out[0]++
						continue
					case i >= w.sealAt && how == "Wants" && !b.Wants(r):
						out[1]++
						continue
					case i >= w.sealAt && how == "Interest" && t >= b.End():
						_, v := ids[r.Visitor()]
						_, u := ids[r.User()]
						if !v && !u {
							out[1]++
							continue
						}
					}
					b.Add(r)
				}
				what := fmt.Sprintf("%s %s, %s", zone, day, how)
				sameFacts(t, what, b.Facts(), want)
				// (In other zones, the UTC day after the seal holds only
				// the window's last hours.)
				if out[0] < perDay/2 || zone == "UTC" && out[1] < perDay/2 {
					t.Errorf("%s: left out %d records before the day and %d after it, want most of each neighbouring day", what, out[0], out[1])
				}
			}
		}
	}
}

// TestDayBuilderFirstsWithinMillisecond: the builder skips the maps of
// Firsts for a record a millisecond or more after the first one reached;
// an earlier time within the same millisecond, arriving later, still wins.
func TestDayBuilderFirstsWithinMillisecond(t *testing.T) {
	day := kpi.NewDay(2026, 10, 2)
	cfg := kpi.DefaultConfig()
	at := day.Start(time.UTC).Add(10 * time.Hour)
	var recs []event.Record
	for i, d := range []time.Duration{900 * time.Microsecond, 2 * time.Millisecond, 100 * time.Microsecond, 3 * time.Millisecond} {
		recs = append(recs, event.Record{Type: "track", Event: "Report Viewed", MessageID: fmt.Sprint("m", i), UserID: "u", Timestamp: at.Add(d)})
	}
	got, want := kpi.ComputeDay(cfg, day, recs), kpi.ComputeDayRef(cfg, day, recs)
	sameFacts(t, "firsts within a millisecond", got, want)
	for _, m := range []kpi.Milestone{kpi.FirstSeen, kpi.FirstActive} {
		if f, _ := got.Firsts["u"].At(m); !f.Equal(at.Add(100 * time.Microsecond)) {
			t.Errorf("%s = %v, want the earliest record's %v", m, f, at.Add(100*time.Microsecond))
		}
	}
}
