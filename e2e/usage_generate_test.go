package e2e

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// This file generates the tenant of TestUsageAndOnboarding: 90 days of a
// product's marketing site, sign-up flow, onboarding and product use,
// deterministically from a seed.
//
// The population: anonymous people who browse the marketing site (arriving
// from search engines, social sites, other sites, tagged campaigns or
// nowhere, on desktops, phones and tablets), some of whom sign up; the
// accounts they create or join (group calls); teammates they invite, whose
// only signup trace is the created_at trait of an identify sent by the
// backend; users imported from before the period (created_at months
// earlier); users who go through the configured onboarding steps (by name,
// by index, out of order, late, twice), complete onboarding, reach first
// value, use features in the browser, the mobile app and through the
// backend; users who sign up and never come back; crawlers, a headless
// scraper that signs up, a synthetic monitor and scripts.

const (
	usageSeed = 20260706
	// usageDays is the length of the period, from usageStart.
	usageDays = 90
)

// usageStart is the first day of the period, a Monday.
var usageStart = time.Date(2026, time.July, 6, 0, 0, 0, 0, time.UTC)

// usageConfigJSON is the tenant configuration the test puts.
const usageConfigJSON = `{"onboarding_steps":["Profile","Invite","Integrate"],"onboarding_window_days":30,"feature_events":["Report Exported"]}`

// usageSteps are the configured onboarding steps.
var usageSteps = []string{"Profile", "Invite", "Integrate"}

// usageData is what usageGenerate returns.
type usageData struct {
	start time.Time
	days  int
	msgs  []message
	// stats counts what was generated, by kind (edge cases included), for
	// the data check and the log.
	stats map[string]int
}

// day returns day n of the period as YYYY-MM-DD.
func (ud *usageData) day(n int) string { return ud.start.AddDate(0, 0, n).Format(time.DateOnly) }

type usageChannel int

const (
	usageWeb    usageChannel = iota // analytics.js: anonymousId, and userId once logged in
	usageApp                        // the mobile app: the device's anonymousId and the userId
	usageServer                     // the backend: userId only, whole seconds, local zone
)

// usagePage is a page of the site.
type usagePage struct{ path, title, contentType string }

const usageSiteURL = "https://www.uptake.example"

var (
	usageMarketing = func() []usagePage {
		ps := []usagePage{
			{"/", "Uptake", "landing"},
			{"/pricing", "Pricing", "pricing"},
			{"/features", "Features", "landing"},
			{"/features/funnels", "Onboarding funnels", "landing"},
			{"/features/retention", "Retention cohorts", "landing"},
			{"/features/nps", "NPS surveys", "landing"},
			{"/compare/amplitude", "Uptake vs Amplitude", "landing"},
			{"/compare/mixpanel", "Uptake vs Mixpanel", "landing"},
			{"/customers", "Customers", "case_study"},
			{"/customers/acme", "How Acme halved time to value", "case_study"},
			{"/customers/globex", "Globex onboarding story", "case_study"},
			{"/docs", "Docs", "docs"},
			{"/docs/getting-started", "Getting started", "docs"},
			{"/docs/api", "API reference", "docs"},
			{"/docs/sdk/javascript", "JavaScript SDK", "docs"},
			{"/webinars/onboarding-101", "Onboarding 101", "webinar"},
			{"/about", "About us", ""},
			{"/legal/privacy", "Privacy", ""},
		}
		for _, slug := range []string{
			"onboarding-metrics", "4ps-of-retention", "time-to-value", "nps-benchmarks", "dau-mau-ratio",
			"activation-rate", "feature-adoption", "churn-vs-retention", "cohort-analysis", "product-tours",
			"b2b-onboarding-checklist", "csat-vs-nps", "customer-effort-score", "session-duration", "plg-funnels",
			"pricing-pages", "welcome-emails", "in-app-guides", "health-scores", "expansion-revenue",
		} {
			ps = append(ps, usagePage{"/blog/" + slug, strings.ReplaceAll(slug, "-", " "), "blog"})
		}
		return ps
	}()
	usageAppPages = []usagePage{
		{"/app", "Home", "app"},
		{"/app/dashboards", "Dashboards", "app"},
		{"/app/reports/retention", "Retention", "app"},
		{"/app/reports/funnel", "Funnel", "app"},
		{"/app/surveys", "Surveys", "app"},
		{"/app/settings/team", "Team", "settings"},
		{"/app/settings/billing", "Billing", "settings"},
	}
	usageOnboardingPage = usagePage{"/app/onboarding", "Get started", "onboarding"}
	usageSignupPage     = usagePage{"/signup", "Create your account", ""}

	usageOrganicRefs = []string{
		"https://www.google.com/", "https://www.google.com/", "https://www.google.com/", "https://www.google.co.uk/",
		"https://www.google.de/search?q=onboarding+metrics", "https://google.com/", "https://news.google.com/",
		"https://www.bing.com/search?q=uptake", "https://cn.bing.com/", "https://duckduckgo.com/", "https://search.yahoo.com/",
		"https://uk.search.yahoo.com/", "https://yandex.ru/search/?text=uptake", "https://www.ecosia.org/search?q=nps",
		"https://search.brave.com/search?q=retention", "https://www.baidu.com/s?wd=uptake", "https://www.qwant.com/?q=onboarding",
		"https://www.startpage.com/", "https://search.seznam.cz/",
	}
	usageSocialRefs = []string{
		"https://t.co/AbC123xyz", "https://www.linkedin.com/feed/", "https://lnkd.in/e4xq2", "https://m.facebook.com/",
		"https://l.facebook.com/l.php?u=x", "https://www.reddit.com/r/SaaS/comments/abc", "https://news.ycombinator.com/item?id=41000000",
		"https://www.youtube.com/watch?v=xyz", "https://x.com/uptake/status/1", "https://www.instagram.com/",
		"https://www.pinterest.com/pin/1/", "https://mastodon.social/@uptake", "https://www.quora.com/What-is-NPS",
	}
	usageReferralRefs = []string{
		"https://www.g2.com/products/uptake/reviews", "https://www.capterra.com/p/1/uptake/", "https://medium.com/@pm/onboarding-metrics-1a2b",
		"https://blog.hubspot.com/service/onboarding", "https://www.producthunt.com/posts/uptake", "https://github.com/uptakehq/uptake-js",
		"https://notgoogle.com/list", "https://app.uptake.example/settings", "https://stackoverflow.com/questions/1",
	}
	// usageDirectRefs make a direct visit: no referrer, or the site itself.
	usageDirectRefs = []string{"", "", "", "", "", "https://www.uptake.example/blog", "https://uptake.example/"}

	usagePaidCampaigns = []map[string]any{
		{"source": "google", "medium": "cpc", "name": "brand"},
		{"source": "google", "medium": "cpc", "name": "onboarding-analytics", "term": "onboarding metrics"},
		{"source": "bing", "medium": "ppc", "name": "brand"},
		{"source": "linkedin", "medium": "paid_social", "name": "nps-launch"},
		{"source": "facebook", "medium": "paid-social", "name": "retargeting"},
		{"source": "capterra", "medium": "display", "name": "listing"},
		{"source": "reddit", "medium": "CPC", "name": "saas"},
		{"source": "google", "medium": "paidsearch", "name": "competitors"},
	}
	usageEmailCampaigns = []map[string]any{
		{"source": "newsletter", "medium": "email", "name": "july-digest"},
		{"source": "hubspot", "medium": "Email", "name": "webinar-invite"},
		{"source": "customerio", "medium": "newsletter", "name": "product-update"},
		{"source": "sendgrid", "medium": "e-mail", "name": "trial-nurture"},
	}
	usageSocialCampaigns = []map[string]any{
		{"source": "linkedin", "medium": "social", "name": "nps-launch"},
		{"source": "twitter", "medium": "social-media", "name": "launch-week"},
	}
	usageOtherCampaigns = []map[string]any{
		{"source": "partner-acme", "medium": "affiliate", "name": "partner"},
		{"source": "producthunt", "name": "launch"},
		{"source": "podcast", "medium": "audio", "name": "saas-talk"},
		{"source": "g2", "medium": "referral", "name": "reviews"},
		{"source": "google", "medium": "organic"},
	}
	// usageDigest is the campaign of the weekly digest that brings users
	// back to the app.
	usageDigest = map[string]any{"source": "uptake", "medium": "email", "name": "weekly-digest"}

	usageDesktopUAs = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36 Edg/127.0.0.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0",
	}
	usageMobileUAs = []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
		// An Android tablet that says neither tablet nor iPad: read as mobile.
		"Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36",
	}
	usageTabletUAs = []string{
		"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Android 14; Tablet; rv:129.0) Gecko/129.0 Firefox/129.0",
	}
	// usageBotUAs each match the bot pattern (some in a different way).
	usageBotUAs = []string{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
		"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
		"Screaming Frog SEO Spider/20.2",
		"Mozilla/5.0 (compatible; SiteAuditCrawler/1.3; +https://audit.example/crawler)",
		"python-requests/2.32.3",
		"curl/8.7.1",
		"Wget/1.21.4",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
		"Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/127.0.0.0 Safari/537.36",
	}
	usagePingdomUA  = "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)"
	usageHeadlessUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/127.0.0.0 Safari/537.36"
	usageScriptUA   = "python-requests/2.32.3"

	// usageFeatures are the `feature` property values of Feature Used.
	usageFeatures = []string{"dashboards", "funnels", "cohorts", "nps_surveys", "alerts", "csv_export"}
	// usageFeatureWeights is how often each is used.
	usageFeatureWeights = []int{30, 22, 16, 12, 8, 5}

	usageIndustries = []string{"software", "retail", "finance", "health", "education", "media", "logistics"}
	usageCompanyA   = []string{"North", "Blue", "Bright", "Swift", "Iron", "Silver", "Green", "Red", "Clear", "Deep", "High", "Open", "True", "Wild", "Quiet"}
	usageCompanyB   = []string{"labs", "works", "soft", "metrics", "loop", "forge", "stack", "wave", "point", "field", "grid", "path", "base", "nest"}
	usageFirstNames = []string{"Ana", "Bruno", "Chen", "Dara", "Emeka", "Fatima", "Giulia", "Hiro", "Ines", "Jonas", "Kavya", "Lena", "Mateo", "Noor", "Olga", "Priya", "Rosa", "Sami", "Tomas", "Uma", "Yuki", "Zoe"}
	usageLastNames  = []string{"Silva", "Garcia", "Wang", "Okafor", "Rossi", "Tanaka", "Novak", "Schmidt", "Haddad", "Kowalski", "Moreau", "Patel", "Ortiz", "Berg"}
	usageZones      = []*time.Location{time.FixedZone("CEST", 2*3600), time.FixedZone("PDT", -7*3600), time.FixedZone("IST", 5*3600+1800), time.FixedZone("JST", 9*3600)}
)

// usageAccount is a customer account (a group).
type usageAccount struct {
	id, name, industry string
	employees          int
}

// usagePerson is someone who sends messages.
type usagePerson struct {
	anon    string // the browser's anonymousId
	userID  string // once signed up
	ua      string
	variant int // how their site's library sends pages (see page)
	appAnon string
	appType string // context.device.type of their app; "" for an old app that sends none
	account *usageAccount
	traits  map[string]any
	zone    *time.Location // of their backend's timestamps

	page     map[string]any // context.page of the current page, if the library sends it
	pageURL  string
	campaign map[string]any // of the current visit, if tagged
}

// usageGen holds the state of one usageGenerate call.
type usageGen struct {
	r        *rand.Rand
	start    time.Time
	end      time.Time // the instant after the period
	days     int
	msgs     []message
	ids      map[string]bool
	stats    map[string]int
	accounts []*usageAccount
}

// usageGenerate returns the messages of the tenant; the same seed gives the
// same messages.
func usageGenerate(seed uint64) *usageData {
	g := &usageGen{
		r:     rand.New(rand.NewPCG(seed, seed^0x5eed)),
		start: usageStart,
		end:   usageStart.AddDate(0, 0, usageDays),
		days:  usageDays,
		ids:   map[string]bool{},
		stats: map[string]int{},
	}
	for range 1600 {
		g.signupUser()
	}
	for range 3000 {
		g.anonymousVisitor()
	}
	for range 70 {
		g.legacyUser()
	}
	for range 25 {
		g.importedUser()
	}
	g.botTraffic()
	g.stats["accounts"] = len(g.accounts)
	return &usageData{start: g.start, days: g.days, msgs: g.msgs, stats: g.stats}
}

func usagePick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index with probability proportional to its weight.
func (g *usageGen) weighted(ws []int) int {
	total := 0
	for _, w := range ws {
		total += w
	}
	x := g.r.IntN(total)
	for i, w := range ws {
		if x < w {
			return i
		}
		x -= w
	}
	return len(ws) - 1
}

func (g *usageGen) chance(p float64) bool { return g.r.Float64() < p }

// id returns a new id made by f, unique among all ids generated.
func (g *usageGen) id(f func() string) string {
	for {
		s := f()
		if !g.ids[s] {
			g.ids[s] = true
			return s
		}
	}
}

func (g *usageGen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

func (g *usageGen) uuid() string {
	return g.id(func() string {
		h := g.hex(32)
		return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
	})
}

// dayStart is 00:00 UTC of day d.
func (g *usageGen) dayStart(d int) time.Time { return g.start.AddDate(0, 0, d) }

// sessionStart is a random instant of day d, most often in working hours
// somewhere in the world, sometimes late enough for the session to cross
// midnight.
func (g *usageGen) sessionStart(d int) time.Time {
	var ms int64
	switch x := g.r.IntN(100); {
	case x < 80:
		ms = int64(6*3600*1000) + g.r.Int64N(int64(16*3600*1000))
	case x < 95:
		ms = g.r.Int64N(int64(24 * 3600 * 1000))
	default:
		ms = int64(23*3600*1000+30*60*1000) + g.r.Int64N(int64(29*60*1000))
	}
	return g.dayStart(d).Add(time.Duration(ms) * time.Millisecond)
}

// gap is the time between two events of a visit: mostly seconds to
// minutes, sometimes exactly 30 minutes (the same session), sometimes
// long enough to start a new session.
func (g *usageGen) gap() time.Duration {
	switch x := g.r.IntN(1000); {
	case x < 5:
		g.stats["gap_exactly_30min"]++
		return 30 * time.Minute
	case x < 35:
		g.stats["gap_new_session"]++
		return time.Duration(31*60*1000+g.r.IntN(50*60*1000)) * time.Millisecond
	default:
		return time.Duration(5000+g.r.IntN(11*60*1000)) * time.Millisecond
	}
}

func (g *usageGen) newPerson() *usagePerson {
	p := &usagePerson{anon: g.uuid(), zone: time.UTC}
	switch x := g.r.IntN(100); {
	case x < 60:
		p.ua = usagePick(g.r, usageDesktopUAs)
	case x < 91:
		p.ua = usagePick(g.r, usageMobileUAs)
	default:
		p.ua = usagePick(g.r, usageTabletUAs)
	}
	switch x := g.r.IntN(100); {
	case x < 91:
		p.variant = 0
	case x < 94:
		p.variant = 1
	case x < 97:
		p.variant = 2
	default:
		p.variant = 3
	}
	if g.chance(0.3) {
		p.zone = usagePick(g.r, usageZones)
	}
	return p
}

// becomeUser gives p a userId and traits.
func (g *usageGen) becomeUser(p *usagePerson) {
	first, last := usagePick(g.r, usageFirstNames), usagePick(g.r, usageLastNames)
	p.userID = g.id(func() string { return "usr_" + g.hex(10) })
	p.traits = map[string]any{
		"email": strings.ToLower(first+"."+last+"."+p.userID[4:8]) + "@example.com",
		"name":  first + " " + last,
		"role":  usagePick(g.r, []string{"admin", "member", "member", "analyst", "owner"}),
		"plan":  "free",
	}
	if g.chance(0.35) {
		p.appAnon = strings.ToUpper(g.uuid())
		switch x := g.r.IntN(100); {
		case x < 55:
			p.appType = "ios"
		case x < 85:
			p.appType = "android"
		case x < 93:
			p.appType = "ipad"
		case x < 96:
			p.appType = "Tablet"
		default:
			p.appType = "" // an old app version that sends no device type
		}
	}
}

func (g *usageGen) newAccount() *usageAccount {
	a := &usageAccount{
		id:        g.id(func() string { return "acct_" + g.hex(8) }),
		name:      usagePick(g.r, usageCompanyA) + " " + usagePick(g.r, usageCompanyB),
		industry:  usagePick(g.r, usageIndustries),
		employees: []int{5, 20, 80, 300, 1500}[g.r.IntN(5)],
	}
	g.accounts = append(g.accounts, a)
	return a
}

// ts writes t as a sender does: milliseconds in UTC from browsers and
// apps; whole seconds in the backend's zone.
func usageTS(t time.Time, ch usageChannel, zone *time.Location) string {
	if ch == usageServer {
		return t.Truncate(time.Second).In(zone).Format(time.RFC3339)
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// emit adds m, sent by p from ch at t, unless t is outside the period. It
// reports whether it did. identified says whether a browser or app message
// carries the userId (backend messages always do).
func (g *usageGen) emit(p *usagePerson, ch usageChannel, t time.Time, m message, identified bool) bool {
	if ch == usageServer {
		t = t.Truncate(time.Second)
	}
	if t.Before(g.start) || !t.Before(g.end) {
		return false
	}
	switch ch {
	case usageWeb:
		m.MessageID = g.id(func() string { return "ajs-next-" + g.hex(24) })
		m.AnonymousID = p.anon
		m.Context = map[string]any{
			"library":   map[string]any{"name": "analytics.js", "version": "next-1.70.0"},
			"userAgent": p.ua,
			"locale":    "en-US",
		}
		if p.page != nil {
			m.Context["page"] = p.page
		}
		if p.campaign != nil {
			m.Context["campaign"] = p.campaign
		}
	case usageApp:
		m.MessageID = strings.ToUpper(g.uuid())
		m.AnonymousID = p.appAnon
		device := map[string]any{"manufacturer": "Apple", "model": "iPhone15,2"}
		if p.appType != "" {
			device["type"] = p.appType
		}
		m.Context = map[string]any{
			"library": map[string]any{"name": "analytics-swift", "version": "1.5.11"},
			"app":     map[string]any{"name": "Uptake", "version": "3.4.1", "build": "341"},
			"device":  device,
			"os":      map[string]any{"name": "iOS", "version": "17.5"},
		}
	case usageServer:
		m.MessageID = g.uuid()
		m.Context = map[string]any{"library": map[string]any{"name": "analytics-go", "version": "3.3.0"}}
		identified = true
	}
	if identified {
		m.UserID = p.userID
	}
	m.Timestamp = usageTS(t, ch, p.zone)
	g.msgs = append(g.msgs, m)
	return true
}

// page emits a browser page view of pg with referrer ref. How the page is
// described depends on the person's library: 0, context.page and
// properties (analytics.js); 1, properties with the path only; 2,
// properties with the URL and no path; 3, context.page with the URL and no
// path.
func (g *usageGen) page(p *usagePerson, t time.Time, pg usagePage, ref string, identified bool) bool {
	url := usageSiteURL + pg.path
	if pg.path == "/" && p.variant == 2 {
		url = usageSiteURL // no path at all: the landing page is "/"
	}
	props := map[string]any{"title": pg.title}
	if pg.contentType != "" {
		props["content_type"] = pg.contentType
	}
	switch p.variant {
	case 0:
		p.page = map[string]any{"path": pg.path, "referrer": ref, "title": pg.title, "url": url, "search": ""}
		props["path"], props["referrer"], props["url"], props["search"] = pg.path, ref, url, ""
	case 1:
		p.page = nil
		props["path"], props["referrer"], props["url"] = pg.path, ref, url
	case 2:
		p.page = nil
		props["referrer"], props["url"] = ref, url
	case 3:
		p.page = map[string]any{"referrer": ref, "title": pg.title, "url": url}
	}
	p.pageURL = url
	return g.emit(p, usageWeb, t, message{Type: "page", Name: pg.title, Properties: props}, identified)
}

// nextPage emits a page reached from the current one.
func (g *usageGen) nextPage(p *usagePerson, t time.Time, pg usagePage, identified bool) bool {
	return g.page(p, t, pg, p.pageURL, identified)
}

func (g *usageGen) track(p *usagePerson, ch usageChannel, t time.Time, event string, props map[string]any, identified bool) bool {
	if props == nil {
		props = map[string]any{}
	}
	return g.emit(p, ch, t, message{Type: "track", Event: event, Properties: props}, identified)
}

func (g *usageGen) screen(p *usagePerson, t time.Time, name string) bool {
	return g.emit(p, usageApp, t, message{Type: "screen", Name: name, Properties: map[string]any{}}, true)
}

// identify emits p's traits, with extra ones.
func (g *usageGen) identify(p *usagePerson, ch usageChannel, t time.Time, extra map[string]any) bool {
	traits := map[string]any{}
	for k, v := range p.traits {
		traits[k] = v
	}
	for k, v := range extra {
		traits[k] = v
	}
	return g.emit(p, ch, t, message{Type: "identify", Traits: traits}, true)
}

func (g *usageGen) group(p *usagePerson, ch usageChannel, t time.Time) bool {
	a := p.account
	return g.emit(p, ch, t, message{Type: "group", GroupID: a.id, Traits: map[string]any{
		"name": a.name, "industry": a.industry, "employees": a.employees, "plan": "free",
	}}, true)
}

// createdAt writes a created_at trait as a backend does, in one of a few
// RFC 3339 forms.
func (g *usageGen) createdAt(t time.Time) string {
	switch g.r.IntN(4) {
	case 0:
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	case 1:
		return t.In(usagePick(g.r, usageZones)).Format(time.RFC3339)
	default:
		return t.UTC().Format(time.RFC3339)
	}
}

// visitSource picks where a visit comes from: a referrer and maybe a
// campaign.
func (g *usageGen) visitSource() (string, map[string]any) {
	switch g.weighted([]int{24, 30, 10, 11, 10, 7, 3, 5}) {
	case 0:
		return usagePick(g.r, usageDirectRefs), nil
	case 1:
		return usagePick(g.r, usageOrganicRefs), nil
	case 2:
		return usagePick(g.r, usageSocialRefs), nil
	case 3:
		return usagePick(g.r, usageReferralRefs), nil
	case 4:
		c := usagePick(g.r, usagePaidCampaigns)
		ref := ""
		if c["source"] == "google" || c["source"] == "bing" {
			ref = "https://www." + c["source"].(string) + ".com/"
		}
		return ref, c
	case 5:
		return "", usagePick(g.r, usageEmailCampaigns)
	case 6:
		return "https://t.co/q1w2e3", usagePick(g.r, usageSocialCampaigns)
	default:
		return usagePick(g.r, usageReferralRefs[:3]), usagePick(g.r, usageOtherCampaigns)
	}
}

// landingFor picks a landing page for a visit from ref/campaign.
func (g *usageGen) landingFor(ref string, campaign map[string]any) usagePage {
	m := usageMarketing
	switch {
	case campaign != nil && campaign["medium"] == "email":
		return usagePick(g.r, []usagePage{m[15], m[9], m[1], m[18+g.r.IntN(20)]})
	case campaign != nil:
		return usagePick(g.r, []usagePage{m[1], m[2], m[3], m[6], m[7], m[0]})
	case ref == "" || strings.Contains(ref, "uptake.example"):
		return usagePick(g.r, []usagePage{m[0], m[0], m[1], m[11], m[12], m[13]})
	case strings.Contains(ref, "google") || strings.Contains(ref, "bing") || strings.Contains(ref, "search"):
		if g.chance(0.6) {
			return m[18+g.r.IntN(20)]
		}
		return usagePick(g.r, m[:18])
	default:
		return usagePick(g.r, m)
	}
}

// visit emits an anonymous (or logged-out) visit of the marketing site from
// t: a landing page from some source and a few more pages, a click, a
// video or the ROI calculator now and then. It returns the time of the
// last event.
func (g *usageGen) visit(p *usagePerson, t time.Time) time.Time {
	ref, campaign := g.visitSource()
	p.campaign = campaign
	g.page(p, t, g.landingFor(ref, campaign), ref, false)
	for range g.pagesAfterLanding() {
		t = t.Add(g.gap())
		switch x := g.r.IntN(100); {
		case x < 8:
			g.track(p, usageWeb, t, "CTA Clicked", map[string]any{"cta": "start-free"}, false)
		case x < 12:
			g.track(p, usageWeb, t, "Video Played", map[string]any{"video": "product-tour"}, false)
		case x < 14:
			g.stats["anonymous_feature_use"]++
			g.nextPage(p, t, usageMarketing[1], false)
			t = t.Add(g.gap())
			g.track(p, usageWeb, t, "Feature Used", map[string]any{"feature": "roi_calculator"}, false)
		default:
			g.nextPage(p, t, usagePick(g.r, usageMarketing), false)
		}
	}
	p.campaign = nil
	return t
}

func (g *usageGen) pagesAfterLanding() int {
	n := 0
	for n < 6 && g.chance(0.5) {
		n++
	}
	return n
}

// anonymousVisitor browses on one to a few days and never signs up.
func (g *usageGen) anonymousVisitor() {
	p := g.newPerson()
	d := g.r.IntN(g.days)
	visits := 1
	switch x := g.r.IntN(100); {
	case x < 25:
		visits = 2
	case x < 35:
		visits = 3 + g.r.IntN(3)
	}
	for range visits {
		t := g.visit(p, g.sessionStart(d))
		if g.chance(0.1) {
			// Back later the same day, from elsewhere.
			g.visit(p, t.Add(time.Duration(40+g.r.IntN(300))*time.Minute))
		}
		d += 1 + g.r.IntN(12)
		if d >= g.days {
			return
		}
	}
}

// signupUser browses, signs up, sets up an account or joins one, goes
// through some of the onboarding, and uses the product on some days.
func (g *usageGen) signupUser() {
	p := g.newPerson()
	g.becomeUser(p)
	first := g.r.IntN(g.days)
	signupDay := first
	if g.chance(0.4) {
		signupDay = min(first+1+g.r.IntN(10), g.days-1)
	}
	for d := first; d < signupDay; d++ {
		if d == first || g.chance(0.3) {
			g.visit(p, g.sessionStart(d))
		}
	}
	founder := len(g.accounts) < 20 || g.chance(0.22)
	if founder {
		p.account = g.newAccount()
	} else {
		p.account = usagePick(g.r, g.accounts)
	}
	s, ok := g.signUp(p, g.sessionStart(signupDay))
	if !ok {
		return
	}
	g.stats["signed_up"]++
	if g.chance(0.12) {
		g.stats["never_back"]++
		return // signed up and never came back
	}
	g.onboard(p, s, 1)
	g.firstValue(p, s, 1)
	if founder && g.chance(0.5) {
		for range 1 + g.r.IntN(3) {
			g.invitedUser(p.account, s.Add(time.Duration(g.r.Int64N(int64(10*24*time.Hour)))))
		}
	}
	g.use(p, signupDay, usagePick(g.r, []float64{0.5, 0.22, 0.22, 0.12, 0.12, 0.05, 0.05, 0.05, 0.02}))
}

// signUp emits the visit in which p signs up, from t: a landing page, maybe
// more, the sign-up page, Signed Up (in the browser, or from the backend
// without the anonymousId), identify (sometimes with created_at, or with a
// created_at that is earlier, the account having been made by the sales
// team) and the group call. It returns the time of Signed Up.
func (g *usageGen) signUp(p *usagePerson, t time.Time) (time.Time, bool) {
	ref, campaign := g.visitSource()
	p.campaign = campaign
	g.page(p, t, g.landingFor(ref, campaign), ref, false)
	for range g.r.IntN(3) {
		t = t.Add(g.gap())
		g.nextPage(p, t, usagePick(g.r, usageMarketing), false)
	}
	t = t.Add(time.Duration(5000+g.r.IntN(120000)) * time.Millisecond)
	g.nextPage(p, t, usageSignupPage, false)
	p.campaign = nil
	t = t.Add(time.Duration(20000+g.r.IntN(100000)) * time.Millisecond)
	signedUp := t
	props := map[string]any{"method": usagePick(g.r, []string{"email", "google", "github"}), "plan": "free"}
	var ok bool
	if g.chance(0.18) {
		g.stats["signup_from_backend"]++
		ok = g.track(p, usageServer, t, "Signed Up", props, true)
		signedUp = t.Truncate(time.Second)
	} else {
		ok = g.track(p, usageWeb, t, "Signed Up", props, true)
	}
	if !ok {
		return time.Time{}, false
	}
	extra := map[string]any{}
	switch x := g.r.IntN(100); {
	case x < 35:
		extra["created_at"] = g.createdAt(signedUp.Truncate(time.Second)) // the same second: the signup is this instant
		g.stats["signup_with_created_at"]++
	case x < 40:
		extra["created_at"] = g.createdAt(signedUp.Add(3 * time.Minute)) // later: Signed Up stays the signup
	case x < 42:
		// Made by the sales team one to three days before: the signup.
		earlier := signedUp.Add(-time.Duration(20+g.r.IntN(52)) * time.Hour)
		extra["created_at"] = g.createdAt(earlier)
		signedUp = earlier.Truncate(time.Second)
		g.stats["created_at_before_signed_up"]++
	}
	t = t.Add(2 * time.Second)
	if g.chance(0.8) {
		g.identify(p, usageWeb, t, extra)
	} else {
		g.identify(p, usageServer, t.Add(3*time.Second), extra)
	}
	if g.chance(0.75) {
		g.group(p, usageWeb, t.Add(time.Second))
	} else {
		g.group(p, usageServer, t.Add(time.Duration(1+g.r.IntN(72))*time.Hour))
	}
	return signedUp, true
}

// invitedUser is a teammate invited on inviteAt: the backend creates them
// when they accept (the created_at trait of its identify is their only
// signup), and most then log in and use the product.
func (g *usageGen) invitedUser(a *usageAccount, inviteAt time.Time) {
	p := g.newPerson()
	g.becomeUser(p)
	p.account = a
	created := inviteAt.Add(time.Duration(10+g.r.IntN(3*24*60)) * time.Minute)
	if !g.identify(p, usageServer, created.Add(time.Duration(1+g.r.IntN(5))*time.Second), map[string]any{"created_at": g.createdAt(created)}) {
		return
	}
	g.stats["invited"]++
	g.group(p, usageServer, created.Add(10*time.Second))
	if g.chance(0.15) {
		g.stats["invited_never_active"]++
		return
	}
	t := created.Add(time.Duration(30+g.r.IntN(3600)) * time.Second)
	g.page(p, t, usageOnboardingPage, "", true)
	g.onboard(p, created.Truncate(time.Second), 0.7)
	g.firstValue(p, created.Truncate(time.Second), 0.8)
	d := int(t.Sub(g.start).Hours() / 24)
	g.use(p, d, usagePick(g.r, []float64{0.3, 0.15, 0.1, 0.05, 0.03}))
}

// legacyUser signed up months before the period (created_at); the backend
// identifies them on a day of the period, and they use the product.
func (g *usageGen) legacyUser() {
	p := g.newPerson()
	g.becomeUser(p)
	p.account = usagePick(g.r, g.accounts)
	created := g.start.Add(-time.Duration(5*24+g.r.IntN(150*24)) * time.Hour).Add(time.Duration(g.r.IntN(3600)) * time.Second)
	d := g.r.IntN(20)
	g.identify(p, usageServer, g.sessionStart(d), map[string]any{"created_at": g.createdAt(created)})
	g.stats["legacy"]++
	g.use(p, d, usagePick(g.r, []float64{0.45, 0.3, 0.15, 0.08}))
}

// importedUser was created on a day of the period by an import, but the
// backend identifies them (with that created_at) weeks later, when they
// first log in: their cohort is learnt late.
func (g *usageGen) importedUser() {
	p := g.newPerson()
	g.becomeUser(p)
	p.account = usagePick(g.r, g.accounts)
	c := g.r.IntN(50)
	created := g.sessionStart(c)
	d := c + 15 + g.r.IntN(25)
	g.identify(p, usageServer, g.sessionStart(d), map[string]any{"created_at": g.createdAt(created)})
	g.stats["imported"]++
	t := g.sessionStart(d)
	g.page(p, t, usageOnboardingPage, "", true)
	// Onboarding starts at the first login, weeks after the signup: most
	// steps fall outside the 30-day window.
	g.onboard(p, t, 0.5)
	g.use(p, d, usagePick(g.r, []float64{0.2, 0.1, 0.05}))
}

// delay is a time after a milestone: minutes (with probability minutesP),
// hours (hoursP) or days to weeks.
func (g *usageGen) delay(minutesP, hoursP float64) time.Duration {
	x := g.r.Float64()
	switch {
	case x < minutesP:
		return time.Duration(30+g.r.IntN(55*60)) * time.Second
	case x < minutesP+hoursP:
		return time.Duration(3600+g.r.IntN(47*3600)) * time.Second
	default:
		return time.Duration(2*24*3600+g.r.IntN(38*24*3600)) * time.Second
	}
}

// milestone emits a track event of p's at t from the browser, the app or
// the backend.
func (g *usageGen) milestone(p *usagePerson, t time.Time, event string, props map[string]any) {
	switch x := g.r.IntN(100); {
	case x < 60:
		if x < 15 {
			g.page(p, t.Add(-time.Duration(5+g.r.IntN(60))*time.Second), usageOnboardingPage, "", true)
		}
		g.track(p, usageWeb, t, event, props, true)
	case x < 75 && p.appAnon != "":
		g.track(p, usageApp, t, event, props, true)
	default:
		g.track(p, usageServer, t, event, props, true)
	}
}

// stepProps names step k (1-based) by name, by index, or both.
func (g *usageGen) stepProps(k int) map[string]any {
	switch x := g.r.IntN(100); {
	case x < 50:
		return map[string]any{"step": usageSteps[k-1]}
	case x < 75:
		g.stats["step_by_index"]++
		return map[string]any{"step_index": k}
	default:
		return map[string]any{"step": usageSteps[k-1], "step_index": k}
	}
}

// onboard emits p's onboarding after signup s: the steps in order for
// most, out of order or skipping one for a few, some of them late; the
// same step again now and then; Onboarding Completed for most who finish,
// and for a few who do not.
func (g *usageGen) onboard(p *usagePerson, s time.Time, keen float64) {
	if !g.chance(0.82 * keen) {
		if g.chance(0.05) {
			g.stats["completed_without_steps"]++
			g.milestone(p, s.Add(g.delay(0.2, 0.5)), "Onboarding Completed", nil)
		}
		return
	}
	if g.chance(0.01) {
		// Sent by the backend while the account was being created, a few
		// seconds before Signed Up: it counts (within 30 days, either way).
		g.stats["completed_before_signup"]++
		g.milestone(p, s.Add(-time.Duration(3+g.r.IntN(60))*time.Second), "Onboarding Completed", nil)
	}
	var times []time.Time
	t := s
	for k := 1; k <= 3; k++ {
		if k > 1 && !g.chance([]float64{0, 0, 0.68, 0.74}[k]) {
			break
		}
		t = t.Add(g.delay(0.5, 0.35))
		times = append(times, t)
	}
	if g.chance(0.015) {
		// The first step recorded just before the signup: the funnel
		// does not count it (nor, then, the steps after it).
		g.stats["step_before_signup"]++
		times[0] = s.Add(-time.Duration(3+g.r.IntN(300)) * time.Second)
	}
	order := []int{1, 2, 3}[:len(times)]
	switch x := g.r.IntN(100); {
	case x < 4 && len(times) >= 2:
		// Invite before Profile.
		g.stats["steps_out_of_order"]++
		times[0], times[1] = times[1], times[0]
	case x < 7 && len(times) == 3:
		// Integrate without Invite.
		g.stats["step_skipped"]++
		order = []int{1, 3}
		times = []time.Time{times[0], times[2]}
	}
	for i, k := range order {
		g.milestone(p, times[i], "Onboarding Step Completed", g.stepProps(k))
		if g.chance(0.05) {
			g.stats["step_twice"]++
			g.milestone(p, times[i].Add(g.delay(0.3, 0.5)), "Onboarding Step Completed", g.stepProps(k))
		}
	}
	if g.chance(0.05) {
		g.stats["unknown_step"]++
		g.milestone(p, s.Add(g.delay(0.5, 0.5)), "Onboarding Step Completed", map[string]any{"step": "Product Tour"})
	}
	last := times[len(times)-1]
	if len(order) == 3 && order[1] == 2 && g.chance(0.85) {
		g.milestone(p, last.Add(time.Duration(1+g.r.IntN(90))*time.Second), "Onboarding Completed", nil)
	} else if g.chance(0.04) {
		g.stats["completed_without_steps"]++
		g.milestone(p, last.Add(g.delay(0.2, 0.5)), "Onboarding Completed", nil)
	}
}

// firstValue emits p's first value after signup s for most; for a few,
// slightly before s; sometimes again later.
func (g *usageGen) firstValue(p *usagePerson, s time.Time, keen float64) {
	if !g.chance(0.68 * keen) {
		return
	}
	t := s.Add(g.delay(0.35, 0.35))
	if g.chance(0.02) {
		g.stats["value_before_signup"]++
		t = s.Add(-time.Duration(10+g.r.IntN(600)) * time.Second)
	}
	g.milestone(p, t, "First Value Reached", map[string]any{"action": "dashboard_shared"})
	if g.chance(0.1) {
		g.milestone(p, t.Add(g.delay(0.1, 0.5)), "First Value Reached", map[string]any{"action": "report_exported"})
	}
}

// featureEvent picks a product event: a feature used, a report exported
// (a configured feature event), or another event.
func (g *usageGen) featureEvent() (string, map[string]any) {
	switch x := g.r.IntN(100); {
	case x < 45:
		return "Feature Used", map[string]any{"feature": usageFeatures[g.weighted(usageFeatureWeights)]}
	case x < 53:
		return "Report Exported", map[string]any{"format": usagePick(g.r, []string{"csv", "pdf"})}
	case x < 54:
		g.stats["feature_used_without_feature"]++
		return "Feature Used", map[string]any{}
	case x < 75:
		return "Report Viewed", map[string]any{"report": usagePick(g.r, []string{"retention", "funnel", "nps"})}
	case x < 90:
		return "Filter Applied", map[string]any{"dimension": usagePick(g.r, []string{"plan", "region", "role"})}
	default:
		return "Dashboard Created", map[string]any{}
	}
}

// use emits p's product use after day from: each later day active with a
// probability that falls at weekends, until they churn.
func (g *usageGen) use(p *usagePerson, from int, rate float64) {
	churn := 0.004 + 0.02*g.r.Float64()
	for d := from + 1; d < g.days; d++ {
		if g.chance(churn) {
			return
		}
		pr := rate
		if wd := g.dayStart(d).Weekday(); wd == time.Saturday || wd == time.Sunday {
			pr *= 0.35
		}
		if g.chance(pr) {
			g.activeDay(p, d)
		} else if g.chance(0.01) {
			g.identify(p, usageServer, g.sessionStart(d), nil) // traits only: not activity
		}
	}
}

// activeDay emits one or two sessions of p on day d: in the browser, in
// the app, or only a backend export; rarely, a script of theirs.
func (g *usageGen) activeDay(p *usagePerson, d int) {
	if g.chance(0.03) {
		// Logged in from another browser: a new visitor.
		np := g.newPerson()
		p.anon, p.ua, p.variant, p.page, p.pageURL = np.anon, np.ua, np.variant, nil, ""
	}
	t := g.sessionStart(d)
	for s := range 1 + g.r.IntN(2)*g.r.IntN(2) {
		if s > 0 {
			t = t.Add(time.Duration(45+g.r.IntN(300)) * time.Minute)
		}
		n := 1 + g.r.IntN(5)
		switch x := g.r.IntN(100); {
		case p.appAnon != "" && x < 40:
			t = g.appSession(p, t, n)
		case x < 45:
			g.track(p, usageServer, t, "Report Exported", map[string]any{"format": "csv", "scheduled": true}, true)
		case x < 46:
			g.stats["script_events"]++
			script := *p
			script.ua, script.anon, script.page, script.campaign = usageScriptUA, "", nil, nil
			g.track(&script, usageWeb, t, "Report Exported", map[string]any{"format": "json"}, true)
		default:
			t = g.webSession(p, t, n)
		}
	}
}

// webSession emits n events of a logged-in browser session from t.
func (g *usageGen) webSession(p *usagePerson, t time.Time, n int) time.Time {
	ref := ""
	switch x := g.r.IntN(100); {
	case x < 10:
		p.campaign = usageDigest
	case x < 14:
		ref = "https://www.google.com/"
	case x < 17:
		ref = "https://mail.google.com/"
	}
	g.page(p, t, usagePick(g.r, usageAppPages), ref, true)
	for range n - 1 {
		t = t.Add(g.gap())
		if g.chance(0.5) {
			g.nextPage(p, t, usagePick(g.r, usageAppPages), true)
		} else {
			name, props := g.featureEvent()
			g.track(p, usageWeb, t, name, props, true)
		}
	}
	p.campaign = nil
	return t
}

// appSession emits n events of an app session from t.
func (g *usageGen) appSession(p *usagePerson, t time.Time, n int) time.Time {
	for i := range n {
		if i > 0 {
			t = t.Add(g.gap())
		}
		if i == 0 || g.chance(0.5) {
			g.screen(p, t, usagePick(g.r, []string{"Home", "Dashboards", "Report", "Surveys", "Settings"}))
		} else {
			name, props := g.featureEvent()
			g.track(p, usageApp, t, name, props, true)
		}
	}
	return t
}

// botTraffic emits crawlers every day (each hit a new anonymousId), a
// headless scraper that keeps its cookie and signs up, and a synthetic
// monitor that logs in as its own user.
func (g *usageGen) botTraffic() {
	for d := range g.days {
		for range 3 + g.r.IntN(4) {
			b := g.newPerson()
			b.ua, b.variant = usagePick(g.r, usageBotUAs), 0
			t := g.sessionStart(d)
			g.page(b, t, usagePick(g.r, usageMarketing), usagePick(g.r, []string{"", "", "https://www.google.com/"}), false)
			if g.chance(0.3) {
				g.nextPage(b, t.Add(time.Second), usagePick(g.r, usageMarketing), false)
			}
			g.stats["crawler_hits"]++
		}
	}
	scraper := g.newPerson()
	scraper.ua, scraper.variant = usageHeadlessUA, 0
	g.becomeUser(scraper)
	scraper.appAnon = ""
	scraper.account = g.newAccount()
	for d := 2; d < 30; d += 4 {
		g.visit(scraper, g.sessionStart(d))
	}
	if s, ok := g.signUp(scraper, g.sessionStart(30)); ok {
		g.stats["bot_signup"]++
		g.firstValue(scraper, s, 1)
		for d := 31; d < g.days; d += 5 {
			g.webSession(scraper, g.sessionStart(d), 3)
		}
	}
	monitor := g.newPerson()
	monitor.ua, monitor.variant = usagePingdomUA, 0
	g.becomeUser(monitor)
	monitor.appAnon = ""
	for d := 0; d < g.days; d += 3 {
		t := g.dayStart(d).Add(3 * time.Hour)
		g.page(monitor, t, usageAppPages[0], "", true)
		g.track(monitor, usageWeb, t.Add(2*time.Second), "Feature Used", map[string]any{"feature": "dashboards"}, true)
	}
	g.stats["monitor_days"] = (g.days + 2) / 3
}

// usagePlan returns the requests that deliver msgs, as a historical import
// does: in batches of 60 to 100 messages, mostly in time order but
// shuffled (each message arrives up to 6 hours after its place; 7% up to a
// week after; 3% anywhere in the period, before or after), with about 2%
// of the messages sent again in a later request (those of the last
// requests in extra requests at the end).
//
// A message arrives in the raw file of its day and its request, and the
// nightly run reads every file of the days around the day it runs: a
// uniform shuffle of 50,000 messages would make some 30,000 files and
// several minutes of reading, for no more disorder than this.
func usagePlan(r *rand.Rand, msgs []message) [][]message {
	type arrival struct {
		key time.Duration // from the start of the period
		m   message
	}
	order := make([]arrival, len(msgs))
	for i, m := range msgs {
		at, err := time.Parse(time.RFC3339Nano, m.Timestamp)
		if err != nil {
			panic(err)
		}
		key := at.Sub(usageStart)
		switch x := r.IntN(100); {
		case x < 90:
			key += time.Duration(r.Int64N(int64(6 * time.Hour)))
		case x < 97:
			key += time.Duration(r.Int64N(int64(7 * 24 * time.Hour)))
		default:
			key = time.Duration(r.Int64N(int64(usageDays * 24 * time.Hour)))
		}
		order[i] = arrival{key, m}
	}
	slices.SortStableFunc(order, func(a, b arrival) int { return cmp.Compare(a.key, b.key) })
	var batches [][]message
	for len(order) > 0 {
		n := min(len(order), 60+r.IntN(maxBatch-60+1))
		b := make([]message, n)
		for i := range b {
			b[i] = order[i].m
		}
		r.Shuffle(n, func(i, j int) { b[i], b[j] = b[j], b[i] })
		batches = append(batches, b)
		order = order[n:]
	}
	type loc struct{ b, i int }
	var locs []loc
	for b := range batches {
		for i := range batches[b] {
			locs = append(locs, loc{b, i})
		}
	}
	r.Shuffle(len(locs), func(i, j int) { locs[i], locs[j] = locs[j], locs[i] })
	var extra []message
	again := int(math.Round(float64(len(locs)) * 0.02))
	for _, l := range locs[:again] {
		m := batches[l.b][l.i]
		j := l.b + 1 + r.IntN(len(batches)-l.b)
		if j < len(batches) && len(batches[j]) < maxBatch {
			batches[j] = slices.Insert(batches[j], r.IntN(len(batches[j])+1), m)
		} else {
			extra = append(extra, m)
		}
	}
	for len(extra) > 0 {
		n := min(len(extra), maxBatch)
		batches = append(batches, extra[:n:n])
		extra = extra[n:]
	}
	return batches
}

// usageDescribe summarises the data, for the log.
func usageDescribe(ud *usageData) string {
	types := map[string]int{}
	users, anons, groups := map[string]bool{}, map[string]bool{}, map[string]bool{}
	events := map[string]int{}
	for _, m := range ud.msgs {
		types[m.Type]++
		if m.UserID != "" {
			users[m.UserID] = true
		}
		if m.AnonymousID != "" {
			anons[m.AnonymousID] = true
		}
		if m.GroupID != "" {
			groups[m.GroupID] = true
		}
		if m.Type == "track" {
			events[m.Event]++
		}
	}
	var stats []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range ud.stats {
			if !yield(k) {
				return
			}
		}
	}) {
		stats = append(stats, fmt.Sprintf("%s=%d", k, ud.stats[k]))
	}
	return fmt.Sprintf("%d messages %v from %s to %s: %d userIds, %d anonymousIds, %d accounts (groupIds); events %v; %s",
		len(ud.msgs), types, ud.day(0), ud.day(ud.days-1), len(users), len(anons), len(groups), events, strings.Join(stats, " "))
}
