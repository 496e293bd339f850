package nightly

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/webhook"
)

// The workload: a week of a small B2B tenant (from Thursday 2026-10-01),
// deterministic from a seed. Users sign up, walk the onboarding steps,
// come back in sessions of a few pages, use features, answer surveys
// (some again later) and open tickets whose updates arrive through the
// generic ticket webhook's normalisation. A part of it arrives late, after
// the first nightly run: earlier visits that move users' first active
// days, re-answered surveys, ticket updates, a plan change; those make the
// run re-run days, which is where a killed run can lose something.

const (
	seed     = 20261001
	nDays    = 7
	tenantID = "demo"
)

var (
	day0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	// clockBase is the stacks' clock at the start: just after midnight
	// of the day after the workload, when the nightly run runs.
	clockBase = day0.AddDate(0, 0, nDays).Add(15 * time.Minute)
)

// steps are the tenant's onboarding steps.
var steps = []string{"profile", "invite", "integrate"}

func tenantConfig() kpi.Config {
	cfg := kpi.DefaultConfig()
	cfg.OnboardingSteps = steps
	cfg.ValueEvents = []string{"Report Created"}
	cfg.RenewalTermDays = 28
	return cfg
}

// workload is what the tests send: bulk first, late after a first run.
type workload struct {
	bulk, late []json.RawMessage
	// lateDays are the UTC days the late messages fall on.
	lateDays map[kpi.Day]bool
	users    int
	tickets  int
	answers  int
}

func (w *workload) all() []json.RawMessage {
	out := append([]json.RawMessage{}, w.bulk...)
	return append(out, w.late...)
}

type gen struct {
	r    *rand.Rand
	w    *workload
	n    int
	late bool // messages go to w.late
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// at is day d at hour h plus up to spread of random seconds.
func (g *gen) at(d, h int, spread time.Duration) time.Time {
	t := day0.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
	if spread > 0 {
		t = t.Add(time.Duration(g.r.Int64N(int64(spread/time.Second))) * time.Second)
	}
	return t
}

func (g *gen) add(m map[string]any) {
	g.n++
	if _, ok := m["messageId"]; !ok {
		m["messageId"] = fmt.Sprintf("m-%05d", g.n)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	if g.late {
		g.w.late = append(g.w.late, b)
		ts, _ := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
		g.w.lateDays[kpi.DayOf(ts, time.UTC)] = true
	} else {
		g.w.bulk = append(g.w.bulk, b)
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (g *gen) track(user string, t time.Time, name string, props map[string]any) {
	m := map[string]any{"type": "track", "event": name, "userId": user, "timestamp": ts(t)}
	if props != nil {
		m["properties"] = props
	}
	g.add(m)
}

var pages = []string{"/dashboard", "/reports", "/settings", "/team", "/billing", "/integrations"}

// session is a visit of 2–4 pages a few minutes apart, maybe with a
// feature used.
func (g *gen) session(user string, start time.Time) {
	t := start
	for range 2 + g.r.IntN(3) {
		g.add(map[string]any{"type": "page", "userId": user, "timestamp": ts(t),
			"properties": map[string]any{"path": pages[g.r.IntN(len(pages))]}})
		t = t.Add(time.Duration(30+g.r.IntN(400)) * time.Second)
	}
	if g.chance(0.5) {
		g.track(user, t, "Feature Used", map[string]any{"feature": []string{"reports", "export", "alerts"}[g.r.IntN(3)]})
	}
}

// answer is a survey answer as a track event.
func (g *gen) answer(user string, t time.Time, typ, survey string, score int) {
	g.w.answers++
	g.track(user, t, "Survey Responded", map[string]any{"survey_type": typ, "survey_id": survey, "score": score,
		"channel": []string{"email", "in-app"}[g.r.IntN(2)]})
}

// ticketUpdate is a generic ticket webhook body, normalised as the
// webhook does.
func (g *gen) ticketUpdate(tk webhook.Ticket) {
	body, err := json.Marshal(tk)
	if err != nil {
		panic(err)
	}
	msg, err := webhook.TicketMessage(body)
	if err != nil {
		panic(fmt.Sprintf("ticket %s: %v", body, err))
	}
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		panic(err)
	}
	g.add(m)
}

func generate(seed uint64) *workload {
	w := &workload{lateDays: map[kpi.Day]bool{}}
	g := &gen{r: rand.New(rand.NewPCG(seed, 11)), w: w}
	const users = 18
	w.users = users
	join := make([]int, users)
	for i := range users {
		u := fmt.Sprintf("u%02d", i)
		acct := fmt.Sprintf("acct_%d", i%5)
		j := g.r.IntN(4)
		join[i] = j
		t := g.at(j, 8, 6*time.Hour)
		g.add(map[string]any{"type": "identify", "userId": u, "timestamp": ts(t),
			"traits": map[string]any{"plan": []string{"starter", "pro"}[g.r.IntN(2)]}})
		g.add(map[string]any{"type": "group", "userId": u, "groupId": acct, "timestamp": ts(t.Add(time.Second))})
		g.track(u, t.Add(time.Minute), "Signed Up", nil)
		g.session(u, t.Add(2*time.Minute))
		// Onboarding: each step a little later, some stop on the way.
		st := t.Add(10 * time.Minute)
		for k, name := range steps {
			if k > 0 && !g.chance(0.7) {
				break
			}
			st = st.Add(time.Duration(g.r.IntN(30*3600)) * time.Second)
			if st.After(day0.AddDate(0, 0, nDays)) {
				break
			}
			g.track(u, st, "Onboarding Step Completed", map[string]any{"step": name})
			if k == len(steps)-1 {
				g.track(u, st.Add(time.Minute), "Onboarding Completed", nil)
			}
		}
		if g.chance(0.6) {
			g.track(u, g.at(j+1, 10, 6*time.Hour), "Report Created", nil)
		}
		for d := j + 1; d < nDays; d++ {
			if g.chance(0.55) {
				g.session(u, g.at(d, 9, 8*time.Hour))
			}
		}
		if i < 5 { // each account's first user subscribes it
			g.track(u, t.Add(time.Hour), "Subscription Started", map[string]any{"amount": 1000 * (1 + i), "plan": "pro"})
			if i == 3 {
				g.track(u, g.at(5, 11, time.Hour), "Subscription Cancelled", nil)
			}
		}
		if g.chance(0.3) {
			g.track(u, g.at(j+g.r.IntN(nDays-j), 12, 4*time.Hour), "Order Completed", map[string]any{"revenue": 20 + g.r.IntN(200)})
		}
		if g.chance(0.6) {
			g.answer(u, g.at(j+g.r.IntN(nDays-j), 13, 4*time.Hour), "nps", "nps-q4", g.r.IntN(11))
		}
		if g.chance(0.4) {
			g.answer(u, g.at(j+g.r.IntN(nDays-j), 14, 4*time.Hour), "csat", "csat-support", 1+g.r.IntN(5))
		}
		if g.chance(0.3) {
			g.answer(u, g.at(j+g.r.IntN(nDays-j), 15, 4*time.Hour), "ces", "ces-setup", 1+g.r.IntN(5))
		}
	}
	// Anonymous visitors, two of whom convert.
	for v := range 6 {
		a := fmt.Sprintf("anon-%d", v)
		d := g.r.IntN(nDays)
		t := g.at(d, 7, 10*time.Hour)
		for k := range 3 {
			g.add(map[string]any{"type": "page", "anonymousId": a, "timestamp": ts(t.Add(time.Duration(k) * time.Minute)),
				"properties": map[string]any{"path": "/pricing", "referrer": "https://www.google.com/"}})
		}
	}
	// Tickets, with their updates; some are closed late.
	var lateTickets []webhook.Ticket
	for k := range 10 {
		w.tickets++
		u := fmt.Sprintf("u%02d", g.r.IntN(users))
		created := g.at(g.r.IntN(nDays-2), 9, 8*time.Hour)
		base := webhook.Ticket{ID: fmt.Sprintf("TK-%02d", k), Channel: []string{"email", "chat"}[g.r.IntN(2)],
			Priority: []string{"normal", "high", "urgent"}[g.r.IntN(3)], Requester: u, CreatedAt: ts(created)}
		if g.chance(0.4) {
			base.Tags = []string{"billing"}
		}
		upd := func(t time.Time, status string, first, resolved *time.Time) webhook.Ticket {
			tk := base
			tk.Status, tk.UpdatedAt = status, ts(t)
			if first != nil {
				s := ts(*first)
				tk.FirstResponseAt = &s
			}
			if resolved != nil {
				s := ts(*resolved)
				tk.ResolvedAt = &s
			}
			return tk
		}
		seq := []webhook.Ticket{upd(created, "new", nil, nil)}
		first := created.Add(time.Duration(600+g.r.IntN(6*3600)) * time.Second)
		seq = append(seq, upd(first, "open", &first, nil))
		if g.chance(0.8) {
			res := first.Add(time.Duration(1800+g.r.IntN(20*3600)) * time.Second)
			seq = append(seq, upd(res, "solved", &first, &res))
			if g.chance(0.3) {
				re := res.Add(time.Duration(3600+g.r.IntN(8*3600)) * time.Second)
				seq = append(seq, upd(re, "open", &first, nil))
			}
		}
		if k%3 == 0 && seq[len(seq)-1].Status != "solved" {
			lateTickets = append(lateTickets, seq[len(seq)-1])
		}
		for _, tk := range seq {
			g.ticketUpdate(tk)
		}
	}

	// The late part, on the first and the last day only, so that the
	// nightly run reaches the days in between through the re-runs that
	// its writes call for (and a killed run could lose).
	g.late = true
	for i := range users {
		u := fmt.Sprintf("u%02d", i)
		switch {
		case join[i] >= 2 && i%3 == 0:
			// An earlier visit: the user's first active day moves from
			// the join day to the first.
			g.session(u, g.at(0, 18, 2*time.Hour))
		case i%4 == 1:
			// Answers again: the latest answer wins, the earlier day
			// stops counting the old one.
			g.answer(u, g.at(nDays-1, 20, 2*time.Hour), "nps", "nps-q4", g.r.IntN(11))
		case join[i] == 0 && i%5 == 2:
			// A plan change on the first day: later days' segments move.
			g.add(map[string]any{"type": "identify", "userId": u, "timestamp": ts(g.at(0, 16, time.Hour)),
				"traits": map[string]any{"plan": "enterprise"}})
		}
	}
	// Tickets of the first days closed on the last.
	for _, tk := range lateTickets {
		tk.Status, tk.UpdatedAt = "closed", ts(g.at(nDays-1, 10, time.Hour))
		tk.ResolvedAt = &tk.UpdatedAt
		g.ticketUpdate(tk)
	}
	// A user who arrives late altogether: a signup (written to the
	// cohort index after the first day is set) and a new ticket (written
	// to the created-day index with its state).
	{
		u, t := "u-late", g.at(nDays-1, 8, 2*time.Hour)
		g.add(map[string]any{"type": "identify", "userId": u, "timestamp": ts(t), "traits": map[string]any{"plan": "pro"}})
		g.add(map[string]any{"type": "group", "userId": u, "groupId": "acct_1", "timestamp": ts(t.Add(time.Second))})
		g.track(u, t.Add(time.Minute), "Signed Up", nil)
		g.session(u, t.Add(2*time.Minute))
		g.track(u, t.Add(20*time.Minute), "Onboarding Step Completed", map[string]any{"step": steps[0]})
		created := t.Add(time.Hour)
		first := created.Add(40 * time.Minute)
		tk := webhook.Ticket{ID: "TK-late", Channel: "chat", Priority: "high", Requester: u, CreatedAt: ts(created), UpdatedAt: ts(created), Status: "new"}
		g.ticketUpdate(tk)
		fs := ts(first)
		tk.Status, tk.UpdatedAt, tk.FirstResponseAt = "open", fs, &fs
		g.ticketUpdate(tk)
		w.tickets++
	}
	return w
}
