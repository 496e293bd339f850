package kpi

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// Counter and set names of a daily Part.
const (
	CounterDAU              = "dau"
	CounterDAUNew           = "dau_new"
	CounterSessions         = "sessions"
	CounterSessionPages     = "session_pages"
	CounterSessionSeconds   = "session_seconds"
	CounterConversionEvents = "conversion_events"
	CounterNPSPromoters     = "nps_promoters"
	CounterNPSPassives      = "nps_passives"
	CounterNPSDetractors    = "nps_detractors"

	CounterKnownNew = "known_new"
	CounterSignups  = "signups"

	SetActiveUsers       = "active_users"
	SetPageVisitors      = "page_visitors"
	SetConvertedVisitors = "converted_visitors"
	SetSignups           = "signups"
	SetNewUsers          = "new_users"
	SetActiveAccounts    = "active_accounts"
)

// maxSegmentDims bounds the traits kept as segments per day.
const maxSegmentDims = 50

// Names of the keyed counters and sets of a part.
func sessionCounter(counter, dim, value string) string { return counter + "|" + dim + "=" + value }

// FeatureSet names the set of a feature's users.
func FeatureSet(name string) string { return "feature:" + name }

// FirstSessionSet names the set of visitors whose first session of the
// day had a dimension's value.
func FirstSessionSet(dim, value string) string { return "first_" + dim + ":" + value }

// MaxKeyedValues bounds the values of one dimension kept in a day's part
// (landing pages, features, content types): the rest are summed under
// OtherValue, so a part stays small whatever the tenant sends.
const MaxKeyedValues = 200

// OtherValue collects the values past MaxKeyedValues.
const OtherValue = "(other)"

// Part is one day's mergeable aggregate: counters that add up and sets of
// identity ordinals that union. A range is evaluated from its days' parts.
type Part struct {
	Day Day
	// Days is, for a month part (BuildMonth), how many day parts it
	// merges; 0 for a day part. A month part's Day is its first day part's.
	Days     int
	Counters map[string]float64
	Sets     map[string]*roaring.Bitmap
	// Lists keep every value where a KPI needs exact medians and
	// percentiles (hours to first value of a signup cohort, …).
	Lists map[string][]float64
	// Responses are the day's survey answers that no later answer
	// replaced: few enough to keep whole, so survey KPIs can be cut by
	// survey, channel, touchpoint and any trait.
	Responses []Response
	// Tickets are the tickets created on the day, as of their latest
	// update.
	Tickets []Ticket
	// Accounts are the customer accounts at the day's end; Orders, the
	// day's orders.
	Accounts []AccountState
	Orders   []OrderRecord
	// Usage, Spells and Renewed are a month part's summaries (summary.go),
	// none on a day part: its days' DAU and rolling MAU (stickiness), its
	// customers' spells and its renewals by day (renewal KPIs).
	Usage   []DayUsage
	Spells  []AccountSpell
	Renewed []Renewal
	// FollowUps and Contacts are a month part's summaries of its low
	// answers (followups.go: detractor_followups) and of its requesters
	// (contacts.go: repeat_contact_rate).
	FollowUps []FollowUpClass
	Contacts  *Contacts
	// Cohorts is a month part's retention_cohorts summary (cohorts.go).
	Cohorts *CohortSummary
}

// NewPart returns an empty part for day.
func NewPart(day Day) Part {
	return Part{Day: day, Counters: map[string]float64{}, Sets: map[string]*roaring.Bitmap{}, Lists: map[string][]float64{}}
}

// Ordinals maps identities (user and visitor ids) to the dense numbers
// that sets hold; the same identity has the same ordinal on every day.
type Ordinals map[string]uint32

func (o Ordinals) set(ids []string) *roaring.Bitmap {
	b := roaring.New()
	for _, id := range ids {
		b.Add(o[id])
	}
	b.RunOptimize()
	return b
}

// DayState is what the tenant's state adds to a day's facts.
type DayState struct {
	// NewUsers is how many of the day's active users were first active
	// that day (NewUserIDs); NewKnown, how many userIds were first seen
	// that day.
	NewUsers, NewKnown int
	NewUserIDs         []string
	// Segments are the day's users by trait and value.
	Segments map[string]map[string][]string
	// Cohort are the users whose signup day is the day, with their
	// milestones.
	Cohort map[string]Identity
	// Counted are the day's survey answers that no later answer replaced.
	Counted []Response
	// Started are the courses users started for the first time that day.
	Started []Started
	// Next are where users went after their first completion of an
	// onboarding step (step 0: signup), when that was on the day.
	Next []NextStep
	// Tickets are the tickets created on the day.
	Tickets []Ticket
	// Subscription is the day's account state.
	Subscription SubscriptionDay
	// Accounts maps the day's users (respondents, requesters) to the
	// ordinal of their account; ActiveAccounts are the accounts with an
	// active user that day.
	Accounts       map[string]uint32
	ActiveAccounts []uint32
}

// Started is a user's first start of a training course.
type Started struct {
	User, Course string
	Identity     Identity
}

// NextStep is the event that followed a user's step.
type NextStep struct {
	User  string
	Step  int
	Label string
}

// BuildPart turns a day's facts into its part.
func BuildPart(cfg Config, f Facts, ords Ordinals, st DayState) Part {
	p := NewPart(f.Day)
	counted := st.Counted
	p.Counters[CounterDAU] = float64(len(f.ActiveUsers))
	p.Counters[CounterDAUNew] = float64(st.NewUsers)
	p.Counters[CounterKnownNew] = float64(st.NewKnown)
	p.Counters[CounterSignups] = float64(len(st.Cohort))
	p.Counters[CounterSessions] = float64(f.Sessions)
	p.Counters[CounterSessionPages] = float64(f.SessionPages)
	p.Counters[CounterSessionSeconds] = f.SessionSeconds
	p.Counters[CounterConversionEvents] = float64(f.ConversionEvents)
	p.Counters[CounterGuidePlays] = float64(f.GuidePlays)
	var prom, pass, detr float64
	for _, r := range counted {
		if r.Type != "nps" {
			continue
		}
		switch NPSGroup(r.Score) {
		case Promoter:
			prom++
		case Passive:
			pass++
		default:
			detr++
		}
	}
	for _, r := range counted {
		r.Ordinal = ords[r.Respondent]
		if a, ok := st.Accounts[r.Respondent]; ok {
			r.Account = &a
		}
		p.Responses = append(p.Responses, r)
	}
	if len(st.ActiveAccounts) > 0 {
		p.Sets[SetActiveAccounts] = roaring.BitmapOf(st.ActiveAccounts...)
	}
	p.Counters[CounterNPSPromoters] = prom
	p.Counters[CounterNPSPassives] = pass
	p.Counters[CounterNPSDetractors] = detr
	scoreCounters(&p, counted)
	p.Sets[SetActiveUsers] = ords.set(f.ActiveUsers)
	p.Sets[SetPageVisitors] = ords.set(f.PageVisitors)
	p.Sets[SetConvertedVisitors] = ords.set(f.ConvertedVisitors)
	p.Sets[SetSignups] = ords.set(slices.Collect(maps.Keys(st.Cohort)))
	onboardingPart(&p, cfg, st.Cohort)
	trainingPart(&p, st.Started)
	subscriptionPart(&p, cfg, st.Subscription)
	p.Tickets = slices.Clone(st.Tickets)
	sortTickets(p.Tickets)
	p.Counters[CounterTicketCounts] = 1
	p.Counters[CounterTickets] = float64(len(p.Tickets))
	ticketLists(&p, cfg)
	p.Sets[SetNewUsers] = ords.set(st.NewUserIDs)
	dims := topKeys(st.Segments, func(v map[string][]string) int {
		n := 0
		for _, users := range v {
			n += len(users)
		}
		return n
	})
	if len(dims) > maxSegmentDims {
		dims = dims[:maxSegmentDims]
	}
	for _, dim := range dims {
		byValue := st.Segments[dim]
		top := topKeys(byValue, func(u []string) int { return len(u) })
		other := roaring.New()
		for v, users := range byValue {
			if slices.Contains(top, v) {
				p.Sets[SegmentSet(dim, v)] = ords.set(users)
			} else {
				other.Or(ords.set(users))
			}
		}
		if !other.IsEmpty() {
			p.Sets[SegmentSet(dim, OtherValue)] = other
		}
	}
	nextByLabel := map[string][]string{}
	for _, n := range st.Next {
		key := NextSet(n.Step, n.Label)
		nextByLabel[key] = append(nextByLabel[key], n.User)
	}
	for _, k := range topKeys(nextByLabel, func(u []string) int { return len(u) }) {
		p.Sets[k] = ords.set(nextByLabel[k])
	}
	for _, name := range topKeys(f.Features, func(u []string) int { return len(u) }) {
		p.Sets[FeatureSet(name)] = ords.set(f.Features[name])
	}
	for dim, byValue := range f.SessionsBy {
		top := topKeys(byValue, func(s SessionStats) int { return s.Sessions })
		for _, v := range slices.Sorted(maps.Keys(byValue)) {
			st := byValue[v]
			if len(top) < len(byValue) && !slices.Contains(top, v) {
				v = OtherValue
			}
			p.Counters[sessionCounter(CounterSessions, dim, v)] += float64(st.Sessions)
			p.Counters[sessionCounter(CounterSessionPages, dim, v)] += float64(st.Pages)
			p.Counters[sessionCounter(CounterSessionSeconds, dim, v)] += st.Seconds
		}
	}
	for dim, byValue := range f.FirstSession {
		top := topKeys(byValue, func(v []string) int { return len(v) })
		other := roaring.New()
		for v, visitors := range byValue {
			if slices.Contains(top, v) {
				p.Sets[FirstSessionSet(dim, v)] = ords.set(visitors)
			} else {
				other.Or(ords.set(visitors))
			}
		}
		if !other.IsEmpty() {
			p.Sets[FirstSessionSet(dim, OtherValue)] = other
		}
	}
	return p
}

// topKeys returns the MaxKeyedValues keys of m with the largest sizes
// (ties by key), all of them when there are fewer.
func topKeys[V any](m map[string]V, size func(V) int) []string {
	keys := slices.Sorted(maps.Keys(m))
	if len(keys) <= MaxKeyedValues {
		return keys
	}
	slices.SortStableFunc(keys, func(a, b string) int { return size(m[b]) - size(m[a]) })
	return keys[:MaxKeyedValues]
}

// Merged is the sum of several parts: counters added, sets unioned.
type Merged struct {
	Days     int
	Counters map[string]float64
	Lists    map[string][]float64
	// Responses are the parts' survey answers, each with the day it
	// counts on.
	Responses []DayResponse
	// sets are the parts' sets, each unioned when first asked for: a KPI
	// reads a few of a part's dozens of sets, and the unions were most of
	// a long range's cost.
	sets *lazySets
}

type lazySets struct {
	mu     sync.Mutex
	parts  map[string][]*roaring.Bitmap
	merged map[string]*roaring.Bitmap
}

// DayResponse is a survey answer and the part it comes from, whose sets
// say the respondent's segments that day.
type DayResponse struct {
	Response
	Part *Part
}

// Merge adds parts together. Counters are summed month by month: the
// day parts of a calendar month first (from zero, in day order), then
// those sums, a month part standing for its month; so a range sums to the
// same float64 whether its whole months come as month parts or as days.
func Merge(parts []Part) Merged {
	m := Merged{Counters: map[string]float64{}, Lists: map[string][]float64{},
		sets: &lazySets{parts: map[string][]*roaring.Bitmap{}, merged: map[string]*roaring.Bitmap{}}}
	var block blocks
	for i := range parts {
		p := &parts[i]
		m.Days += p.days()
		for _, r := range p.Responses {
			m.Responses = append(m.Responses, DayResponse{Response: r, Part: p})
		}
		block.next(*p, m.Counters)
		for k, v := range p.Counters {
			block.sum[k] += v
		}
		for k, l := range p.Lists {
			m.Lists[k] = append(m.Lists[k], l...)
		}
		for k, b := range p.Sets {
			m.sets.parts[k] = append(m.sets.parts[k], b)
		}
	}
	block.flush(m.Counters)
	return m
}

// blocks sums counters month block by month block (see Merge).
type blocks struct {
	sum   map[string]float64
	month Day
	whole bool // the block is a month part
}

// next starts a new block for p unless p continues the current one,
// adding the finished block to total.
func (b *blocks) next(p Part, total map[string]float64) {
	if b.sum != nil && !b.whole && !p.IsMonth() && MonthOf(p.Day).Equal(b.month) {
		return
	}
	b.flush(total)
	b.sum, b.month, b.whole = map[string]float64{}, MonthOf(p.Day), p.IsMonth()
}

func (b *blocks) flush(total map[string]float64) {
	for k, v := range b.sum {
		total[k] += v
	}
	b.sum = nil
}

// sumCounters sums the named counters over parts as Merge does.
func sumCounters(parts []Part, names ...string) []float64 {
	out := make([]float64, len(names))
	block := make([]float64, len(names))
	var month Day
	open, whole := false, false
	for _, p := range parts {
		if !open || whole || p.IsMonth() || !MonthOf(p.Day).Equal(month) {
			for i := range out {
				out[i] += block[i]
				block[i] = 0
			}
			open, whole, month = true, p.IsMonth(), MonthOf(p.Day)
		}
		for i, n := range names {
			block[i] += p.Counters[n]
		}
	}
	for i := range out {
		out[i] += block[i]
	}
	return out
}

// Set returns a merged set, empty when no part had it.
func (m Merged) Set(name string) *roaring.Bitmap {
	if m.sets == nil {
		return roaring.New()
	}
	m.sets.mu.Lock()
	defer m.sets.mu.Unlock()
	if b, ok := m.sets.merged[name]; ok {
		return b
	}
	bs, ok := m.sets.parts[name]
	if !ok {
		return roaring.New()
	}
	b := roaring.FastOr(bs...)
	m.sets.merged[name] = b
	return b
}

// SetNames returns the names of the sets any part had, sorted.
func (m Merged) SetNames() []string {
	if m.sets == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(m.sets.parts))
}

// NPS groups.
const (
	Detractor = iota
	Passive
	Promoter
)

// NPSGroup classifies a 0–10 score: 9–10 promoter, 7–8 passive, 0–6
// detractor.
func NPSGroup(score float64) int {
	switch {
	case score >= 9:
		return Promoter
	case score >= 7:
		return Passive
	}
	return Detractor
}

// Size is about how many bytes the part takes stored.
func (p Part) Size() int {
	n := 64 * len(p.Counters)
	for k, b := range p.Sets {
		n += len(k) + int(b.GetSerializedSizeInBytes())
	}
	for k, l := range p.Lists {
		n += len(k) + 8*len(l)
	}
	n += 48*len(p.Accounts) + 16*len(p.Orders)
	for _, t := range p.Tickets {
		n += 200 + len(t.ID) + len(t.Requester) + len(t.Account) + 16*len(t.Tags)
	}
	for _, r := range p.Responses {
		n += 80 + len(r.SurveyID) + len(r.Respondent) + len(r.MessageID) + len(r.Channel) + len(r.Touchpoint) + len(r.Comment)
	}
	return n
}

// Trim drops the part's least essential sets until it takes at most max
// bytes: trait segments first (the traits with the most values first),
// then where users went after onboarding steps, landing pages, features.
// Each dropped family is recorded as a counter "dropped:<prefix>", so a
// store's item limit never fails a run. It reports whether it dropped
// anything.
func (p Part) Trim(max int) bool {
	if p.Size() <= max {
		return false
	}
	families := map[string][]string{}
	for k := range p.Sets {
		fam := ""
		switch {
		case strings.HasPrefix(k, "seg:"):
			dim, _, _ := strings.Cut(strings.TrimPrefix(k, "seg:"), "=")
			fam = "seg:" + dim
		case strings.HasPrefix(k, "next_after_step:"):
			fam = "next_after_step"
		case strings.HasPrefix(k, FirstSessionSet(DimLandingPage, "")):
			fam = FirstSessionSet(DimLandingPage, "")
		case strings.HasPrefix(k, "feature:"):
			fam = "feature"
		}
		if fam != "" {
			families[fam] = append(families[fam], k)
		}
	}
	order := slices.SortedFunc(maps.Keys(families), func(a, b string) int {
		rank := func(f string) int {
			switch {
			case strings.HasPrefix(f, "seg:"):
				return 0
			case f == "next_after_step":
				return 1
			case f == "feature":
				return 3
			}
			return 2
		}
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		if c := len(families[b]) - len(families[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, fam := range order {
		for _, k := range families[fam] {
			delete(p.Sets, k)
		}
		p.Counters["dropped:"+fam] = 1
		if p.Size() <= max {
			break
		}
	}
	return true
}
