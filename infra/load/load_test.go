package load

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/kpi"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// TestRun drives a fresh stack for a few seconds at a low rate and checks
// that nothing failed and every acknowledged message was counted exactly
// once; then it checks that the verification fails when the ledger or
// the stack's counts are tampered with.
func TestRun(t *testing.T) {
	st := stacktest.Start(t)
	target := Target{URL: st.URL, Tenant: st.Tenant, WriteKey: st.WriteKey, ReadKey: st.ReadKey, AdminKey: st.AdminKey,
		WebhookSecret: st.WebhookSecret, S3Endpoint: st.S3Endpoint, Bucket: st.Bucket}
	// Seed 3 makes, in its first 45 requests, every kind of request
	// checked below.
	res, err := Run(t.Context(), target, Options{Duration: 3 * time.Second, Rate: 15, Workers: 8, Seed: 3, Days: 3})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var report strings.Builder
	res.Write(&report)
	if !res.OK() {
		t.Fatalf("the run failed:\n%s", report.String())
	}
	t.Logf("report:\n%s", report.String())
	for _, route := range []string{routeBatch, "POST /v1/track", routeSurvey, routeTicket, routeKPI, routeCSV} {
		if !hasRoute(res.Routes, route) {
			t.Errorf("no request on %s: choose a seed whose first requests cover every kind", route)
		}
	}
	// Resends wait for a first acknowledgement (before it they are new
	// messages): a few of them come later in any run of seconds.
	if res.Check.Deliveries <= res.Check.Acknowledged {
		t.Errorf("deliveries %d, acknowledged %d: the run resent nothing", res.Check.Deliveries, res.Check.Acknowledged)
	}
	if res.All.Requests != res.Scheduled {
		t.Errorf("%d requests answered, %d scheduled", res.All.Requests, res.Scheduled)
	}

	// Each tampering must make the verification fail with its reason.
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, l *Ledger, o *observation)
		want   string
	}{
		{"an acknowledged message left out of the ledger", func(t *testing.T, l *Ledger, o *observation) {
			delete(l.entries, someID(t, l, func(e entry) bool { return e.isActivity() }))
		}, "stored messageIds were never acknowledged"},
		{"a message acknowledged that the store does not have", func(t *testing.T, l *Ledger, o *observation) {
			id := someID(t, l, func(e entry) bool { return e.isActivity() })
			l.entries[id+"-copy"] = l.entries[id]
		}, "acknowledged messageIds are not stored"},
		{"an event moved to a user active that day already", func(t *testing.T, l *Ledger, o *observation) {
			// A user whose only activity of the day it is: DAU drops by one.
			type userDay struct {
				user string
				day  kpi.Day
			}
			n := map[userDay]int{}
			for _, e := range l.entries {
				if e.isActivity() && e.userID != "" {
					n[userDay{e.userID, kpi.DayOf(e.at, o.rules.loc)}]++
				}
			}
			id := someID(t, l, func(e entry) bool {
				return e.isActivity() && e.userID != "" && n[userDay{e.userID, kpi.DayOf(e.at, o.rules.loc)}] == 1
			})
			e := l.entries[id]
			other := someID(t, l, func(x entry) bool {
				return x.isActivity() && x.userID != "" && x.userID != e.userID && kpi.DayOf(x.at, o.rules.loc) == kpi.DayOf(e.at, o.rules.loc)
			})
			e.userID = l.entries[other].userID
			l.entries[id] = e
		}, " dau: the KPI counts "},
		{"a survey answer re-scored", func(t *testing.T, l *Ledger, o *observation) {
			// An answer that no other replaces moves to another group.
			type surveyKey struct{ typ, surveyID, respondent string }
			n := map[surveyKey]int{}
			key := func(e entry) surveyKey { return surveyKey{e.survey.typ, e.survey.surveyID, e.userID} }
			for _, e := range l.entries {
				if e.survey != nil {
					n[key(e)]++
				}
			}
			id := someID(t, l, func(e entry) bool { return e.survey != nil && n[key(e)] == 1 })
			e := l.entries[id]
			a := *e.survey
			switch {
			case a.typ == "nps" && a.score >= 9, a.typ == "csat" && a.score >= o.rules.csatMax-1:
				a.score = 0
			default:
				a.score = 10
			}
			e.survey = &a
			l.entries[id] = e
		}, "the KPI counts"},
		{"a ticket created a day later", func(t *testing.T, l *Ledger, o *observation) {
			id := someID(t, l, func(e entry) bool { return e.ticket != nil })
			for k, e := range l.entries {
				if e.ticket != nil && e.ticket.id == l.entries[id].ticket.id {
					e.ticket = &ticketRef{id: e.ticket.id, created: e.ticket.created.AddDate(0, 0, 1)}
					l.entries[k] = e
				}
			}
		}, "ticket_volume: the KPI counts"},
		{"the stack counts a session twice", func(t *testing.T, l *Ledger, o *observation) {
			after := maps.Clone(o.after)
			d := res.Days[0]
			c := after[d]
			c.Sessions++
			after[d] = c
			o.after = after
		}, res.Days[0].String() + " sessions: the KPI counts"},
		{"a day left incomplete", func(t *testing.T, l *Ledger, o *observation) {
			o.incomplete = []string{"dau"}
		}, "complete = false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Ledger{entries: maps.Clone(res.ledger.entries), acks: res.ledger.acks}
			o := res.obs
			tc.tamper(t, l, &o)
			v := verify(l, res.Days, o)
			if v.OK() {
				t.Fatalf("the verification passed a tampered ledger")
			}
			if !strings.Contains(strings.Join(v.Problems, "\n"), tc.want) {
				t.Errorf("problems:\n%s\nwant one with %q", strings.Join(v.Problems, "\n"), tc.want)
			}
		})
	}
	// And the untampered ledger passes the same check again.
	if v := verify(res.ledger, res.Days, res.obs); !v.OK() {
		t.Errorf("verify again: %s", strings.Join(v.Problems, "\n"))
	}

	// A second run on the same stack, as on a `make dev` that holds data
	// already, is checked by difference with what the days held before.
	again, err := Run(t.Context(), target, Options{Duration: 2 * time.Second, Rate: 10, Workers: 8, Seed: 4, Days: 3})
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if report.Reset(); !again.OK() {
		again.Write(&report)
		t.Fatalf("the second run failed:\n%s", report.String())
	}
	if again.Run == res.Run {
		t.Errorf("both runs have the id %s", res.Run)
	}
	var held float64
	for _, d := range again.Days {
		held += again.obs.before[d].DAU
	}
	if held == 0 {
		t.Errorf("the second run's baseline holds no DAU: it did not see the first run's data")
	}
}

func hasRoute(routes []RouteStats, route string) bool {
	for _, r := range routes {
		if r.Route == route && r.OK > 0 {
			return true
		}
	}
	return false
}

// someID returns the smallest messageId of the ledger whose entry matches.
func someID(t *testing.T, l *Ledger, match func(entry) bool) string {
	t.Helper()
	best := ""
	for id, e := range l.entries {
		if match(e) && (best == "" || id < best) {
			best = id
		}
	}
	if best == "" {
		t.Fatal("no message of the ledger fits the tampering")
	}
	return best
}

// TestExpect checks the ledger's arithmetic on a small hand-made ledger.
func TestExpect(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	l := newLedger()
	l.add("m1", entry{typ: "track", event: "Report Viewed", userID: "u1", anonymousID: "a1", at: at("2026-11-01T23:50:00Z")})
	l.add("m2", entry{typ: "page", userID: "u1", anonymousID: "a1", at: at("2026-11-02T00:10:00Z")}) // same session, next day
	l.add("m3", entry{typ: "page", anonymousID: "v1", at: at("2026-11-02T08:00:00Z")})               // no user: a session, no DAU
	l.add("m4", entry{typ: "identify", userID: "u2", at: at("2026-11-02T09:00:00Z")})                // not activity
	l.add("m5", entry{typ: "track", event: "Report Viewed", userID: "u1", anonymousID: "a1", at: at("2026-11-02T01:00:00Z")})
	l.add("s1", entry{typ: "track", event: "Survey Responded", userID: "u3", at: at("2026-11-01T10:00:00Z"), survey: &answer{"nps", "q", 3}})
	l.add("s2", entry{typ: "track", event: "Survey Responded", userID: "u3", at: at("2026-11-02T10:00:00Z"), survey: &answer{"nps", "q", 9}}) // replaces s1
	l.add("s3", entry{typ: "track", event: "Survey Responded", userID: "u3", at: at("2026-11-02T10:00:00Z"), survey: &answer{"csat", "c", 4}})
	l.add("t1", entry{typ: "track", event: "Ticket Updated", userID: "u4", at: at("2026-11-02T10:00:00Z"), ticket: &ticketRef{"k1", at("2026-11-01T10:00:00Z")}})
	l.add("t2", entry{typ: "track", event: "Ticket Updated", userID: "u4", at: at("2026-11-02T12:00:00Z"), ticket: &ticketRef{"k1", at("2026-11-01T10:00:00Z")}})
	l.add("m5", entry{typ: "track", event: "Report Viewed", userID: "u1", anonymousID: "a1", at: at("2026-11-02T01:00:00Z")}) // resent
	r := rules{loc: time.UTC, sessionTimeout: 30 * time.Minute, activeEvents: map[string]bool{}, csatMin: 1, csatMax: 5}
	got := l.expect(r)
	want := map[kpi.Day]Counts{
		kpi.NewDay(2026, 11, 1): {DAU: 2, Sessions: 2, Tickets: 1},                                      // u1, u3; a1's session, u3's
		kpi.NewDay(2026, 11, 2): {DAU: 2, Sessions: 3, Promoters: 1, CSATResponses: 1, CSATPositive: 1}, // u1, u3; a1 after 50 min, v1, u3
	}
	for _, d := range []kpi.Day{kpi.NewDay(2026, 11, 1), kpi.NewDay(2026, 11, 2)} {
		if got[d] != want[d] {
			t.Errorf("%s: got %+v, want %+v", d, got[d], want[d])
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d days, want %d", len(got), len(want))
	}
	if n, d := l.Messages(), l.Deliveries(); n != 10 || d != 11 {
		t.Errorf("messages %d, deliveries %d, want 10 and 11", n, d)
	}
}

// TestWeights checks that the traffic mix and the message types are
// shares of 100.
func TestWeights(t *testing.T) {
	sum := 0
	for _, m := range mix {
		sum += m.weight
	}
	if sum != 100 {
		t.Errorf("mix weights add up to %d, want 100", sum)
	}
	sum = 0
	for _, st := range segmentTypes {
		sum += st.weight
	}
	if sum != 100 {
		t.Errorf("message type weights add up to %d, want 100", sum)
	}
	sum = 0
	for _, sv := range surveys {
		sum += sv.weight
	}
	if sum != 100 {
		t.Errorf("survey weights add up to %d, want 100", sum)
	}
}
