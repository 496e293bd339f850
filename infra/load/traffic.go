package load

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/webhook"
)

// Route labels of the report, one per kind of request.
const (
	routeBatch        = "POST /v1/batch"
	routeBatchResend  = "POST /v1/batch (resend)"
	routeSingleResend = "POST /v1/{type} (resend)"
	routeSurvey       = "POST /v1/webhooks/survey"
	routeTicket       = "POST /v1/webhooks/ticket"
	routeRedelivery   = "POST /v1/webhooks/* (redelivery)"
	routeKPI          = "GET /v1/kpis/{id}"
	routeKPIs         = "GET /v1/kpis"
	routeCSV          = "GET /v1/kpis/{id}.csv"
)

// The mix: each request is one of these, with these weights (of 100).
var mix = []struct {
	weight int
	build  func(g *generator, r *rand.Rand) *request
}{
	{22, (*generator).batch},
	{25, (*generator).single},
	{6, (*generator).resendBatch},
	{4, (*generator).resendSingle},
	{10, (*generator).survey},
	{12, (*generator).ticket},
	{6, (*generator).redeliver},
	{9, (*generator).kpiQuery},
	{2, (*generator).allKPIs},
	{4, (*generator).csv},
}

// Pool sizes: identities of a run, and what is kept for resends.
const (
	users        = 3000 // u-<run>-<n>, each with an anonymousId a-<run>-<n>
	anonymous    = 2000 // visitors who never identify: v-<run>-<n>
	accounts     = 200
	resendPool   = 10000
	deliveryPool = 2000
	openTickets  = 1000
	maxBatch     = 100
	maxResend    = 20
)

// request is one HTTP request of the traffic and what to do with its
// answer.
type request struct {
	route        string
	method, path string
	key          string // sent as a bearer token; empty for webhooks
	body         []byte
	signed       bool // a webhook body, signed at each attempt
	// ack checks a 2xx answer and records what it acknowledged; an error
	// is a wrong answer.
	ack func(body []byte) error
}

// generator makes the requests of a run. Its pools (messages to resend,
// deliveries to repeat, tickets with updates to come) are shared by the
// workers.
type generator struct {
	run         string // every id of the run carries it
	tenant      string
	keys        Target
	rules       rules
	windowStart time.Time // start of the first day under load
	days        []kpi.Day // the days under load, in the tenant's zone
	now         func() time.Time
	ledger      *Ledger
	ids         atomic.Uint64

	mu         sync.Mutex
	sent       []sentMessage // ring of acknowledged Segment messages
	sentNext   int
	deliveries []delivery // ring of acknowledged webhook deliveries
	delivNext  int
	open       []*ticketState
}

type sentMessage struct {
	typ  string
	id   string
	raw  json.RawMessage
	info entry
}

type delivery struct {
	provider string
	body     []byte
	id       string
	info     entry
}

// ticketState is a ticket whose updates are being sent.
type ticketState struct {
	webhook.Ticket
	created, updated time.Time
	step             int
}

// build returns the next request, chosen by r.
func (g *generator) build(r *rand.Rand) *request {
	n := r.IntN(100)
	for _, m := range mix {
		if n < m.weight {
			return m.build(g, r)
		}
		n -= m.weight
	}
	panic("load: mix weights do not add up to 100")
}

// mustJSON encodes what the generator makes: strings, numbers, maps and
// slices of them, and JSON it encoded before, which always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("load: encode %T: %v", v, err))
	}
	return b
}

func (g *generator) nextID(prefix string) string {
	return g.run + "-" + prefix + strconv.FormatUint(g.ids.Add(1), 10)
}

// when returns a random time between the start of the first day under
// load and a minute ago, to the millisecond.
func (g *generator) when(r *rand.Rand) time.Time {
	end := g.now().Add(-time.Minute)
	span := end.Sub(g.windowStart)
	if span <= 0 {
		return g.windowStart
	}
	return g.windowStart.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Millisecond).UTC()
}

// message is a Segment message as a client library sends it.
type message struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	UserID      string         `json:"userId,omitempty"`
	AnonymousID string         `json:"anonymousId,omitempty"`
	PreviousID  string         `json:"previousId,omitempty"`
	GroupID     string         `json:"groupId,omitempty"`
	Event       string         `json:"event,omitempty"`
	Name        string         `json:"name,omitempty"`
	Timestamp   string         `json:"timestamp"`
	Properties  map[string]any `json:"properties,omitempty"`
	Traits      map[string]any `json:"traits,omitempty"`
	Context     map[string]any `json:"context,omitempty"`
}

var (
	trackEvents = []string{"Report Viewed", "Feature Used", "Dashboard Opened", "Search Performed", "Export Downloaded"}
	features    = []string{"export", "share", "filters", "alerts"}
	pages       = []string{"/", "/pricing", "/docs", "/blog/onboarding", "/app/dashboard"}
	referrers   = []string{"", "", "https://www.google.com/", "https://news.ycombinator.com/", "https://partner.example.com/"}
	screens     = []string{"Home", "Settings", "Report", "Inbox"}
	userAgent   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)

// segmentTypes are the message types with their weights (of 100).
var segmentTypes = []struct {
	typ    string
	weight int
}{{event.Track, 45}, {event.Page, 30}, {event.Screen, 10}, {event.Identify, 9}, {event.Group, 4}, {event.Alias, 2}}

func segmentType(r *rand.Rand) string {
	n := r.IntN(100)
	for _, t := range segmentTypes {
		if n < t.weight {
			return t.typ
		}
		n -= t.weight
	}
	return event.Track
}

func (g *generator) user(n int) string { return fmt.Sprintf("u-%s-%d", g.run, n) }

// newMessage makes a new message of type typ.
func (g *generator) newMessage(r *rand.Rand, typ string) sentMessage {
	u := r.IntN(users)
	m := message{Type: typ, MessageID: g.nextID("m"), Timestamp: g.when(r).Format(time.RFC3339Nano),
		Context: map[string]any{"library": map[string]any{"name": "uptake-load", "version": "1"}}}
	switch n := r.IntN(10); {
	case typ == event.Identify || typ == event.Group || typ == event.Alias || n == 9:
		m.UserID = g.user(u)
	case n < 7:
		m.UserID, m.AnonymousID = g.user(u), fmt.Sprintf("a-%s-%d", g.run, u)
	default:
		m.AnonymousID = fmt.Sprintf("v-%s-%d", g.run, r.IntN(anonymous))
	}
	switch typ {
	case event.Track:
		m.Event = trackEvents[r.IntN(len(trackEvents))]
		m.Properties = map[string]any{"plan": []string{"free", "team", "enterprise"}[r.IntN(3)]}
		if m.Event == "Feature Used" {
			m.Properties["feature"] = features[r.IntN(len(features))]
		}
		m.Context["userAgent"] = userAgent
	case event.Page:
		path := pages[r.IntN(len(pages))]
		m.Name = strings.Trim(path, "/")
		page := map[string]any{"path": path, "url": "https://app.example.com" + path}
		if ref := referrers[r.IntN(len(referrers))]; ref != "" {
			page["referrer"] = ref
		}
		m.Properties = page
		m.Context["page"] = page
		m.Context["userAgent"] = userAgent
	case event.Screen:
		m.Name = screens[r.IntN(len(screens))]
		m.Context["device"] = map[string]any{"type": "ios"}
	case event.Identify:
		// A user's traits rarely change: they follow from the user.
		m.Traits = map[string]any{"role": []string{"admin", "member", "viewer"}[u%3], "region": []string{"EMEA", "AMER", "APAC"}[u/3%3]}
	case event.Group:
		m.GroupID = fmt.Sprintf("g-%s-%d", g.run, u%accounts)
		m.Traits = map[string]any{"company_size": 10 + u%accounts}
	case event.Alias:
		m.PreviousID = fmt.Sprintf("a-%s-%d", g.run, u)
	}
	raw := mustJSON(m)
	at, _ := time.Parse(time.RFC3339Nano, m.Timestamp)
	return sentMessage{typ: typ, id: m.MessageID, raw: raw,
		info: entry{typ: typ, event: m.Event, name: m.Name, userID: m.UserID, anonymousID: m.AnonymousID, at: at}}
}

// ingestAnswer is the answer of the ingest routes.
type ingestAnswer struct {
	Success    *bool `json:"success"`
	Accepted   int   `json:"accepted"`
	Duplicates int   `json:"duplicates"`
	Rejected   []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// ackIngest checks an ingest answer for msgs and records the messages it
// acknowledged (all but the rejected ones); keep adds them to the resend
// pool.
func (g *generator) ackIngest(body []byte, msgs []sentMessage, keep bool) error {
	var a ingestAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("answer is not the ingest result: %v", err)
	}
	rejected := map[int]string{}
	for _, rj := range a.Rejected {
		rejected[rj.Index] = rj.Reason
	}
	seen := map[string]bool{}
	repeats := 0
	for i, m := range msgs {
		if seen[m.id] {
			repeats++
			continue
		}
		seen[m.id] = true
		if _, ok := rejected[i]; ok {
			continue
		}
		g.ledger.add(m.id, m.info)
		if keep {
			g.keep(m)
		}
	}
	var problems []string
	if a.Success == nil || !*a.Success {
		problems = append(problems, "success is not true")
	}
	for i, reason := range rejected {
		problems = append(problems, fmt.Sprintf("message %d rejected: %s", i, reason))
	}
	if a.Accepted+a.Duplicates != len(msgs) {
		problems = append(problems, fmt.Sprintf("accepted %d + duplicates %d, want the %d messages sent", a.Accepted, a.Duplicates, len(msgs)))
	}
	if a.Duplicates < repeats {
		problems = append(problems, fmt.Sprintf("duplicates %d, want at least the %d repeated within the request", a.Duplicates, repeats))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// keep adds an acknowledged message to the resend pool.
func (g *generator) keep(m sentMessage) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sent) < resendPool {
		g.sent = append(g.sent, m)
		return
	}
	g.sent[g.sentNext] = m
	g.sentNext = (g.sentNext + 1) % resendPool
}

func batchBody(msgs []sentMessage, now time.Time) []byte {
	raw := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		raw[i] = m.raw
	}
	return mustJSON(map[string]any{"batch": raw, "sentAt": now.UTC().Format(time.RFC3339Nano)})
}

func (g *generator) ingest(route, path string, msgs []sentMessage, body []byte, keep bool) *request {
	return &request{route: route, method: http.MethodPost, path: path, key: g.keys.WriteKey, body: body,
		ack: func(b []byte) error { return g.ackIngest(b, msgs, keep) }}
}

// batch is a new batch of 1 to 100 messages; one in twenty repeats a
// message inside it, as a client that queued it twice would.
func (g *generator) batch(r *rand.Rand) *request {
	n := 1 + r.IntN(maxBatch)
	msgs := make([]sentMessage, n)
	for i := range msgs {
		msgs[i] = g.newMessage(r, segmentType(r))
	}
	if n > 1 && r.IntN(20) == 0 {
		msgs[n-1] = msgs[r.IntN(n-1)]
	}
	return g.ingest(routeBatch, "/v1/batch", msgs, batchBody(msgs, g.now()), true)
}

// single is one new message on its type's route.
func (g *generator) single(r *rand.Rand) *request {
	m := g.newMessage(r, segmentType(r))
	return g.ingest("POST /v1/"+m.typ, "/v1/"+m.typ, []sentMessage{m}, m.raw, true)
}

// pick returns up to n random messages of the resend pool.
func (g *generator) pick(r *rand.Rand, n int) []sentMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sent) == 0 {
		return nil
	}
	out := make([]sentMessage, 0, n)
	for range n {
		out = append(out, g.sent[r.IntN(len(g.sent))])
	}
	return out
}

// resendBatch sends again, byte for byte, 1 to 20 messages already
// acknowledged, as a Segment client retries a batch whose answer it lost.
func (g *generator) resendBatch(r *rand.Rand) *request {
	msgs := g.pick(r, 1+r.IntN(maxResend))
	if len(msgs) == 0 {
		return g.batch(r)
	}
	return g.ingest(routeBatchResend, "/v1/batch", msgs, batchBody(msgs, g.now()), false)
}

// resendSingle sends again one message already acknowledged, on its
// type's route.
func (g *generator) resendSingle(r *rand.Rand) *request {
	msgs := g.pick(r, 1)
	if len(msgs) == 0 {
		return g.single(r)
	}
	m := msgs[0]
	return g.ingest(routeSingleResend, "/v1/"+m.typ, msgs, m.raw, false)
}

// webhook returns a signed delivery of body to the generic provider's
// route; its acknowledgement records the message id and keeps the
// delivery for redelivery.
func (g *generator) webhook(route string, d delivery, keep bool) *request {
	return &request{route: route, method: http.MethodPost, path: "/v1/webhooks/" + d.provider + "/" + url.PathEscape(g.tenant), body: d.body, signed: true,
		ack: func(b []byte) error {
			err := g.ackIngest(b, []sentMessage{{id: d.id, info: d.info}}, false)
			if keep {
				g.mu.Lock()
				if len(g.deliveries) < deliveryPool {
					g.deliveries = append(g.deliveries, d)
				} else {
					g.deliveries[g.delivNext] = d
					g.delivNext = (g.delivNext + 1) % deliveryPool
				}
				g.mu.Unlock()
			}
			return err
		}}
}

var surveys = []struct {
	typ, id string
	weight  int
}{{"nps", "nps-relationship", 40}, {"nps", "nps-onboarding", 20}, {"csat", "csat-support", 40}}

// survey is a new answer on the generic survey webhook. Respondents answer
// the same survey more than once during a run: the latest answer counts.
func (g *generator) survey(r *rand.Rand) *request {
	n := r.IntN(100)
	s := surveys[len(surveys)-1]
	for _, sv := range surveys {
		if n < sv.weight {
			s = sv
			break
		}
		n -= sv.weight
	}
	score := r.IntN(11)
	if s.typ == "csat" {
		score = g.rules.csatMin + r.IntN(g.rules.csatMax-g.rules.csatMin+1)
	}
	at := g.when(r)
	sv := webhook.Survey{ID: g.nextID("r"), SurveyID: s.id, Type: s.typ, Score: json.RawMessage(strconv.Itoa(score)),
		Respondent: g.user(r.IntN(users)), SubmittedAt: at.Format(time.RFC3339Nano),
		Channel: []string{"email", "in-app"}[r.IntN(2)], Touchpoint: []string{"onboarding", "support", "billing"}[r.IntN(3)]}
	if score <= 3 {
		sv.Comment = "too slow to set up"
	}
	body := mustJSON(sv)
	d := delivery{provider: "survey", body: body, id: "survey:" + sv.ID + ":" + sv.SubmittedAt,
		info: entry{typ: event.Track, event: event.SurveyResponded, userID: sv.Respondent, at: at, survey: &answer{typ: s.typ, surveyID: s.id, score: score}}}
	return g.webhook(routeSurvey, d, true)
}

// ticket is a new ticket, or the next update of an open one (answered,
// then solved), on the generic ticket webhook.
func (g *generator) ticket(r *rand.Rand) *request {
	g.mu.Lock()
	var t *ticketState
	if len(g.open) > 0 && (len(g.open) >= openTickets || r.IntN(2) == 0) {
		i := r.IntN(len(g.open))
		t = g.open[i]
		g.open[i] = g.open[len(g.open)-1]
		g.open = g.open[:len(g.open)-1]
	}
	g.mu.Unlock()
	if t == nil {
		created := g.when(r)
		t = &ticketState{created: created, updated: created, Ticket: webhook.Ticket{
			ID: g.nextID("t"), Status: "new", Channel: []string{"email", "chat", "web", "phone"}[r.IntN(4)],
			Priority: []string{"low", "normal", "normal", "high", "urgent"}[r.IntN(5)], Tags: []string{[]string{"onboarding", "billing", "bug"}[r.IntN(3)]},
			Requester: g.user(r.IntN(users)), CreatedAt: created.Format(time.RFC3339Nano)}}
	} else {
		next := t.updated.Add(time.Minute + time.Duration(r.Int64N(int64(12*time.Hour))))
		if now := g.now().Truncate(time.Millisecond); next.After(now) {
			next = now
		}
		if !next.After(t.updated) {
			next = t.updated.Add(time.Second)
		}
		t.updated = next.UTC()
		at := t.updated.Format(time.RFC3339Nano)
		t.step++
		if t.step == 1 {
			t.Status, t.FirstResponseAt = "open", &at
		} else {
			t.Status, t.ResolvedAt = "solved", &at
		}
	}
	t.UpdatedAt = t.updated.Format(time.RFC3339Nano)
	body := mustJSON(t.Ticket)
	if t.step < 2 {
		g.mu.Lock()
		g.open = append(g.open, t)
		g.mu.Unlock()
	}
	d := delivery{provider: "ticket", body: body, id: "ticket:" + t.ID + ":" + t.UpdatedAt,
		info: entry{typ: event.Track, event: event.TicketUpdated, userID: t.Requester, at: t.updated, ticket: &ticketRef{id: t.ID, created: t.created}}}
	return g.webhook(routeTicket, d, true)
}

// redeliver sends a webhook delivery again, as the tools do when they
// miss the answer; it is signed anew.
func (g *generator) redeliver(r *rand.Rand) *request {
	g.mu.Lock()
	var d delivery
	n := len(g.deliveries)
	if n > 0 {
		d = g.deliveries[r.IntN(n)]
	}
	g.mu.Unlock()
	if n == 0 {
		return g.survey(r)
	}
	return g.webhook(routeRedelivery, d, false)
}

var queryKPIs = []string{"dau", "wau", "sessions", "pages_per_session", "avg_session_duration", "conversion_rate", "nps", "csat",
	"ticket_volume", "first_response_time", "resolution_rate", "feature_adoption", "engagement_rate"}

// span returns a random range of the days under load.
func (g *generator) span(r *rand.Rand) (from, to kpi.Day) {
	i, j := r.IntN(len(g.days)), r.IntN(len(g.days))
	return g.days[min(i, j)], g.days[max(i, j)]
}

func (g *generator) query(route, path string, v url.Values, ack func([]byte) error) *request {
	return &request{route: route, method: http.MethodGet, path: path + "?" + v.Encode(), key: g.keys.ReadKey, ack: ack}
}

func ackJSON(b []byte) error {
	if !json.Valid(b) {
		return fmt.Errorf("answer is not JSON")
	}
	return nil
}

// kpiQuery asks one KPI over a range, sometimes by day.
func (g *generator) kpiQuery(r *rand.Rand) *request {
	from, to := g.span(r)
	v := url.Values{"from": {from.String()}, "to": {to.String()}}
	if r.IntN(2) == 0 {
		v.Set("interval", "day")
	}
	return g.query(routeKPI, "/v1/kpis/"+queryKPIs[r.IntN(len(queryKPIs))], v, ackJSON)
}

// allKPIs asks every KPI's headline value over a range.
func (g *generator) allKPIs(r *rand.Rand) *request {
	from, to := g.span(r)
	return g.query(routeKPIs, "/v1/kpis", url.Values{"from": {from.String()}, "to": {to.String()}}, ackJSON)
}

// csv asks a KPI's daily series as CSV.
func (g *generator) csv(r *rand.Rand) *request {
	from, to := g.span(r)
	v := url.Values{"from": {from.String()}, "to": {to.String()}, "interval": {"day"}}
	return g.query(routeCSV, "/v1/kpis/"+[]string{"dau", "sessions", "nps", "ticket_volume"}[r.IntN(4)]+".csv", v, func(b []byte) error {
		if !strings.HasPrefix(string(b), "kpi,period,") {
			return fmt.Errorf("answer is not the CSV of api.md: %.80q", b)
		}
		return nil
	})
}
