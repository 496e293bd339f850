package kpi

import (
	"maps"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Month parts
//
// A query over a year would read and evaluate 365 day parts (and as many
// again for lookbacks and all-history sums). A month part is the merge of
// a calendar month's day parts, kept next to them by the nightly run, so
// that a range reads one part per whole month and day parts only for its
// edges: a 365-day range costs about 12 month parts and up to 60 day
// parts, a 30-day range up to 2 month parts and 60 day parts.
//
// A month part must give exactly what its days give, so it only holds
// what merges without loss:
//
//   - counters summed, in day order from zero; Merge sums a range's
//     counters month block by month block in the same way (sumBlocks), so
//     a month part and its days add up to the same float64, bit for bit;
//   - sets unioned, except the first-session sets ("first_<dim>:"), which
//     hold each visitor under the value of their first session in the
//     month (as channels assigns them), so that channels over month parts
//     assigns visitors as it does over their days;
//   - lists, responses, tickets and orders concatenated in day order;
//   - Accounts, which are a snapshot at a day's end and do not add up:
//     the month part keeps those of its first day, and KPIs that read the
//     customers of a given day read day parts (or the spells below);
//   - summaries of what some KPIs read of each day (summary.go): the
//     daily DAU and rolling MAU (stickiness, which reads them with the 29
//     days before the month), and the customers' spells and renewals by
//     day (renewal_rate, renewal_by_onboarding, roi_projection);
//   - summaries of its answers and tickets for the KPIs made of them: the
//     low answers by class, newest first (followups.go:
//     detractor_followups), and the requesters, repeat requesters and
//     tickets near the month's edges (contacts.go: repeat_contact_rate);
//   - the hits of retention_cohorts' periods on each of its days, which
//     add up across months, and its signup days (cohorts.go).
//
// What does not merge stays on day parts: the daily values of rolling
// windows (WAU, MAU), trait
// segments (a trait filter restricts each day's users by that day's
// traits), and daily or weekly series. A Definition says what it reads
// through Reads; one without Reads, or a query with trait filters, a
// trait breakdown or a daily or weekly series, reads day parts only.
//
// Month parts are read with only the fields their KPIs use (Fields):
// stores keep each field in its own items (dynamostore), so a year of a
// KPI made of counters (CountersOnly: dau, sessions, NPS and, without
// filters, CSAT, CES and the ticket KPIs below) reads a year of counters
// (and lists), not of sets, answers and tickets.
//
// What a year still costs about 12 times a month (BenchmarkQuery, P2):
//
//   - the survey and ticket KPIs with a filter or a breakdown (or ticket
//     times in business hours) are made of every answer or ticket of the
//     range (medians, filters and breakdowns on their own fields): month
//     parts hold them whole, so a year decodes a year of them. Without
//     one, NPS counts from counters, CSAT and CES from score histograms
//     (ScoreCounter), ticket_volume from ticket counts,
//     first_response_time, resolution_time, resolution_rate and
//     escalation_response_time from lists of ticket times (tickets.go),
//     detractor_followups from its classes of low answers (followups.go)
//     and repeat_contact_rate from its contact summaries (contacts.go).

// MonthOf is the first day of d's calendar month.
func MonthOf(d Day) Day { return NewDay(d.Year(), d.Month(), 1) }

// NextMonth is the first day of the month after d's.
func NextMonth(d Day) Day { return NewDay(d.Year(), d.Month()+1, 1) }

// MonthEnd is the last day of d's month.
func MonthEnd(d Day) Day { return NextMonth(d).AddDays(-1) }

// IsMonth reports whether p is a month part.
func (p Part) IsMonth() bool { return p.Days > 0 }

// days is how many days p stands for.
func (p Part) days() int {
	if p.Days > 0 {
		return p.Days
	}
	return 1
}

// BuildMonth merges the day parts of one calendar month, in day order, into
// the month part: Day is its first day part's day, Days how many it merges.
// before are the day parts of the days before the month that MonthWindow
// names (any others are ignored), of which its summaries read the active
// users and the signups (summary.go, cohorts.go). It returns false when
// days is empty.
func BuildMonth(days, before []Part) (Part, bool) {
	if len(days) == 0 {
		return Part{}, false
	}
	days = sortedParts(days)
	m := NewPart(days[0].Day)
	m.Days = len(days)
	m.Accounts = slices.Clone(days[0].Accounts)
	sets := map[string][]*roaring.Bitmap{}
	for _, p := range days {
		for _, k := range slices.Sorted(maps.Keys(p.Counters)) {
			m.Counters[k] += p.Counters[k]
		}
		for k, b := range p.Sets {
			if !strings.HasPrefix(k, "first_") {
				sets[k] = append(sets[k], b)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(p.Lists)) {
			m.Lists[k] = append(m.Lists[k], p.Lists[k]...)
		}
		m.Responses = append(m.Responses, p.Responses...)
		m.Tickets = append(m.Tickets, p.Tickets...)
		m.Orders = append(m.Orders, p.Orders...)
	}
	for k, bs := range sets {
		b := roaring.FastOr(bs...)
		b.RunOptimize()
		m.Sets[k] = b
	}
	for _, dim := range firstSessionDims(days) {
		for v, b := range channels(days, dim) {
			b.RunOptimize()
			m.Sets[FirstSessionSet(dim, v)] = b
		}
	}
	summarize(&m, days, before)
	summarizeFollowUps(&m, days)
	summarizeContacts(&m, days)
	summarizeCohorts(&m, days, before)
	return m, true
}

// sortedParts is parts in day order.
func sortedParts(parts []Part) []Part {
	parts = slices.Clone(parts)
	slices.SortFunc(parts, func(a, b Part) int { return strings.Compare(a.Day.String(), b.Day.String()) })
	return parts
}

// firstSessionDims lists the dimensions of the parts' first-session sets.
func firstSessionDims(parts []Part) []string {
	dims := map[string]bool{}
	for _, p := range parts {
		for k := range p.Sets {
			if rest, ok := strings.CutPrefix(k, "first_"); ok {
				if dim, _, ok := strings.Cut(rest, ":"); ok {
					dims[dim] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(dims))
}

// Span is the days from..to.
type Span struct{ From, To Day }

// Cover returns the parts that cover from..to in day order: the month part
// of each whole month inside it that the input holds, and day parts for
// the rest. Without month parts it is Between.
func (in Input) Cover(from, to Day) []Part {
	if len(in.Months) == 0 {
		return in.Between(from, to)
	}
	var out []Part
	for m := MonthOf(from); !m.After(to); m = NextMonth(m) {
		end := MonthEnd(m)
		if !m.Before(from) && !end.After(to) {
			if mp, ok := in.month(m); ok {
				out = append(out, mp)
				continue
			}
		}
		out = append(out, in.Between(maxDay(from, m), minDay(to, end))...)
	}
	return out
}

// CoverRange is Cover(From, To).
func (in Input) CoverRange() []Part { return in.Cover(in.From, in.To) }

func (in Input) month(m Day) (Part, bool) {
	for _, p := range in.Months {
		if MonthOf(p.Day).Equal(m) {
			return p, true
		}
	}
	return Part{}, false
}

func maxDay(a, b Day) Day {
	if a.After(b) {
		return a
	}
	return b
}

func minDay(a, b Day) Day {
	if a.Before(b) {
		return a
	}
	return b
}

// WholeMonths lists the first days of the calendar months that lie wholly
// inside from..to.
func WholeMonths(from, to Day) []Day {
	var out []Day
	for m := MonthOf(from); !m.After(to); m = NextMonth(m) {
		if !m.Before(from) && !MonthEnd(m).After(to) {
			out = append(out, m)
		}
	}
	return out
}

// Plan says which parts evaluating d on in needs: cover spans, read
// through Cover (month parts for whole months, day parts for the edges),
// and day spans, read day by day. ok is false when the evaluation needs
// every day part of the range with its lookback and lookforward: the KPI
// has no Reads, or the query filters or breaks it down by a trait (each
// day's users are cut by that day's traits), or asks for a daily or
// weekly series (interval, when the KPI does not read it itself).
func (d Definition) Plan(in Input, interval string) (cover, days []Span, ok bool) {
	if d.Reads == nil {
		return nil, nil, false
	}
	if in.Breakdown != "" && d.IsTraitDim(in.Breakdown) {
		return nil, nil, false
	}
	for _, f := range in.Filters {
		if d.IsTraitDim(f.Dim) {
			return nil, nil, false
		}
	}
	if interval == "day" || interval == "week" {
		return nil, nil, false
	}
	cover, days = d.Reads(in)
	return cover, days, true
}

// Read helpers of the definitions.
func readRange(in Input) (cover, days []Span) { return []Span{{in.From, in.To}}, nil }

func readLastDays(n int) func(Input) ([]Span, []Span) {
	return func(in Input) ([]Span, []Span) { return nil, []Span{{in.To.AddDays(1 - n), in.To}} }
}

// readChange covers the range and its parts before and after the
// change date (flow comparison, guidance impact).
func readChange(in Input) (cover, days []Span) {
	cover = []Span{{in.From, in.To}}
	if change, ok := changeDay(in); ok {
		cover = append(cover, Span{in.From, change.AddDays(-1)}, Span{change, in.To})
	}
	return cover, nil
}

// readChurn reads the customers of the day before the range and covers
// the range's cancellations.
func readChurn(in Input) (cover, days []Span) {
	before := in.From.AddDays(-1)
	return []Span{{in.From, in.To}}, []Span{{before, before}}
}

// readRetentionRate reads the customers of the day before the range and
// of its last day.
func readRetentionRate(in Input) (cover, days []Span) {
	before := in.From.AddDays(-1)
	return nil, []Span{{before, before}, {in.To, in.To}}
}

// readDropoff covers the signup days and where users went up to the end
// of the onboarding window after them.
func readDropoff(in Input) (cover, days []Span) {
	return []Span{{in.From, in.To}, {in.From, in.To.AddDays(in.Config.OnboardingWindowDays + 1)}}, nil
}

// Fields are the fields of a part beside its counters: its sets and
// lists, and the fields stores keep as JSON. Month parts are stored in one
// group of items per field (dynamostore), and decoding a month's answers,
// tickets and orders, or even its sets, costs far more than its counters,
// so month parts are read with only the fields the KPIs evaluated on them
// use (Definition.MonthFieldsOf).
type Fields uint16

// The fields a read may bring.
const (
	FieldResponses Fields = 1 << iota
	FieldTickets
	FieldAccounts
	FieldOrders
	FieldSets
	FieldLists
	// FieldUsage and FieldRenewals are the summaries of month parts
	// (summary.go): Usage; Spells and Renewed.
	FieldUsage
	FieldRenewals
	// FieldFollowUps and FieldContacts are the month summaries of
	// detractor_followups (FollowUps) and repeat_contact_rate (Contacts).
	FieldFollowUps
	FieldContacts
	// FieldAccountSets are the account sets (AccountSets) without the
	// other sets; FieldSets brings them too. A day's accounts are few
	// where its users are many: month parts keep these sets apart from
	// the user sets, so that a KPI reading only them of its months
	// (churn_rate, Definition.MonthFields) does not read a month of user
	// sets.
	FieldAccountSets
	// FieldCohorts is the month summary of retention_cohorts (Cohorts).
	FieldCohorts
	AllFields = FieldResponses | FieldTickets | FieldAccounts | FieldOrders | FieldSets | FieldLists | FieldUsage | FieldRenewals |
		FieldFollowUps | FieldContacts | FieldAccountSets | FieldCohorts
)

// AccountSets are the sets of account ordinals (FieldAccountSets).
var AccountSets = []string{SetActiveAccounts, SetCancelled, SetRenewed}

// IsAccountSet reports whether name is one of AccountSets.
func IsAccountSet(name string) bool { return slices.Contains(AccountSets, name) }

// Only returns p without the fields f leaves out.
func (p Part) Only(f Fields) Part {
	if f&FieldResponses == 0 {
		p.Responses = nil
	}
	if f&FieldTickets == 0 {
		p.Tickets = nil
	}
	if f&FieldAccounts == 0 {
		p.Accounts = nil
	}
	if f&FieldOrders == 0 {
		p.Orders = nil
	}
	if f&FieldSets == 0 {
		sets := map[string]*roaring.Bitmap{}
		if f&FieldAccountSets != 0 {
			for _, name := range AccountSets {
				if b, ok := p.Sets[name]; ok {
					sets[name] = b
				}
			}
		}
		p.Sets = sets
	}
	if f&FieldLists == 0 {
		p.Lists = map[string][]float64{}
	}
	if f&FieldUsage == 0 {
		p.Usage = nil
	}
	if f&FieldRenewals == 0 {
		p.Spells, p.Renewed = nil, nil
	}
	if f&FieldFollowUps == 0 {
		p.FollowUps = nil
	}
	if f&FieldContacts == 0 {
		p.Contacts = nil
	}
	if f&FieldCohorts == 0 {
		p.Cohorts = nil
	}
	return p
}

// FieldsOf is what the evaluation of d on in reads of parts beside their
// counters: Fields (or FieldsFor), and the sets and lists unless
// CountersOnly says the evaluation reads none.
func (d Definition) FieldsOf(in Input) Fields {
	f := d.Fields
	if d.FieldsFor != nil {
		f = d.FieldsFor(in)
	}
	if d.CountersOnly == nil || !d.CountersOnly(in) {
		f |= FieldSets | FieldLists
	}
	return f
}

// MonthFieldsOf is what the evaluation of d on in reads of month parts
// beside their counters: MonthFields when set, FieldsOf otherwise.
func (d Definition) MonthFieldsOf(in Input) Fields {
	if d.MonthFields != 0 {
		return d.MonthFields
	}
	return d.FieldsOf(in)
}

// Holds reports whether p has each of counters for each day it stands
// for (Definition.Requires).
func (p Part) Holds(counters []string) bool {
	for _, c := range counters {
		if p.Counters[c] != float64(p.days()) {
			return false
		}
	}
	return true
}

// always and plain are CountersOnly functions: always, for KPIs made of
// counters whatever the query (session counters, keyed by their
// dimensions); plain, for those made of counters unless the query filters
// or breaks them down.
func always(Input) bool { return true }

func plain(in Input) bool { return len(in.Filters) == 0 && in.Breakdown == "" }
