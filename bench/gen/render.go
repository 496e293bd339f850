package gen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/uptakehq/uptake/shared/event"
)

func diurnal(r *rand.Rand) int64 {
	for {
		ms := r.Int64N(86_400_000)
		h := float64(ms) / 3_600_000
		if r.Float64() < 0.2+0.8*(1-math.Cos(2*math.Pi*(h-3)/24))/2 {
			return ms
		}
	}
}

// npsScore: about 45% promoters, 30% passives, 25% detractors.
func npsScore(r *rand.Rand) uint16 {
	switch x := r.Float64(); {
	case x < 0.45:
		return uint16(9 + r.IntN(2))
	case x < 0.75:
		return uint16(7 + r.IntN(2))
	}
	return uint16(r.IntN(7))
}

type weighted struct {
	name   string
	weight float64
}

func pick(r *rand.Rand, ws []weighted) uint16 {
	total := 0.0
	for _, w := range ws {
		total += w.weight
	}
	x := r.Float64() * total
	for i, w := range ws {
		if x -= w.weight; x < 0 {
			return uint16(i)
		}
	}
	return uint16(len(ws) - 1)
}

func landingPage(r *rand.Rand) uint16 {
	if r.Float64() < 0.4 {
		return uint16(r.IntN(4)) // home, pricing, features, customers
	}
	return uint16(r.IntN(len(sitePages)))
}

// ---- rendering as Segment libraries send messages ----

const site = "https://www.acme.example"

type sitePage struct{ path, title, contentType string }

var sitePages, appPages = func() ([]sitePage, []sitePage) {
	site := []sitePage{
		{"/", "Acme | Product analytics for SaaS", "home"},
		{"/pricing", "Pricing | Acme", "pricing"},
		{"/features", "Features | Acme", "product"},
		{"/customers", "Customers | Acme", "customers"},
		{"/features/funnels", "Funnels | Acme", "product"},
		{"/features/retention", "Retention | Acme", "product"},
		{"/integrations", "Integrations | Acme", "product"},
		{"/signup", "Sign up | Acme", "signup"},
		{"/login", "Log in | Acme", "login"},
		{"/about", "About | Acme", "company"},
		{"/careers", "Careers | Acme", "company"},
		{"/blog", "Blog | Acme", "blog"},
		{"/docs", "Documentation | Acme", "docs"},
	}
	for i := range 24 {
		site = append(site, sitePage{fmt.Sprintf("/blog/post-%02d-how-teams-measure-activation", i+1), fmt.Sprintf("Post %d | Acme blog", i+1), "blog"})
	}
	for i := range 16 {
		site = append(site, sitePage{fmt.Sprintf("/docs/guides/topic-%02d", i+1), fmt.Sprintf("Guide %d | Acme docs", i+1), "docs"})
	}
	app := []sitePage{
		{"/app/dashboard", "Dashboard", "app"}, {"/app/reports", "Reports", "app"}, {"/app/funnels", "Funnels", "app"},
		{"/app/retention", "Retention", "app"}, {"/app/settings", "Settings", "app"}, {"/app/team", "Team", "app"},
		{"/app/billing", "Billing", "app"}, {"/app/alerts", "Alerts", "app"},
	}
	for i := range 20 {
		app = append(app, sitePage{fmt.Sprintf("/app/reports/r-%d", 1000+37*i), "Report", "app"})
	}
	for i := range 10 {
		app = append(app, sitePage{fmt.Sprintf("/app/projects/p-%d", 200+11*i), "Project", "app"})
	}
	return site, app
}()

var appScreens = []string{"Dashboard", "Reports", "Report Detail", "Funnels", "Settings", "Notifications", "Search", "Project"}

var userEvents = []weighted{
	{"Feature Used", 30}, {"Report Viewed", 15}, {"Dashboard Filtered", 12}, {"Search Performed", 10},
	{"Comment Added", 8}, {"Report Exported", 6}, {"Chart Created", 6}, {"Notification Opened", 5},
	{"Project Created", 3}, {"Alert Configured", 3}, {"Invite Sent", 2},
}

var features = []string{"funnels", "retention", "cohorts", "dashboards", "alerts", "exports", "segments", "annotations", "sql", "goals", "paths", "sharing"}

var siteEvents = []weighted{
	{"CTA Clicked", 50}, {"Video Played", 20}, {"Pricing Plan Selected", 15}, {"Newsletter Subscribed", 10}, {"Demo Requested", 5},
}

// sources are a landing's referrer and campaign: search, social, email,
// paid, partner and direct traffic.
var sources = []weighted{
	{"direct", 30}, {"google", 35}, {"bing", 4}, {"duckduckgo", 2}, {"twitter", 4}, {"linkedin", 5},
	{"hackernews", 2}, {"newsletter", 5}, {"adwords", 8}, {"g2", 5},
}

var sourceReferrers = map[string]string{
	"google": "https://www.google.com/", "bing": "https://www.bing.com/", "duckduckgo": "https://duckduckgo.com/",
	"twitter": "https://t.co/x9Qz3", "linkedin": "https://www.linkedin.com/", "hackernews": "https://news.ycombinator.com/",
	"g2": "https://www.g2.com/products/acme/reviews",
}

var sourceCampaigns = map[string][3]string{ // source, medium, name
	"newsletter": {"newsletter", "email", "october-digest"},
	"adwords":    {"google", "cpc", "brand-search"},
}

var plans = []string{"free", "starter", "pro", "enterprise"}

var browserUAs = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
}

var botUAs = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (compatible; Pingdom.com_bot_version_1.4; http://www.pingdom.com/)",
}

type pageContext struct {
	Path     string `json:"path"`
	Referrer string `json:"referrer"`
	Search   string `json:"search"`
	Title    string `json:"title"`
	URL      string `json:"url"`
}

type library struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type campaign struct {
	Source string `json:"source"`
	Medium string `json:"medium"`
	Name   string `json:"name"`
}

type webContext struct {
	IP        string       `json:"ip"`
	Library   library      `json:"library"`
	Locale    string       `json:"locale"`
	Page      *pageContext `json:"page,omitempty"`
	UserAgent string       `json:"userAgent"`
	Campaign  *campaign    `json:"campaign,omitempty"`
	Timezone  string       `json:"timezone"`
}

type appContext struct {
	App struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Build     string `json:"build"`
		Namespace string `json:"namespace"`
	} `json:"app"`
	Device struct {
		ID           string `json:"id"`
		Manufacturer string `json:"manufacturer"`
		Model        string `json:"model"`
		Type         string `json:"type"`
	} `json:"device"`
	Library library `json:"library"`
	Locale  string  `json:"locale"`
	Network struct {
		Wifi bool `json:"wifi"`
	} `json:"network"`
	OS struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"os"`
	Screen struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"screen"`
	Timezone string `json:"timezone"`
}

type message struct {
	Type         string         `json:"type"`
	MessageID    string         `json:"messageId"`
	AnonymousID  string         `json:"anonymousId,omitempty"`
	UserID       string         `json:"userId,omitempty"`
	Event        string         `json:"event,omitempty"`
	Name         string         `json:"name,omitempty"`
	Properties   map[string]any `json:"properties,omitempty"`
	Traits       map[string]any `json:"traits,omitempty"`
	Context      any            `json:"context"`
	Integrations struct{}       `json:"integrations"`
	Timestamp    string         `json:"timestamp"`
	SentAt       string         `json:"sentAt"`
}

var timezones = []string{"America/New_York", "Europe/London", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "Europe/Paris"}

// renderEvent writes a generated event as the Segment message its library
// would send. Details not fixed by the event come from a generator seeded
// by its number, so rendering is deterministic in any order.
func renderEvent(seed uint64, pop *Population, e genEvent) []byte {
	r := rand.New(rand.NewPCG(seed^0x5eed, uint64(e.seq)))
	if e.kind == kTicket {
		return renderTicket(pop, e)
	}
	ts := time.UnixMilli(e.ts).UTC()
	m := message{
		Timestamp: ts.Format("2006-01-02T15:04:05.000Z"),
		SentAt:    ts.Add(time.Duration(150+r.IntN(2500)) * time.Millisecond).Format("2006-01-02T15:04:05.000Z"),
	}
	var (
		ua     string
		mobile int8
		plan   string
		user   *User
	)
	switch e.class {
	case classUser:
		user = &pop.Users[e.actor]
		m.UserID, m.AnonymousID = user.ID, user.Anon
		ua, mobile, plan = browserUAs[user.ua], user.mobile, plans[user.plan]
	case classVisitor:
		v := pop.Visitors[e.actor]
		m.AnonymousID, ua, plan = v.Anon, browserUAs[v.ua], "free"
	default:
		v := pop.Bots[e.actor]
		m.AnonymousID, ua = v.Anon, botUAs[v.ua]
	}
	if mobile != 0 {
		m.MessageID = uuid(6<<40 | uint64(e.seq))
	} else {
		m.MessageID = "ajs-next-" + strconv.FormatInt(e.ts, 10) + "-" + hex16(mix(6<<40|uint64(e.seq)))
	}

	pages := sitePages
	if e.class == classUser {
		pages = appPages
	}
	cur := pages[int(e.page)%len(pages)]
	pc := &pageContext{Path: cur.path, Title: cur.title, URL: site + cur.path}
	if e.kind == kPage && e.src == 0 {
		pc.Referrer = site + pages[int(e.prev)%len(pages)].path
	}
	var camp *campaign
	if e.src != 0 {
		src := sources[e.src-1].name
		pc.Referrer = sourceReferrers[src]
		if c, ok := sourceCampaigns[src]; ok {
			camp = &campaign{Source: c[0], Medium: c[1], Name: c[2]}
			pc.Search = "?utm_source=" + c[0] + "&utm_medium=" + c[1] + "&utm_campaign=" + c[2]
			pc.URL += pc.Search
		}
	}

	switch e.kind {
	case kPage:
		m.Type, m.Name = event.Page, cur.title
		m.Properties = map[string]any{"path": pc.Path, "referrer": pc.Referrer, "search": pc.Search, "title": pc.Title, "url": pc.URL, "content_type": cur.contentType}
	case kScreen:
		m.Type, m.Name = event.Screen, appScreens[int(e.item)%len(appScreens)]
		m.Properties = map[string]any{"name": m.Name, "plan": plan}
	case kIdentify:
		m.Type = event.Identify
		m.Traits = map[string]any{
			"email": "user" + user.ID[4:12] + "@company" + strconv.Itoa(user.company) + ".example", "plan": plan,
			"company":    map[string]any{"id": "c-" + strconv.Itoa(user.company), "name": "Company " + strconv.Itoa(user.company)},
			"created_at": user.CreatedAt.Format(time.RFC3339),
		}
	case kSurvey:
		m.Type, m.Event = event.Track, event.SurveyResponded
		m.Properties = map[string]any{"survey_type": "nps", "survey_id": "nps-2026-q4", "score": int(e.item), "channel": "in_app", "touchpoint": "dashboard"}
		if r.Float64() < 0.3 {
			m.Properties["comment"] = [...]string{"Love the funnels", "Too slow on big reports", "Exports are great", "Pricing is high"}[r.IntN(4)]
		}
	case kCSAT:
		m.Type, m.Event = event.Track, event.SurveyResponded
		m.Properties = map[string]any{"survey_type": "csat", "survey_id": "csat-support", "score": int(e.item), "channel": "email", "touchpoint": "support"}
	case kSignup:
		m.Type, m.Event = event.Track, event.SignedUp
		m.UserID = NewUserID(e.actor)
		m.Properties = map[string]any{"plan": "free", "method": [...]string{"email", "google", "github"}[r.IntN(3)]}
	case kStep:
		m.Type, m.Event = event.Track, "Onboarding Step Completed"
		m.UserID = NewUserID(e.actor)
		m.Properties = map[string]any{"step": StepNames[e.item-1], "step_index": int(e.item)}
	case kTrial:
		m.Type, m.Event = event.Track, "Trial Started"
		m.UserID = NewUserID(e.actor)
		m.Properties = map[string]any{"plan": "pro", "trial_days": 14}
	case kSub:
		m.Type, m.Event = event.Track, subKinds[int(e.item)%len(subKinds)].name
		m.Properties = map[string]any{"plan": plan, "amount": [...]int{0, 29, 99, 499}[user.plan], "currency": "USD"}
	case kTrack:
		m.Type = event.Track
		switch e.class {
		case classUser:
			m.Event = userEvents[int(e.item)%len(userEvents)].name
			m.Properties = map[string]any{"plan": plan}
			switch m.Event {
			case "Feature Used":
				m.Properties["feature"] = features[r.IntN(len(features))]
			case "Report Viewed", "Report Exported":
				m.Properties["report_id"] = "r-" + strconv.Itoa(1000+37*r.IntN(20))
				m.Properties["format"] = [...]string{"table", "chart", "csv"}[r.IntN(3)]
				m.Properties["rows"] = r.IntN(5000)
			case "Search Performed":
				m.Properties["query"] = [...]string{"signup funnel", "weekly active", "churn", "nps"}[r.IntN(4)]
				m.Properties["results"] = r.IntN(40)
			default:
				m.Properties["value"] = r.IntN(100)
			}
		default:
			m.Event = siteEvents[int(e.item)%len(siteEvents)].name
			m.Properties = map[string]any{"location": cur.path, "label": [...]string{"Start free", "Book a demo", "See pricing"}[r.IntN(3)]}
		}
	}

	if mobile != 0 && (e.kind == kScreen || e.kind == kTrack || e.kind == kIdentify || e.kind == kSurvey) {
		var c appContext
		c.App.Name, c.App.Version, c.App.Build, c.App.Namespace = "Acme", "5.2.1", "5210", "com.acme.app"
		c.Device.ID = user.Anon
		if mobile == 1 {
			c.Device.Manufacturer, c.Device.Model, c.Device.Type = "Apple", "iPhone15,2", "ios"
			c.Library = library{"analytics-swift", "1.6.1"}
			c.OS.Name, c.OS.Version = "iOS", "17.6.1"
			c.Screen.Width, c.Screen.Height = 393, 852
		} else {
			c.Device.Manufacturer, c.Device.Model, c.Device.Type = "Google", "Pixel 8", "android"
			c.Library = library{"analytics-kotlin", "1.16.3"}
			c.OS.Name, c.OS.Version = "Android", "14"
			c.Screen.Width, c.Screen.Height = 1080, 2400
		}
		c.Locale, c.Network.Wifi = "en-US", r.Float64() < 0.6
		c.Timezone = timezones[int(e.actor)%len(timezones)]
		m.Context = c
	} else {
		id := uint64(e.actor) | uint64(e.class)<<32
		m.Context = webContext{
			IP:      fmt.Sprintf("%d.%d.%d.%d", 11+mix(id)%200, mix(id+1)%256, mix(id+2)%256, 1+mix(id+3)%254),
			Library: library{"analytics.js", "npm:next-1.72.0"}, Locale: "en-US", Page: pc, UserAgent: ua, Campaign: camp,
			Timezone: timezones[int(e.actor)%len(timezones)],
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// renderTicket writes a ticket update as the webhook function stores a
// ticket tool's delivery: a `Ticket Updated` track event of the requester
// whose properties are the ticket's state.
func renderTicket(pop *Population, e genEvent) []byte {
	user := &pop.Users[e.actor]
	created := time.UnixMilli(e.created).UTC()
	updated := time.UnixMilli(e.ts).UTC()
	id := strconv.FormatUint(uint64(100000+e.ref), 10)
	t := map[string]any{
		"id": id, "status": "new", "channel": [...]string{"email", "web", "chat"}[e.ref%3],
		"priority": [...]string{"low", "normal", "normal", "high", "urgent"}[e.ref%5], "tags": []string{"product"},
		"requester": user.ID, "account": "c-" + strconv.Itoa(user.company),
		"created_at": created.Format(time.RFC3339Nano), "updated_at": updated.Format(time.RFC3339Nano),
	}
	if e.item == 1 {
		t["status"] = "solved"
		t["first_response_at"] = created.Add(updated.Sub(created) / 3).Format(time.RFC3339Nano)
		t["resolved_at"] = updated.Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(map[string]any{
		"type": event.Track, "event": event.TicketUpdated, "messageId": "ticket:" + id + ":" + updated.Format(time.RFC3339Nano),
		"timestamp": updated.Format(time.RFC3339Nano), "properties": t, "userId": user.ID,
		"context": map[string]any{"groupId": "c-" + strconv.Itoa(user.company)},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// mix is splitmix64's finaliser: ids that look random but are fixed.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hex16(x uint64) string { return fmt.Sprintf("%016x", x) }

func uuid(n uint64) string {
	a, b := mix(n), mix(n^0xabcdef)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, (b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}
