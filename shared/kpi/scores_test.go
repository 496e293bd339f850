package kpi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
)

// withoutScoreCounters is p as written before the score counters.
func withoutScoreCounters(p kpi.Part) kpi.Part {
	p.Counters = maps.Clone(p.Counters)
	for k := range p.Counters {
		if k == kpi.CounterScoreHistograms || strings.Contains(k, "_score=") {
			delete(p.Counters, k)
		}
	}
	return p
}

// TestScoreCounters: CSAT and CES counted from the score counters of day
// parts, and of month parts merged from them, equal those counted from
// the same parts' answers (the parts stripped of their counters, as parts
// written before them), to the last bit, on every scale a configuration
// may have and with scores off it (fractions, negatives, over 100); a
// range of parts with and without the counters too.
func TestScoreCounters(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	scores := []float64{-3, -1, 0, 0.5, 1, 2, 2.5, 3, 4, 5, 6, 7, 8, 9, 10, 11, 50, 99, 100, 100.5, 101, 1e9}
	sep := kpi.NewDay(2026, 9, 1)
	var days []kpi.Part
	for i := range 30 {
		d := sep.AddDays(i)
		var counted []kpi.Response
		for k := range r.IntN(40) {
			typ := []string{"csat", "ces", "nps"}[r.IntN(3)]
			counted = append(counted, kpi.Response{Type: typ, SurveyID: "s", Respondent: fmt.Sprintf("u%d-%d", i, k),
				MessageID: fmt.Sprint(i, k), Time: d.Start(time.UTC), Score: scores[r.IntN(len(scores))]})
		}
		days = append(days, kpi.BuildPart(kpi.DefaultConfig(), kpi.Facts{Day: d}, kpi.Ordinals{}, kpi.DayState{Counted: counted}))
	}
	month, ok := kpi.BuildMonth(days, nil)
	if !ok {
		t.Fatal("no month part")
	}
	var old, mixed []kpi.Part
	for i, p := range days {
		old = append(old, withoutScoreCounters(p))
		if i%3 == 0 {
			mixed = append(mixed, old[i])
		} else {
			mixed = append(mixed, p)
		}
	}
	configs := map[string]func(*kpi.Config){
		"default":            func(*kpi.Config) {},
		"0 to 10":            func(c *kpi.Config) { c.CSATScaleMin, c.CSATScaleMax, c.CESScaleMin, c.CESScaleMax = 0, 10, 0, 10 },
		"1 to 7, lower easy": func(c *kpi.Config) { c.CESScaleMin, c.CESScaleMax, c.CESHigherIsEasier = 1, 7, false },
		"0 to 100":           func(c *kpi.Config) { c.CSATScaleMin, c.CSATScaleMax, c.CESScaleMin, c.CESScaleMax = 0, 100, 98, 100 },
		"unchecked -5 to 5":  func(c *kpi.Config) { c.CSATScaleMin, c.CESScaleMin = -5, -5 },
	}
	from, to := sep, kpi.MonthEnd(sep)
	for name, set := range configs {
		cfg := kpi.DefaultConfig()
		set(&cfg)
		for _, id := range []string{"csat", "ces"} {
			def, _ := kpi.Lookup(id)
			eval := func(parts, months []kpi.Part) string {
				b, err := json.Marshal(def.Evaluate(kpi.Input{From: from, To: to, Parts: parts, Months: months, Config: cfg}))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			want := eval(old, nil)
			if !strings.Contains(want, `"responses":`) || strings.Contains(want, `"responses":0`) {
				t.Fatalf("%s, %s: no answers counted: %s", id, name, want)
			}
			for what, got := range map[string]string{"day parts": eval(days, nil), "a month part": eval(days, []kpi.Part{month}), "parts with and without": eval(mixed, nil)} {
				if diff := cmp.Diff(got, want); diff != "" {
					t.Errorf("%s, scale %s, from the counters of %s: differs from the answers (-counters +answers):\n%s", id, name, what, diff)
				}
			}
		}
	}
}

// withoutTicketCounters is p as written before the ticket counters and
// lists.
func withoutTicketCounters(p kpi.Part) kpi.Part {
	p.Counters, p.Lists = maps.Clone(p.Counters), maps.Clone(p.Lists)
	delete(p.Counters, kpi.CounterTicketCounts)
	delete(p.Counters, kpi.CounterTickets)
	delete(p.Counters, kpi.CounterTicketDurations)
	delete(p.Lists, kpi.ListFirstResponseMinutes)
	delete(p.Lists, kpi.ListResolutionHours)
	delete(p.Lists, kpi.ListResolvedAt)
	delete(p.Lists, kpi.ListEscalatedMinutes)
	for k := range p.Counters {
		if strings.HasPrefix(k, kpi.EscalationCounter("")) {
			delete(p.Counters, k)
		}
	}
	return p
}

// TestTicketCounters: ticket_volume, first_response_time, resolution_time,
// resolution_rate and escalation_response_time read from the ticket
// counters and lists of day parts, and of month parts merged from them,
// equal those read from the same parts' tickets (the parts stripped of
// them), to the last bit: resolutions a fraction of a millisecond before,
// at and after the end of a range, in time zones of odd offsets,
// responses before creation, an escalation tag changed since the parts.
func TestTicketCounters(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 3))
	sep := kpi.NewDay(2026, 9, 1)
	ends := map[string]kpi.Day{"whole month": kpi.MonthEnd(sep), "mid month": sep.AddDays(13)}
	for _, zone := range []string{"UTC", "Asia/Kathmandu", "America/St_Johns"} {
		cfg := kpi.DefaultConfig()
		cfg.TimeZone = zone
		var days []kpi.Part
		for i := range 30 {
			d := sep.AddDays(i)
			start := d.Start(cfg.Location())
			var ts []kpi.Ticket
			for k := range r.IntN(12) {
				tk := kpi.Ticket{ID: fmt.Sprintf("t%d-%d", i, k), Status: "open", Created: start.Add(time.Duration(r.IntN(86400)) * time.Second),
					Priority: []string{"", "urgent", "Urgent", "low"}[r.IntN(4)], Tags: [][]string{nil, {"escalated"}, {"vip", "billing"}}[r.IntN(3)]}
				at := func() *time.Time {
					var x time.Time
					switch r.IntN(6) {
					case 0:
						return nil
					case 1: // just before, at, or just after a day's end
						end := ends["mid month"].End(cfg.Location())
						x = end.Add(time.Duration(r.IntN(3)-1) * 500 * time.Microsecond)
					case 2:
						x = tk.Created.Add(-time.Hour) // before creation
					default:
						x = tk.Created.Add(time.Duration(r.Int64N(int64(40 * 24 * time.Hour))))
					}
					return &x
				}
				tk.FirstResponse, tk.Resolved = at(), at()
				ts = append(ts, tk)
			}
			days = append(days, kpi.BuildPart(cfg, kpi.Facts{Day: d}, kpi.Ordinals{}, kpi.DayState{Tickets: ts}))
		}
		month, ok := kpi.BuildMonth(days, nil)
		if !ok {
			t.Fatal("no month part")
		}
		var old, mixed []kpi.Part
		for i, p := range days {
			old = append(old, withoutTicketCounters(p))
			if i%4 == 1 {
				mixed = append(mixed, old[i])
			} else {
				mixed = append(mixed, p)
			}
		}
		// The escalation tag changed after the parts were built: their
		// lists of escalated tickets are not those of the query's.
		vip := cfg
		vip.EscalationTag = "vip"
		for name, to := range ends {
			for _, id := range []string{"ticket_volume", "first_response_time", "resolution_time", "resolution_rate", "escalation_response_time", "escalation_response_time vip"} {
				def, _ := kpi.Lookup(strings.TrimSuffix(id, " vip"))
				qcfg := cfg
				if strings.HasSuffix(id, " vip") {
					qcfg = vip
				}
				eval := func(parts, months []kpi.Part) string {
					b, err := json.Marshal(def.Evaluate(kpi.Input{From: sep, To: to, Parts: parts, Months: months, Config: qcfg}))
					if err != nil {
						t.Fatal(err)
					}
					return string(b)
				}
				want := eval(old, nil)
				got := map[string]string{"day parts": eval(days, nil), "parts with and without": eval(mixed, nil)}
				if name == "whole month" {
					got["a month part"] = eval(days, []kpi.Part{month})
				}
				for what, g := range got {
					if diff := cmp.Diff(g, want); diff != "" {
						t.Errorf("%s in %s to %s, from the counters of %s: differs from the tickets (-counters +tickets):\n%s", id, zone, name, what, diff)
					}
				}
			}
		}
	}
}
