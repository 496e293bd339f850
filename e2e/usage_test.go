package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/uptakehq/uptake/infra/stacktest"
)

// TestUsageAndOnboarding puts the tenant's configuration, sends 90 days of
// a product's messages (out of order, about 2% sent twice: see usagePlan),
// aggregates them in one run and compares the usage, session, conversion, feature, adoption,
// onboarding and retention KPIs over several ranges, intervals,
// breakdowns and filters with the reference of usage_expect_test.go.
func TestUsageAndOnboarding(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ud := usageGenerate(usageSeed)
	events, err := usageParse(usageMarshal(ud.msgs))
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	cfg := usageDefaultConfig()
	if err := json.Unmarshal([]byte(usageConfigJSON), &cfg); err != nil {
		t.Fatal(err)
	}
	first, last := usageDayOf(ud.day(0)), usageDayOf(ud.day(ud.days-1))
	ref := newUsageRef(events, cfg, first, last)
	t.Log(usageDescribe(ud))
	t.Logf("reference: %d sessions, %d users with a signup, built in %v", len(ref.sessions), len(ref.signup), time.Since(start).Round(time.Millisecond))

	c := newClient(stacktest.Start(t))
	c.http.Timeout = 10 * time.Minute // the aggregation of 90 days runs in one request
	status, body := c.do(t, http.MethodPut, "/v1/config", c.st.AdminKey, []byte(usageConfigJSON))
	if status != http.StatusOK {
		t.Fatalf("PUT /v1/config %s: status %d, want 200; body: %s", usageConfigJSON, status, body)
	}
	status, body = c.do(t, http.MethodGet, "/v1/config", c.st.AdminKey, nil)
	var got usageConfig
	if err := json.Unmarshal(body, &got); status != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/config: status %d, %v; body: %s", status, err, body)
	}
	if want := cfg; !slices.Equal(got.Steps, want.Steps) || got.WindowDays != want.WindowDays || !slices.Equal(got.FeatureEvents, want.FeatureEvents) ||
		!slices.Equal(got.ValueEvents, want.ValueEvents) || got.ConversionEvent != want.ConversionEvent || got.MinActiveDays != want.MinActiveDays {
		t.Fatalf("GET /v1/config after PUT %s: %s; want steps %v, window %d, feature events %v, value events %v, conversion %q, min active days %d",
			usageConfigJSON, body, want.Steps, want.WindowDays, want.FeatureEvents, want.ValueEvents, want.ConversionEvent, want.MinActiveDays)
	}

	c.send(t, usagePlan(rand.New(rand.NewPCG(usageSeed, 1)), ud.msgs), nil)
	c.aggregate(t, ud.day(0), ud.day(ud.days-1))

	qs := usageQueries(ud)
	qStart := time.Now()
	summary := compareAll(t, qs, func(q usageQuery) string { return q.kpi }, usageQuery.path, func(q usageQuery) []string { return c.checkUsage(t, ref, q) })
	t.Logf("%d queries in %v; agreeing with the reference: %s", len(qs), time.Since(qStart).Round(time.Millisecond), summary)
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// checkUsage asks q and returns the differences from the reference.
func (c *client) checkUsage(t *testing.T, ref *usageRef, q usageQuery) []string {
	t.Helper()
	status, body := c.do(t, http.MethodGet, q.path(), c.st.ReadKey, nil)
	if status != http.StatusOK {
		return []string{fmt.Sprintf("status %d, want 200; body: %s", status, body)}
	}
	var head struct {
		KPI      string `json:"kpi"`
		From     string `json:"from"`
		To       string `json:"to"`
		Complete *bool  `json:"complete"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return []string{fmt.Sprintf("%v; body: %s", err, body)}
	}
	var diffs []string
	if head.KPI != q.kpi || head.From != q.from || head.To != q.to {
		diffs = append(diffs, fmt.Sprintf("kpi, from, to = %q, %q, %q, want %q, %q, %q", head.KPI, head.From, head.To, q.kpi, q.from, q.to))
	}
	if head.Complete == nil || !*head.Complete {
		diffs = append(diffs, fmt.Sprintf("complete = %v, want true: the range was aggregated", fmtBool(head.Complete)))
	}
	got, err := flattenAnswer(body)
	if err != nil {
		return append(diffs, fmt.Sprintf("%v; body: %s", err, body))
	}
	return append(diffs, diffFlat(got, ref.answer(q))...)
}

// usageQueries are the questions of TestUsageAndOnboarding: each KPI over
// the whole period, a month, a week, a single day and other ranges, with
// intervals, breakdowns and filters where the KPI has them.
func usageQueries(ud *usageData) []usageQuery {
	type rng struct{ from, to string }
	var (
		whole = rng{ud.day(0), ud.day(89)}  // 2026-07-06..2026-10-03
		aug   = rng{ud.day(26), ud.day(56)} // August
		sep   = rng{ud.day(57), ud.day(86)} // September
		week  = rng{ud.day(42), ud.day(48)} // Mon 08-17..Sun 08-23
		day   = rng{ud.day(65), ud.day(65)} // Wed 09-09
		odd   = rng{ud.day(16), ud.day(68)} // Wed 07-22..Sat 09-12
		early = rng{ud.day(3), ud.day(3)}   // windows reaching before the period
		end   = rng{ud.day(89), ud.day(89)}
	)
	var qs []usageQuery
	add := func(kpi string, r rng, opts ...string) {
		q := usageQuery{kpi: kpi, from: r.from, to: r.to}
		for _, o := range opts {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "interval":
				q.interval = v
			case "breakdown":
				q.breakdown = v
			case "filter":
				q.filter = v
			case "feature":
				q.feature = v
			default:
				panic(o)
			}
		}
		qs = append(qs, q)
	}
	for _, kpi := range []string{"wau", "mau", "stickiness", "engagement_rate"} {
		for _, r := range []rng{whole, aug, week, day, early, end} {
			add(kpi, r)
		}
	}
	add("wau", whole, "interval=week")
	add("wau", week, "interval=day")
	add("mau", whole, "interval=month")
	add("mau", odd, "interval=week")
	add("stickiness", whole, "interval=week")
	add("stickiness", aug, "interval=day")
	add("engagement_rate", whole, "interval=month")
	add("engagement_rate", odd, "interval=week")

	for _, r := range []rng{whole, aug, week, day} {
		add("sessions", r)
		for _, dim := range []string{"source", "device", "landing_page", "content_type"} {
			add("sessions", r, "breakdown="+dim)
		}
	}
	for _, r := range []rng{whole, week, day} {
		add("sessions", r, "filter=source:organic")
	}
	add("sessions", whole, "interval=week")
	for _, kpi := range []string{"pages_per_session", "avg_session_duration"} {
		for _, r := range []rng{whole, aug, week, day} {
			add(kpi, r)
			add(kpi, r, "breakdown=source")
			add(kpi, r, "breakdown=device")
		}
		for _, r := range []rng{whole, aug, day} {
			add(kpi, r, "filter=device:mobile")
		}
		add(kpi, whole, "interval=month")
	}
	add("avg_session_duration", aug, "breakdown=content_type")

	for _, r := range []rng{week, sep, day, {ud.day(30), ud.day(43)}} {
		add("organic_clicks", r)
	}
	add("organic_clicks", rng{ud.day(35), ud.day(62)}, "interval=week") // Mon 08-10..Sun 09-06

	for _, r := range []rng{whole, aug, week, day} {
		add("conversion_rate", r, "breakdown=channel")
		add("conversion_rate", r, "breakdown=landing_page")
		add("conversion_rate", r, "filter=channel:organic")
	}
	add("conversion_rate", odd, "filter=landing_page:/pricing")
	add("conversion_rate", whole, "interval=month")

	for _, r := range []rng{whole, aug, week, day} {
		add("feature_adoption", r)
	}
	for _, f := range append(slices.Clone(usageFeatures), "Report Exported", "roi_calculator") {
		add("feature_adoption", aug, "feature="+f)
	}
	add("feature_adoption", week, "feature=no_such_feature")
	add("feature_adoption", whole, "interval=month")

	for _, r := range []rng{whole, aug, week, day, {ud.day(0), ud.day(29)}, {ud.day(35), ud.day(35)}} {
		add("product_adoption", r)
	}

	for _, kpi := range []string{"onboarding_completion_rate", "onboarding_funnel", "time_to_first_value"} {
		for _, r := range []rng{whole, aug, week, day, odd} {
			add(kpi, r)
		}
		add(kpi, whole, "interval=month")
	}

	for _, r := range []rng{whole, aug, odd, week} {
		add("retention_cohorts", r, "interval=week")
	}
	add("retention_cohorts", week, "interval=day")
	return qs
}

// usageCases are the hand-computed cases that show the readings this
// reference implements.
var usageCases = []string{"usage_rolling", "sessions_breakdown", "conversion_channel", "features", "product_adoption", "onboarding", "retention"}

// TestUsageReferenceCases runs the reference on the hand-computed cases of
// shared/aggregate/testdata and checks every figure their expect lines
// give.
func TestUsageReferenceCases(t *testing.T) {
	for _, name := range usageCases {
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(filepath.Join("..", "shared", "aggregate", "testdata", name+".txtar"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := usageDefaultConfig()
			var lines [][]byte
			var expect []string
			for _, f := range ar.Files {
				switch f.Name {
				case "config.json":
					if err := json.Unmarshal(f.Data, &cfg); err != nil {
						t.Fatal(err)
					}
				case "events.ndjson":
					for _, l := range bytes.Split(f.Data, []byte("\n")) {
						if l = bytes.TrimSpace(l); len(l) > 0 && l[0] != '#' {
							lines = append(lines, l)
						}
					}
				case "expect":
					for _, l := range strings.Split(string(f.Data), "\n") {
						if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
							expect = append(expect, l)
						}
					}
				}
			}
			events, err := usageParse(lines)
			if err != nil {
				t.Fatal(err)
			}
			// The cases aggregate the days of their events and one day
			// either side.
			lo, hi := events[0].day, events[0].day
			for _, e := range events {
				lo, hi = min(lo, e.day), max(hi, e.day)
			}
			ref := newUsageRef(events, cfg, lo-1, hi+1)
			checks := 0
			for _, line := range expect {
				fields := strings.Fields(line)
				from, to, ok := strings.Cut(fields[1], "..")
				if !ok {
					to = from
				}
				if !usageRefKPIs[fields[0]] {
					continue // another reference's KPI (the case file holds both)
				}
				q := usageQuery{kpi: fields[0], from: from, to: to}
				var kvs []string
				for _, kv := range fields[2:] {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "breakdown":
						q.breakdown = v
					case "filter":
						q.filter = v
					case "feature":
						q.feature = v
					case "interval":
						q.interval = v
					default:
						kvs = append(kvs, kv)
					}
				}
				got := ref.answer(q)
				if _, ok := got["rows"]; !ok {
					got["rows"] = fnum(0)
				}
				for _, kv := range kvs {
					k, v, _ := strings.Cut(kv, "=")
					var want any = v
					switch {
					case v == "null":
						want = (*float64)(nil)
					default:
						if x, err := strconv.ParseFloat(v, 64); err == nil {
							want = fnum(x)
						}
					}
					checks++
					g, ok := got[k]
					if !ok {
						t.Errorf("%s: the reference has no %q", line, k)
					} else if !sameFlat(g, want) {
						t.Errorf("%s %s: %s = %s, want %s", fields[0], fields[1], k, showFlat(g), v)
					}
				}
			}
			t.Logf("%d expect lines, %d figures", len(expect), checks)
		})
	}
}

// TestUsageGeneratedData checks, without a stack, that the generated data
// has the shape TestUsageAndOnboarding relies on, and its delivery plan.
func TestUsageGeneratedData(t *testing.T) {
	ud := usageGenerate(usageSeed)
	t.Log(usageDescribe(ud))
	if n := len(ud.msgs); n < 40000 || n > 60000 {
		t.Errorf("%d messages, want 40,000 to 60,000", n)
	}
	end := ud.start.AddDate(0, 0, ud.days)
	ids := map[string]bool{}
	users, groups := map[string]bool{}, map[string]bool{}
	for _, m := range ud.msgs {
		if m.MessageID == "" || ids[m.MessageID] {
			t.Fatalf("messageId %q is empty or repeated", m.MessageID)
		}
		ids[m.MessageID] = true
		at, err := time.Parse(time.RFC3339Nano, m.Timestamp)
		if err != nil || at.Before(ud.start) || !at.Before(end) {
			t.Errorf("message %s: timestamp %q outside the period (%v)", m.MessageID, m.Timestamp, err)
		}
		if m.AnonymousID == "" && m.UserID == "" {
			t.Errorf("message %s has neither anonymousId nor userId", m.MessageID)
		}
		if n := len(mustJSON(m)); n > 32*1024 {
			t.Errorf("message %s has %d bytes", m.MessageID, n)
		}
		if m.UserID != "" {
			users[m.UserID] = true
		}
		if m.GroupID != "" {
			groups[m.GroupID] = true
		}
	}
	if len(users) < 1700 || len(users) > 2300 {
		t.Errorf("%d userIds, want about 2,000", len(users))
	}
	if len(groups) < 200 {
		t.Errorf("%d accounts, want hundreds", len(groups))
	}
	for _, ua := range slices.Concat(usageDesktopUAs, usageMobileUAs, usageTabletUAs) {
		if usageIsBot(ua) {
			t.Errorf("browser agent %q matches the bot pattern", ua)
		}
	}
	for _, ua := range append(slices.Clone(usageBotUAs), usagePingdomUA, usageHeadlessUA, usageScriptUA) {
		if !usageIsBot(ua) {
			t.Errorf("bot agent %q does not match the bot pattern", ua)
		}
	}
	for _, k := range []string{"signed_up", "never_back", "invited", "invited_never_active", "legacy", "imported", "signup_from_backend",
		"signup_with_created_at", "created_at_before_signed_up", "steps_out_of_order", "step_skipped", "step_by_index", "step_twice",
		"unknown_step", "completed_without_steps", "completed_before_signup", "step_before_signup", "value_before_signup", "feature_used_without_feature", "anonymous_feature_use",
		"script_events", "crawler_hits", "bot_signup", "gap_exactly_30min", "gap_new_session"} {
		if ud.stats[k] == 0 {
			t.Errorf("no %s in the data", k)
		}
	}

	events, err := usageParse(usageMarshal(ud.msgs))
	if err != nil {
		t.Fatal(err)
	}
	cfg := usageDefaultConfig()
	if err := json.Unmarshal([]byte(usageConfigJSON), &cfg); err != nil {
		t.Fatal(err)
	}
	ref := newUsageRef(events, cfg, usageDayOf(ud.day(0)), usageDayOf(ud.day(ud.days-1)))
	values := map[string]map[string]int{}
	landing := map[int]map[string]bool{}
	for _, s := range ref.sessions {
		for dim, v := range s.dims {
			if values[dim] == nil {
				values[dim] = map[string]int{}
			}
			values[dim][v]++
		}
		if landing[s.day] == nil {
			landing[s.day] = map[string]bool{}
		}
		landing[s.day][s.dims["landing_page"]] = true
	}
	for dim, want := range map[string][]string{
		"source":       {"paid", "email", "social", "organic", "referral", "direct", "campaign"},
		"device":       {"desktop", "mobile", "tablet", "unknown"},
		"content_type": {"(none)", "blog", "landing", "pricing", "docs", "app"},
		"landing_page": {"(none)", "/", "/pricing"},
	} {
		for _, v := range want {
			if values[dim][v] == 0 {
				t.Errorf("no session with %s %s", dim, v)
			}
		}
	}
	t.Logf("sessions by source %v, by device %v, by content type %v; %d landing pages", values["source"], values["device"], values["content_type"], len(values["landing_page"]))
	for d, ps := range landing {
		if len(ps) >= 200 {
			t.Errorf("%s: %d landing pages, want fewer than 200", usageDayStr(d), len(ps))
		}
	}
	firstEvent, signedUp := map[string]time.Time{}, map[string]bool{}
	for _, e := range events { // in time order
		if _, ok := firstEvent[e.user()]; !ok {
			firstEvent[e.user()] = e.at
		}
		signedUp[e.user()] = signedUp[e.user()] || e.Event == "Signed Up"
	}
	noSignedUp := 0
	for u, s := range ref.signup {
		if !signedUp[u] && s.Before(firstEvent[u]) {
			noSignedUp++
		}
	}
	if noSignedUp < 100 {
		t.Errorf("%d users without Signed Up whose created_at is before their first event, want at least 100", noSignedUp)
	}

	batches := usagePlan(rand.New(rand.NewPCG(usageSeed, 1)), ud.msgs)
	seen := map[string]bool{}
	again := 0
	for i, b := range batches {
		if len(b) == 0 || len(b) > maxBatch {
			t.Errorf("request %d has %d messages", i, len(b))
		}
		if n := len(mustJSON(map[string]any{"batch": b, "sentAt": "2026-11-26T00:00:00.000Z"})); n >= 500*1024 {
			t.Errorf("request %d has %d bytes", i, n)
		}
		if repeatsWithin(b) > 0 {
			t.Errorf("request %d repeats a message", i)
		}
		for _, m := range b {
			if seen[m.MessageID] {
				again++
			}
			seen[m.MessageID] = true
		}
	}
	if len(seen) != len(ud.msgs) || again < len(ud.msgs)/60 || again > len(ud.msgs)/40 {
		t.Errorf("%d of %d messages sent, %d again; want all, about 2%% again", len(seen), len(ud.msgs), again)
	}
	t.Logf("%d requests, %d messages sent again", len(batches), again)

	if a, b := usageGenerate(usageSeed), usageGenerate(usageSeed); !slices.EqualFunc(a.msgs, b.msgs, func(x, y message) bool { return mustJSON(x) == mustJSON(y) }) {
		t.Error("two runs with the same seed generate different messages")
	}
}

// usageRefKPIs are the KPIs the usage reference computes.
var usageRefKPIs = map[string]bool{
	"wau": true, "mau": true, "stickiness": true, "engagement_rate": true, "sessions": true, "pages_per_session": true,
	"avg_session_duration": true, "organic_clicks": true, "conversion_rate": true, "feature_adoption": true,
	"product_adoption": true, "onboarding_completion_rate": true, "onboarding_funnel": true, "time_to_first_value": true,
	"retention_cohorts": true,
}
