// Package parts generates a tenant's history of daily parts, without raw
// events, for the query benchmarks (BenchmarkQuery and TestMonthPartsExact
// in shared/query, and P2's bench/cmd/p2): realistic sizes and shapes,
// deterministic from a seed, fast to make.
//
// Parts come from kpi.BuildPart on generated facts: 50,000 users of which
// 5,000 to 10,000 are active a day (fewer at weekends), about 20,000 page
// visitors a day (most of them new), conversions, sessions broken down by
// source, device, content type and landing page, feature users, two user
// traits (plan, region), NPS, CSAT and CES answers (40 to 90 a day), 15 to
// 35 tickets a day, 200 accounts that pay, renew yearly and may cancel
// (the customers are in every day part), trials and orders, and each
// day's signup cohort (about 68 users) with its onboarding steps and
// first value. Training courses and next-step sets are left empty. A day
// part holds about 100 KiB of sets; the nightly benchmark's
// 1,000,000-event day makes parts about four times larger.
package parts

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

const (
	// Users is the number of the tenant's users.
	Users = 50_000
	// Seed is the default seed.
	Seed = 20261031
	// signupDays is the span the users' signups are spread over, at least:
	// two years, so that a day's cohort is about 68 users.
	signupDays = 730
)

// History is a tenant's days of parts ending on Last. Its methods are
// safe for concurrent use.
type History struct {
	First, Last kpi.Day
	Days        int
	Seed        uint64
	Config      kpi.Config

	users, anons []string
	// firstVisitor[i] is the ordinal of the first anonymous visitor new on
	// day index i (visitors get ordinals in order of first visit).
	firstVisitor []int
}

// New returns the history of days days ending on last, with the default
// configuration.
func New(last kpi.Day, days int, seed uint64) *History {
	h := &History{First: last.AddDays(1 - days), Last: last, Days: days, Seed: seed, Config: kpi.DefaultConfig(),
		users: make([]string, Users), anons: make([]string, Users), firstVisitor: make([]int, days+1)}
	for i := range h.users {
		h.users[i] = "u" + strconv.Itoa(i)
		h.anons[i] = "a" + strconv.Itoa(i)
	}
	for i := range days {
		h.firstVisitor[i+1] = h.firstVisitor[i] + h.newVisitors(i)
	}
	return h
}

// Part returns the part of day index i (0 is First).
func (h *History) Part(i int) kpi.Part {
	f, ords, st := h.facts(i)
	return kpi.BuildPart(h.Config, f, ords, st)
}

// All returns every part, First first, made in parallel.
func (h *History) All() []kpi.Part {
	out := make([]kpi.Part, h.Days)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < h.Days; i = int(next.Add(1) - 1) {
				out[i] = h.Part(i)
			}
		})
	}
	wg.Wait()
	return out
}

// newVisitors is how many anonymous visitors come for the first time on
// day index i: 12,000 to 14,000, fewer at weekends.
func (h *History) newVisitors(i int) int {
	n := 12000 + rand.New(rand.NewPCG(h.Seed+1, uint64(i))).IntN(2000)
	if d := h.First.AddDays(i); d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		n = n * 6 / 10
	}
	return n
}

// facts generates the facts of day index i and the ordinals of the ids
// they name (users 0..49,999, their anonymous ids 50,000..99,999, then
// anonymous visitors in order of first visit).
func (h *History) facts(i int) (kpi.Facts, kpi.Ordinals, kpi.DayState) {
	r := rand.New(rand.NewPCG(h.Seed, uint64(i)))
	return genDay(r, h.First.AddDays(i), i, h.users, h.anons, h.firstVisitor[i], h.firstVisitor[i+1])
}

var (
	sources      = []string{kpi.SourceDirect, kpi.SourceOrganic, kpi.SourceSocial, kpi.SourceReferral, kpi.SourceEmail, kpi.SourcePaid, kpi.SourceCampaign}
	sourceWeight = []float64{30, 35, 10, 8, 6, 8, 3}
	devices      = []string{"desktop", "mobile", "tablet"}
	deviceWeight = []float64{68, 27, 5}
	contentTypes = []string{"home", "pricing", "product", "blog", "docs", "customers", "company", "app"}
	features     = []string{"funnels", "retention", "cohorts", "dashboards", "alerts", "exports", "segments", "annotations", "sql", "goals", "paths", "sharing"}
	landingPages = func() []string {
		out := []string{"/", "/pricing", "/features", "/customers", "/signup", "/login", "/docs", "/blog", "/integrations", "/about"}
		for i := range 50 {
			out = append(out, fmt.Sprintf("/blog/post-%02d", i+1))
		}
		return out
	}()
)

// genDay generates the facts of day index i and the ordinals of the ids
// they name (users 0..49,999, their anonymous ids 50,000..99,999, then
// anonymous visitors in order of first visit).
func genDay(r *rand.Rand, d kpi.Day, i int, users, anons []string, firstNew, endNew int) (kpi.Facts, kpi.Ordinals, kpi.DayState) {
	weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
	ords := kpi.Ordinals{}
	f := kpi.Facts{Day: d, Features: map[string][]string{},
		SessionsBy: map[string]map[string]kpi.SessionStats{}, FirstSession: map[string]map[string][]string{}}

	// Active users: most of a core of 3,000 daily users, then others, 5,000
	// to 10,000 in all.
	target := 7000 + r.IntN(3001)
	coreP := 0.85
	if weekend {
		target, coreP = 5000+r.IntN(1001), 0.6
	}
	chosen := make([]bool, Users)
	var active []int
	for u := range 3000 {
		if r.Float64() < coreP {
			chosen[u] = true
			active = append(active, u)
		}
	}
	for len(active) < target {
		if u := 3000 + r.IntN(Users-3000); !chosen[u] {
			chosen[u] = true
			active = append(active, u)
		}
	}
	for _, u := range active {
		f.ActiveUsers = append(f.ActiveUsers, users[u])
		ords[users[u]] = uint32(u)
	}
	f.KnownUsers = f.ActiveUsers

	// Page visitors: the web users among the active ones, visitors seen in
	// the last month, and new ones.
	var visitors []string
	for _, u := range active {
		if r.Float64() < 0.6 {
			visitors = append(visitors, anons[u])
			ords[anons[u]] = uint32(Users + u)
		}
	}
	recent := min(firstNew, 30*13000)
	for range (endNew - firstNew) / 2 {
		if recent == 0 {
			break
		}
		v := firstNew - 1 - r.IntN(recent)
		id := "v" + strconv.Itoa(v)
		if _, dup := ords[id]; !dup {
			visitors = append(visitors, id)
			ords[id] = uint32(2*Users + v)
		}
	}
	var newVisitors []string
	for v := firstNew; v < endNew; v++ {
		id := "v" + strconv.Itoa(v)
		newVisitors = append(newVisitors, id)
		visitors = append(visitors, id)
		ords[id] = uint32(2*Users + v)
	}
	f.PageVisitors = visitors
	for _, v := range newVisitors {
		if r.Float64() < 0.03 {
			f.ConvertedVisitors = append(f.ConvertedVisitors, v)
		}
	}
	f.ConversionEvents = len(f.ConvertedVisitors) + r.IntN(5)

	// Sessions, broken down; each visitor's first session has a source and
	// a landing page.
	f.Sessions = len(visitors) * (120 + r.IntN(30)) / 100
	f.SessionPages = f.Sessions * (28 + r.IntN(8)) / 10
	f.SessionSeconds = float64(f.Sessions) * (200 + 80*r.Float64())
	split := func(dim string, values []string, weight func(int) float64) {
		total := 0.0
		for j := range values {
			total += weight(j)
		}
		by := map[string]kpi.SessionStats{}
		for j, v := range values {
			share := weight(j) / total
			by[v] = kpi.SessionStats{Sessions: int(share * float64(f.Sessions)), Pages: int(share * float64(f.SessionPages)), Seconds: share * f.SessionSeconds}
		}
		f.SessionsBy[dim] = by
	}
	zipf := func(j int) float64 { return 1 / float64(j+1) }
	split(kpi.DimSource, sources, func(j int) float64 { return sourceWeight[j] })
	split(kpi.DimDevice, devices, func(j int) float64 { return deviceWeight[j] })
	split(kpi.DimContentType, contentTypes, zipf)
	split(kpi.DimLandingPage, landingPages, zipf)
	f.FirstSession[kpi.DimSource] = map[string][]string{}
	f.FirstSession[kpi.DimLandingPage] = map[string][]string{}
	for _, v := range visitors {
		s := sources[pick(r, sourceWeight)]
		f.FirstSession[kpi.DimSource][s] = append(f.FirstSession[kpi.DimSource][s], v)
		lp := landingPages[min(len(landingPages)-1, int(r.ExpFloat64()*6))]
		f.FirstSession[kpi.DimLandingPage][lp] = append(f.FirstSession[kpi.DimLandingPage][lp], v)
	}

	// Features: each used by a share of the day's active users.
	for j, name := range features {
		p := 0.4 / float64(j+1)
		for _, u := range active {
			if r.Float64() < p {
				f.Features[name] = append(f.Features[name], users[u])
			}
		}
	}

	// The day's signups (users spread over the two years), new users and
	// NPS answers.
	st := kpi.DayState{NewUsers: 40 + r.IntN(30), NewKnown: 50 + r.IntN(30), Cohort: map[string]kpi.Identity{}}
	for u := i * Users / signupDays; u < (i+1)*Users/signupDays; u++ {
		// Signed up during the day; most go through the onboarding steps
		// within days, many reach first value.
		at := d.Start(time.UTC).Add(time.Duration(r.IntN(86400)) * time.Second)
		firsts := map[kpi.Milestone]kpi.First{kpi.SignedUp: {At: at, Day: d}, kpi.FirstActive: {At: at, Day: d}, kpi.FirstSeen: {At: at, Day: d}}
		t := at
		for k := 1; k <= 4 && r.Float64() < 0.8; k++ {
			t = t.Add(time.Duration(r.ExpFloat64() * float64(20*time.Hour)))
			firsts[kpi.StepMilestone(k)] = kpi.First{At: t, Day: kpi.DayOf(t, time.UTC)}
			if k == 4 {
				firsts[kpi.Onboarded] = kpi.First{At: t, Day: kpi.DayOf(t, time.UTC)}
			}
		}
		if r.Float64() < 0.6 {
			fv := at.Add(time.Duration(r.ExpFloat64() * float64(60*time.Hour)))
			firsts[kpi.FirstValue] = kpi.First{At: fv, Day: kpi.DayOf(fv, time.UTC)}
		}
		st.Cohort[users[u]] = kpi.Identity{Ordinal: uint32(u), Firsts: firsts}
		ords[users[u]] = uint32(u)
	}
	for range 20 + r.IntN(40) {
		u := active[r.IntN(len(active))]
		score := float64(r.IntN(11))
		st.Counted = append(st.Counted, kpi.Response{Type: "nps", SurveyID: "nps-q", Respondent: users[u], MessageID: strconv.Itoa(r.Int()), Time: d.Start(time.UTC), Score: score})
	}
	// Two traits of the active users, for segment filters and breakdowns.
	st.Segments = map[string]map[string][]string{"plan": {}, "region": {}}
	for _, u := range active {
		plan, region := []string{"free", "pro", "enterprise"}[u%3], []string{"eu", "us", "apac", "latam"}[(u/3)%4]
		st.Segments["plan"][plan] = append(st.Segments["plan"][plan], users[u])
		st.Segments["region"][region] = append(st.Segments["region"][region], users[u])
	}
	genCustomers(r, d, i, active, users, &f, &st)
	f.Responses = st.Counted
	return f, ords, st
}

// benchAccounts are the tenant's accounts (ordinals from accountOrdinal):
// each starts paying on a day of the two years, renews every year and
// may cancel.
const (
	benchAccounts  = 200
	accountOrdinal = 20_000_000
)

var (
	surveyChannels = []string{"email", "in_app", "web"}
	touchpoints    = []string{"onboarding", "support", "billing", "renewal"}
	ticketChannels = []string{"email", "chat", "phone", "web"}
	priorities     = []string{"low", "normal", "high", "urgent"}
	ticketTags     = []string{"onboarding", "billing", "bug", "escalated", "howto"}
)

// account is account a's subscription: paid from day index start, every
// year renewed, cancelled on day index cancel (-1: never).
func account(a int) (start, cancel int, acv float64) {
	r := rand.New(rand.NewPCG(Seed+2, uint64(a)))
	start = r.IntN(signupDays) - 200
	cancel = -1
	if r.Float64() < 0.3 {
		cancel = start + 30 + r.IntN(500)
	}
	return start, cancel, float64(1000 * (1 + r.IntN(50)))
}

// genCustomers adds the day's CSAT and CES answers, tickets, customer
// accounts, cancellations, renewals, trials and orders (day index i).
func genCustomers(r *rand.Rand, d kpi.Day, i int, active []int, users []string, f *kpi.Facts, st *kpi.DayState) {
	at := func() time.Time { return d.Start(time.UTC).Add(time.Duration(r.IntN(86400)) * time.Second) }
	st.Accounts = map[string]uint32{}
	acctOf := func(u int) uint32 { return accountOrdinal + uint32(u%benchAccounts) }
	for range 10 + r.IntN(20) {
		u := active[r.IntN(len(active))]
		typ, score := "csat", float64(1+r.IntN(5))
		if r.IntN(2) == 0 {
			typ, score = "ces", float64(1+r.IntN(7))
		}
		resp := kpi.Response{Type: typ, SurveyID: typ + "-" + strconv.Itoa(r.IntN(3)), Respondent: users[u], MessageID: strconv.Itoa(r.Int()),
			Time: at(), Score: score, Channel: surveyChannels[r.IntN(len(surveyChannels))], Touchpoint: touchpoints[r.IntN(len(touchpoints))]}
		if score <= 2 {
			resp.Comment = "too slow to set up"
		}
		st.Counted = append(st.Counted, resp)
	}
	for _, resp := range st.Counted {
		var u int
		if _, err := fmt.Sscanf(resp.Respondent, "u%d", &u); err == nil {
			st.Accounts[resp.Respondent] = acctOf(u)
		}
	}
	for k := range 15 + r.IntN(20) {
		created := at()
		u := active[r.IntN(len(active))]
		t := kpi.Ticket{ID: fmt.Sprintf("t%d-%d", i, k), Status: "open", Channel: ticketChannels[r.IntN(len(ticketChannels))],
			Priority: priorities[r.IntN(len(priorities))], Requester: users[u%500], Created: created, Updated: created}
		for _, tag := range ticketTags {
			if r.IntN(4) == 0 {
				t.Tags = append(t.Tags, tag)
			}
		}
		if r.IntN(10) < 9 {
			fr := created.Add(time.Duration(r.ExpFloat64() * float64(3*time.Hour)))
			t.FirstResponse = &fr
			if r.IntN(10) < 8 {
				res := fr.Add(time.Duration(r.ExpFloat64() * float64(30*time.Hour)))
				t.Resolved, t.Status, t.Updated = &res, "solved", res
			}
		}
		o := acctOf(u % 500)
		t.AccountOrd = &o
		st.Tickets = append(st.Tickets, t)
	}
	sd := &st.Subscription
	for a := range benchAccounts {
		start, cancel, acv := account(a)
		ord := accountOrdinal + uint32(a)
		if i == cancel {
			sd.Cancelled = append(sd.Cancelled, ord)
		}
		if i < start || (cancel >= 0 && i >= cancel) {
			continue
		}
		since := start + (i-start)/365*365
		if since == i && i > start {
			sd.Renewed = append(sd.Renewed, ord)
		}
		sinceDay := d.AddDays(since - i)
		sd.Customers = append(sd.Customers, kpi.AccountState{Ordinal: ord, ID: "acct" + strconv.Itoa(a), ACV: acv, Plan: "pro",
			Since: sinceDay.Start(time.UTC).Add(10 * time.Hour), Onboarded: a%3 == 0})
		if r.IntN(3) > 0 {
			st.ActiveAccounts = append(st.ActiveAccounts, ord)
		}
	}
	for range 1 + r.IntN(4) {
		tr := kpi.Trial{Start: at()}
		if r.IntN(3) == 0 {
			tr.Paid = tr.Start.Add(time.Duration(r.ExpFloat64() * float64(200*time.Hour)))
		}
		sd.Trials = append(sd.Trials, tr)
	}
	for range 10 + r.IntN(30) {
		sd.Orders = append(sd.Orders, kpi.OrderRecord{Ordinal: accountOrdinal + uint32(r.IntN(benchAccounts)), Revenue: float64(r.IntN(50000)) / 100})
	}
}

func pick(r *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for j, w := range weights {
		if x -= w; x < 0 {
			return j
		}
	}
	return len(weights) - 1
}
