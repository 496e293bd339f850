package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file computes, by brute force over the messages as they were sent,
// what the service must answer for the usage, session, conversion,
// feature, adoption, onboarding and retention KPIs, with the readings of
// kpis.md that the hand-computed cases under shared/aggregate/testdata show
// (TestUsageReferenceCases checks this reference against them):
//
//   - a day is a UTC day; a user is the userId, else the anonymousId; a
//     visitor is the anonymousId, else the userId; a user is active on a
//     day if they sent a track, page or screen with a userId that day, bots
//     included; a repeated messageId counts once;
//   - sessions are a visitor's non-bot track/page/screen events cut by gaps
//     over 30 minutes, on the day of their first event; their source and
//     device are those of the first event, their landing page and content
//     type those of their first page;
//   - signup is the earliest Signed Up or created_at trait; milestones are
//     the first times of their events.
//
// Answers are flattened to path → value maps, in the convention of the
// cases' expect lines: value, numerator, denominator, details by dotted
// path (steps.0.reached, cohorts.1.pct.3; a list's length as .len), rows
// and [key].value / .numerator / .denominator for breakdown rows, and
// series.<i>.<key> for a series. A value is a *float64 (nil for null), a
// string or a bool.

// usageBotPattern is the reading of "bot" of the usage KPIs.
var usageBotPattern = regexp.MustCompile(`(?i)bot|crawl|spider|slurp|headless|lighthouse|pingdom|phantomjs|python-requests|curl/|wget/|facebookexternalhit`)

func usageIsBot(ua string) bool { return usageBotPattern.MatchString(ua) }

// usageEvent is the part of a message the usage reference reads.
type usageEvent struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	Timestamp   string         `json:"timestamp"`
	AnonymousID string         `json:"anonymousId"`
	UserID      string         `json:"userId"`
	Event       string         `json:"event"`
	Name        string         `json:"name"`
	Properties  map[string]any `json:"properties"`
	Traits      map[string]any `json:"traits"`
	Context     struct {
		UserAgent string `json:"userAgent"`
		Device    struct {
			Type string `json:"type"`
		} `json:"device"`
		Page struct {
			Path     string `json:"path"`
			Referrer string `json:"referrer"`
			URL      string `json:"url"`
		} `json:"page"`
		Campaign struct {
			Source string `json:"source"`
			Medium string `json:"medium"`
		} `json:"campaign"`
	} `json:"context"`

	at  time.Time
	day int // days since 1970-01-01, UTC
}

func (e *usageEvent) activity() bool {
	return e.Type == "track" || e.Type == "page" || e.Type == "screen"
}

func (e *usageEvent) user() string { return cmpOr(e.UserID, e.AnonymousID) }

func (e *usageEvent) visitor() string { return cmpOr(e.AnonymousID, e.UserID) }

// prop returns a string property, "" if missing or not a string.
func (e *usageEvent) prop(k string) string {
	s, _ := e.Properties[k].(string)
	return s
}

// usageDayNum is the day number of t (days since 1970-01-01 UTC).
func usageDayNum(t time.Time) int {
	return int(math.Floor(float64(t.Unix()) / 86400))
}

// usageDayOf parses YYYY-MM-DD into a day number.
func usageDayOf(s string) int {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(fmt.Sprintf("bad day %q", s))
	}
	return usageDayNum(t)
}

// usageDayStr writes a day number as YYYY-MM-DD.
func usageDayStr(d int) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)
}

// usageParse decodes messages (JSON objects), keeping the first of each
// messageId, and returns them in time order.
func usageParse(raws [][]byte) ([]*usageEvent, error) {
	seen := map[string]bool{}
	var out []*usageEvent
	for _, raw := range raws {
		e := new(usageEvent)
		if err := json.Unmarshal(raw, e); err != nil {
			return nil, fmt.Errorf("%s: %w", raw, err)
		}
		if e.MessageID == "" || seen[e.MessageID] {
			continue
		}
		seen[e.MessageID] = true
		at, err := time.Parse(time.RFC3339Nano, e.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", e.MessageID, err)
		}
		e.at = at.UTC()
		e.day = usageDayNum(e.at)
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b *usageEvent) int { return a.at.Compare(b.at) })
	return out, nil
}

func usageMarshal(msgs []message) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = []byte(mustJSON(m))
	}
	return out
}

// usageConfig is the tenant configuration the reference reads.
type usageConfig struct {
	Steps           []string `json:"onboarding_steps"`
	WindowDays      int      `json:"onboarding_window_days"`
	FeatureEvents   []string `json:"feature_events"`
	ValueEvents     []string `json:"value_events"`
	ConversionEvent string   `json:"conversion_event"`
	MinActiveDays   int      `json:"adoption_min_active_days"`
}

func usageDefaultConfig() usageConfig {
	return usageConfig{WindowDays: 30, ValueEvents: []string{"First Value Reached"}, ConversionEvent: "Signed Up", MinActiveDays: 4}
}

// usageSession is a session as the reference sees it.
type usageSession struct {
	visitor    string
	day        int
	start, end time.Time
	pages      int
	dims       map[string]string // source, device, content_type, landing_page
}

// usageRef holds what the KPIs are made of.
type usageRef struct {
	cfg        usageConfig
	aggregated map[int]bool // the days that have a part
	lastAgg    int

	active       map[int]map[string]bool // day → users active
	firstSeen    map[string]int          // userId → first day in any message
	sessions     []usageSession          // by start
	pageVisitors map[int]map[string]bool // day → non-bot page visitors
	converted    map[int]map[string]bool // day → visitors of a non-bot conversion event
	conversions  map[int]int             // day → non-bot conversion events
	features     map[int]map[string]map[string]bool

	signup    map[string]time.Time
	onboarded map[string]time.Time
	steps     map[string]map[int]time.Time
	value     map[string]time.Time
}

func usageAdd(sets map[int]map[string]bool, day int, key string) {
	if sets[day] == nil {
		sets[day] = map[string]bool{}
	}
	sets[day][key] = true
}

func usageEarliest(m map[string]time.Time, k string, t time.Time) {
	if old, ok := m[k]; !ok || t.Before(old) {
		m[k] = t
	}
}

// newUsageRef computes the reference over events (from usageParse); the
// aggregated days are from..to and every signup day (a created_at trait
// names any day, and its day gets a part).
func newUsageRef(events []*usageEvent, cfg usageConfig, from, to int) *usageRef {
	ref := &usageRef{
		cfg: cfg, aggregated: map[int]bool{},
		active: map[int]map[string]bool{}, firstSeen: map[string]int{},
		pageVisitors: map[int]map[string]bool{}, converted: map[int]map[string]bool{}, conversions: map[int]int{},
		features: map[int]map[string]map[string]bool{},
		signup:   map[string]time.Time{}, onboarded: map[string]time.Time{}, steps: map[string]map[int]time.Time{}, value: map[string]time.Time{},
	}
	byVisitor := map[string][]*usageEvent{}
	for _, e := range events {
		bot := usageIsBot(e.Context.UserAgent)
		if e.UserID != "" {
			if d, ok := ref.firstSeen[e.UserID]; !ok || e.day < d {
				ref.firstSeen[e.UserID] = e.day
			}
		}
		if e.activity() && e.UserID != "" {
			usageAdd(ref.active, e.day, e.UserID)
		}
		if e.activity() && !bot {
			byVisitor[e.visitor()] = append(byVisitor[e.visitor()], e)
		}
		if e.Type == "page" && !bot {
			usageAdd(ref.pageVisitors, e.day, e.visitor())
		}
		if e.Type == "track" && e.Event == cfg.ConversionEvent && !bot {
			usageAdd(ref.converted, e.day, e.visitor())
			ref.conversions[e.day]++
		}
		if e.Type == "identify" && e.UserID != "" {
			if s, ok := e.Traits["created_at"].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					usageEarliest(ref.signup, e.UserID, t.UTC())
				}
			}
		}
		if e.Type != "track" || e.user() == "" {
			continue
		}
		u := e.user()
		switch e.Event {
		case "Signed Up":
			usageEarliest(ref.signup, u, e.at)
		case "Onboarding Completed":
			usageEarliest(ref.onboarded, u, e.at)
		case "Onboarding Step Completed":
			k := slices.Index(cfg.Steps, e.prop("step")) + 1
			if k == 0 {
				if x, ok := e.Properties["step_index"].(float64); ok && x == math.Trunc(x) && x >= 1 && x <= 50 {
					k = int(x)
				}
			}
			if k > 0 {
				if ref.steps[u] == nil {
					ref.steps[u] = map[int]time.Time{}
				}
				if old, ok := ref.steps[u][k]; !ok || e.at.Before(old) {
					ref.steps[u][k] = e.at
				}
			}
		}
		if slices.Contains(cfg.ValueEvents, e.Event) {
			usageEarliest(ref.value, u, e.at)
		}
		feature := ""
		if e.Event == "Feature Used" {
			feature = e.prop("feature")
		} else if slices.Contains(cfg.FeatureEvents, e.Event) {
			feature = e.Event
		}
		if feature != "" {
			if ref.features[e.day] == nil {
				ref.features[e.day] = map[string]map[string]bool{}
			}
			if ref.features[e.day][feature] == nil {
				ref.features[e.day][feature] = map[string]bool{}
			}
			ref.features[e.day][feature][u] = true
		}
	}
	for v, es := range byVisitor {
		slices.SortStableFunc(es, func(a, b *usageEvent) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return strings.Compare(a.MessageID, b.MessageID)
		})
		for i := 0; i < len(es); {
			j := i
			for j+1 < len(es) && es[j+1].at.Sub(es[j].at) <= 30*time.Minute {
				j++
			}
			s := usageSession{visitor: v, day: es[i].day, start: es[i].at, end: es[j].at}
			var firstPage *usageEvent
			for _, e := range es[i : j+1] {
				if e.Type == "page" {
					s.pages++
					if firstPage == nil {
						firstPage = e
					}
				}
			}
			s.dims = map[string]string{
				"source": usageSource(es[i]), "device": usageDevice(es[i]),
				"content_type": "(none)", "landing_page": "(none)",
			}
			if firstPage != nil {
				if ct := firstPage.prop("content_type"); ct != "" {
					s.dims["content_type"] = ct
				}
				if p := usagePath(firstPage); p != "" {
					s.dims["landing_page"] = p
				}
			}
			ref.sessions = append(ref.sessions, s)
			i = j + 1
		}
	}
	slices.SortFunc(ref.sessions, func(a, b usageSession) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.visitor, b.visitor)
	})
	for d := from; d <= to; d++ {
		ref.aggregated[d] = true
	}
	for _, t := range ref.signup {
		ref.aggregated[usageDayNum(t)] = true
	}
	ref.lastAgg = math.MinInt
	for d := range ref.aggregated {
		ref.lastAgg = max(ref.lastAgg, d)
	}
	return ref
}

var (
	usagePaidMediums   = []string{"cpc", "ppc", "paid", "display", "cpm", "paidsearch", "paid_search", "paid-search", "paid_social", "paid-social", "paidsocial"}
	usageEmailMediums  = []string{"email", "e-mail", "newsletter"}
	usageSocialMediums = []string{"social", "social-media", "social_media"}
	usageSearchPrefix  = []string{"google.", "yahoo.", "yandex."}
	usageSearchSites   = []string{"bing.com", "duckduckgo.com", "baidu.com", "ecosia.org", "ask.com", "naver.com", "search.brave.com", "startpage.com", "qwant.com", "seznam.cz", "sogou.com"}
	usageSocialSites   = []string{"facebook.com", "fb.com", "t.co", "twitter.com", "x.com", "linkedin.com", "lnkd.in", "instagram.com", "reddit.com", "youtube.com", "tiktok.com", "threads.net", "mastodon.social", "news.ycombinator.com", "quora.com", "weibo.com", "vk.com"}
)

// usageHost is the host of a URL, lower-case, without "www.".
func usageHost(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
}

// usageUnder reports whether host is site or a subdomain of it.
func usageUnder(host, site string) bool { return host == site || strings.HasSuffix(host, "."+site) }

// usageSource is the traffic source of a session whose first event is e.
func usageSource(e *usageEvent) string {
	medium := strings.ToLower(strings.TrimSpace(e.Context.Campaign.Medium))
	switch {
	case slices.Contains(usagePaidMediums, medium):
		return "paid"
	case slices.Contains(usageEmailMediums, medium):
		return "email"
	case slices.Contains(usageSocialMediums, medium):
		return "social"
	case medium == "organic":
		return "organic"
	case medium == "referral":
		return "referral"
	case medium != "" || strings.TrimSpace(e.Context.Campaign.Source) != "":
		return "campaign"
	}
	ref, pageURL := e.Context.Page.Referrer, e.Context.Page.URL
	if e.Type == "page" {
		ref, pageURL = cmpOr(ref, e.prop("referrer")), cmpOr(pageURL, e.prop("url"))
	}
	host := usageHost(ref)
	if host == "" || host == usageHost(pageURL) {
		return "direct"
	}
	// The host and its parent domains.
	var domains []string
	for h := host; ; {
		domains = append(domains, h)
		_, rest, ok := strings.Cut(h, ".")
		if !ok || rest == "" {
			break
		}
		h = rest
	}
	for _, d := range domains {
		for _, p := range usageSearchPrefix {
			if strings.HasPrefix(d, p) {
				return "organic"
			}
		}
	}
	for _, s := range usageSearchSites {
		if usageUnder(host, s) {
			return "organic"
		}
	}
	for _, s := range usageSocialSites {
		if usageUnder(host, s) {
			return "social"
		}
	}
	for _, d := range domains {
		if strings.HasPrefix(d, "pinterest.") {
			return "social"
		}
	}
	return "referral"
}

// usageDevice is the device of a session whose first event is e.
func usageDevice(e *usageEvent) string {
	switch t := strings.ToLower(strings.TrimSpace(e.Context.Device.Type)); t {
	case "":
	case "ios", "android", "phone", "mobile", "smartphone":
		return "mobile"
	case "ipad", "tablet":
		return "tablet"
	default:
		return t
	}
	ua := strings.ToLower(e.Context.UserAgent)
	switch {
	case strings.Contains(ua, "ipad") || strings.Contains(ua, "tablet"):
		return "tablet"
	case strings.Contains(ua, "mobi") || strings.Contains(ua, "iphone") || strings.Contains(ua, "android"):
		return "mobile"
	case ua != "":
		return "desktop"
	case e.Type == "screen":
		return "mobile"
	}
	return "unknown"
}

// usagePath is the path of a page event: context.page.path, else the path
// property, else the path of its URL.
func usagePath(e *usageEvent) string {
	if e.Context.Page.Path != "" {
		return e.Context.Page.Path
	}
	if p := e.prop("path"); p != "" {
		return p
	}
	raw := cmpOr(e.Context.Page.URL, e.prop("url"))
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Path == "" {
		return "/"
	}
	return u.Path
}

// usageQuery is one KPI question to the reference (and the service).
type usageQuery struct {
	kpi, from, to, interval string
	breakdown               string
	filter                  string // dim:value
	feature                 string
}

func (q usageQuery) path() string {
	v := url.Values{"from": {q.from}, "to": {q.to}}
	if q.interval != "" {
		v.Set("interval", q.interval)
	}
	if q.breakdown != "" {
		v.Set("breakdown", q.breakdown)
	}
	if q.filter != "" {
		v.Set("filter", q.filter)
	}
	if q.feature != "" {
		v.Set("feature", q.feature)
	}
	return "/v1/kpis/" + q.kpi + "?" + v.Encode()
}

// flat is a flattened answer.
type flat map[string]any

func fnum(x float64) *float64 { return &x }

func fratio(n, d, scale float64) *float64 {
	if d == 0 {
		return nil
	}
	return fnum(n / d * scale)
}

// answer returns what the service must answer to q, flattened.
func (ref *usageRef) answer(q usageQuery) flat {
	from, to := usageDayOf(q.from), usageDayOf(q.to)
	out := ref.view(q, from, to)
	if q.interval != "" && q.kpi != "retention_cohorts" {
		ps := periods(q.from, q.to, q.interval)
		out["series.len"] = fnum(float64(len(ps)))
		for i, p := range ps {
			pv := ref.view(usageQuery{kpi: q.kpi, filter: q.filter, feature: q.feature}, usageDayOf(p[0]), usageDayOf(p[1]))
			prefix := fmt.Sprintf("series.%d.", i)
			out[prefix+"period"] = p[0]
			for k, v := range pv {
				if k == "rows" || strings.HasPrefix(k, "[") {
					continue
				}
				out[prefix+k] = v
			}
		}
	}
	return out
}

// view is a KPI over from..to (day numbers), without series.
func (ref *usageRef) view(q usageQuery, from, to int) flat {
	switch q.kpi {
	case "wau":
		return ref.rolling(to, 7)
	case "mau":
		return ref.rolling(to, 30)
	case "stickiness":
		return ref.stickiness(from, to)
	case "engagement_rate":
		return ref.engagement(from, to)
	case "sessions", "pages_per_session", "avg_session_duration":
		return ref.sessionKPI(q, from, to)
	case "organic_clicks":
		return ref.organic(from, to)
	case "conversion_rate":
		return ref.conversion(q, from, to)
	case "feature_adoption":
		return ref.featureAdoption(q, from, to)
	case "product_adoption":
		return ref.productAdoption(to)
	case "onboarding_completion_rate", "onboarding_funnel", "time_to_first_value":
		return ref.onboarding(q.kpi, from, to)
	case "retention_cohorts":
		return ref.retention(cmpOr(q.interval, "week"), from, to)
	}
	panic("the usage reference does not compute " + q.kpi)
}

// activeIn is the union of the active users of the aggregated days of
// from..to.
func (ref *usageRef) activeIn(from, to int) map[string]bool {
	out := map[string]bool{}
	for d := from; d <= to; d++ {
		if ref.aggregated[d] {
			maps.Copy(out, ref.active[d])
		}
	}
	return out
}

func (ref *usageRef) aggregatedIn(from, to int) int {
	n := 0
	for d := from; d <= to; d++ {
		if ref.aggregated[d] {
			n++
		}
	}
	return n
}

// rolling is WAU (n = 7) or MAU (n = 30) on day d.
func (ref *usageRef) rolling(d, n int) flat {
	users := float64(len(ref.activeIn(d-n+1, d)))
	var v *float64
	if ref.aggregatedIn(d-n+1, d) > 0 {
		v = fnum(users)
	}
	return flat{"value": v, "numerator": fnum(users)}
}

func (ref *usageRef) stickiness(from, to int) flat {
	sum, n := 0.0, 0.0
	for d := from; d <= to; d++ {
		if !ref.aggregated[d] {
			continue
		}
		mau := float64(len(ref.activeIn(d-29, d)))
		if mau == 0 {
			continue
		}
		sum += float64(len(ref.active[d])) / mau * 100
		n++
	}
	return flat{"value": fratio(sum, n, 1), "numerator": fnum(sum), "denominator": fnum(n)}
}

func (ref *usageRef) engagement(from, to int) flat {
	active := float64(len(ref.activeIn(from, to)))
	known := 0.0
	for _, d := range ref.firstSeen {
		if d <= to {
			known++
		}
	}
	activeDays := 0.0
	for d := from; d <= to; d++ {
		if ref.aggregated[d] {
			activeDays += float64(len(ref.active[d]))
		}
	}
	return flat{"value": fratio(active, known, 100), "numerator": fnum(active), "denominator": fnum(known),
		"frequency": fratio(activeDays, active, 1)}
}

// sessionsIn returns the sessions that started on an aggregated day of
// from..to.
func (ref *usageRef) sessionsIn(from, to int) []usageSession {
	var out []usageSession
	for _, s := range ref.sessions {
		if s.day >= from && s.day <= to && ref.aggregated[s.day] {
			out = append(out, s)
		}
	}
	return out
}

func (ref *usageRef) sessionKPI(q usageQuery, from, to int) flat {
	ss := ref.sessionsIn(from, to)
	if q.filter != "" {
		dim, val, _ := strings.Cut(q.filter, ":")
		ss = slices.DeleteFunc(ss, func(s usageSession) bool { return s.dims[dim] != val })
	}
	figures := func(ss []usageSession) (value, num, den *float64, extra flat) {
		n, pages, secs := 0.0, 0.0, 0.0
		for _, s := range ss {
			n++
			pages += float64(s.pages)
			secs += s.end.Sub(s.start).Seconds()
		}
		switch q.kpi {
		case "sessions":
			return fnum(n), fnum(n), fnum(1), flat{"pages": fnum(pages), "seconds": fnum(secs)}
		case "pages_per_session":
			return fratio(pages, n, 1), fnum(pages), fnum(n), flat{}
		default:
			return fratio(secs, n, 1), fnum(secs), fnum(n), flat{}
		}
	}
	v, num, den, out := figures(ss)
	out["value"], out["numerator"], out["denominator"] = v, num, den
	if q.breakdown != "" && q.filter == "" {
		byValue := map[string][]usageSession{}
		for _, s := range ss {
			byValue[s.dims[q.breakdown]] = append(byValue[s.dims[q.breakdown]], s)
		}
		out["rows"] = fnum(float64(len(byValue)))
		for k, rs := range byValue {
			v, num, den, _ := figures(rs)
			out["["+k+"].value"], out["["+k+"].numerator"], out["["+k+"].denominator"] = v, num, den
		}
	}
	return out
}

func (ref *usageRef) organic(from, to int) flat {
	count := func(from, to int) float64 {
		n := 0.0
		for _, s := range ref.sessionsIn(from, to) {
			if s.dims["source"] == "organic" {
				n++
			}
		}
		return n
	}
	cur := count(from, to)
	days := to - from + 1
	out := flat{"value": fnum(cur), "numerator": fnum(cur), "previous": (*float64)(nil), "growth_pct": (*float64)(nil)}
	if ref.aggregatedIn(from-days, from-1) > 0 {
		prev := count(from-days, from-1)
		out["previous"], out["growth_pct"] = fnum(prev), fratio(cur-prev, prev, 100)
	}
	return out
}

// channels maps each visitor with a session starting in from..to to the
// value of dim (source or landing_page) of the first of those sessions.
func (ref *usageRef) channels(from, to int, dim string) map[string]string {
	out := map[string]string{}
	for _, s := range ref.sessionsIn(from, to) { // by start
		if _, ok := out[s.visitor]; !ok {
			out[s.visitor] = s.dims[dim]
		}
	}
	return out
}

func (ref *usageRef) conversion(q usageQuery, from, to int) flat {
	visitors, converted := map[string]bool{}, map[string]bool{}
	conversions := 0.0
	for d := from; d <= to; d++ {
		if !ref.aggregated[d] {
			continue
		}
		maps.Copy(visitors, ref.pageVisitors[d])
		maps.Copy(converted, ref.converted[d])
		conversions += float64(ref.conversions[d])
	}
	dimOf := func(d string) string {
		if d == "channel" {
			return "source"
		}
		return d
	}
	row := func(vs map[string]bool) (v, num, den *float64) {
		c := 0.0
		for x := range vs {
			if converted[x] {
				c++
			}
		}
		n := float64(len(vs))
		return fratio(c, n, 100), fnum(c), fnum(n)
	}
	out := flat{}
	if q.filter != "" {
		dim, val, _ := strings.Cut(q.filter, ":")
		ch := ref.channels(from, to, dimOf(dim))
		maps.DeleteFunc(visitors, func(x string, _ bool) bool { c, ok := ch[x]; return !ok || c != val })
	} else {
		out["conversions"] = fnum(conversions)
	}
	out["value"], out["numerator"], out["denominator"] = row(visitors)
	if q.breakdown != "" {
		ch := ref.channels(from, to, dimOf(q.breakdown))
		byValue := map[string]map[string]bool{}
		for x := range visitors {
			if c, ok := ch[x]; ok {
				if byValue[c] == nil {
					byValue[c] = map[string]bool{}
				}
				byValue[c][x] = true
			}
		}
		out["rows"] = fnum(float64(len(byValue)))
		for k, vs := range byValue {
			out["["+k+"].value"], out["["+k+"].numerator"], out["["+k+"].denominator"] = row(vs)
		}
	}
	return out
}

func (ref *usageRef) featureAdoption(q usageQuery, from, to int) flat {
	active := ref.activeIn(from, to)
	n := float64(len(active))
	users := map[string]map[string]bool{}
	for d := from; d <= to; d++ {
		if !ref.aggregated[d] {
			continue
		}
		for f, us := range ref.features[d] {
			if users[f] == nil {
				users[f] = map[string]bool{}
			}
			maps.Copy(users[f], us)
		}
	}
	count := func(us map[string]bool) float64 {
		c := 0.0
		for u := range us {
			if active[u] {
				c++
			}
		}
		return c
	}
	if q.feature != "" {
		c := count(users[q.feature])
		return flat{"value": fratio(c, n, 100), "numerator": fnum(c), "denominator": fnum(n)}
	}
	anyFeature := map[string]bool{}
	out := flat{"rows": fnum(float64(len(users)))}
	for f, us := range users {
		maps.Copy(anyFeature, us)
		c := count(us)
		out["["+f+"].value"], out["["+f+"].numerator"], out["["+f+"].denominator"] = fratio(c, n, 100), fnum(c), fnum(n)
	}
	c := count(anyFeature)
	out["value"], out["numerator"], out["denominator"] = fratio(c, n, 100), fnum(c), fnum(n)
	return out
}

func (ref *usageRef) productAdoption(to int) flat {
	ws := to - 29
	pop, adopted := 0.0, 0.0
	for u, t := range ref.signup {
		if usageDayNum(t) >= ws {
			continue
		}
		pop++
		days := 0
		for d := ws; d <= to; d++ {
			if ref.aggregated[d] && ref.active[d][u] {
				days++
			}
		}
		if days >= ref.cfg.MinActiveDays {
			adopted++
		}
	}
	return flat{"value": fratio(adopted, pop, 100), "numerator": fnum(adopted), "denominator": fnum(pop),
		"min_active_days": fnum(float64(ref.cfg.MinActiveDays))}
}

// cohort returns the users whose signup day is an aggregated day of
// from..to.
func (ref *usageRef) cohort(from, to int) []string {
	var out []string
	for u, t := range ref.signup {
		if d := usageDayNum(t); d >= from && d <= to && ref.aggregated[d] {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

func usageMedian(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	v := slices.Sorted(slices.Values(xs))
	n := len(v)
	if n%2 == 1 {
		return fnum(v[n/2])
	}
	return fnum((v[n/2-1] + v[n/2]) / 2)
}

func usageP90(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	v := slices.Sorted(slices.Values(xs))
	return fnum(v[int(math.Ceil(0.9*float64(len(v))))-1])
}

func usageMean(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return fnum(s / float64(len(xs)))
}

func (ref *usageRef) onboarding(kpi string, from, to int) flat {
	cohort := ref.cohort(from, to)
	size := float64(len(cohort))
	window := time.Duration(ref.cfg.WindowDays) * 24 * time.Hour
	steps := len(ref.cfg.Steps)
	reached := make([]float64, steps+1)
	hours := make([][]float64, steps+1)
	var completed float64
	var ttfv []float64
	within := map[int]float64{}
	for _, u := range cohort {
		s := ref.signup[u]
		prev, k := s, 1
		for ; k <= steps; k++ {
			t, ok := ref.steps[u][k]
			if !ok || t.Before(prev) || t.Sub(s) > window {
				break
			}
			reached[k]++
			hours[k] = append(hours[k], t.Sub(prev).Hours())
			prev = t
		}
		done := steps > 0 && k > steps
		if t, ok := ref.onboarded[u]; ok && t.Sub(s) <= window {
			done = true
		}
		if done {
			completed++
		}
		if t, ok := ref.value[u]; ok {
			h := math.Max(0, t.Sub(s).Hours())
			ttfv = append(ttfv, h)
			for _, n := range []int{1, 7, 30} {
				if h <= float64(24*n) {
					within[n]++
				}
			}
		}
	}
	switch kpi {
	case "onboarding_completion_rate":
		return flat{"value": fratio(completed, size, 100), "numerator": fnum(completed), "denominator": fnum(size)}
	case "onboarding_funnel":
		out := flat{"steps.len": fnum(float64(steps)), "worst_step": (*float64)(nil)}
		prev, worst, worstDrop := size, 0, 0.0
		for k := 1; k <= steps; k++ {
			p := fmt.Sprintf("steps.%d.", k-1)
			r := reached[k]
			out[p+"step"] = fnum(float64(k))
			out[p+"name"] = ref.cfg.Steps[k-1]
			out[p+"reached"] = fnum(r)
			out[p+"conversion_pct"] = fratio(r, prev, 100)
			out[p+"dropoff"] = fnum(prev - r)
			out[p+"dropoff_pct"] = fratio(prev-r, prev, 100)
			out[p+"median_hours"] = usageMedian(hours[k])
			out[p+"p90_hours"] = usageP90(hours[k])
			if worst == 0 || prev-r > worstDrop {
				worst, worstDrop = k, prev-r
			}
			prev = r
		}
		if worst > 0 {
			out["worst_step"] = fnum(float64(worst))
		}
		last := 0.0
		if steps > 0 {
			last = reached[steps]
		}
		out["value"], out["numerator"], out["denominator"] = fratio(last, size, 100), fnum(last), fnum(size)
		return out
	default:
		n := float64(len(ttfv))
		return flat{"value": usageMedian(ttfv), "numerator": fnum(n), "denominator": fnum(size),
			"median_hours": usageMedian(ttfv), "p90_hours": usageP90(ttfv), "mean_hours": usageMean(ttfv), "reached": fnum(n),
			"within_1d_pct": fratio(within[1], size, 100), "within_7d_pct": fratio(within[7], size, 100), "within_30d_pct": fratio(within[30], size, 100)}
	}
}

// usageCohortStart is the first day of the cohort (day, ISO week, month)
// of day d.
func usageCohortStart(d int, interval string) int {
	t := time.Unix(int64(d)*86400, 0).UTC()
	switch interval {
	case "day":
		return d
	case "month":
		return usageDayNum(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC))
	}
	return d - (int(t.Weekday())+6)%7
}

// usagePeriod is period n of a user who signed up on day d.
func usagePeriod(d, n int, interval string) (int, int) {
	switch interval {
	case "day":
		return d + n, d + n
	case "month":
		t := time.Unix(int64(d)*86400, 0).UTC()
		return usageDayNum(t.AddDate(0, n, 0)), usageDayNum(t.AddDate(0, n+1, 0)) - 1
	}
	return d + 7*n, d + 7*n + 6
}

func (ref *usageRef) retention(interval string, from, to int) flat {
	cohorts := map[int][]string{}
	for _, u := range ref.cohort(from, to) {
		c := usageCohortStart(usageDayNum(ref.signup[u]), interval)
		cohorts[c] = append(cohorts[c], u)
	}
	starts := slices.Sorted(maps.Keys(cohorts))
	type row struct {
		active []float64
		size   float64
	}
	rows := make([]row, len(starts))
	var avgNum, avgDen []float64
	periods := 0
	for i, c := range starts {
		rows[i].size = float64(len(cohorts[c]))
		for n := 0; ; n++ {
			ended := true
			active := 0.0
			for _, u := range cohorts[c] {
				a, b := usagePeriod(usageDayNum(ref.signup[u]), n, interval)
				if b > ref.lastAgg {
					ended = false
					break
				}
				if len(ref.activeDaysOf(u, a, b)) > 0 {
					active++
				}
			}
			if !ended {
				break
			}
			rows[i].active = append(rows[i].active, active)
			for len(avgNum) <= n {
				avgNum, avgDen = append(avgNum, 0), append(avgDen, 0)
			}
			avgNum[n] += active
			avgDen[n] += rows[i].size
		}
		periods = max(periods, len(rows[i].active))
	}
	out := flat{"interval": interval, "cohorts.len": fnum(float64(len(starts))), "average_pct.len": fnum(float64(periods))}
	for i, c := range starts {
		p := fmt.Sprintf("cohorts.%d.", i)
		out[p+"cohort"] = usageDayStr(c)
		out[p+"size"] = fnum(rows[i].size)
		out[p+"pct.len"] = fnum(float64(periods))
		out[p+"active.len"] = fnum(float64(periods))
		for n := range periods {
			if n < len(rows[i].active) {
				out[fmt.Sprintf("%spct.%d", p, n)] = fratio(rows[i].active[n], rows[i].size, 100)
				out[fmt.Sprintf("%sactive.%d", p, n)] = fnum(rows[i].active[n])
			} else {
				out[fmt.Sprintf("%spct.%d", p, n)] = (*float64)(nil)
				out[fmt.Sprintf("%sactive.%d", p, n)] = (*float64)(nil)
			}
		}
	}
	for n := range periods {
		out[fmt.Sprintf("average_pct.%d", n)] = fratio(avgNum[n], avgDen[n], 100)
	}
	out["value"], out["numerator"], out["denominator"] = (*float64)(nil), fnum(0), fnum(0)
	if periods > 1 {
		out["value"], out["numerator"], out["denominator"] = fratio(avgNum[1], avgDen[1], 100), fnum(avgNum[1]), fnum(avgDen[1])
	}
	return out
}

// activeDaysOf returns the aggregated days of a..b on which u is active.
func (ref *usageRef) activeDaysOf(u string, a, b int) []int {
	var out []int
	for d := a; d <= b; d++ {
		if ref.aggregated[d] && ref.active[d][u] {
			out = append(out, d)
		}
	}
	return out
}

// flattenAnswer flattens a service answer (its JSON) in the convention of
// the reference.
func flattenAnswer(body []byte) (flat, error) {
	var a struct {
		Value       any              `json:"value"`
		Numerator   any              `json:"numerator"`
		Denominator any              `json:"denominator"`
		Details     map[string]any   `json:"details"`
		Breakdown   []map[string]any `json:"breakdown"`
		Series      []map[string]any `json:"series"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	out := flat{}
	flattenInto(out, "value", a.Value)
	flattenInto(out, "numerator", a.Numerator)
	flattenInto(out, "denominator", a.Denominator)
	for k, v := range a.Details {
		flattenInto(out, k, v)
	}
	out["rows"] = fnum(float64(len(a.Breakdown)))
	for _, r := range a.Breakdown {
		key, _ := r["key"].(string)
		if _, dup := out["["+key+"].value"]; dup {
			return nil, fmt.Errorf("breakdown row %q appears twice", key)
		}
		for _, f := range []string{"value", "numerator", "denominator"} {
			flattenInto(out, "["+key+"]."+f, r[f])
		}
	}
	if a.Series != nil {
		out["series.len"] = fnum(float64(len(a.Series)))
	}
	for i, s := range a.Series {
		p := fmt.Sprintf("series.%d.", i)
		for _, f := range []string{"period", "value", "numerator", "denominator"} {
			if v, ok := s[f]; ok {
				flattenInto(out, p+f, v)
			}
		}
		if d, ok := s["details"].(map[string]any); ok {
			for k, v := range d {
				flattenInto(out, p+k, v)
			}
		}
	}
	return out, nil
}

func flattenInto(out flat, path string, v any) {
	switch x := v.(type) {
	case nil:
		out[path] = (*float64)(nil)
	case float64:
		out[path] = fnum(x)
	case string, bool:
		out[path] = x
	case []any:
		out[path+".len"] = fnum(float64(len(x)))
		for i, e := range x {
			flattenInto(out, path+"."+strconv.Itoa(i), e)
		}
	case map[string]any:
		for k, e := range x {
			flattenInto(out, path+"."+k, e)
		}
	default:
		out[path] = fmt.Sprint(x)
	}
}

// showFlat writes a flattened value.
func showFlat(v any) string {
	switch x := v.(type) {
	case *float64:
		if x == nil {
			return "null"
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	case nil:
		return "(missing)"
	}
	return fmt.Sprint(v)
}

// sameFlat compares two flattened values, numbers with a relative
// tolerance of 1e-9.
func sameFlat(got, want any) bool {
	g, gok := got.(*float64)
	w, wok := want.(*float64)
	if gok && wok {
		if g == nil || w == nil {
			return g == nil && w == nil
		}
		return *g == *w || math.Abs(*g-*w) <= 1e-9*math.Max(math.Abs(*g), math.Abs(*w))
	}
	if gok || wok {
		return false
	}
	return got == want
}

// diffFlat lists, sorted, the keys of want whose value in got differs.
func diffFlat(got, want flat) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		if !ok {
			out = append(out, fmt.Sprintf("%s: missing, want %s", k, showFlat(want[k])))
			continue
		}
		if !sameFlat(g, want[k]) {
			out = append(out, fmt.Sprintf("%s = %s, want %s", k, showFlat(g), showFlat(want[k])))
		}
	}
	return out
}
