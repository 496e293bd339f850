// Package batches makes realistic Segment batches for the ingest
// benchmarks (P3 in process, P5 over HTTP): bodies of POST /v1/batch as
// analytics.js and the server libraries send them, with a mix of track,
// page and identify calls (some screen calls), properties, traits and a
// full context, 0.5 to 1 KB per message.
//
// A Generator is deterministic for its seed and not safe for concurrent
// use: give each worker its own, with its own seed (message ids carry the
// seed, so they never collide across generators).
package batches

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options configure a Generator.
type Options struct {
	// Seed fixes the data; generators with different seeds make different
	// message ids.
	Seed uint64
	// Users is the population size: identified users, and as many
	// anonymous visitors (default 5000).
	Users int
	// Clock gives the time a batch is sent; its messages happened in the
	// Spread before it (default a minute).
	Clock  func() time.Time
	Spread time.Duration
}

// Generator makes batches.
type Generator struct {
	o   Options
	r   *rand.Rand
	seq uint64
}

// New returns a generator.
func New(o Options) *Generator {
	if o.Users <= 0 {
		o.Users = 5000
	}
	if o.Spread <= 0 {
		o.Spread = time.Minute
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Generator{o: o, r: rand.New(rand.NewPCG(o.Seed, 0x5e9))}
}

// Batch returns the body of a batch of n messages, sent now by the
// generator's clock.
func (g *Generator) Batch(n int) []byte {
	sent := g.o.Clock().UTC()
	b := body{Batch: make([]json.RawMessage, n), SentAt: sent.Format(timeLayout)}
	for i := range b.Batch {
		ts := sent.Add(-time.Duration(g.r.Int64N(int64(g.o.Spread))))
		b.Batch[i] = g.Message(ts)
	}
	out, err := json.Marshal(b)
	if err != nil {
		panic(fmt.Sprintf("batches: encode batch: %v", err)) // our own values always encode
	}
	return out
}

const timeLayout = "2006-01-02T15:04:05.000Z"

type body struct {
	Batch  []json.RawMessage `json:"batch"`
	SentAt string            `json:"sentAt"`
}

type message struct {
	Type         string          `json:"type"`
	MessageID    string          `json:"messageId"`
	AnonymousID  string          `json:"anonymousId,omitempty"`
	UserID       string          `json:"userId,omitempty"`
	Event        string          `json:"event,omitempty"`
	Name         string          `json:"name,omitempty"`
	Properties   map[string]any  `json:"properties,omitempty"`
	Traits       map[string]any  `json:"traits,omitempty"`
	Context      any             `json:"context"`
	Integrations map[string]bool `json:"integrations"`
	Timestamp    string          `json:"timestamp"`
}

type library struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type pageContext struct {
	Path     string `json:"path"`
	Referrer string `json:"referrer"`
	Search   string `json:"search"`
	Title    string `json:"title"`
	URL      string `json:"url"`
}

type campaign struct {
	Source string `json:"source"`
	Medium string `json:"medium"`
	Name   string `json:"name"`
}

type webContext struct {
	IP        string      `json:"ip"`
	Library   library     `json:"library"`
	Locale    string      `json:"locale"`
	Page      pageContext `json:"page"`
	UserAgent string      `json:"userAgent"`
	Campaign  *campaign   `json:"campaign,omitempty"`
	Timezone  string      `json:"timezone"`
}

type mobileContext struct {
	App struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Build   string `json:"build"`
	} `json:"app"`
	Device struct {
		ID           string `json:"id"`
		Manufacturer string `json:"manufacturer"`
		Model        string `json:"model"`
		Type         string `json:"type"`
	} `json:"device"`
	Library library `json:"library"`
	Locale  string  `json:"locale"`
	OS      struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"os"`
	Screen struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"screen"`
	Timezone string `json:"timezone"`
}

var (
	site      = "https://www.acme.example"
	pages     = []string{"/", "/pricing", "/features", "/docs", "/blog/how-teams-measure-activation", "/app/dashboard", "/app/reports", "/app/reports/r-1037", "/app/settings", "/app/funnels"}
	titles    = []string{"Acme | Product analytics", "Pricing | Acme", "Features | Acme", "Docs | Acme", "Blog | Acme", "Dashboard", "Reports", "Report", "Settings", "Funnels"}
	referrers = []string{"", "", "https://www.google.com/", "https://news.ycombinator.com/", "https://www.linkedin.com/", "https://t.co/x9Qz3"}
	events    = []string{"Feature Used", "Report Viewed", "Dashboard Filtered", "Search Performed", "Comment Added", "Report Exported", "Chart Created", "Invite Sent"}
	features  = []string{"funnels", "retention", "cohorts", "dashboards", "alerts", "exports", "segments", "sql"}
	plans     = []string{"free", "starter", "pro", "enterprise"}
	zones     = []string{"America/New_York", "Europe/London", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo"}
	agents    = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
	}
)

// Message returns one message that happened at ts: 45% track, 35% page,
// 10% identify, 10% screen (from the mobile library); two users in three
// are identified.
func (g *Generator) Message(ts time.Time) json.RawMessage {
	r := g.r
	g.seq++
	u := r.IntN(g.o.Users)
	m := message{
		MessageID:    "ajs-next-" + strconv.FormatInt(ts.UnixMilli(), 10) + "-" + strconv.FormatUint(g.o.Seed, 36) + "-" + strconv.FormatUint(g.seq, 36),
		AnonymousID:  fmt.Sprintf("a-%08x-%04d", mix(uint64(u)), u),
		Integrations: map[string]bool{"All": true},
		Timestamp:    ts.UTC().Format(timeLayout),
	}
	identified := r.IntN(3) < 2
	if identified {
		m.UserID = fmt.Sprintf("user-%06d", u)
	}
	plan := plans[u%len(plans)]
	p := r.IntN(len(pages))
	pc := pageContext{Path: pages[p], Title: titles[p], URL: site + pages[p], Referrer: referrers[r.IntN(len(referrers))]}
	web := webContext{
		IP:      fmt.Sprintf("%d.%d.%d.%d", 11+u%200, mix(uint64(u))%256, u%256, 1+u%254),
		Library: library{"analytics.js", "npm:next-1.72.0"}, Locale: "en-US", Page: pc,
		UserAgent: agents[u%len(agents)], Timezone: zones[u%len(zones)],
	}
	if r.IntN(10) == 0 {
		web.Campaign = &campaign{Source: "newsletter", Medium: "email", Name: "october-digest"}
		web.Page.Search = "?utm_source=newsletter&utm_medium=email&utm_campaign=october-digest"
		web.Page.URL += web.Page.Search
	}
	m.Context = web
	switch x := r.IntN(100); {
	case x < 45:
		m.Type, m.Event = "track", events[r.IntN(len(events))]
		m.Properties = map[string]any{"plan": plan, "feature": features[r.IntN(len(features))], "report_id": "r-" + strconv.Itoa(1000+37*r.IntN(20)),
			"value": r.IntN(100), "duration_ms": r.IntN(20000), "source": "toolbar"}
	case x < 80:
		m.Type, m.Name = "page", titles[p]
		m.Properties = map[string]any{"path": pc.Path, "referrer": pc.Referrer, "search": web.Page.Search, "title": pc.Title, "url": web.Page.URL}
	case x < 90:
		m.Type = "identify"
		if m.UserID == "" {
			m.UserID = fmt.Sprintf("user-%06d", u)
		}
		m.Traits = map[string]any{"email": fmt.Sprintf("user%06d@company%d.example", u, u%300), "plan": plan, "name": fmt.Sprintf("User %d", u),
			"company":    map[string]any{"id": "c-" + strconv.Itoa(u%300), "name": "Company " + strconv.Itoa(u%300), "employees": 10 + u%500},
			"created_at": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(u%600) * 24 * time.Hour).Format(time.RFC3339)}
	default:
		m.Type, m.Name = "screen", []string{"Dashboard", "Reports", "Settings", "Inbox"}[r.IntN(4)]
		m.Properties = map[string]any{"name": m.Name, "plan": plan}
		var c mobileContext
		c.App.Name, c.App.Version, c.App.Build = "Acme", "5.2.1", "5210"
		c.Device.ID, c.Device.Manufacturer, c.Device.Model, c.Device.Type = m.AnonymousID, "Apple", "iPhone15,2", "ios"
		c.Library = library{"analytics-swift", "1.6.1"}
		c.Locale, c.OS.Name, c.OS.Version = "en-US", "iOS", "17.6.1"
		c.Screen.Width, c.Screen.Height, c.Timezone = 393, 852, zones[u%len(zones)]
		m.Context = c
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("batches: encode message: %v", err))
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
