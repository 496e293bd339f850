package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// message is one Segment message, as sent.
type message = map[string]any

// workload is a tenant's traffic: Segment messages in request-sized
// batches, some sent twice (within a batch and across batches).
type workload struct {
	name     string
	from, to string // the UTC days the events fall on
	batches  [][]message
	messages int // messages sent, repeats included
	distinct int // distinct messageIds
}

// workloadSize says how much traffic to generate.
type workloadSize struct {
	users, visitors, days int
}

// small is the workload of the cases that run in plain `go test`; large,
// of `make chaos`.
var (
	small = workloadSize{users: 16, visitors: 10, days: 5}
	large = workloadSize{users: 60, visitors: 40, days: 12}
)

// start is the first day of every workload: in the past, so that the
// aggregation takes it.
var start = time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)

// generate returns seeded traffic that feeds the usage, onboarding,
// survey and revenue KPIs: anonymous visitors from campaigns, users who
// sign up, go through onboarding, use features, answer NPS and CSAT
// surveys (some twice, the later answer replacing the earlier), join
// accounts, start trials, subscribe and order.
func generate(name string, seed uint64, size workloadSize) workload {
	r := rand.New(rand.NewPCG(seed, 7))
	g := &generator{r: r, seed: seed}
	sources := []string{"google", "newsletter", "twitter", ""}
	paths := []string{"/", "/pricing", "/docs", "/blog/launch", "/features", "/app/dashboard", "/app/reports"}
	session := func(anon, user string, at time.Time, pages int) time.Time {
		src := sources[r.IntN(len(sources))]
		for range pages {
			path := paths[r.IntN(len(paths))]
			ctx := map[string]any{"page": map[string]any{"path": path, "url": "https://app.example.com" + path}}
			if src != "" {
				ctx["campaign"] = map[string]any{"source": src, "medium": "cpc", "name": "autumn"}
			}
			m := message{"type": "page", "anonymousId": anon, "name": path, "timestamp": at,
				"properties": map[string]any{"path": path}, "context": ctx}
			if user != "" {
				m["userId"] = user
			}
			g.add(m)
			at = at.Add(time.Duration(1+r.IntN(6)) * time.Minute)
		}
		return at
	}
	day := func(d int) time.Time {
		return start.AddDate(0, 0, d).Add(time.Duration(7*60+r.IntN(12*60)) * time.Minute)
	}
	for v := range size.visitors {
		session(fmt.Sprintf("visitor-%d", v), "", day(r.IntN(size.days)), 1+r.IntN(4))
	}
	steps := []string{"Profile", "Invite", "Integrate"}
	features := []string{"reports", "exports", "alerts"}
	for u := range size.users {
		user, anon := fmt.Sprintf("user-%d", u), fmt.Sprintf("anon-%d", u)
		account := fmt.Sprintf("acct-%d", u%(size.users/3+1))
		signup := r.IntN(size.days / 2)
		at := session(anon, "", day(signup), 2+r.IntN(3))
		g.add(message{"type": "track", "event": "Signed Up", "anonymousId": anon, "userId": user, "timestamp": at})
		g.add(message{"type": "identify", "userId": user, "timestamp": at.Add(time.Second),
			"traits": map[string]any{"plan": []string{"free", "pro"}[r.IntN(2)], "role": "admin"}})
		g.add(message{"type": "group", "userId": user, "groupId": account, "timestamp": at.Add(2 * time.Second),
			"traits": map[string]any{"company_size": []string{"1-10", "11-50"}[u%2]}})
		if r.IntN(2) == 0 {
			g.add(message{"type": "track", "event": "Trial Started", "userId": user, "timestamp": at.Add(3 * time.Second)})
		}
		done := 0
		for d := signup; d < size.days; d++ {
			if d > signup && r.IntN(3) == 0 {
				continue // not active that day
			}
			at := day(d)
			for range 1 + r.IntN(2) {
				at = session(anon, user, at, 2+r.IntN(4))
				g.add(message{"type": "track", "event": "Feature Used", "userId": user, "timestamp": at,
					"properties": map[string]any{"feature": features[r.IntN(len(features))]}})
				at = at.Add(time.Duration(40+r.IntN(120)) * time.Minute)
			}
			if done < len(steps) && r.IntN(3) > 0 {
				g.add(message{"type": "track", "event": "Onboarding Step Completed", "userId": user, "timestamp": at,
					"properties": map[string]any{"step": steps[done]}})
				done++
				if done == len(steps) {
					g.add(message{"type": "track", "event": "Onboarding Completed", "userId": user, "timestamp": at.Add(time.Minute)})
					g.add(message{"type": "track", "event": "First Value Reached", "userId": user, "timestamp": at.Add(2 * time.Minute)})
				}
			}
			switch r.IntN(8) {
			case 0, 1:
				g.add(message{"type": "track", "event": "Survey Responded", "userId": user, "timestamp": at.Add(3 * time.Minute),
					"properties": map[string]any{"survey_type": "nps", "survey_id": "q4", "score": r.IntN(11), "channel": "in-app"}})
			case 2:
				g.add(message{"type": "track", "event": "Survey Responded", "userId": user, "timestamp": at.Add(3 * time.Minute),
					"properties": map[string]any{"survey_type": "csat", "survey_id": "support", "score": 1 + r.IntN(5)}})
			case 3:
				if d > signup {
					g.add(message{"type": "track", "event": "Subscription Started", "userId": user, "timestamp": at.Add(4 * time.Minute),
						"properties": map[string]any{"plan": "pro", "amount": 1200 + 100*r.IntN(10)}})
				}
			case 4:
				g.add(message{"type": "track", "event": "Order Completed", "userId": user, "timestamp": at.Add(5 * time.Minute),
					"properties": map[string]any{"revenue": 20 + r.IntN(200)}})
			}
		}
	}
	return g.workload(name, size.days)
}

// generator numbers messages and lays them out in batches.
type generator struct {
	r    *rand.Rand
	seed uint64
	msgs []message
}

func (g *generator) add(m message) {
	m["messageId"] = fmt.Sprintf("m-%d-%05d", g.seed, len(g.msgs))
	m["timestamp"] = m["timestamp"].(time.Time).UTC().Format(time.RFC3339)
	g.msgs = append(g.msgs, m)
}

// workload shuffles the messages, sends one in twenty twice (half of them
// in the same batch, half in a later one) and cuts batches of 10 to 60.
func (g *generator) workload(name string, days int) workload {
	w := workload{name: name, from: start.Format(time.DateOnly), to: start.AddDate(0, 0, days-1).Format(time.DateOnly), distinct: len(g.msgs)}
	msgs := append([]message(nil), g.msgs...)
	g.r.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	var later []message
	for len(msgs) > 0 {
		n := min(len(msgs), 10+g.r.IntN(51))
		batch := append([]message(nil), msgs[:n]...)
		msgs = msgs[n:]
		for _, m := range batch[:n] {
			switch g.r.IntN(40) {
			case 0:
				batch = append(batch, m)
			case 1:
				later = append(later, m)
			}
		}
		if len(later) > 0 && g.r.IntN(3) == 0 {
			batch = append(batch, later...)
			later = nil
		}
		w.batches = append(w.batches, batch)
	}
	if len(later) > 0 {
		w.batches = append(w.batches, later)
	}
	for _, b := range w.batches {
		w.messages += len(b)
	}
	return w
}
