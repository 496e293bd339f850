package nightly

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// The webhook workload: a week of survey answers and ticket updates as
// the tools send them, each delivery signed the tool's way. Survey
// answers come through the generic survey webhook, Typeform, Delighted
// and Help Scout's ratings; tickets through the generic ticket webhook,
// Zendesk's event webhooks and Help Scout's conversation events, each
// ticket in several updates (new, open with the first response, solved,
// reopened, solved again). Some respondents answer a survey twice or
// re-score an answer: the later answer replaces the earlier.

// delivery is one webhook request as a tool sends it, before signing.
type delivery struct {
	provider string
	// at is when the change happened: the in-order stack gets the
	// deliveries by at, then in the order they were made.
	at   time.Time
	what string // for messages: "zendesk ticket 5100 ticket.status_changed"
	// update names the change a ticket delivery tells of (a tool sends
	// some changes as several events); "" for survey answers.
	update string
	body   []byte
	header map[string]string // headers besides the signature
}

// hookSecrets are the signing secrets set for the providers.
var hookSecrets = map[string]tenant.Secret{
	"survey":    "chaos-survey-secret",
	"ticket":    "chaos-ticket-secret",
	"typeform":  "chaos-typeform-secret",
	"delighted": "chaos-delighted-secret",
	"zendesk":   "chaos-zendesk-secret",
	"helpscout": "chaos-helpscout-secret",
}

// hookMappings are the providers' mappings: Typeform's rating question
// is CSAT; Zendesk's and Help Scout's people are the tenant's users.
func hookMappings() map[string]webhook.Mapping {
	zendeskUsers, helpScoutUsers := map[string]string{}, map[string]string{}
	for i := range hookUsers {
		zendeskUsers[zendeskPerson(i)] = hookUser(i)
		helpScoutUsers[hookEmail(i)] = hookUser(i)
	}
	return map[string]webhook.Mapping{
		"survey":    {},
		"ticket":    {},
		"typeform":  {Questions: map[string]webhook.Question{"support": {Type: "csat", ScaleMin: 1, ScaleMax: 5}}},
		"delighted": {},
		"zendesk":   {Users: zendeskUsers},
		"helpscout": {Users: helpScoutUsers, Channel: "support"},
	}
}

const hookUsers = 10

func hookUser(i int) string      { return fmt.Sprintf("u%02d", i) }
func hookEmail(i int) string     { return fmt.Sprintf("user%02d@customer.example", i) }
func zendeskPerson(i int) string { return fmt.Sprintf("%d", 9000+i) }

// sign returns the headers of attempt k of d (0 the first delivery):
// each attempt signed anew, a minute and a half apart, all within the
// tolerance of the stacks' clock at clockBase.
func (d delivery) sign(k int) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	for name, v := range d.header {
		h[name] = v
	}
	secret := []byte(hookSecrets[d.provider])
	signedAt := clockBase.Add(-time.Duration(k) * 90 * time.Second)
	hmacOf := func(useSHA1 bool, parts ...[]byte) []byte {
		m := hmac.New(sha256.New, secret)
		if useSHA1 { // Help Scout
			m = hmac.New(sha1.New, secret)
		}
		for _, p := range parts {
			m.Write(p)
		}
		return m.Sum(nil)
	}
	switch d.provider {
	case "survey", "ticket":
		h[webhook.SignatureHeader] = webhook.Sign(tenant.Secret(secret), d.body, signedAt)
	case "typeform":
		h[webhook.TypeformSignatureHeader] = "sha256=" + base64.StdEncoding.EncodeToString(hmacOf(false, d.body))
	case "delighted":
		h[webhook.DelightedSignatureHeader] = "sha256=" + hex.EncodeToString(hmacOf(false, d.body))
	case "zendesk":
		ts := signedAt.UTC().Format(time.RFC3339)
		h[webhook.ZendeskTimestampHeader] = ts
		h[webhook.ZendeskSignatureHeader] = base64.StdEncoding.EncodeToString(hmacOf(false, []byte(ts), d.body))
	case "helpscout":
		h[webhook.HelpScoutSignatureHeader] = base64.StdEncoding.EncodeToString(hmacOf(true, d.body))
	default:
		panic("no signature for " + d.provider)
	}
	return h
}

// hookWorkload is the deliveries, in the order they were made, and what
// they hold.
type hookWorkload struct {
	deliveries []delivery
	tickets    int // tickets, each with several updates
	resolved   int // tickets whose last update is solved
	answers    int // survey answers, re-scores and second answers included
	replaced   int // answers a later one replaces
}

// inOrder returns the deliveries by time, ties in the order made.
func (w *hookWorkload) inOrder() []delivery {
	out := slices.Clone(w.deliveries)
	slices.SortStableFunc(out, func(a, b delivery) int { return a.at.Compare(b.at) })
	return out
}

// redelivered returns every delivery n times in a random order:
// retries interleaved with other tickets' and respondents' updates. The
// order is the first shuffle, from seed on, in which some change told
// by several events first arrives by another event than in time order
// (Zendesk's comment and status change of one update), so that a run
// of the short suite tries that too; reversed counts such changes.
func (w *hookWorkload) redelivered(n int, seed uint64) (out []attempt, reversed int) {
	// first is each multi-event change's first event in time order.
	first := map[string]string{}
	events := map[string]int{}
	for _, d := range w.inOrder() {
		if d.update == "" {
			continue
		}
		if events[d.update]++; events[d.update] == 1 {
			first[d.update] = d.what
		}
	}
	for try := range uint64(100) {
		out = out[:0]
		for _, d := range w.deliveries {
			for k := range n {
				out = append(out, attempt{d, k})
			}
		}
		r := rand.New(rand.NewPCG(seed+try, 3))
		r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		seen := map[string]bool{}
		reversed = 0
		for _, a := range out {
			if a.update == "" || events[a.update] < 2 || seen[a.update] {
				continue
			}
			seen[a.update] = true
			if a.what != first[a.update] {
				reversed++
			}
		}
		if reversed > 0 {
			return out, reversed
		}
	}
	panic("no shuffle reverses the events of a change")
}

// attempt is attempt k of a delivery.
type attempt struct {
	delivery
	k int
}

type hookGen struct {
	r *rand.Rand
	w *hookWorkload
}

func (g *hookGen) add(provider string, at time.Time, what string, body any, header map[string]string) {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	g.w.deliveries = append(g.w.deliveries, delivery{provider: provider, at: at, what: provider + " " + what, body: b, header: header})
}

// addTicket adds a delivery that tells of a change of ticket id.
func (g *hookGen) addTicket(provider, id string, at time.Time, what string, body any, header map[string]string) {
	g.add(provider, at, what, body, header)
	g.w.deliveries[len(g.w.deliveries)-1].update = provider + " " + id + " " + rfc(at)
}

// at is day d at hour h plus up to spread.
func (g *hookGen) at(d, h int, spread time.Duration) time.Time {
	return day0.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(g.r.Int64N(int64(spread/time.Second)))*time.Second)
}

// after is t plus lo to hi hours, at a whole second.
func (g *hookGen) after(t time.Time, lo, hi float64) time.Time {
	return t.Add(time.Duration(lo*3600+g.r.Float64()*(hi-lo)*3600) * time.Second)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ticketLife is a ticket's updates: new at created, open with the first
// response, then maybe solved, reopened and solved again; updates after
// the week's end are not made yet.
type ticketLife struct {
	created, first time.Time
	steps          []string // new, open, solved, reopened, solved
	stepAt         []time.Time
}

func (g *hookGen) life() (l ticketLife) {
	g.w.tickets++
	defer func() {
		if l.steps[len(l.steps)-1] == "solved" {
			g.w.resolved++
		}
	}()
	end := day0.AddDate(0, 0, nDays)
	l.created = g.at(g.r.IntN(nDays-2), 8, 8*time.Hour)
	l.first = g.after(l.created, 0.2, 6)
	l.steps, l.stepAt = []string{"new", "open"}, []time.Time{l.created, l.first}
	t := l.first
	// Most tickets are solved, reopened and solved again; some are
	// solved once, a few still open.
	rounds := []int{0, 1, 1, 2, 2, 2, 2}[g.r.IntN(7)]
	for k := range rounds {
		if k > 0 {
			if t = g.after(t, 1, 8); !t.Before(end) {
				break
			}
			l.steps, l.stepAt = append(l.steps, "reopened"), append(l.stepAt, t)
		}
		if t = g.after(t, 0.5, 20); !t.Before(end) {
			break
		}
		l.steps, l.stepAt = append(l.steps, "solved"), append(l.stepAt, t)
	}
	return l
}

// ticketsPerTool is how many tickets each ticket webhook brings.
const ticketsPerTool = 3

var (
	channels   = []string{"email", "chat"}
	priorities = []string{"normal", "high", "urgent"}
)

func generateHooks(seed uint64) *hookWorkload {
	w := &hookWorkload{}
	g := &hookGen{r: rand.New(rand.NewPCG(seed, 17)), w: w}
	requester := func() int { return g.r.IntN(hookUsers - 2) } // a few repeat

	// Tickets through the generic webhook: the whole state each time.
	for k := range ticketsPerTool {
		l := g.life()
		u := requester()
		base := webhook.Ticket{ID: fmt.Sprintf("GT-%d", k), Channel: channels[g.r.IntN(2)], Priority: priorities[g.r.IntN(3)],
			Requester: hookUser(u), CreatedAt: rfc(l.created)}
		if g.r.IntN(3) == 0 {
			base.Tags = []string{"billing"}
		}
		first := rfc(l.first)
		for i, step := range l.steps {
			tk := base
			tk.UpdatedAt = rfc(l.stepAt[i])
			switch step {
			case "new":
				tk.Status = "new"
			case "open", "reopened":
				tk.Status, tk.FirstResponseAt = "open", &first
			case "solved":
				tk.Status, tk.FirstResponseAt = "solved", &first
				resolved := rfc(l.stepAt[i])
				tk.ResolvedAt = &resolved
			}
			g.addTicket("ticket", tk.ID, l.stepAt[i], fmt.Sprintf("%s %s", tk.ID, step), tk, nil)
		}
	}

	// Zendesk: an event per change, the ticket as of the event in detail.
	// An agent's first reply is two events of one update: the public
	// comment and the status change to open; a reopening is the
	// requester's comment and the status change.
	for k := range ticketsPerTool {
		l := g.life()
		u := requester()
		id := fmt.Sprintf("%d", 5100+k)
		prio := strings.ToUpper(priorities[g.r.IntN(3)])
		channel := []string{"email", "web", "chat"}[g.r.IntN(3)]
		tags := []string{"help"}
		if g.r.IntN(3) == 0 {
			tags = append(tags, "escalated")
		}
		n := 0
		event := func(at time.Time, kind, status string, ev map[string]any) {
			n++
			body := map[string]any{
				"account_id": 22129848,
				"detail": map[string]any{
					"id": id, "created_at": rfc(l.created), "updated_at": rfc(at), "status": status, "priority": prio,
					"requester_id": zendeskPerson(u), "organization_id": nil, "tags": tags, "via": map[string]any{"channel": channel},
					"subject": "Export fails", "type": "INCIDENT",
				},
				"event":                 ev,
				"id":                    fmt.Sprintf("0b7e1c2a-1f0e-4d6a-9a43-%06d%06d", 5100+k, n),
				"subject":               "zen:ticket:" + id,
				"time":                  at.Add(250 * time.Millisecond).UTC().Format(time.RFC3339Nano),
				"type":                  "zen:event-type:" + kind,
				"zendesk_event_version": "2022-11-06",
			}
			g.addTicket("zendesk", id, at, fmt.Sprintf("ticket %s %s", id, kind), body, nil)
		}
		comment := func(at time.Time, staff bool) map[string]any {
			author := zendeskPerson(u)
			if staff {
				author = "8001"
			}
			return map[string]any{"comment": map[string]any{"id": fmt.Sprintf("%d", 40000+n), "body": "…", "is_public": true,
				"created_at": rfc(at), "author": map[string]any{"id": author, "is_staff": staff}}}
		}
		prev := "NEW"
		for i, step := range l.steps {
			at := l.stepAt[i]
			switch step {
			case "new":
				event(at, "ticket.created", "NEW", map[string]any{"meta": map[string]any{"sequence": 1}})
			case "open":
				event(at, "ticket.comment_added", "OPEN", comment(at, true))
				event(at, "ticket.status_changed", "OPEN", map[string]any{"current": "OPEN", "previous": prev})
				prev = "OPEN"
			case "reopened":
				event(at, "ticket.comment_added", "OPEN", comment(at, false))
				event(at, "ticket.status_changed", "OPEN", map[string]any{"current": "OPEN", "previous": prev})
				prev = "OPEN"
			case "solved":
				event(at, "ticket.status_changed", "SOLVED", map[string]any{"current": "SOLVED", "previous": prev})
				prev = "SOLVED"
			}
		}
	}

	// Help Scout: the whole conversation on each event, its threads
	// growing.
	for k := range ticketsPerTool {
		l := g.life()
		u := requester()
		id := 2391938000 + k
		typ := channels[g.r.IntN(2)]
		var threads []map[string]any
		thread := func(at time.Time, typ, by string) {
			threads = append([]map[string]any{{"id": len(threads) + 1, "type": typ, "state": "published",
				"createdBy": map[string]any{"id": 12, "type": by}, "createdAt": rfc(at)}}, threads...)
		}
		closedAt := any(nil)
		for i, step := range l.steps {
			at := l.stepAt[i]
			status, ev := "active", ""
			switch step {
			case "new":
				thread(at, "customer", "customer")
				ev = "convo.created"
			case "open":
				thread(at, "reply", "user")
				ev = "convo.agent.reply.created"
			case "reopened":
				thread(at, "customer", "customer")
				ev = "convo.customer.reply.created"
			case "solved":
				status, ev, closedAt = "closed", "convo.status", rfc(at)
			}
			body := map[string]any{
				"id": id, "number": 300 + k, "type": typ, "status": status, "state": "published", "subject": "Cannot export",
				"createdAt": rfc(l.created), "userUpdatedAt": rfc(at), "closedAt": closedAt,
				"primaryCustomer": map[string]any{"id": 12, "type": "customer", "email": hookEmail(u)},
				"tags":            []map[string]any{{"id": 9150, "tag": "export"}},
				"threads":         len(threads),
				"_embedded":       map[string]any{"threads": slices.Clone(threads)},
			}
			g.addTicket("helpscout", fmt.Sprint(id), at, fmt.Sprintf("conversation %d %s", id, ev), body, map[string]string{webhook.HelpScoutEventHeader: ev})
		}
	}

	// Survey answers through the generic webhook; u01 answers the NPS
	// survey twice, u02 re-scores an answer.
	for i := range 5 {
		for _, s := range []struct {
			typ, survey string
			lo, hi      int
			p           float64
		}{{"nps", "nps-q4", 0, 10, 0.8}, {"csat", "csat-support", 1, 5, 0.5}, {"ces", "ces-setup", 1, 7, 0.4}} {
			if g.r.Float64() >= s.p && i > 2 {
				continue
			}
			at := g.at(g.r.IntN(nDays-1), 9, 10*time.Hour)
			sv := webhook.Survey{ID: fmt.Sprintf("R-%s-%d", s.typ, i), SurveyID: s.survey, Type: s.typ,
				Score: json.RawMessage(fmt.Sprint(s.lo + g.r.IntN(s.hi-s.lo+1))), Respondent: hookUser(i), SubmittedAt: rfc(at),
				Channel: []string{"email", "in-app"}[g.r.IntN(2)], Comment: "fine"}
			w.answers++
			g.add("survey", at, sv.ID, sv, nil)
			switch {
			case i == 1 && s.typ == "nps":
				// Answers again later: a new response replaces it.
				again := sv
				again.ID, again.Score = sv.ID+"-again", json.RawMessage("2")
				later := g.after(at, 20, 30)
				again.SubmittedAt = rfc(later)
				w.answers++
				w.replaced++
				g.add("survey", later, again.ID, again, nil)
			case i == 2 && s.typ == "nps":
				// Re-scores the answer: the same response, updated.
				re := sv
				later := g.after(at, 1, 5)
				re.Score, re.UpdatedAt = json.RawMessage("10"), rfc(later)
				w.answers++
				w.replaced++
				g.add("survey", later, sv.ID+" re-scored", re, nil)
			}
		}
	}

	// Typeform: a pulse form with an NPS and a support rating (mapped to
	// CSAT); u04 submits it twice.
	for i := 2; i < 7; i++ {
		submit := func(at time.Time, token string) {
			body := map[string]any{
				"event_id": "01TF" + token, "event_type": "form_response",
				"form_response": map[string]any{
					"form_id": "tf-pulse", "token": token, "submitted_at": rfc(at),
					"hidden": map[string]any{"user_id": hookUser(i)},
					"answers": []map[string]any{
						{"type": "number", "number": g.r.IntN(11), "field": map[string]any{"id": "nps01", "type": "nps", "ref": "nps"}},
						{"type": "number", "number": 1 + g.r.IntN(5), "field": map[string]any{"id": "rate1", "type": "rating", "ref": "support"}},
					},
				},
			}
			w.answers += 2
			g.add("typeform", at, "response "+token, body, nil)
		}
		at := g.at(g.r.IntN(nDays-2), 10, 8*time.Hour)
		submit(at, fmt.Sprintf("tok%02d", i))
		if i == 4 {
			w.replaced += 2
			submit(g.after(at, 24, 40), fmt.Sprintf("tok%02d-again", i))
		}
	}

	// Delighted: NPS and CSAT responses; u06's NPS response is updated
	// with a new score.
	for i := 3; i < hookUsers; i++ {
		typ, hi := "nps", 10
		if i%3 == 0 {
			typ, hi = "csat", 5
		}
		created := g.at(g.r.IntN(nDays-1), 11, 8*time.Hour)
		resp := func(kind string, score int, updated time.Time) map[string]any {
			return map[string]any{
				"event_type": kind, "event_id": fmt.Sprintf("c0ffee%02d%d", i, updated.Unix()),
				"event_data": map[string]any{
					"id": fmt.Sprintf("%d", 5400+i), "person": map[string]any{"id": fmt.Sprintf("%d", 5900+i), "email": hookEmail(i), "customer_id": hookUser(i)},
					"survey_type": typ, "score": score, "comment": "ok", "created_at": created.Unix(), "updated_at": updated.Unix(),
					"person_properties": map[string]any{"Plan": "pro"},
				},
			}
		}
		w.answers++
		g.add("delighted", created, fmt.Sprintf("response %d created", 5400+i), resp("survey_response.created", typeLo(typ)+g.r.IntN(hi), created), nil)
		if i == 6 {
			later := g.after(created, 2, 30)
			w.answers++
			w.replaced++
			g.add("delighted", later, fmt.Sprintf("response %d updated", 5400+i), resp("survey_response.updated", hi, later), nil)
		}
	}

	// Help Scout's satisfaction ratings.
	for i, rating := range []string{"great", "okay", "not good"} {
		at := g.at(1+2*i, 15, 4*time.Hour)
		w.answers++
		g.add("helpscout", at, "rating "+rating, map[string]any{
			"id": 7700 + i, "rating": rating, "comments": "", "createdAt": rfc(at), "modifiedAt": rfc(at),
			"conversationId": 2391938000 + i, "customer": map[string]any{"id": 12, "email": hookEmail(i)},
		}, map[string]string{webhook.HelpScoutEventHeader: "satisfaction.ratings"})
	}
	return w
}

func typeLo(typ string) int {
	if typ == "nps" {
		return 0
	}
	return 1
}
