package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The data of TestSurveysTicketsSubscriptions: 60 days of a B2B tenant
// (from Monday 2026-08-03), about 60 accounts and 300 users, with
// subscription lifecycles, orders, onboarding, survey answers (track
// events and the signed survey webhook) and support tickets (the signed
// ticket webhook only, updates out of order and partly retried).

const (
	p2Seed = 20260803
	p2Days = 60
)

var p2Start = time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC)

// p2ConfigJSON is the tenant configuration the test puts first.
const p2ConfigJSON = `{"renewal_term_days":28,"business_hours":{"timezone":"UTC","week":{"mon":["09:00","17:00"],"tue":["09:00","17:00"],"wed":["09:00","17:00"],"thu":["09:00","17:00"],"fri":["09:00","17:00"]},"holidays":["2026-08-31"]}}`

// p2Resp is a survey answer as sent (before any replacement).
type p2Resp struct {
	typ, survey, respondent, msgID string
	at                             time.Time
	score                          float64
	channel, touchpoint, comment   string
}

// p2TicketUpdate is a ticket update as sent by the ticket tool.
type p2TicketUpdate struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"`
	Channel         string   `json:"channel,omitempty"`
	Priority        string   `json:"priority,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	Requester       string   `json:"requester,omitempty"`
	Account         string   `json:"account,omitempty"`
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
	FirstResponseAt *string  `json:"first_response_at,omitempty"`
	ResolvedAt      *string  `json:"resolved_at,omitempty"`
}

// p2SurveyHook is the generic survey webhook payload.
type p2SurveyHook struct {
	ID          string          `json:"id"`
	SurveyID    string          `json:"survey_id"`
	Type        string          `json:"type"`
	Score       json.RawMessage `json:"score"`
	Respondent  string          `json:"respondent"`
	SubmittedAt string          `json:"submitted_at"`
	UpdatedAt   string          `json:"updated_at,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	Touchpoint  string          `json:"touchpoint,omitempty"`
	Comment     string          `json:"comment,omitempty"`
}

// p2Sub is a subscription event (kind trial, paid, renewed, cancelled).
type p2Sub struct {
	acct   string
	at     time.Time
	kind   string
	amount float64
}

type p2Order struct {
	acct string
	at   time.Time
	rev  float64
}

type p2Data struct {
	msgs        []message
	surveyHooks [][]byte // in sending order, retries included
	ticketHooks [][]byte
	resps       []p2Resp
	updates     []p2TicketUpdate
	subs        []p2Sub
	orders      []p2Order
	accounts    []string
	users       int
	signup      map[string]time.Time // user -> Signed Up
	completed   map[string]time.Time // user -> Onboarding Completed
	userAcct    map[string]string
}

type p2Gen struct {
	r     *rand.Rand
	d     *p2Data
	n     int
	times map[time.Time]bool // instants already used by survey answers
}

func (g *p2Gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *p2Gen) nextID(prefix string) string {
	g.n++
	return fmt.Sprintf("%s-%05d", prefix, g.n)
}

// end is the end of the period: nothing happens at or after it.
var p2End = p2Start.AddDate(0, 0, p2Days)

func p2TS(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// at is a random instant of day d (whole seconds).
func (g *p2Gen) at(d int) time.Time {
	return p2Start.AddDate(0, 0, d).Add(time.Duration(g.r.IntN(86400)) * time.Second)
}

func (g *p2Gen) track(user string, t time.Time, event string, props map[string]any) {
	g.d.msgs = append(g.d.msgs, message{Type: "track", MessageID: g.nextID("m"), Timestamp: p2TS(t), UserID: user, Event: event, Properties: props})
}

func p2Generate(seed uint64) *p2Data {
	g := &p2Gen{r: rand.New(rand.NewPCG(seed, 7)), times: map[time.Time]bool{},
		d: &p2Data{signup: map[string]time.Time{}, completed: map[string]time.Time{}, userAcct: map[string]string{}}}
	type acctInfo struct {
		id    string
		users []string
		join  []time.Time
	}
	var allUsers []string
	var userJoin = map[string]time.Time{}
	plans := []string{"starter", "pro", "enterprise"}
	for a := 0; a < 60; a++ {
		ai := acctInfo{id: fmt.Sprintf("acct_%02d", a)}
		created := g.at(g.r.IntN(20))
		good := g.chance(0.5) // its users complete onboarding in time
		nUsers := 3 + g.r.IntN(5)
		for u := 0; u < nUsers; u++ {
			user := fmt.Sprintf("usr_%02d_%d", a, u)
			join := created
			if u > 0 {
				join = created.Add(time.Duration(g.r.IntN(30*86400)) * time.Second)
			}
			g.d.msgs = append(g.d.msgs, message{Type: "group", MessageID: g.nextID("g"), Timestamp: p2TS(join), UserID: user, GroupID: ai.id,
				Traits: map[string]any{"name": "Company " + ai.id}})
			g.d.userAcct[user] = ai.id
			userJoin[user] = join
			ai.users = append(ai.users, user)
			ai.join = append(ai.join, join)
			allUsers = append(allUsers, user)
			if u > 0 && g.chance(0.2) {
				continue // no signup event
			}
			su := join.Add(time.Duration(60+g.r.IntN(3000)) * time.Second)
			g.track(user, su, "Signed Up", nil)
			g.d.signup[user] = su
			var done time.Time
			switch {
			case good && (u == 0 || g.chance(0.4)):
				done = su.Add(time.Duration(g.r.IntN(5*86400)) * time.Second)
			case !good && g.chance(0.25):
				done = su.Add(31*24*time.Hour + time.Duration(g.r.IntN(5*86400))*time.Second) // too late
			}
			if !done.IsZero() && done.Before(p2End) {
				g.track(user, done, "Onboarding Completed", nil)
				g.d.completed[user] = done
			}
		}
		g.d.accounts = append(g.d.accounts, ai.id)

		// The subscription lifecycle, sent by the account's first user.
		owner := ai.users[0]
		sub := func(t time.Time, kind string, amount float64, plan string) bool {
			if !t.Before(p2End) {
				return false
			}
			name := map[string]string{"trial": "Trial Started", "paid": "Subscription Started", "renewed": "Subscription Renewed", "cancelled": "Subscription Cancelled"}[kind]
			props := map[string]any{}
			if amount > 0 {
				props["amount"] = amount
				props["currency"] = "USD"
			}
			if plan != "" {
				props["plan"] = plan
			}
			if len(props) == 0 {
				props = nil
			}
			g.track(owner, t, name, props)
			g.d.subs = append(g.d.subs, p2Sub{acct: ai.id, at: t, kind: kind, amount: amount})
			return true
		}
		t := created.Add(time.Duration(3600+g.r.IntN(86400)) * time.Second)
		amount := float64(1000 * (1 + g.r.IntN(12)))
		plan := plans[g.r.IntN(len(plans))]
		switch x := g.r.IntN(100); {
		case x < 35: // trial first
			if !sub(t, "trial", 0, "") {
				continue
			}
			switch y := g.r.IntN(100); {
			case y < 55:
				t = t.Add(time.Duration(3600+g.r.IntN(25*86400)) * time.Second)
			case y < 70:
				t = t.Add(time.Duration(31*86400+g.r.IntN(5*86400)) * time.Second) // converts too late
			default:
				continue // never pays
			}
		case x < 45:
			continue // never a customer
		}
		if !sub(t, "paid", amount, plan) {
			continue
		}
		since := t
		for {
			due := time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 28)
			if !due.Before(p2End) {
				break
			}
			y := g.r.IntN(100)
			if y < 60 { // renews on time, or a few days late
				rt := due.AddDate(0, 0, g.r.IntN(5)).Add(time.Duration(g.r.IntN(86400)) * time.Second)
				if g.r.IntN(4) == 0 {
					rt = due.Add(time.Duration(g.r.IntN(86400)) * time.Second)
				}
				a := amount
				if g.chance(0.3) {
					a = 0 // the amount carries over
				} else if g.chance(0.3) {
					amount += 500
					a = amount
				}
				if !sub(rt, "renewed", a, "") {
					break
				}
				since = rt
				continue
			}
			if y < 85 { // cancels before or at the due date, maybe starts again
				ct := since.Add(time.Duration(g.r.Int64N(int64(due.Sub(since)) + int64(24*time.Hour)))).Truncate(time.Second)
				if ct.Before(since.Add(time.Hour)) {
					ct = since.Add(time.Hour)
				}
				if !sub(ct, "cancelled", 0, "") {
					break
				}
				if g.chance(0.5) {
					st := ct.Add(time.Duration(2*86400+g.r.IntN(12*86400)) * time.Second)
					amount = float64(1000 * (1 + g.r.IntN(12)))
					if !sub(st, "paid", amount, plans[g.r.IntN(len(plans))]) {
						break
					}
					since = st
					continue
				}
				break
			}
			break // never renews nor cancels: stays a customer
		}
	}
	// Two fixed accounts whose second term is due on day 57 and 58: one
	// renews it a day late, the other never does (its first renewal, on
	// the first due date 28 days earlier, renews the first term, not the
	// second).
	for i, renewsAgain := range []bool{true, false} {
		acct, user := fmt.Sprintf("acct_fx_%d", i), fmt.Sprintf("usr_fx_%d", i)
		join := p2Start.AddDate(0, 0, 1+i).Add(8 * time.Hour)
		g.d.msgs = append(g.d.msgs, message{Type: "group", MessageID: g.nextID("g"), Timestamp: p2TS(join), UserID: user, GroupID: acct})
		g.d.userAcct[user], userJoin[user] = acct, join
		allUsers = append(allUsers, user)
		g.d.accounts = append(g.d.accounts, acct)
		evs := []p2Sub{{acct, join.Add(2 * time.Hour), "paid", 4000}, {acct, join.AddDate(0, 0, 28).Add(3 * time.Hour), "renewed", 4000}}
		if renewsAgain {
			evs = append(evs, p2Sub{acct, join.AddDate(0, 0, 57).Add(4 * time.Hour), "renewed", 4500})
		}
		for _, e := range evs {
			name := map[string]string{"paid": "Subscription Started", "renewed": "Subscription Renewed"}[e.kind]
			g.track(user, e.at, name, map[string]any{"amount": e.amount, "plan": "pro"})
			g.d.subs = append(g.d.subs, e)
		}
	}
	g.d.users = len(allUsers)

	// Orders.
	for i := 0; i < 420; i++ {
		user := allUsers[g.r.IntN(len(allUsers))]
		if g.chance(0.3) {
			user = allUsers[g.r.IntN(len(allUsers)/4)] // frequent buyers
		}
		j := userJoin[user]
		t := j.Add(time.Duration(g.r.Int64N(int64(p2End.Sub(j)))))
		t = t.Truncate(time.Second)
		rev := float64(500+g.r.IntN(50000)) / 100
		props := map[string]any{"revenue": rev, "order_id": g.nextID("o")}
		if g.chance(0.2) {
			props = map[string]any{"total": rev, "order_id": g.nextID("o")}
		}
		g.track(user, t, "Order Completed", props)
		g.d.orders = append(g.d.orders, p2Order{acct: g.d.userAcct[user], at: t, rev: rev})
	}

	g.surveys(allUsers, userJoin)
	g.tickets(allUsers, userJoin)
	return g.d
}

// surveyAt is a random instant after join, unique among survey answers.
func (g *p2Gen) surveyAt(after time.Time) time.Time {
	for {
		t := after.Add(time.Duration(g.r.Int64N(int64(p2End.Sub(after))))).Truncate(time.Second)
		if !g.times[t] && t.After(after) {
			g.times[t] = true
			return t
		}
	}
}

func (g *p2Gen) surveys(users []string, join map[string]time.Time) {
	type kind struct {
		typ     string
		surveys []string
		lo, hi  int
	}
	kinds := []kind{
		{"nps", []string{"nps-relationship", "nps-onboarding"}, 0, 10},
		{"csat", []string{"csat-support", "csat-billing"}, 1, 5},
		{"ces", []string{"ces-setup"}, 1, 5},
	}
	channels := []string{"email", "in-app", "web", "sms", ""}
	touchpoints := []string{"onboarding", "billing", "support", "integration", ""}
	comments := []string{"", "", "", "too slow", "great support", "confusing setup", "pricing is high", "love it"}
	score := func(k kind) float64 {
		if k.typ == "nps" {
			// skewed: more promoters than detractors
			w := []int{2, 1, 1, 2, 2, 3, 4, 8, 10, 12, 10}
			x := g.r.IntN(55)
			for s, ws := range w {
				if x < ws {
					return float64(s)
				}
				x -= ws
			}
			return 10
		}
		return float64(k.lo + g.r.IntN(k.hi-k.lo+1))
	}
	mk := func(k kind, survey, user string, t time.Time) p2Resp {
		return p2Resp{typ: k.typ, survey: survey, respondent: user, at: t, score: score(k),
			channel: channels[g.r.IntN(len(channels))], touchpoint: touchpoints[g.r.IntN(len(touchpoints))], comment: comments[g.r.IntN(len(comments))]}
	}
	sendTrack := func(r *p2Resp) {
		r.msgID = g.nextID("s")
		props := map[string]any{"survey_type": r.typ, "survey_id": r.survey, "score": r.score}
		if g.chance(0.1) {
			props["score"] = strconv.FormatFloat(r.score, 'f', -1, 64) // some tools send "9"
		}
		if g.chance(0.1) {
			props["survey_type"] = strings.ToUpper(r.typ)
		}
		for k, v := range map[string]string{"channel": r.channel, "touchpoint": r.touchpoint, "comment": r.comment} {
			if v != "" {
				props[k] = v
			}
		}
		g.d.msgs = append(g.d.msgs, message{Type: "track", MessageID: r.msgID, Timestamp: p2TS(r.at), UserID: r.respondent, Event: "Survey Responded", Properties: props})
		g.d.resps = append(g.d.resps, *r)
	}
	sendHook := func(r *p2Resp, id string, submitted time.Time) {
		h := p2SurveyHook{ID: id, SurveyID: r.survey, Type: r.typ, Score: json.RawMessage(strconv.FormatFloat(r.score, 'f', -1, 64)), Respondent: r.respondent,
			SubmittedAt: p2TS(submitted), Channel: r.channel, Touchpoint: r.touchpoint, Comment: r.comment}
		if !submitted.Equal(r.at) {
			h.UpdatedAt = p2TS(r.at)
		}
		r.msgID = "survey:" + id + ":" + p2TS(r.at)
		b, err := json.Marshal(h)
		if err != nil {
			panic(err)
		}
		g.d.surveyHooks = append(g.d.surveyHooks, b)
		if g.chance(0.15) {
			g.d.surveyHooks = append(g.d.surveyHooks, b) // retried delivery
		}
		g.d.resps = append(g.d.resps, *r)
	}
	for _, user := range users {
		for _, k := range kinds {
			for _, survey := range k.surveys {
				if !g.chance(0.5) {
					continue
				}
				r := mk(k, survey, user, g.surveyAt(join[user]))
				if g.chance(0.15) {
					id := g.nextID("resp")
					submitted := r.at
					sendHook(&r, id, submitted)
					if g.chance(0.25) { // re-scored in the tool
						r2 := r
						r2.at = g.surveyAt(r.at)
						r2.score = score(k)
						sendHook(&r2, id, submitted)
					}
					continue
				}
				sendTrack(&r)
				if g.chance(0.12) { // answers again later: the latest wins
					r2 := mk(k, survey, user, g.surveyAt(r.at))
					sendTrack(&r2)
				}
			}
		}
	}
	g.r.Shuffle(len(g.d.surveyHooks), func(i, j int) { g.d.surveyHooks[i], g.d.surveyHooks[j] = g.d.surveyHooks[j], g.d.surveyHooks[i] })
}

func (g *p2Gen) tickets(users []string, join map[string]time.Time) {
	channels := []string{"email", "chat", "phone", "web", "social"}
	priorities := []string{"low", "normal", "normal", "high", "urgent"}
	tagPool := []string{"onboarding", "billing", "bug", "how-to", "escalated"}
	pool := users[:70] // requesters: few enough to contact again
	var updates []p2TicketUpdate
	for i := 0; i < 170; i++ {
		user := pool[g.r.IntN(len(pool))]
		created := join[user].Add(time.Duration(g.r.Int64N(int64(p2End.Sub(join[user]))))).Truncate(time.Second)
		if created.After(p2End.Add(-6 * time.Hour)) {
			created = created.Add(-6 * time.Hour)
		}
		id := fmt.Sprintf("TK-%04d", i)
		ch := channels[g.r.IntN(len(channels))]
		if g.chance(0.1) {
			ch = strings.ToUpper(ch[:1]) + ch[1:]
		}
		prio := priorities[g.r.IntN(len(priorities))]
		var tags []string
		for _, tg := range tagPool {
			if g.chance(0.2) {
				tags = append(tags, tg)
			}
		}
		base := p2TicketUpdate{ID: id, Channel: ch, Priority: prio, Tags: tags, Requester: user, Account: g.d.userAcct[user], CreatedAt: p2TS(created)}
		var seq []p2TicketUpdate
		add := func(t time.Time, status string, first, resolved *time.Time) bool {
			if !t.Before(p2End) {
				return false
			}
			u := base
			u.Tags = slices.Clone(base.Tags)
			u.Status, u.UpdatedAt = status, p2TS(t)
			if first != nil {
				s := p2TS(*first)
				u.FirstResponseAt = &s
			}
			if resolved != nil {
				s := p2TS(*resolved)
				u.ResolvedAt = &s
			}
			seq = append(seq, u)
			return true
		}
		add(created, "new", nil, nil)
		t := created
		var first *time.Time
		if g.chance(0.85) {
			var d time.Duration
			switch x := g.r.IntN(10); {
			case x < 5:
				d = time.Duration(60+g.r.IntN(3600)) * time.Second
			case x < 8:
				d = time.Duration(3600+g.r.IntN(8*3600)) * time.Second
			default:
				d = time.Duration(8*3600+g.r.IntN(3*86400)) * time.Second
			}
			f := created.Add(d)
			if !add(f, "open", &f, nil) {
				goto done
			}
			first, t = &f, f
		}
		if g.chance(0.25) { // escalated later
			t = t.Add(time.Duration(600+g.r.IntN(4*3600)) * time.Second)
			if g.chance(0.5) {
				base.Priority = "urgent"
			} else if !slices.Contains(base.Tags, "escalated") {
				base.Tags = append(slices.Clone(base.Tags), "escalated")
			}
			if !add(t, "pending", first, nil) {
				goto done
			}
		}
		if first != nil && g.chance(0.8) {
			t = t.Add(time.Duration(1800+g.r.IntN(4*86400)) * time.Second)
			res := t
			if g.chance(0.3) {
				res = t.Add(-time.Duration(g.r.IntN(1800)) * time.Second)
			}
			var rp *time.Time
			if g.chance(0.7) {
				rp = &res
			} else {
				res = t
			}
			if !add(t, "solved", first, rp) {
				goto done
			}
			if g.chance(0.15) { // reopened
				t = t.Add(time.Duration(3600+g.r.IntN(2*86400)) * time.Second)
				if !add(t, "open", first, nil) {
					goto done
				}
				if g.chance(0.5) {
					t = t.Add(time.Duration(3600+g.r.IntN(86400)) * time.Second)
					if !add(t, "closed", first, &t) {
						goto done
					}
				}
			}
		}
	done:
		updates = append(updates, seq...)
	}
	g.d.updates = updates
	for _, u := range updates {
		b, err := json.Marshal(u)
		if err != nil {
			panic(err)
		}
		g.d.ticketHooks = append(g.d.ticketHooks, b)
		if g.chance(0.1) {
			g.d.ticketHooks = append(g.d.ticketHooks, b) // retried delivery
		}
	}
	g.r.Shuffle(len(g.d.ticketHooks), func(i, j int) { g.d.ticketHooks[i], g.d.ticketHooks[j] = g.d.ticketHooks[j], g.d.ticketHooks[i] })
}
