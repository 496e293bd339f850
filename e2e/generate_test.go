package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// This file generates a tenant's weeks of Segment messages, deterministically
// from a seed, and plans their delivery through POST /v1/batch.
//
// The random part is a population: people who browse the marketing site
// anonymously, some of whom sign up and then use the product (in the
// browser, in the mobile app, through the backend) on some days and not
// others; people who only browse; crawlers and a headless scraper; NPS
// answers, some of them answered again. The deterministic part is a list of
// edge cases placed at fixed times (the day constants below), so that every
// seed has them. Random traffic never crosses midnight: every session that
// does is one of the edge cases.

// message is one Segment message as it goes over the wire.
type message struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	Timestamp   string         `json:"timestamp"`
	AnonymousID string         `json:"anonymousId,omitempty"`
	UserID      string         `json:"userId,omitempty"`
	Event       string         `json:"event,omitempty"`
	Name        string         `json:"name,omitempty"`
	GroupID     string         `json:"groupId,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	Traits      map[string]any `json:"traits,omitempty"`
	Context     map[string]any `json:"context,omitempty"`
}

// genEvent is a generated message and what the tests need to know about it.
type genEvent struct {
	msg    message
	at     time.Time      // the instant msg.Timestamp denotes
	zone   *time.Location // msg.Timestamp is written in this zone
	layout string         // and with this layout
	late   bool           // TestLateEventsAndRerun sends it only after the first aggregation
	exact  bool           // placed at a deliberate instant: never moved
}

// setTime moves the event to t, rewriting its timestamp.
func (e *genEvent) setTime(t time.Time) {
	e.at = t
	e.msg.Timestamp = t.In(e.zone).Format(e.layout)
}

// genConfig says what to generate.
type genConfig struct {
	seed     uint64
	start    time.Time // a Monday, 00:00 UTC
	weeks    int       // at least minWeeks
	users    int       // people who sign up
	visitors int       // people who only browse
}

// minWeeks is what the edge cases need: the last one is on day dayMonthEnd+1.
const minWeeks = 4

// defaultConfig is the tenant of the acceptance tests: 5 weeks from Monday
// 2026-09-07 (so that the range spans the end of September), 300 users.
func defaultConfig(seed uint64) genConfig {
	return genConfig{
		seed:     seed,
		start:    time.Date(2026, time.September, 7, 0, 0, 0, 0, time.UTC),
		weeks:    5,
		users:    300,
		visitors: 80,
	}
}

// The days of the edge cases, as offsets from the first day (a Monday).
// NPS answers happen on weekdays only, so dayNoNPS has none.
const (
	dayExactGap     = 2  // Wed: gaps of exactly 30 min (same session) and 30 min + 1 s (new session)
	dayBotInGap     = 3  // Thu: a headless event between two sessions of a person does not join them
	dayOutOfOrder   = 4  // Fri: an NPS re-answer that is sent before the answer it replaces
	dayBotOnlyUser  = 5  // Sat: a user whose only event of the day comes from a headless browser
	dayServerSignup = 6  // Sun: a Signed Up sent by the backend, without the anonymousId
	dayIdentifyOnly = 8  // Tue: a user who sends only identify and group calls that day
	dayLateExtend   = 9  // Wed: a late page extends a session
	dayMidnight     = 10 // Thu: sessions that cross midnight into Friday
	dayLateBridge   = 11 // Fri: a late page joins two sessions into one
	dayNoNPS        = 12 // Sat: no NPS answer at all
	dayLateSignup   = 12 // Sat: a late Signed Up makes the user new on this day, not on day 15
	dayWeekEnd      = 13 // Sun: a session that crosses into the next ISO week
	dayMonthEnd     = 23 // Wed 30 Sep with the default start: a session that crosses into October
)

// The NPS surveys: one sent by email (answers arrive from the backend), one
// shown in the app (answers arrive from the browser).
const (
	surveyEmail = "nps-2026-q3"
	surveyInApp = "nps-in-app"
)

// dataset is what generate returns.
type dataset struct {
	start  time.Time
	days   int
	events []genEvent
	// precede lists pairs of message ids: the first must arrive in an
	// earlier request than the second.
	precede [][2]string
}

// day returns day number n of the dataset as YYYY-MM-DD.
func (ds *dataset) day(n int) string { return ds.start.AddDate(0, 0, n).Format(time.DateOnly) }

// lastDay returns the last day of the dataset as YYYY-MM-DD.
func (ds *dataset) lastDay() string { return ds.day(ds.days - 1) }

// messages returns the messages of the events that keep accepts.
func (ds *dataset) messages(keep func(genEvent) bool) []message {
	var out []message
	for _, e := range ds.events {
		if keep(e) {
			out = append(out, e.msg)
		}
	}
	return out
}

// all keeps every event.
func all(genEvent) bool { return true }

// generate returns the messages that cfg describes; the same cfg gives the
// same messages.
func generate(cfg genConfig) *dataset {
	if cfg.weeks < minWeeks || cfg.start.Weekday() != time.Monday || !cfg.start.Equal(cfg.start.Truncate(24*time.Hour)) {
		panic(fmt.Sprintf("generate: need at least %d weeks from a Monday at 00:00 UTC, got %d from %v", minWeeks, cfg.weeks, cfg.start))
	}
	g := &generator{
		cfg:  cfg,
		r:    rand.New(rand.NewPCG(cfg.seed, cfg.seed)),
		days: cfg.weeks * 7,
		ids:  map[string]bool{},
	}
	for range cfg.users {
		g.randomUser()
	}
	for range cfg.visitors {
		g.randomVisitor()
	}
	g.bots()
	g.edgeCases()
	g.avoidAmbiguousGaps()
	return &dataset{start: cfg.start, days: g.days, events: g.events, precede: g.precede}
}

// generator holds the state of one generate call.
type generator struct {
	cfg     genConfig
	r       *rand.Rand
	days    int
	events  []genEvent
	ids     map[string]bool // every id handed out, to keep them unique
	precede [][2]string
	late    bool // events emitted now are late
	exact   bool // events emitted now are at deliberate instants
}

// channel is where a message comes from.
type channel int

const (
	web    channel = iota // analytics.js in a browser: anonymousId, and userId once logged in
	app                   // the iOS app: the device's anonymousId and the userId
	server                // the backend (analytics-go): userId only, local time zone, whole seconds
)

// person is someone who sends messages.
type person struct {
	anonID   string // the browser's anonymousId
	deviceID string // the app's anonymousId; empty if they have no app
	userID   string // used once they have signed up
	ua       string
	ip       string
	zone     *time.Location // of their backend's timestamps
	groupID  string
	traits   map[string]any
	campaign map[string]any // of the session being generated, if any

	page    map[string]any // context.page of the browser's current page
	pageURL string
}

type sitePage struct{ path, title string }

const siteURL = "https://www.uptake.example"

var (
	marketingPages = []sitePage{
		{"/", "Uptake: onboarding analytics"},
		{"/pricing", "Pricing"},
		{"/features", "Features"},
		{"/features/nps", "NPS surveys"},
		{"/blog/onboarding-metrics", "12 onboarding metrics to track"},
		{"/blog/4ps-of-retention", "The 4 Ps of retention"},
		{"/docs/getting-started", "Getting started"},
		{"/customers", "Customer stories"},
	}
	appPages = []sitePage{
		{"/app", "Home"},
		{"/app/dashboards", "Dashboards"},
		{"/app/reports/retention", "Retention report"},
		{"/app/reports/funnel", "Onboarding funnel"},
		{"/app/surveys", "Surveys"},
		{"/app/settings/team", "Team settings"},
	}
	signupPage = sitePage{"/signup", "Create your account"}
	referrers  = []string{"", "", "https://www.google.com/", "https://www.google.com/", "https://www.bing.com/",
		"https://news.ycombinator.com/", "https://www.linkedin.com/", "https://duckduckgo.com/"}
	campaigns = []map[string]any{
		{"source": "newsletter", "medium": "email", "name": "september-digest"},
		{"source": "google", "medium": "cpc", "name": "onboarding-analytics", "term": "onboarding metrics"},
		{"source": "linkedin", "medium": "social", "name": "nps-launch"},
	}
	// browserAgents are people's browsers; none matches a bot pattern.
	browserAgents = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 Edg/128.0.0.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
	}
	googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	headless  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/128.0.0.0 Safari/537.36"
	// otherBots each match a bot pattern in a different way.
	otherBots = []string{
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
		"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
		"Screaming Frog SEO Spider/20.2",
		"Mozilla/5.0 (compatible; SiteAuditCrawler/1.3; +https://audit.example/crawler)",
	}
	productEvents = []string{"Report Viewed", "Dashboard Created", "Feature Used", "Onboarding Step Completed", "Invite Sent", "Filter Applied"}
	serverEvents  = []string{"Invoice Paid", "Export Completed", "API Key Created", "Integration Connected"}
	screens       = []string{"Home", "Dashboard", "Report", "Surveys", "Settings"}
	features      = []string{"cohorts", "funnels", "nps", "alerts", "csv_export"}
	firstNames    = []string{"Ana", "Bruno", "Chen", "Dara", "Emeka", "Fatima", "Giulia", "Hiro", "Ines", "Jonas", "Kavya", "Lena", "Mateo", "Noor", "Olga", "Priya", "Quentin", "Rosa", "Sami", "Tomas", "Uma", "Yuki"}
	lastNames     = []string{"Silva", "Garcia", "Wang", "Okafor", "Rossi", "Tanaka", "Novak", "Schmidt", "Haddad", "Kowalski", "Moreau", "Patel", "Nakamura", "Ortiz", "Berg"}
	companies     = []string{"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "soylent", "wonka"}
	industries    = []string{"software", "retail", "finance", "health", "education"}
	zones         = []*time.Location{time.FixedZone("CEST", 2*3600), time.FixedZone("PDT", -7*3600), time.FixedZone("IST", 5*3600+1800)}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// id returns a new id made by f, unique among all ids generated.
func (g *generator) id(f func() string) string {
	for {
		s := f()
		if !g.ids[s] {
			g.ids[s] = true
			return s
		}
	}
}

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return hex.EncodeToString(b)
}

func (g *generator) uuid() string {
	return g.id(func() string {
		h := []byte(g.hex(16))
		h[12] = '4'
		h[16] = "89ab"[g.r.IntN(4)]
		return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
	})
}

func (g *generator) newPerson() *person {
	first, last := pick(g.r, firstNames), pick(g.r, lastNames)
	company := pick(g.r, companies)
	p := &person{
		anonID:  g.uuid(),
		userID:  g.id(func() string { return "usr_" + g.hex(6) }),
		ua:      pick(g.r, browserAgents),
		ip:      fmt.Sprintf("198.51.100.%d", 1+g.r.IntN(254)),
		zone:    time.UTC,
		groupID: "grp_" + company,
		traits: map[string]any{
			"email": strings.ToLower(first+"."+last) + "@" + company + ".example",
			"name":  first + " " + last,
			"plan":  "free",
		},
	}
	if g.r.IntN(3) == 0 {
		p.deviceID = strings.ToUpper(g.uuid())
	}
	if g.r.IntN(3) == 0 {
		p.zone = pick(g.r, zones)
	}
	return p
}

// bot returns a crawler with a new anonymousId.
func (g *generator) bot(ua string) *person {
	p := g.newPerson()
	p.ua, p.deviceID = ua, ""
	return p
}

// at returns the instant hh:mm:ss UTC of day d.
func (g *generator) at(d int, hms string) time.Time {
	c, err := time.Parse(time.TimeOnly, hms)
	if err != nil {
		panic(err)
	}
	return g.cfg.start.AddDate(0, 0, d).Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute + time.Duration(c.Second())*time.Second)
}

// sessionStart returns a random instant of day d between 06:00 and 22:00,
// with milliseconds.
func (g *generator) sessionStart(d int) time.Time {
	return g.cfg.start.AddDate(0, 0, d).Add(6*time.Hour + time.Duration(g.r.Int64N(int64(16*time.Hour/time.Millisecond)))*time.Millisecond)
}

// step returns a random gap inside a session: 8 s to 15 min.
func (g *generator) step() time.Duration {
	return time.Duration(8000+g.r.IntN(15*60*1000-8000)) * time.Millisecond
}

func (g *generator) weekend(d int) bool {
	wd := g.cfg.start.AddDate(0, 0, d).Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// emit adds m, sent by p from ch at t, to the events and returns its index.
// identified says whether a browser or app message carries the userId
// (backend messages always do).
func (g *generator) emit(p *person, ch channel, t time.Time, m message, identified bool) int {
	e := genEvent{zone: time.UTC, layout: "2006-01-02T15:04:05.000Z07:00", late: g.late, exact: g.exact}
	switch ch {
	case web:
		m.MessageID = g.id(func() string { return "ajs-next-" + g.hex(16) })
		m.AnonymousID = p.anonID
		m.Context = map[string]any{
			"library":   map[string]any{"name": "analytics.js", "version": "next-1.72.0"},
			"userAgent": p.ua,
			"ip":        p.ip,
			"locale":    "en-US",
		}
		if p.page != nil {
			m.Context["page"] = p.page
		}
		if p.campaign != nil {
			m.Context["campaign"] = p.campaign
		}
	case app:
		m.MessageID = strings.ToUpper(g.uuid())
		m.AnonymousID = p.deviceID
		m.Context = map[string]any{
			"library": map[string]any{"name": "analytics-ios", "version": "4.1.8"},
			"app":     map[string]any{"name": "Uptake", "version": "3.4.1", "build": "341"},
			"device":  map[string]any{"manufacturer": "Apple", "model": "iPhone15,2", "type": "ios"},
			"os":      map[string]any{"name": "iOS", "version": "17.6"},
			"network": map[string]any{"wifi": true},
			"locale":  "en-US",
		}
	case server:
		m.MessageID = g.uuid()
		m.Context = map[string]any{"library": map[string]any{"name": "analytics-go", "version": "3.3.0"}}
		e.zone, e.layout = p.zone, time.RFC3339
		t = t.Truncate(time.Second)
		identified = true
	}
	if identified {
		m.UserID = p.userID
	}
	e.msg = m
	e.setTime(t.UTC())
	g.events = append(g.events, e)
	return len(g.events) - 1
}

// page emits a browser page view; the first page of a session has an
// outside referrer (or none), the next ones the previous page.
func (g *generator) page(p *person, t time.Time, pg sitePage, identified, landing bool) int {
	ref := p.pageURL
	if landing || ref == "" {
		ref = pick(g.r, referrers)
	}
	url := siteURL + pg.path
	p.page = map[string]any{"path": pg.path, "referrer": ref, "title": pg.title, "url": url, "search": ""}
	p.pageURL = url
	return g.emit(p, web, t, message{
		Type: "page",
		Name: pg.title,
		Properties: map[string]any{
			"path": pg.path, "referrer": ref, "title": pg.title, "url": url, "search": "",
		},
	}, identified)
}

func (g *generator) track(p *person, ch channel, t time.Time, event string, props map[string]any, identified bool) int {
	return g.emit(p, ch, t, message{Type: "track", Event: event, Properties: props}, identified)
}

func (g *generator) productEvent() (string, map[string]any) {
	name := pick(g.r, productEvents)
	switch name {
	case "Feature Used":
		return name, map[string]any{"feature": pick(g.r, features)}
	case "Onboarding Step Completed":
		step := 1 + g.r.IntN(4)
		return name, map[string]any{"step": fmt.Sprintf("step-%d", step), "step_index": step}
	case "Report Viewed":
		return name, map[string]any{"report": pick(g.r, []string{"retention", "funnel", "nps"})}
	}
	return name, map[string]any{}
}

func (g *generator) identify(p *person, ch channel, t time.Time) int {
	return g.emit(p, ch, t, message{Type: "identify", Traits: p.traits}, true)
}

func (g *generator) group(p *person, ch channel, t time.Time) int {
	name := strings.TrimPrefix(p.groupID, "grp_")
	return g.emit(p, ch, t, message{Type: "group", GroupID: p.groupID, Traits: map[string]any{
		"name": strings.ToUpper(name[:1]) + name[1:], "industry": industries[len(name)%len(industries)],
	}}, true)
}

// respond emits an NPS answer and returns its index.
func (g *generator) respond(p *person, ch channel, t time.Time, survey string, score int, identified bool) int {
	props := map[string]any{"survey_type": "nps", "survey_id": survey, "score": score, "channel": "in-app"}
	if ch == server {
		props["channel"] = "email"
	}
	if score <= 6 {
		props["comment"] = "Setting up the funnel took too long."
	}
	return g.track(p, ch, t, "Survey Responded", props, identified)
}

func (g *generator) npsScore() int {
	switch x := g.r.IntN(100); {
	case x < 45:
		return 9 + g.r.IntN(2)
	case x < 75:
		return 7 + g.r.IntN(2)
	default:
		return g.r.IntN(7)
	}
}

// browse emits a browser session of n events from t: marketing pages when
// anonymous; app pages and product events when identified. It returns the
// time of the last event.
func (g *generator) browse(p *person, t time.Time, n int, identified bool) time.Time {
	for i := range n {
		if i > 0 {
			t = t.Add(g.step())
		}
		switch {
		case !identified:
			g.page(p, t, pick(g.r, marketingPages), false, i == 0)
		case i == 0 || g.r.IntN(5) < 3:
			g.page(p, t, pick(g.r, appPages), true, i == 0)
		default:
			name, props := g.productEvent()
			g.track(p, web, t, name, props, true)
		}
	}
	p.campaign = nil
	return t
}

// useApp emits an app session of n screens and product events from t.
func (g *generator) useApp(p *person, t time.Time, n int) time.Time {
	for i := range n {
		if i > 0 {
			t = t.Add(g.step())
		}
		if i == 0 || g.r.IntN(2) == 0 {
			g.emit(p, app, t, message{Type: "screen", Name: pick(g.r, screens)}, true)
		} else {
			name, props := g.productEvent()
			g.track(p, app, t, name, props, true)
		}
	}
	return t
}

// signUp emits the visit in which p signs up, from t: a landing page, the
// sign-up page, Signed Up (with the anonymousId and the new userId),
// identify and sometimes group. It returns the time of the last event.
func (g *generator) signUp(p *person, t time.Time) time.Time {
	t = g.browse(p, t, 1, false)
	t = t.Add(g.step())
	g.page(p, t, signupPage, false, false)
	t = t.Add(time.Duration(20+g.r.IntN(100)) * time.Second)
	g.track(p, web, t, "Signed Up", map[string]any{"method": pick(g.r, []string{"email", "google", "github"}), "plan": "free"}, true)
	t = t.Add(2 * time.Second)
	g.identify(p, web, t)
	if g.r.IntN(5) < 2 {
		t = t.Add(time.Second)
		g.group(p, web, t)
	}
	return t
}

// randomUser emits a person who browses, signs up, and then (mostly)
// uses the product on some days.
func (g *generator) randomUser() {
	p := g.newPerson()
	first := g.r.IntN(g.days)
	signup := first // most sign up on their first visit
	if g.r.IntN(5) < 2 {
		signup = min(first+1+g.r.IntN(3), g.days-1)
	}
	for d := first; d < signup; d++ {
		if d == first || g.r.IntN(3) == 0 {
			if g.r.IntN(4) == 0 {
				p.campaign = pick(g.r, campaigns)
			}
			g.browse(p, g.sessionStart(d), 1+g.r.IntN(3), false)
		}
	}
	g.signUp(p, g.sessionStart(signup))
	if g.r.IntN(8) == 0 {
		return // signed up and never came back
	}
	rate := 0.04 + 0.22*g.r.Float64()
	var weekdays []int
	for d := signup + 1; d < g.days; d++ {
		pr := rate
		if g.weekend(d) {
			pr *= 0.4
		}
		switch {
		case g.r.Float64() < pr:
			g.activeDay(p, d)
			if !g.weekend(d) {
				weekdays = append(weekdays, d)
			}
		case g.r.IntN(40) == 0:
			// Only traits change that day: not activity.
			g.identify(p, server, g.sessionStart(d))
		}
	}
	if len(weekdays) > 0 && g.r.IntN(3) == 0 {
		g.answerNPS(p, pick(g.r, weekdays))
	}
}

// activeDay emits one or two sessions of p on day d.
func (g *generator) activeDay(p *person, d int) {
	if g.r.IntN(15) == 0 {
		// Logged in from another browser: a new visitor.
		p.anonID, p.ua, p.page, p.pageURL = g.uuid(), pick(g.r, browserAgents), nil, ""
	}
	t := g.sessionStart(d)
	for s := range 1 + g.r.IntN(2)*g.r.IntN(2) {
		if s > 0 {
			t = t.Add(time.Hour + time.Duration(g.r.IntN(7200))*time.Second)
			if t.After(g.at(d, "22:00:00")) {
				break
			}
		}
		n := 1 + g.r.IntN(4)
		switch {
		case p.deviceID != "" && g.r.IntN(3) == 0:
			t = g.useApp(p, t, n)
		case g.r.IntN(12) == 0:
			g.track(p, server, t, pick(g.r, serverEvents), map[string]any{}, true)
		default:
			t = g.browse(p, t, n, true)
		}
	}
	if g.r.IntN(20) == 0 {
		g.identify(p, server, g.sessionStart(d))
	}
}

// answerNPS emits p's answer on weekday d, and sometimes an answer to the
// same survey later the same day or on a later weekday.
func (g *generator) answerNPS(p *person, d int) {
	survey, ch := surveyInApp, web
	if g.r.IntN(2) == 0 {
		survey, ch = surveyEmail, server
	}
	t := g.at(d, "08:00:00").Add(time.Duration(g.r.IntN(9*3600)) * time.Second)
	g.respond(p, ch, t, survey, g.npsScore(), true)
	if g.r.IntN(5) != 0 {
		return
	}
	again := t.Add(time.Hour + time.Duration(g.r.IntN(4*3600))*time.Second) // the same day
	if g.r.IntN(2) == 0 {
		var later []int
		for d2 := d + 1; d2 < min(d+11, g.days); d2++ {
			if !g.weekend(d2) {
				later = append(later, d2)
			}
		}
		if len(later) > 0 {
			again = g.at(pick(g.r, later), "08:00:00").Add(time.Duration(g.r.IntN(12*3600)) * time.Second)
		}
	}
	g.respond(p, ch, again, survey, g.npsScore(), true)
}

// randomVisitor emits a person who browses on one to three days and never
// signs up.
func (g *generator) randomVisitor() {
	p := g.newPerson()
	d := g.r.IntN(g.days)
	for range 1 + g.r.IntN(3) {
		if g.r.IntN(5) == 0 {
			p.campaign = pick(g.r, campaigns)
		}
		g.browse(p, g.sessionStart(d), 1+g.r.IntN(3), false)
		d += 1 + g.r.IntN(6)
		if d >= g.days {
			return
		}
	}
}

// bots emits crawler traffic every day, and a headless scraper that keeps
// its cookie, browses on a few days and signs up on day 18.
func (g *generator) bots() {
	for d := range g.days {
		for range 2 + g.r.IntN(3) {
			// Googlebot keeps no cookie: a new anonymousId for every page.
			g.page(g.bot(googlebot), g.sessionStart(d), pick(g.r, marketingPages), false, true)
		}
		if g.r.IntN(3) == 0 {
			g.browse(g.bot(pick(g.r, otherBots)), g.sessionStart(d), 2+g.r.IntN(4), false)
		}
	}
	scraper := g.bot(headless)
	for d := 1; d < g.days; d += 7 {
		g.browse(scraper, g.sessionStart(d), 3+g.r.IntN(3), false)
	}
	g.signUp(scraper, g.sessionStart(18))
	g.page(scraper, g.sessionStart(19), pick(g.r, appPages), true, true)
}

// fixed runs f with the events it emits marked as placed deliberately.
func (g *generator) fixed(f func()) {
	g.exact = true
	f()
	g.exact = false
}

// lateOnes runs f with the events it emits marked late.
func (g *generator) lateOnes(f func()) {
	g.late = true
	f()
	g.late = false
}

// edgeCases emits the deterministic edge cases (see the day constants).
func (g *generator) edgeCases() {
	at := g.at
	// user returns a person who signed up on day d at about 11:00.
	user := func(d int) *person {
		p := g.newPerson()
		g.signUp(p, at(d, "11:00:00"))
		return p
	}
	app1, app2 := appPages[1], appPages[2]
	mkt1, mkt2 := marketingPages[1], marketingPages[4]

	// Gaps of exactly 30 min continue a session; 30 min + 1 s starts a new one.
	anon := g.newPerson()
	n := user(0)
	g.fixed(func() {
		g.page(anon, at(dayExactGap, "14:00:00"), mkt1, false, true)
		g.page(anon, at(dayExactGap, "14:30:00"), mkt2, false, false)
		g.page(anon, at(dayExactGap, "15:00:01"), mkt1, false, false)
		g.track(n, web, at(dayExactGap, "10:00:00"), "Report Viewed", map[string]any{"report": "retention"}, true)
		g.page(n, at(dayExactGap, "10:30:00"), app1, true, false)
		g.page(n, at(dayExactGap, "11:00:00"), app2, true, false)
		g.page(n, at(dayExactGap, "11:30:01"), app1, true, false)
	})

	// A headless browser with the person's own cookie and userId, between
	// two of their sessions 50 min apart: it does not join them.
	o := user(1)
	oBot := *o
	oBot.ua = headless
	g.fixed(func() {
		g.page(o, at(dayBotInGap, "09:00:00"), app1, true, true)
		g.page(&oBot, at(dayBotInGap, "09:25:00"), app2, true, false)
		g.page(o, at(dayBotInGap, "09:50:00"), app1, true, false)
	})
	// A user active on a day only through a headless browser: active for
	// DAU (bots are excluded from web metrics only), but no session.
	b := user(1)
	b.ua = headless
	g.fixed(func() {
		g.track(b, web, at(dayBotOnlyUser, "04:12:00"), "Export Completed", map[string]any{}, true)
	})

	// A Signed Up sent by the backend without the anonymousId: the
	// visitor of that event is the userId, which has no page view.
	q := g.newPerson()
	g.fixed(func() {
		g.page(q, at(dayServerSignup, "15:00:00"), mkt1, false, true)
		g.page(q, at(dayServerSignup, "15:04:00"), signupPage, false, false)
		g.track(q, server, at(dayServerSignup, "15:05:00"), "Signed Up", map[string]any{"method": "email", "plan": "free"}, true)
		g.identify(q, web, at(dayServerSignup, "15:05:02"))
	})
	// Signed up and never came back.
	user(dayServerSignup)

	// identify and group calls are not activity: h is not active on
	// dayIdentifyOnly; i (invited by a colleague) is identified on day 15
	// and first active on day 20.
	h := user(1)
	i := g.newPerson()
	g.fixed(func() {
		g.identify(h, web, at(dayIdentifyOnly, "10:00:00"))
		g.group(h, web, at(dayIdentifyOnly, "10:00:05"))
		g.page(h, at(20, "09:00:00"), app1, true, true)
		g.identify(i, server, at(15, "10:00:00"))
		g.group(i, server, at(15, "10:00:01"))
		g.page(i, at(20, "14:00:00"), app1, true, true)
		g.track(i, web, at(20, "14:03:00"), "Invite Accepted", map[string]any{}, true)
	})

	// Sessions that cross midnight into the next day belong to the day
	// they start on, with their pages after midnight.
	a := user(3)
	bb, c, e := g.newPerson(), g.newPerson(), g.newPerson()
	d := user(4)
	d.zone = zones[0] // +02:00: its 23:40Z is 01:40 on the next local day
	g.fixed(func() {
		g.page(a, at(dayMidnight, "23:50:00"), app1, true, true)
		g.track(a, web, at(dayMidnight, "23:58:00"), "Report Viewed", map[string]any{"report": "funnel"}, true)
		g.page(a, at(dayMidnight+1, "00:10:00"), app2, true, false)
		g.page(a, at(dayMidnight+1, "00:25:00"), app1, true, false)
		g.page(bb, at(dayMidnight, "23:45:00"), mkt1, false, true)
		g.page(bb, at(dayMidnight+1, "00:05:00"), mkt2, false, false)
		// 65 minutes apart: two sessions, one on each day.
		g.page(c, at(dayMidnight, "23:10:00"), mkt1, false, true)
		g.page(c, at(dayMidnight+1, "00:15:00"), mkt2, false, false)
		// Backend events in +02:00: the next day locally, this day in UTC.
		g.track(d, server, at(dayMidnight, "23:40:00"), "Export Completed", map[string]any{}, true)
		g.track(d, server, at(dayMidnight, "23:55:00"), "Export Completed", map[string]any{}, true)
		// A page whose timestamp is written in +02:00.
		ix := g.page(e, at(dayMidnight, "23:30:00"), mkt1, false, true)
		g.events[ix].zone, g.events[ix].layout = zones[0], time.RFC3339
		g.events[ix].setTime(g.events[ix].at)
		g.page(e, at(dayMidnight, "23:52:00"), mkt2, false, false)
	})
	// Across the end of an ISO week and of a month.
	l, k := user(9), user(20)
	f := g.newPerson()
	g.fixed(func() {
		g.page(l, at(dayWeekEnd, "23:40:00"), app1, true, true)
		g.page(l, at(dayWeekEnd+1, "00:05:00"), app2, true, false)
		g.track(l, web, at(dayWeekEnd+1, "00:07:00"), "Filter Applied", map[string]any{}, true)
		g.page(f, at(dayMonthEnd, "23:55:00"), mkt1, false, true)
		g.page(f, at(dayMonthEnd+1, "00:20:00"), mkt2, false, false)
		g.page(f, at(dayMonthEnd+1, "00:31:00"), signupPage, false, false)
		g.page(k, at(dayMonthEnd, "23:59:30"), app1, true, true)
		g.page(k, at(dayMonthEnd+1, "00:00:30"), app2, true, false)
	})

	// NPS answers given again: the latest answer of a respondent to a
	// survey replaces the earlier ones, whatever the order of arrival.
	r, s, tu, u, w, x := user(0), user(1), user(dayNoNPS), user(2), user(1), user(0)
	v := g.newPerson()
	g.fixed(func() {
		// The same day, the re-answer sent first.
		orig := g.respond(r, web, at(dayOutOfOrder, "10:00:00"), surveyInApp, 2, true)
		again := g.respond(r, web, at(dayOutOfOrder, "15:30:00"), surveyInApp, 9, true)
		g.precede = append(g.precede, [2]string{g.events[again].msg.MessageID, g.events[orig].msg.MessageID})
		// A later day in the next week.
		g.respond(s, server, at(3, "09:15:00"), surveyEmail, 10, true)
		g.respond(s, server, at(9, "18:20:00"), surveyEmail, 4, true)
		// The same day.
		g.respond(tu, web, at(15, "09:30:00"), surveyInApp, 6, true)
		g.respond(tu, web, at(15, "16:10:00"), surveyInApp, 8, true)
		// Two surveys: both answers count.
		g.respond(u, server, at(16, "11:00:00"), surveyEmail, 9, true)
		g.respond(u, web, at(17, "13:00:00"), surveyInApp, 3, true)
		// Anonymous, then signed up: two respondents (anonymousId, userId).
		g.respond(v, web, at(2, "20:15:00"), surveyInApp, 10, false)
	})
	g.signUp(v, at(5, "11:00:00"))
	g.fixed(func() {
		g.respond(v, web, at(16, "08:45:00"), surveyInApp, 5, true)
		// Not an NPS answer.
		g.track(w, web, at(dayOutOfOrder, "12:00:00"), "Survey Responded",
			map[string]any{"survey_type": "csat", "survey_id": "csat-support", "score": 4, "channel": "chat"}, true)
	})

	// Late events for week 2 (TestLateEventsAndRerun sends them after the
	// first aggregation).
	y := user(1)
	z, j, late := g.newPerson(), g.newPerson(), g.newPerson()
	g.fixed(func() {
		g.respond(x, web, at(8, "09:10:00"), surveyInApp, 3, true)
		g.page(y, at(dayLateExtend, "10:00:00"), app1, true, true)
		g.page(y, at(dayLateExtend, "10:10:00"), app2, true, false)
		g.page(z, at(dayLateBridge, "16:00:00"), mkt1, false, true)
		g.page(z, at(dayLateBridge, "16:50:00"), mkt2, false, false)
		g.page(j, at(dayLateSignup, "14:00:00"), mkt1, false, true)
		g.page(j, at(dayLateSignup, "14:05:00"), signupPage, false, false)
		g.page(j, at(15, "10:00:00"), app1, true, true)
		g.track(j, web, at(15, "10:02:00"), "Dashboard Created", map[string]any{}, true)
		g.page(j, at(17, "19:00:00"), app2, true, true)
		g.lateOnes(func() {
			g.respond(x, web, at(10, "17:45:00"), surveyInApp, 10, true) // replaces the answer of day 8
			g.page(y, at(dayLateExtend, "10:35:00"), app1, true, false)  // 25 min after: the same session
			g.page(z, at(dayLateBridge, "16:25:00"), mkt2, false, false) // 25 min from each: one session
			g.track(j, web, at(dayLateSignup, "14:07:00"), "Signed Up", map[string]any{"method": "email", "plan": "free"}, true)
			g.identify(j, web, at(dayLateSignup, "14:07:02"))
			g.page(late, at(8, "11:00:00"), mkt1, false, true) // a visitor seen only late
			g.page(late, at(8, "11:04:00"), mkt2, false, false)
		})
	})
}

// ambiguousGap reports whether a gap is so close to the 30-minute session
// timeout that truncating timestamps to seconds could change which side it
// is on. The edge cases use exactly 30 min and 30 min + 1 s instead.
func ambiguousGap(gap time.Duration) bool {
	return gap > 30*time.Minute-2*time.Second && gap < 30*time.Minute+2*time.Second &&
		gap != 30*time.Minute && gap != 30*time.Minute+time.Second
}

// avoidAmbiguousGaps moves random events that are within 2 s of 30 min
// after the previous event of their visitor.
func (g *generator) avoidAmbiguousGaps() {
	for range 10 {
		moved := false
		byVisitor := map[string][]int{}
		for i, e := range g.events {
			m := e.msg
			if (m.Type == "track" || m.Type == "page" || m.Type == "screen") && !isBot(userAgent(m)) {
				v := m.AnonymousID
				if v == "" {
					v = m.UserID
				}
				byVisitor[v] = append(byVisitor[v], i)
			}
		}
		for _, ix := range byVisitor {
			slices.SortFunc(ix, func(a, b int) int { return g.events[a].at.Compare(g.events[b].at) })
			for n := 1; n < len(ix); n++ {
				prev, cur := &g.events[ix[n-1]], &g.events[ix[n]]
				if !ambiguousGap(cur.at.Sub(prev.at)) {
					continue
				}
				switch {
				case !cur.exact:
					cur.setTime(cur.at.Add(7 * time.Second))
				case !prev.exact:
					prev.setTime(prev.at.Add(-7 * time.Second))
				default:
					panic("generate: two deliberate events have an ambiguous gap")
				}
				moved = true
			}
		}
		if !moved {
			return
		}
	}
	panic("generate: could not remove the ambiguous gaps")
}

func userAgent(m message) string {
	ua, _ := m.Context["userAgent"].(string)
	return ua
}

// maxBatch is the most messages the tests put in one request.
const maxBatch = 100

// deliveryPlan returns the requests that deliver msgs, in order: msgs
// shuffled, in batches of 40 to 100 messages, about 3% of them sent again
// in a later request, two sent twice within their request, and the pairs
// of precede (message ids) in order when both are in msgs.
func deliveryPlan(r *rand.Rand, msgs []message, precede [][2]string) [][]message {
	order := slices.Clone(msgs)
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var batches [][]message
	for len(order) > 0 {
		n := min(len(order), 40+r.IntN(maxBatch-40+1))
		batches = append(batches, order[:n:n])
		order = order[n:]
	}
	if len(batches) == 0 {
		return nil
	}
	putInOrder(r, batches, precede)

	// Re-send about 3% in a later request; those of the last requests go
	// in extra requests at the end.
	type loc struct{ b, i int }
	var locs []loc
	for b := range batches {
		for i := range batches[b] {
			locs = append(locs, loc{b, i})
		}
	}
	r.Shuffle(len(locs), func(i, j int) { locs[i], locs[j] = locs[j], locs[i] })
	again := make([][]message, len(batches))
	var extra []message
	for _, l := range locs[:max(1, (len(locs)*3+50)/100)] {
		m := batches[l.b][l.i]
		j := l.b + 1 + r.IntN(len(batches)-l.b)
		if j < len(batches) && len(batches[j])+len(again[j]) < maxBatch {
			again[j] = append(again[j], m)
		} else {
			extra = append(extra, m)
		}
	}
	insert := func(b int, m message) {
		batches[b] = slices.Insert(batches[b], r.IntN(len(batches[b])+1), m)
	}
	for j, ms := range again {
		for _, m := range ms {
			insert(j, m)
		}
	}
	// Two messages twice within their own request.
	twice := 0
	for _, b := range r.Perm(len(batches)) {
		if twice < 2 && len(batches[b]) < maxBatch {
			insert(b, batches[b][r.IntN(len(batches[b]))])
			twice++
		}
	}
	for len(extra) > 0 {
		n := min(len(extra), maxBatch)
		batches = append(batches, extra[:n:n])
		extra = extra[n:]
	}
	return batches
}

// putInOrder moves messages between batches so that the first message id
// of each pair of precede arrives in an earlier batch than the second.
func putInOrder(r *rand.Rand, batches [][]message, precede [][2]string) {
	for _, pair := range precede {
		ba, ia := firstArrival(batches, pair[0])
		bb, ib := firstArrival(batches, pair[1])
		switch {
		case ba < 0 || bb < 0 || ba < bb:
		case ba > bb:
			batches[ba][ia], batches[bb][ib] = batches[bb][ib], batches[ba][ia]
		case ba < len(batches)-1: // the same batch: move the second to the last one
			last := len(batches) - 1
			k := r.IntN(len(batches[last]))
			batches[ba][ib], batches[last][k] = batches[last][k], batches[ba][ib]
		case ba > 0: // the same batch, the last one: move the first to the first one
			k := r.IntN(len(batches[0]))
			batches[ba][ia], batches[0][k] = batches[0][k], batches[ba][ia]
		}
	}
}

// firstArrival returns where the message with that id is first sent, or
// -1, -1.
func firstArrival(batches [][]message, id string) (batch, index int) {
	for b, ms := range batches {
		for i, m := range ms {
			if m.MessageID == id {
				return b, i
			}
		}
	}
	return -1, -1
}

// checkOrder returns an error if a pair of precede, both sent, does not
// arrive in order.
func checkOrder(batches [][]message, precede [][2]string) error {
	for _, pair := range precede {
		ba, _ := firstArrival(batches, pair[0])
		bb, _ := firstArrival(batches, pair[1])
		if ba >= 0 && bb >= 0 && ba >= bb {
			return fmt.Errorf("message %s is first sent in request %d, not before %s in request %d", pair[0], ba, pair[1], bb)
		}
	}
	return nil
}

// TestGeneratedData checks, without a stack, that the data of several seeds
// has what the acceptance tests rely on, and that delivery plans are sound.
func TestGeneratedData(t *testing.T) {
	for _, s := range []uint64{seed, 1, 2, 3, 42, 1 << 40} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			ds := generate(defaultConfig(s))
			checkData(t, ds)
			checkEdgeCases(t, ds)
			checkPlan(t, ds, rand.New(rand.NewPCG(s, 1)))
			if s == seed {
				t.Log(describe(ds))
			}
		})
	}
	t.Run("deterministic", func(t *testing.T) {
		a, b := generate(defaultConfig(7)), generate(defaultConfig(7))
		if !slices.EqualFunc(a.events, b.events, func(x, y genEvent) bool { return mustJSON(x.msg) == mustJSON(y.msg) }) {
			t.Error("two runs with the same seed generate different messages")
		}
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// checkData checks every message: unique id, valid timestamp inside the
// period, size, NPS answers on weekdays, no session gap within 2 s of
// 30 min other than exactly 30 min or 30 min + 1 s.
func checkData(t *testing.T, ds *dataset) {
	t.Helper()
	end := ds.start.AddDate(0, 0, ds.days)
	ids := map[string]bool{}
	for _, e := range ds.events {
		m := e.msg
		if m.MessageID == "" || ids[m.MessageID] {
			t.Fatalf("messageId %q is empty or repeated", m.MessageID)
		}
		ids[m.MessageID] = true
		at, err := time.Parse(time.RFC3339Nano, m.Timestamp)
		if err != nil || !at.Equal(e.at) {
			t.Fatalf("message %s: timestamp %q (%v) is not the instant %v", m.MessageID, m.Timestamp, err, e.at)
		}
		if at.Before(ds.start) || !at.Before(end) {
			t.Errorf("message %s: timestamp %s outside the period", m.MessageID, m.Timestamp)
		}
		if m.AnonymousID == "" && m.UserID == "" {
			t.Errorf("message %s has neither anonymousId nor userId", m.MessageID)
		}
		if n := len(mustJSON(m)); n > 32*1024 {
			t.Errorf("message %s has %d bytes", m.MessageID, n)
		}
		if m.Event == "Survey Responded" && m.Properties["survey_type"] == "nps" {
			if wd := at.UTC().Weekday(); wd == time.Saturday || wd == time.Sunday {
				t.Errorf("NPS answer %s is on a %v", m.MessageID, wd)
			}
			if sc, ok := m.Properties["score"].(int); !ok || sc < 0 || sc > 10 {
				t.Errorf("NPS answer %s has score %v", m.MessageID, m.Properties["score"])
			}
		}
	}
	for _, ua := range browserAgents {
		if isBot(ua) {
			t.Errorf("browser agent %q matches a bot pattern", ua)
		}
	}
	for _, ua := range append([]string{googlebot, headless}, otherBots...) {
		if !isBot(ua) {
			t.Errorf("bot agent %q matches no bot pattern", ua)
		}
	}
	byVisitor := map[string][]time.Time{}
	for _, e := range ds.events {
		m := e.msg
		if (m.Type == "track" || m.Type == "page" || m.Type == "screen") && !isBot(userAgent(m)) {
			v := cmpOr(m.AnonymousID, m.UserID)
			byVisitor[v] = append(byVisitor[v], e.at)
		}
	}
	for v, ts := range byVisitor {
		slices.SortFunc(ts, time.Time.Compare)
		for i := 1; i < len(ts); i++ {
			if ambiguousGap(ts[i].Sub(ts[i-1])) {
				t.Errorf("visitor %s: a gap of %v at %v", v, ts[i].Sub(ts[i-1]), ts[i])
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkEdgeCases checks with the reference that the edge cases are there
// and that the late events change the answers for week 2.
func checkEdgeCases(t *testing.T, ds *dataset) {
	t.Helper()
	refAll, err := newReference(ds.messages(all))
	if err != nil {
		t.Fatal(err)
	}
	cut := ds.start.AddDate(0, 0, 21)
	ref1, err := newReference(ds.messages(func(e genEvent) bool { return e.at.Before(cut) && !e.late }))
	if err != nil {
		t.Fatal(err)
	}
	crossing := func(d int) int {
		n := 0
		for _, s := range refAll.sessionsOn(ds.day(d)) {
			if s.end.Format(time.DateOnly) != ds.day(d) {
				n++
			}
		}
		return n
	}
	for _, d := range []int{dayMidnight, dayWeekEnd, dayMonthEnd} {
		if crossing(d) < 2 && d == dayMidnight || crossing(d) < 1 {
			t.Errorf("day %s: %d sessions cross midnight", ds.day(d), crossing(d))
		}
	}
	var exact30, over30 bool
	for _, s := range refAll.sessionsOn(ds.day(dayExactGap)) {
		exact30 = exact30 || s.start.Format(time.TimeOnly) == "14:00:00" && s.end.Sub(s.start) == 30*time.Minute
		over30 = over30 || s.start.Format(time.TimeOnly) == "15:00:01"
	}
	if !exact30 || !over30 {
		t.Errorf("day %s: no session with a gap of exactly 30 min (%v) or none starting 30 min + 1 s after (%v)", ds.day(dayExactGap), exact30, over30)
	}
	if v := refAll.rangeView("nps", ds.day(dayNoNPS), ds.day(dayNoNPS)); v.Value != nil {
		t.Errorf("day %s has NPS answers", ds.day(dayNoNPS))
	}
	for _, c := range []struct {
		kpi string
		day int
	}{
		{"nps", 8}, {"nps", 10}, // an answer replaced by a late one
		{"pages_per_session", dayLateExtend}, {"pages_per_session", dayLateBridge},
		{"dau", dayLateSignup}, {"dau", 15}, // a user new on day 12, not 15
		{"conversion_rate", dayLateSignup}, {"conversion_rate", 8},
	} {
		before, after := ref1.rangeView(c.kpi, ds.day(c.day), ds.day(c.day)), refAll.rangeView(c.kpi, ds.day(c.day), ds.day(c.day))
		if cmp.Equal(before, after) {
			t.Errorf("%s on %s: the late events change nothing", c.kpi, ds.day(c.day))
		}
	}
	if a, b := len(ref1.sessionsOn(ds.day(dayLateBridge))), len(refAll.sessionsOn(ds.day(dayLateBridge))); a != b+1 {
		t.Errorf("day %s: %d sessions before the late events, %d after; want one fewer after", ds.day(dayLateBridge), a, b)
	}
}

// checkPlan checks a delivery plan of all the messages.
func checkPlan(t *testing.T, ds *dataset, r *rand.Rand) {
	t.Helper()
	msgs := ds.messages(all)
	batches := deliveryPlan(r, msgs, ds.precede)
	if err := checkOrder(batches, ds.precede); err != nil {
		t.Error(err)
	}
	byID := map[string]string{}
	for _, m := range msgs {
		byID[m.MessageID] = mustJSON(m)
	}
	first := map[string]int{}
	sent, again, within := 0, 0, 0
	for b, batch := range batches {
		if len(batch) == 0 || len(batch) > maxBatch {
			t.Errorf("request %d has %d messages", b, len(batch))
		}
		if n := len(mustJSON(map[string]any{"batch": batch, "sentAt": "2026-11-26T00:00:00.000Z"})); n >= 500*1024 {
			t.Errorf("request %d has %d bytes", b, n)
		}
		within += repeatsWithin(batch)
		seen := map[string]bool{}
		for _, m := range batch {
			sent++
			if byID[m.MessageID] != mustJSON(m) {
				t.Fatalf("request %d: message %s is not one generated", b, m.MessageID)
			}
			if fb, ok := first[m.MessageID]; ok && fb < b && !seen[m.MessageID] {
				again++
			}
			if _, ok := first[m.MessageID]; !ok {
				first[m.MessageID] = b
			}
			seen[m.MessageID] = true
		}
	}
	if len(first) != len(msgs) {
		t.Errorf("%d of %d messages sent", len(first), len(msgs))
	}
	if want := len(msgs) * 3 / 100; again < want || again > want+1 || within != 2 || sent != len(msgs)+again+within {
		t.Errorf("%d messages, %d sent: %d again in a later request (want about 3%%), %d within a request (want 2)", len(msgs), sent, again, within)
	}
}

// describe summarises the data, for the test log.
func describe(ds *dataset) string {
	types := map[string]int{}
	users, anons := map[string]bool{}, map[string]bool{}
	var bots, late, answers, signups int
	for _, e := range ds.events {
		m := e.msg
		types[m.Type]++
		if m.UserID != "" {
			users[m.UserID] = true
		}
		if m.AnonymousID != "" {
			anons[m.AnonymousID] = true
		}
		if isBot(userAgent(m)) {
			bots++
		}
		if e.late {
			late++
		}
		if m.Event == "Survey Responded" && m.Properties["survey_type"] == "nps" {
			answers++
		}
		if m.Event == "Signed Up" {
			signups++
		}
	}
	ref, err := newReference(ds.messages(all))
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d messages %v from %s to %s: %d userIds, %d anonymousIds, %d Signed Up, %d from bots, %d late; "+
		"%d sessions; %d NPS answers of which %d count",
		len(ds.events), types, ds.day(0), ds.lastDay(), len(users), len(anons), signups, bots, late,
		len(ref.sessions), answers, len(ref.answers))
}
