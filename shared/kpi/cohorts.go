package kpi

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Retention cohorts from month summaries
//
// retention_cohorts counts, for each signup day s of its range and each
// period n after it (a day, a week, or a month counted from s:
// retentionPeriod), the users who signed up on s and were active in the
// period. Each user's periods start at their own signup day, so a period
// crosses month ends and its active users do not add up across month
// parts: merged sets lose the day. But a user active in a period is
// active for the first time in it on exactly one day. So a month part
// carries, for each day d it merges, the hits of d: for each signup day s
// of the CohortHorizon days up to d, each interval, and the period n of d
// after s, the users of s active on d and on no earlier day of that
// period. A period's active users are the sum of its hits over its days,
// wherever the days are: in month parts (CohortSummary), or in day parts,
// whose hits the query counts (firstActive). A month part also keeps its
// signup days' users, which make the cohorts and whose hits on the days
// after them the query counts on day parts.
//
// A month's hits depend on the active users of the CohortLookback days
// before it and on the signups of the CohortHorizon days before it, so the
// nightly run merges a month again when one of those days changes
// (aggregate's mergeMonths): after a late day, the months up to
// CohortHorizon days after it. CounterCohorts equals Days on a month part
// with the summary; a month part merged before it lacks it, and the query
// reads it as its days (Definition.Requires).

const (
	// CohortLookback is how many days before a month its hits read the
	// active users of: the longest period (a month counted from the
	// signup day, 31 days) less its day.
	CohortLookback = 31
	// CohortHorizon is how many days after a signup day a month part
	// counts its hits: the longest cohort a query of a year reads is its
	// range and its lookforward (366 days), 731 days. A query whose
	// cohorts reach further reads the days beyond as day parts.
	CohortHorizon = 800
)

// retentionLookforward is how many days after its range retention_cohorts
// follows its cohorts.
const retentionLookforward = 366

// CounterCohorts is a month part's counter with its cohort summary (one
// per day merged).
const CounterCohorts = "summary_cohorts"

// CohortSummary is a month part's retention_cohorts summary. It is stored
// in a binary form (MarshalBinary): its hits are many and each query reads
// those of one interval only.
type CohortSummary struct {
	// Last is the day of the month of the last day part merged: the
	// cohorts' periods that end after the data are not over.
	Last int
	// Signups are the signup days of the month with their users.
	Signups []CohortSignups
	// Hits are the month's hits of each interval (cohortIntervals),
	// packed (packHits).
	Hits [3][]byte
}

// CohortSignups are the users who signed up on a day of a month.
type CohortSignups struct {
	Day   int    // day of the month
	Users []byte // roaring bitmap
}

// cohortsVersion is the first byte of a CohortSummary's binary form.
const cohortsVersion = 1

// MarshalBinary encodes c: a version byte, then as uvarints Last, the
// number of signup days and each one's day and length before its bytes,
// and the length of each interval's hits before them.
func (c *CohortSummary) MarshalBinary() ([]byte, error) {
	n := 16
	for _, s := range c.Signups {
		n += 8 + len(s.Users)
	}
	for _, h := range c.Hits {
		n += 4 + len(h)
	}
	out := make([]byte, 0, n)
	out = append(out, cohortsVersion)
	out = binary.AppendUvarint(out, uint64(c.Last))
	out = binary.AppendUvarint(out, uint64(len(c.Signups)))
	for _, s := range c.Signups {
		out = binary.AppendUvarint(out, uint64(s.Day))
		out = binary.AppendUvarint(out, uint64(len(s.Users)))
		out = append(out, s.Users...)
	}
	for _, h := range c.Hits {
		out = binary.AppendUvarint(out, uint64(len(h)))
		out = append(out, h...)
	}
	return out, nil
}

var errCohorts = errors.New("kpi: malformed cohort summary")

// UnmarshalBinary decodes what MarshalBinary encodes; c keeps slices of
// raw.
func (c *CohortSummary) UnmarshalBinary(raw []byte) error {
	if len(raw) == 0 || raw[0] != cohortsVersion {
		return errCohorts
	}
	raw = raw[1:]
	next := func() (int, bool) {
		x, n := binary.Uvarint(raw)
		if n <= 0 || x > uint64(len(raw))<<3+64 {
			return 0, false
		}
		raw = raw[n:]
		return int(x), true
	}
	bytes := func() ([]byte, bool) {
		n, ok := next()
		if !ok || n > len(raw) {
			return nil, false
		}
		b := raw[:n:n]
		raw = raw[n:]
		return b, true
	}
	*c = CohortSummary{}
	var ok bool
	if c.Last, ok = next(); !ok {
		return errCohorts
	}
	count, ok := next()
	if !ok || count > len(raw) {
		return errCohorts
	}
	c.Signups = make([]CohortSignups, count)
	for i := range c.Signups {
		if c.Signups[i].Day, ok = next(); !ok {
			return errCohorts
		}
		if c.Signups[i].Users, ok = bytes(); !ok {
			return errCohorts
		}
	}
	for i := range c.Hits {
		if c.Hits[i], ok = bytes(); !ok {
			return errCohorts
		}
	}
	if len(raw) > 0 {
		return errCohorts
	}
	return nil
}

// cohortIntervals are retention_cohorts' intervals; a hit's interval is
// its index here.
var cohortIntervals = []string{"day", "week", "month"}

// cohortKey is a period of a signup day in an interval.
type cohortKey struct {
	interval uint8
	signup   Day
	period   int
}

// signupDay is a signup day's users.
type signupDay struct {
	day   Day
	users *roaring.Bitmap
}

// periodOf is the period of day d after signup day s in interval, and the
// period's first day (d on or after s).
func periodOf(s, d Day, interval string) (int, Day) {
	switch interval {
	case "day":
		return s.DaysUntil(d), d
	case "week":
		n := s.DaysUntil(d) / 7
		return n, s.AddDays(7 * n)
	}
	// A month period starts at s plus n months, which normalizes to the
	// month of s plus n or later: counting the calendar months from s to
	// d gives n or one more.
	n := (d.Year()-s.Year())*12 + int(d.Month()) - int(s.Month())
	for {
		from, _ := retentionPeriod(s, n, interval)
		if !from.After(d) || n == 0 {
			return n, from
		}
		n--
	}
}

// firstActive counts the hits of day d, whose active users are act: for
// each of signups on or before d and at most horizon days before it, and
// each of intervals (indexes into cohortIntervals), the users of the
// signup day active on d and on no day of their period before d. activeOn
// gives the active users of the days before d (nil for a day without a
// part or without active users); it is asked for at most CohortLookback
// days back.
func firstActive(d Day, act *roaring.Bitmap, signups []signupDay, horizon int, intervals []uint8, activeOn func(Day) *roaring.Bitmap, add func(cohortKey, uint64)) {
	if act == nil || act.IsEmpty() {
		return
	}
	// before[k] is the active users of the k days before d, grown as the
	// periods ask.
	before := []*roaring.Bitmap{roaring.New()}
	union := func(k int) *roaring.Bitmap {
		for len(before) <= k {
			j := len(before)
			b := before[j-1]
			if a := activeOn(d.AddDays(-j)); a != nil {
				b = roaring.Or(b, a)
			}
			before = append(before, b)
		}
		return before[k]
	}
	for _, s := range signups {
		if s.day.After(d) || s.day.DaysUntil(d) > horizon {
			continue
		}
		x := roaring.And(s.users, act)
		c := x.GetCardinality()
		if c == 0 {
			continue
		}
		for _, i := range intervals {
			n, from := periodOf(s.day, d, cohortIntervals[i])
			hit := c
			if k := from.DaysUntil(d); k > 0 {
				hit -= x.AndCardinality(union(k))
			}
			if hit > 0 {
				add(cohortKey{i, s.day, n}, hit)
			}
		}
	}
}

// MonthWindow is what BuildMonth reads of the days before month m: the
// active users and signups of the days of active (the longer of
// MonthLookback and CohortLookback), and the signups alone of the days of
// signups (the rest of CohortHorizon).
func MonthWindow(m Day) (active, signups Span) {
	first := m.AddDays(-max(MonthLookback, CohortLookback))
	return Span{first, m.AddDays(-1)}, Span{m.AddDays(-CohortHorizon), first.AddDays(-1)}
}

// CohortSignupParts is the signups of month part m's days in from..to, as
// day parts with the set SetSignups alone (for BuildMonth's before).
func CohortSignupParts(m Part, from, to Day) ([]Part, error) {
	var out []Part
	for _, c := range m.Cohorts.Signups {
		d := dayOfMonth(m.Day, c.Day)
		if d.Before(from) || d.After(to) {
			continue
		}
		b := roaring.New()
		if _, err := b.FromBuffer(c.Users); err != nil {
			return nil, fmt.Errorf("month part %s signups of %s: %w", MonthOf(m.Day), d, err)
		}
		p := NewPart(d)
		p.Sets[SetSignups] = b
		out = append(out, p)
	}
	return out, nil
}

// summarizeCohorts adds the cohort summary of days (in day order) to their
// month part m; before are the day parts before the month (MonthWindow).
func summarizeCohorts(m *Part, days, before []Part) {
	first := MonthOf(days[0].Day)
	active := map[Day]*roaring.Bitmap{}
	var signups []signupDay
	for _, p := range append(sortedParts(before), days...) {
		if p.Day.Before(first.AddDays(-CohortHorizon)) || !p.Day.Before(NextMonth(first)) {
			continue
		}
		if b := p.Sets[SetActiveUsers]; b != nil && !p.Day.Before(first.AddDays(-CohortLookback)) {
			active[p.Day] = b
		}
		if b := p.Sets[SetSignups]; b != nil && !b.IsEmpty() {
			signups = append(signups, signupDay{p.Day, b})
		}
	}
	hits := map[cohortKey]uint64{}
	all := []uint8{0, 1, 2}
	for _, p := range days {
		firstActive(p.Day, p.Sets[SetActiveUsers], signups, CohortHorizon, all, func(d Day) *roaring.Bitmap { return active[d] },
			func(k cohortKey, n uint64) { hits[k] += n })
	}
	cs := &CohortSummary{Last: monthDay(days[len(days)-1].Day), Hits: packHits(first, hits)}
	for _, p := range days {
		if b := p.Sets[SetSignups]; b != nil && !b.IsEmpty() {
			raw, err := b.ToBytes()
			if err != nil {
				panic("kpi: encode a roaring bitmap: " + err.Error()) // writes to a bytes.Buffer
			}
			cs.Signups = append(cs.Signups, CohortSignups{Day: monthDay(p.Day), Users: raw})
		}
	}
	m.Cohorts = cs
	m.Counters[CounterCohorts] = float64(len(days))
}

// packHits packs the hits of month m by interval: for each hit of an
// interval in signup day and period order, its signup day as days before
// the month's last day, its period and its users, as uvarints.
func packHits(m Day, hits map[cohortKey]uint64) [3][]byte {
	end := MonthEnd(m)
	keys := slices.SortedFunc(maps.Keys(hits), func(a, b cohortKey) int {
		return cmp.Or(cmp.Compare(a.interval, b.interval), a.signup.Compare(b.signup), cmp.Compare(a.period, b.period))
	})
	var out [3][]byte
	for _, k := range keys {
		b := out[k.interval]
		b = binary.AppendUvarint(b, uint64(k.signup.DaysUntil(end)))
		b = binary.AppendUvarint(b, uint64(k.period))
		out[k.interval] = binary.AppendUvarint(b, hits[k])
	}
	return out
}

// unpackHits adds the hits of month m in interval (an index into
// cohortIntervals) whose signup days are in from..to to add.
func (c *CohortSummary) unpackHits(m Day, interval uint8, from, to Day, add func(cohortKey, uint64)) error {
	end := MonthEnd(m)
	raw := c.Hits[interval]
	var v [3]uint64
	for len(raw) > 0 {
		for i := range v {
			x, n := binary.Uvarint(raw)
			if n <= 0 {
				return errCohorts
			}
			v[i], raw = x, raw[n:]
		}
		if v[0] > 1<<20 {
			return errCohorts
		}
		s := end.AddDays(-int(v[0]))
		if !s.Before(from) && !s.After(to) {
			add(cohortKey{interval, s, int(v[1])}, v[2])
		}
	}
	return nil
}

// readCohorts covers the range and its lookforward as far as month parts
// hold the hits of the range's signup days (CohortHorizon days from its
// first day), and reads the days beyond as day parts. Day parts after the
// cover's last whole month need the active users of the days before them
// (firstActive).
func readCohorts(in Input) (cover, days []Span) {
	end := in.To.AddDays(retentionLookforward)
	to := minDay(end, in.From.AddDays(CohortHorizon))
	cover = []Span{{in.From, to}}
	if to.Before(end) {
		days = append(days, Span{to.AddDays(1), end})
	}
	if whole := WholeMonths(in.From, to); len(whole) > 0 {
		if last := MonthEnd(whole[len(whole)-1]); last.Before(end) {
			days = append(days, Span{maxDay(in.From, last.AddDays(1-CohortLookback)), last})
		}
	}
	return cover, days
}

// requireCohorts is the Requires of retention_cohorts.
func requireCohorts(Input) []string { return []string{CounterCohorts} }
