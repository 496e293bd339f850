package kpi

import (
	"maps"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Month summaries
//
// A few KPIs need, for each day of their range, more than that day's
// part, and merged counters and sets lose the day: stickiness divides
// each day's DAU by the active users of the 30 days ending on it (MAU);
// the renewal KPIs (renewal_rate, renewal_by_onboarding, roi_projection)
// look for the subscriptions due on each day among the customers at the
// end of the day before, and for their renewals in the 30 days either
// side of the due date. A month part therefore also carries, from
// BuildMonth, what those KPIs read of each of its days:
//
//   - Usage: for each day part merged, its DAU and its MAU, the active
//     users of the day parts of the 30 days ending on it (the month's and
//     those of the MonthLookback days before it), as windowUsers counts
//     them; stickiness adds up the daily ratios of a whole month from
//     them, in day order, to the same float64 as from its days;
//   - Spells: the customer accounts at the end of each day part, as runs
//     of consecutive day parts over which an account stays a customer
//     with the same start (Since) and onboarding: which subscriptions
//     fall due on a day depends on the configured term and time zone, so
//     the spells keep the accounts, not the due dates, and a month part
//     answers whatever the configuration at query time;
//   - Renewed: the renewals of each day (SetRenewed by day).
//
// Usage depends on the MonthLookback days before the month: the nightly
// run merges a month again when a day part of those days changes
// (aggregate's mergeMonths). CounterUsage and CounterRenewals equal Days
// on a month part with the summaries; a month part merged before them
// lacks them, and the query reads it as its days (Definition.Requires).

// MonthLookback is how many days before a month BuildMonth reads: the
// rest of the 30-day window of its first day.
const MonthLookback = 29

// Counters of a month part with its summaries (one per day merged).
const (
	CounterUsage    = "summary_usage"
	CounterRenewals = "summary_renewals"
)

// DayUsage is a day part's DAU and MAU in a month part.
type DayUsage struct {
	Day int     `json:"d"` // day of the month
	DAU float64 `json:"dau"`
	MAU float64 `json:"mau"`
}

// AccountSpell is an account that was a customer at the end of each day
// part of days First..Last of a month (days of the month, without a
// missing day part between them), with the same start and onboarding.
type AccountSpell struct {
	Ordinal   uint32    `json:"ord"`
	Since     time.Time `json:"since"`
	Onboarded bool      `json:"onb,omitempty"`
	First     int       `json:"f"`
	Last      int       `json:"l"`
}

// Renewal is an account's renewal on a day of a month.
type Renewal struct {
	Day     int    `json:"d"`
	Ordinal uint32 `json:"ord"`
}

// monthDay is the day of the month of d (1 to 31).
func monthDay(d Day) int { return d.t.Day() }

// dayOfMonth is day i (from 1) of the month of m.
func dayOfMonth(m Day, i int) Day { return MonthOf(m).AddDays(i - 1) }

// summarize adds the summaries of days (in day order) to their month
// part m, before being the day parts before the month.
func summarize(m *Part, days, before []Part) {
	first := MonthOf(days[0].Day)
	window := make([]Part, 0, MonthLookback+len(days))
	for _, p := range sortedParts(before) {
		if !p.Day.Before(first.AddDays(-MonthLookback)) && p.Day.Before(first) {
			window = append(window, p)
		}
	}
	window = append(window, days...)
	var open map[uint32]int // account -> its spell in m.Spells, at the previous day part
	var prev Day
	for _, p := range days {
		var sets []*roaring.Bitmap
		for _, w := range window {
			if !w.Day.Before(p.Day.AddDays(-MonthLookback)) && !w.Day.After(p.Day) {
				if b, ok := w.Sets[SetActiveUsers]; ok {
					sets = append(sets, b)
				}
			}
		}
		day := monthDay(p.Day)
		m.Usage = append(m.Usage, DayUsage{Day: day, DAU: p.Counters[CounterDAU], MAU: float64(roaring.FastOr(sets...).GetCardinality())})

		next := len(open) > 0 && prev.AddDays(1).Equal(p.Day)
		cur := map[uint32]int{}
		accts := accountsOf(p)
		for _, ord := range slices.Sorted(maps.Keys(accts)) {
			a := accts[ord]
			if i, ok := open[ord]; ok && next && m.Spells[i].Since.Equal(a.Since) && m.Spells[i].Onboarded == a.Onboarded {
				m.Spells[i].Last = day
				cur[ord] = i
				continue
			}
			cur[ord] = len(m.Spells)
			m.Spells = append(m.Spells, AccountSpell{Ordinal: ord, Since: a.Since, Onboarded: a.Onboarded, First: day, Last: day})
		}
		open, prev = cur, p.Day

		if b := p.Sets[SetRenewed]; b != nil {
			for _, ord := range b.ToArray() {
				m.Renewed = append(m.Renewed, Renewal{Day: day, Ordinal: ord})
			}
		}
	}
	m.Counters[CounterUsage] = float64(len(days))
	m.Counters[CounterRenewals] = float64(len(days))
}

// accountsOf is the customer accounts of a day part, by ordinal.
func accountsOf(p Part) map[uint32]AccountState {
	out := make(map[uint32]AccountState, len(p.Accounts))
	for _, a := range p.Accounts {
		out[a.Ordinal] = a
	}
	return out
}

// requireUsage and requireRenewals are the Requires of the KPIs that read
// the summaries.
func requireUsage(Input) []string    { return []string{CounterUsage} }
func requireRenewals(Input) []string { return []string{CounterRenewals} }

// renewalFields is the FieldsFor of the renewal KPIs: month parts are
// read with their summaries only (day parts with their accounts too).
func renewalFields(Input) Fields { return FieldRenewals }

// readStickiness covers the range, and reads the days before its edges
// that their 30-day windows need (those of whole months are in their
// month parts' Usage).
func readStickiness(in Input) (cover, days []Span) {
	cover = []Span{{in.From, in.To}}
	whole := WholeMonths(in.From, in.To)
	if len(whole) == 0 {
		return cover, []Span{{in.From.AddDays(-MonthLookback), in.To}}
	}
	if in.From.Before(whole[0]) {
		days = append(days, Span{in.From.AddDays(-MonthLookback), whole[0].AddDays(-1)})
	}
	if end := MonthEnd(whole[len(whole)-1]); end.Before(in.To) {
		days = append(days, Span{end.AddDays(1 - MonthLookback), in.To})
	}
	return cover, days
}

// readRenewals covers the days before the due dates of the range (their
// customers) and the 30 days either side of the range (renewals).
func readRenewals(in Input) (cover, days []Span) {
	return []Span{{in.From.AddDays(-1), in.To.AddDays(-1)}, {in.From.AddDays(-30), in.To.AddDays(30)}}, nil
}

// readROI is readRenewals, and the range's signups and completions.
func readROI(in Input) (cover, days []Span) {
	cover, days = readRenewals(in)
	return append(cover, Span{in.From, in.To}), days
}

// dueRenewal is a subscription due for renewal on a day.
type dueRenewal struct {
	ordinal    uint32
	day, since Day
	onboarded  bool
}

// dueIn lists the subscriptions due in the range: the accounts that were
// customers at the end of the day before, a term after their latest start
// or renewal; from the spells of month parts and the accounts of day
// parts.
func dueIn(in Input) []dueRenewal {
	term, loc := in.Config.RenewalTermDays, in.Config.Location()
	var out []dueRenewal
	for _, p := range in.Cover(in.From.AddDays(-1), in.To.AddDays(-1)) {
		if !p.IsMonth() {
			x := p.Day.AddDays(1)
			for _, a := range accountsOf(p) {
				if since := DayOf(a.Since, loc); since.AddDays(term).Equal(x) {
					out = append(out, dueRenewal{ordinal: a.Ordinal, day: x, since: since, onboarded: a.Onboarded})
				}
			}
			continue
		}
		for _, s := range p.Spells {
			since := DayOf(s.Since, loc)
			x := since.AddDays(term)
			if y := x.AddDays(-1); y.Before(dayOfMonth(p.Day, s.First)) || y.After(dayOfMonth(p.Day, s.Last)) || x.Before(in.From) || x.After(in.To) {
				continue
			}
			out = append(out, dueRenewal{ordinal: s.Ordinal, day: x, since: since, onboarded: s.Onboarded})
		}
	}
	return out
}

// renewedOn is the accounts renewed on each day of from..to, from the
// Renewed of month parts and the SetRenewed of day parts.
func renewedOn(in Input, from, to Day) map[Day]*roaring.Bitmap {
	out := map[Day]*roaring.Bitmap{}
	for _, p := range in.Cover(from, to) {
		if !p.IsMonth() {
			if b := p.Sets[SetRenewed]; b != nil {
				out[p.Day] = b
			}
			continue
		}
		for _, r := range p.Renewed {
			d := dayOfMonth(p.Day, r.Day)
			if out[d] == nil {
				out[d] = roaring.New()
			}
			out[d].Add(r.Ordinal)
		}
	}
	return out
}
