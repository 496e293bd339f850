package kpi

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Result is a KPI's value over some days, with what it was made from.
type Result struct {
	// Value is nil when the KPI is undefined (a zero denominator).
	Value       *float64       `json:"value"`
	Numerator   float64        `json:"numerator"`
	Denominator float64        `json:"denominator"`
	Details     map[string]any `json:"details"`
	// Breakdown has one row per value of the requested dimension.
	Breakdown []Row `json:"breakdown,omitempty"`
}

// Row is one value of a breakdown.
type Row struct {
	Key         string         `json:"key"`
	Value       *float64       `json:"value"`
	Numerator   float64        `json:"numerator"`
	Denominator float64        `json:"denominator"`
	Details     map[string]any `json:"details,omitempty"`
}

// Filter keeps what has Dim equal to Value.
type Filter struct{ Dim, Value string }

// Input is what a KPI is evaluated on.
type Input struct {
	From, To Day
	// Parts are the aggregated days from From minus the definition's
	// lookback to To, in day order.
	Parts []Part
	// Months are month parts (BuildMonth) of whole months that Cover
	// reads in place of their days; nil when the query read day parts
	// only.
	Months []Part
	// History sums the definition's History names over every day before
	// HistoryBefore(From, To).
	History   Merged
	Breakdown string
	Filters   []Filter
	Params    map[string]string
	Config    Config
}

// Between returns the parts of from..to.
func (in Input) Between(from, to Day) []Part {
	var out []Part
	for _, p := range in.Parts {
		if !p.Day.Before(from) && !p.Day.After(to) {
			out = append(out, p)
		}
	}
	return out
}

// Range returns the parts of From..To.
func (in Input) Range() []Part { return in.Between(in.From, in.To) }

// Definition is a KPI that the engine computes.
type Definition struct {
	ID string
	// Lookback is how many days before From the KPI reads, given the
	// range's length in days.
	Lookback func(days int) int
	// History names the counters and sets the KPI sums over all days
	// before HistoryBefore.
	History       []string
	HistoryBefore func(from, to Day) Day
	// Breakdowns and Filters are the dimensions it can be broken down and
	// filtered by; Params, the KPI-specific query parameters it takes.
	Breakdowns, Filters, Params []string
	// Lookforward is how many days after To the KPI reads (cohorts follow
	// their users after the range).
	Lookforward int
	// Segments says the KPI counts sets of users, so it can be broken
	// down and filtered by any user or account trait.
	Segments bool
	// CheckParams, when set, validates the KPI-specific parameters.
	CheckParams func(map[string]string) error
	// Reads, when set, says the KPI can be evaluated with month parts:
	// the spans it reads through Cover (month parts for whole months, day
	// parts for the edges) and those it reads day by day (Between,
	// customersAt). Without it, or when Plan says so, the query reads every
	// day part from the lookback to the lookforward.
	Reads func(in Input) (cover, days []Span)
	// Fields are the fields of parts the KPI reads (answers, tickets,
	// accounts, orders; lists, for a KPI that reads no set); counters are
	// always read, and sets and lists unless CountersOnly says otherwise
	// (FieldsOf).
	Fields Fields
	// FieldsFor, when set, says which of Fields an evaluation reads (NPS
	// without a filter or breakdown counts from counters, not answers).
	FieldsFor func(in Input) Fields
	// CountersOnly, when set, reports that an evaluation reads no set and
	// no list of its month parts: they are then read without them (a
	// year of dau reads a year of counters, not of sets; day parts are
	// read with theirs whatever the KPI). A KPI without it
	// reads them all, which is always right; TestMonthPartsExact checks
	// that those with it answer as day parts read whole do.
	CountersOnly func(in Input) bool
	// MonthFields, when set, are what every evaluation reads of month
	// parts in place of FieldsOf, which still says what it reads of day
	// parts: churn_rate reads the accounts of the day before its range
	// from that day's part, and only the cancellations (FieldAccountSets)
	// of the months it covers. TestMonthPartsExact checks it as
	// CountersOnly.
	MonthFields Fields
	// Requires, when set, names the counters that every part must hold,
	// for each day it stands for (Part.Holds), for an evaluation to read
	// no more than FieldsOf: counters added after parts were first
	// written. The query reads a month part without them as its days,
	// and day parts with Fields as well, so that parts written before the
	// counters are evaluated from what they hold.
	Requires func(in Input) []string
	// DayWindow is how many days before a day the evaluation of that day
	// from day parts reads (stickiness: the rest of its 30-day window): a
	// whole month read as its days, for want of a month part, is read
	// with the DayWindow days before it.
	DayWindow int
	Eval      func(in Input) Result
}

// readOrganic covers the range and the previous range of equal length.
func readOrganic(in Input) (cover, days []Span) {
	n := in.From.DaysUntil(in.To) + 1
	return []Span{{in.From.AddDays(-n), in.From.AddDays(-1)}, {in.From, in.To}}, nil
}

func lookback(n int) func(int) int { return func(int) int { return n } }

var definitions = map[string]Definition{}

func define(d Definition) {
	if d.Lookback == nil {
		d.Lookback = lookback(0)
	}
	definitions[d.ID] = d
}

func init() {
	define(Definition{Segments: true, ID: "dau", Reads: readRange, CountersOnly: plain, Eval: evalDAU})
	define(Definition{Segments: true, ID: "active_users", Reads: readRange, CountersOnly: plain, Eval: evalDAU})
	define(Definition{Segments: true, ID: "wau", Lookback: lookback(6), Reads: readLastDays(7), Eval: rolling(7)})
	define(Definition{Segments: true, ID: "mau", Lookback: lookback(29), Reads: readLastDays(30), Eval: rolling(30)})
	define(Definition{Segments: true, ID: "stickiness", Lookback: lookback(MonthLookback), Reads: readStickiness, DayWindow: MonthLookback,
		Fields: FieldUsage, Requires: requireUsage, CountersOnly: always, Eval: evalStickiness})
	define(Definition{ID: "engagement_rate", History: []string{CounterKnownNew}, HistoryBefore: func(_, to Day) Day { return to.AddDays(1) }, Reads: readRange, Eval: evalEngagement})
	define(Definition{ID: "sessions", Breakdowns: SessionDims, Filters: SessionDims, Reads: readRange, CountersOnly: always, Eval: evalSessions})
	define(Definition{ID: "pages_per_session", Breakdowns: SessionDims, Filters: SessionDims, Reads: readRange, CountersOnly: always, Eval: evalPagesPerSession})
	define(Definition{ID: "avg_session_duration", Breakdowns: SessionDims, Filters: SessionDims, Reads: readRange, CountersOnly: always, Eval: evalSessionDuration})
	define(Definition{Segments: true, ID: "conversion_rate", Breakdowns: []string{"channel", DimLandingPage}, Filters: []string{"channel", DimLandingPage}, Reads: readRange, Eval: evalConversion})
	define(Definition{ID: "organic_clicks", Lookback: func(days int) int { return days }, Reads: readOrganic, CountersOnly: always, Eval: evalOrganic})
	define(Definition{Segments: true, ID: "feature_adoption", Params: []string{"feature"}, Reads: readRange, Eval: evalFeatures})
	define(Definition{ID: "product_adoption", Lookback: lookback(29), History: []string{SetSignups},
		HistoryBefore: func(_, to Day) Day { return to.AddDays(-29) }, Reads: readLastDays(30), Eval: evalProductAdoption})
	define(Definition{Segments: true, ID: "nps", Breakdowns: surveyDims, Filters: surveyDims, Reads: readRange, Fields: FieldResponses, FieldsFor: npsFields, CountersOnly: plain, Eval: evalNPS})
	define(Definition{Segments: true, ID: "csat", Breakdowns: surveyDims, Filters: surveyDims, Reads: readRange, Fields: FieldResponses,
		FieldsFor: scoreFields(csatScale), Requires: scoreRequires(csatScale), CountersOnly: plain, Eval: evalCSAT})
	define(Definition{Segments: true, ID: "ces", Breakdowns: surveyDims, Filters: surveyDims, Reads: readRange, Fields: FieldResponses,
		FieldsFor: scoreFields(cesScale), Requires: scoreRequires(cesScale), CountersOnly: plain, Eval: evalCES})
	define(Definition{Segments: true, ID: "detractor_followups", Filters: surveyDims, Reads: readRange, Fields: FieldResponses,
		FieldsFor: followUpFields, Requires: followUpRequires, CountersOnly: always, Eval: evalFollowUps})
	define(Definition{ID: "ticket_volume", Breakdowns: ticketDims, Filters: ticketDims, Reads: readRange, Fields: FieldTickets,
		FieldsFor: ticketVolumeFields, Requires: ticketVolumeRequires, CountersOnly: always, Eval: evalTicketVolume})
	define(Definition{ID: "first_response_time", Breakdowns: ticketDims, Filters: ticketDims, Reads: readRange, Fields: FieldTickets,
		FieldsFor: durationFields, Requires: durationRequires, CountersOnly: always, Eval: evalFirstResponse})
	define(Definition{ID: "resolution_time", Breakdowns: ticketDims, Filters: ticketDims, Reads: readRange, Fields: FieldTickets,
		FieldsFor: durationFields, Requires: durationRequires, CountersOnly: always, Eval: evalResolutionTime})
	define(Definition{ID: "resolution_rate", Breakdowns: ticketDims, Filters: ticketDims, Reads: readRange, Fields: FieldTickets,
		FieldsFor: resolutionRateFields, Requires: resolutionRateRequires, CountersOnly: always, Eval: evalResolutionRate})
	define(Definition{ID: "escalation_response_time", Breakdowns: ticketDims, Filters: ticketDims, Reads: readRange, Fields: FieldTickets,
		FieldsFor: durationFields, Requires: escalationRequires, CountersOnly: always, Eval: evalEscalation})
	define(Definition{ID: "repeat_contact_rate", Breakdowns: ticketDims, Filters: ticketDims, Reads: readRange, Fields: FieldTickets,
		FieldsFor: contactsFields, Requires: contactsRequires, CountersOnly: always, Eval: evalRepeatContact})
	define(Definition{ID: "churn_rate", Lookback: lookback(1), Reads: readChurn, Fields: FieldAccounts, MonthFields: FieldAccountSets, Eval: evalChurn})
	define(Definition{ID: "customer_retention_rate", Lookback: lookback(1), Reads: readRetentionRate, Fields: FieldAccounts, Eval: evalRetentionRate})
	define(Definition{ID: "free_to_paid_conversion", Reads: readRange, Fields: FieldLists, CountersOnly: always, Eval: evalFreeToPaid})
	define(Definition{ID: "renewal_rate", Lookback: lookback(31), Lookforward: 30, Reads: readRenewals, Fields: FieldAccounts | FieldRenewals,
		FieldsFor: renewalFields, Requires: requireRenewals, CountersOnly: always, Eval: evalRenewal})
	define(Definition{ID: "avg_purchase_value", Reads: readRange, Fields: FieldOrders, CountersOnly: always, Eval: evalAvgPurchase})
	define(Definition{ID: "repeat_purchase_rate", Reads: readRange, Fields: FieldOrders, CountersOnly: always, Eval: evalRepeatPurchase})
	define(Definition{ID: "clv", Lookback: lookback(365), Fields: FieldAccounts | FieldOrders, Eval: evalCLV})
	define(Definition{ID: "flow_comparison", Params: []string{ParamChangeDate, ParamFlow}, CheckParams: checkChangeDate, Reads: readChange, Fields: FieldLists, CountersOnly: always, Eval: evalFlowComparison})
	define(Definition{ID: "guidance_impact", Params: []string{ParamChangeDate, ParamSavingMinutes, ParamHourlyWage, ParamAttribution}, CheckParams: checkImpact, Reads: readChange, Fields: FieldLists, CountersOnly: always, Eval: evalGuidanceImpact})
	define(Definition{ID: "health_score", Lookback: lookback(30 + healthLookback), Fields: FieldAccounts | FieldResponses | FieldTickets, Eval: evalHealth})
	define(Definition{ID: "renewal_by_onboarding", Lookback: lookback(31), Lookforward: 30, Reads: readRenewals, Fields: FieldAccounts | FieldRenewals,
		FieldsFor: renewalFields, Requires: requireRenewals, CountersOnly: always, Eval: evalRenewalByOnboarding})
	define(Definition{ID: "roi_projection", Lookback: lookback(31), Lookforward: 30, Reads: readROI, Fields: FieldAccounts | FieldRenewals,
		FieldsFor: renewalFields, Requires: requireRenewals, CountersOnly: always, Params: roiParams, CheckParams: checkROI, Eval: evalROI})
	define(Definition{ID: "onboarding_completion_rate", Reads: readRange, CountersOnly: always, Eval: evalOnboardingCompletion})
	define(Definition{ID: "onboarding_funnel", Reads: readRange, Fields: FieldLists, CountersOnly: always, Eval: evalFunnel})
	define(Definition{ID: "time_to_first_value", Reads: readRange, Fields: FieldLists, CountersOnly: always, Eval: evalTTFV})
	define(Definition{ID: "dropoff_paths", Lookforward: 366, Reads: readDropoff, Eval: evalDropoff})
	define(Definition{ID: "training_progress", Reads: readRange, Fields: FieldLists, CountersOnly: always, Eval: evalTraining})
	define(Definition{Segments: true, ID: "retention_cohorts", Lookforward: retentionLookforward, Params: []string{"interval"}, Reads: readCohorts,
		MonthFields: FieldCohorts, Requires: requireCohorts, DayWindow: CohortLookback, Eval: evalRetention})
}

// Lookup returns the definition of a computed KPI.
func Lookup(id string) (Definition, bool) {
	d, ok := definitions[id]
	return d, ok
}

// Computed lists the KPIs the engine computes, sorted.
func Computed() []string { return slices.Sorted(maps.Keys(definitions)) }

// Defined lists every KPI id of kpis.md, computed or not yet.
func Defined() []string {
	return []string{
		"active_users", "dau", "wau", "mau", "stickiness", "engagement_rate", "sessions", "pages_per_session",
		"avg_session_duration", "conversion_rate", "organic_clicks", "feature_adoption", "product_adoption",
		"onboarding_completion_rate", "onboarding_funnel", "dropoff_paths", "time_to_first_value", "training_progress",
		"churn_rate", "customer_retention_rate", "retention_cohorts", "free_to_paid_conversion", "renewal_rate", "clv",
		"avg_purchase_value", "repeat_purchase_rate", "nps", "csat", "ces", "detractor_followups", "ticket_volume",
		"first_response_time", "resolution_time", "resolution_rate", "escalation_response_time", "repeat_contact_rate",
		"renewal_by_onboarding", "roi_projection", "flow_comparison", "guidance_impact", "health_score",
	}
}

func ratio(num, den, scale float64) *float64 {
	if den == 0 {
		return nil
	}
	v := num / den * scale
	return &v
}

func evalDAU(in Input) Result {
	m := Merge(in.CoverRange())
	dau, newUsers := m.Counters[CounterDAU], m.Counters[CounterDAUNew]
	days := float64(m.Days)
	details := map[string]any{"new": ratio(newUsers, days, 1), "returning": ratio(dau-newUsers, days, 1), "days": m.Days}
	return Result{Value: ratio(dau, days, 1), Numerator: dau, Denominator: days, Details: details}
}

// windowUsers is the number of distinct active users in the n days ending
// on d, and how many of those days are aggregated.
func windowUsers(in Input, d Day, n int) (users float64, days int) {
	parts := in.Between(d.AddDays(1-n), d)
	sets := make([]*roaring.Bitmap, 0, len(parts))
	for _, p := range parts {
		if b, ok := p.Sets[SetActiveUsers]; ok {
			sets = append(sets, b)
		}
	}
	return float64(roaring.FastOr(sets...).GetCardinality()), len(parts)
}

// rolling is WAU (n = 7) or MAU (n = 30): distinct active users in the n
// days ending on a day; a range's value is that of its last day.
func rolling(n int) func(Input) Result {
	return func(in Input) Result {
		users, days := windowUsers(in, in.To, n)
		var v *float64
		if days > 0 {
			v = &users
		}
		return Result{Value: v, Numerator: users, Denominator: 1, Details: map[string]any{"day": in.To.String(), "window_days": n, "aggregated_days": days}}
	}
}

// evalStickiness sums the daily ratios in day order: those of a whole
// month from its month part's Usage, the others from day parts.
func evalStickiness(in Input) Result {
	var sum, dauSum, mauSum float64
	n := 0
	add := func(dau, mau float64) {
		if mau == 0 {
			return
		}
		sum += dau / mau * 100
		dauSum += dau
		mauSum += mau
		n++
	}
	for _, p := range in.CoverRange() {
		if p.IsMonth() {
			for _, u := range p.Usage {
				add(u.DAU, u.MAU)
			}
			continue
		}
		mau, _ := windowUsers(in, p.Day, 30)
		add(p.Counters[CounterDAU], mau)
	}
	return Result{Value: ratio(sum, float64(n), 1), Numerator: sum, Denominator: float64(n),
		Details: map[string]any{"days": n, "mean_dau": ratio(dauSum, float64(n), 1), "mean_mau": ratio(mauSum, float64(n), 1)}}
}

func evalEngagement(in Input) Result {
	m := Merge(in.CoverRange())
	active := float64(m.Set(SetActiveUsers).GetCardinality())
	known := in.History.Counters[CounterKnownNew]
	return Result{Value: ratio(active, known, 100), Numerator: active, Denominator: known,
		Details: map[string]any{"active_users": active, "known_users": known, "frequency": ratio(m.Counters[CounterDAU], active, 1)}}
}

// sessionView sums session counters over parts, for a dimension's value
// or for all sessions.
func sessionView(parts []Part, dim, value string) (sessions, pages, seconds float64) {
	names := []string{CounterSessions, CounterSessionPages, CounterSessionSeconds}
	if dim != "" {
		for i, n := range names {
			names[i] = sessionCounter(n, dim, value)
		}
	}
	s := sumCounters(parts, names...)
	return s[0], s[1], s[2]
}

// dimValues lists the values of a session dimension found in parts.
func dimValues(parts []Part, dim string) []string {
	prefix := sessionCounter(CounterSessions, dim, "")
	set := map[string]bool{}
	for _, p := range parts {
		for k := range p.Counters {
			if v, ok := strings.CutPrefix(k, prefix); ok {
				set[v] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// sessionKPI evaluates a session KPI, honouring one session-dimension
// filter and a breakdown.
func sessionKPI(in Input, f func(sessions, pages, seconds float64) Result) Result {
	parts := in.CoverRange()
	dim, value := "", ""
	if len(in.Filters) > 0 {
		dim, value = in.Filters[0].Dim, in.Filters[0].Value
	}
	r := f(sessionView(parts, dim, value))
	if in.Breakdown != "" && dim == "" {
		for _, v := range dimValues(parts, in.Breakdown) {
			br := f(sessionView(parts, in.Breakdown, v))
			r.Breakdown = append(r.Breakdown, Row{Key: v, Value: br.Value, Numerator: br.Numerator, Denominator: br.Denominator, Details: br.Details})
		}
		sortRows(r.Breakdown)
	}
	return r
}

func sortRows(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int {
		if c := cmp.Compare(b.Denominator, a.Denominator); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Numerator, a.Numerator); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}

func evalSessions(in Input) Result {
	return sessionKPI(in, func(sessions, pages, seconds float64) Result {
		return Result{Value: &sessions, Numerator: sessions, Denominator: 1, Details: map[string]any{"pages": pages, "seconds": seconds}}
	})
}

func evalPagesPerSession(in Input) Result {
	return sessionKPI(in, func(sessions, pages, _ float64) Result {
		return Result{Value: ratio(pages, sessions, 1), Numerator: pages, Denominator: sessions,
			Details: map[string]any{"pages": pages, "sessions": sessions}}
	})
}

func evalSessionDuration(in Input) Result {
	return sessionKPI(in, func(sessions, _, seconds float64) Result {
		return Result{Value: ratio(seconds, sessions, 1), Numerator: seconds, Denominator: sessions,
			Details: map[string]any{"seconds": seconds, "sessions": sessions}}
	})
}

func evalOrganic(in Input) Result {
	days := in.From.DaysUntil(in.To) + 1
	cur, _, _ := sessionView(in.CoverRange(), DimSource, SourceOrganic)
	prevParts := in.Cover(in.From.AddDays(-days), in.From.AddDays(-1))
	prev, _, _ := sessionView(prevParts, DimSource, SourceOrganic)
	details := map[string]any{"previous": nil, "growth_pct": nil, "previous_from": in.From.AddDays(-days).String(), "previous_to": in.From.AddDays(-1).String()}
	if len(prevParts) > 0 {
		details["previous"] = prev
		details["growth_pct"] = ratio(cur-prev, prev, 100)
	}
	return Result{Value: &cur, Numerator: cur, Denominator: 1, Details: details}
}

// channels assigns each visitor of the parts to the value of dim (source
// or landing page) of their first session in the parts' days.
func channels(parts []Part, dim string) map[string]*roaring.Bitmap {
	prefix := FirstSessionSet(dim, "")
	assigned := roaring.New()
	out := map[string]*roaring.Bitmap{}
	for _, p := range parts {
		for _, k := range slices.Sorted(maps.Keys(p.Sets)) {
			v, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			fresh := roaring.AndNot(p.Sets[k], assigned)
			if fresh.IsEmpty() {
				continue
			}
			if out[v] == nil {
				out[v] = roaring.New()
			}
			out[v].Or(fresh)
		}
		for _, k := range slices.Sorted(maps.Keys(p.Sets)) {
			if strings.HasPrefix(k, prefix) {
				assigned.Or(p.Sets[k])
			}
		}
	}
	return out
}

func conversionRow(visitors, converted *roaring.Bitmap, conversions *float64) Result {
	c := float64(visitors.AndCardinality(converted))
	v := float64(visitors.GetCardinality())
	return Result{Value: ratio(c, v, 100), Numerator: c, Denominator: v,
		Details: map[string]any{"visitors": v, "converted": c, "conversions": conversions}}
}

func evalConversion(in Input) Result {
	parts := in.CoverRange()
	m := Merge(parts)
	visitors, converted := m.Set(SetPageVisitors), m.Set(SetConvertedVisitors)
	// Conversion events are counted per day, not per visitor: a segment
	// filter leaves them out (null).
	var conversions *float64
	if c, ok := m.Counters[CounterConversionEvents]; ok {
		conversions = &c
	}
	byDim := func(dim string) map[string]*roaring.Bitmap {
		if dim == "channel" {
			dim = DimSource
		}
		return channels(parts, dim)
	}
	for _, f := range in.Filters {
		sub := byDim(f.Dim)[f.Value]
		if sub == nil {
			sub = roaring.New()
		}
		visitors = roaring.And(visitors, sub)
	}
	r := conversionRow(visitors, converted, conversions)
	if in.Breakdown != "" {
		for v, set := range byDim(in.Breakdown) {
			vs := roaring.And(visitors, set)
			if vs.IsEmpty() {
				continue
			}
			br := conversionRow(vs, converted, nil)
			delete(br.Details, "conversions")
			r.Breakdown = append(r.Breakdown, Row{Key: v, Value: br.Value, Numerator: br.Numerator, Denominator: br.Denominator, Details: br.Details})
		}
		sortRows(r.Breakdown)
	}
	return r
}

func evalFeatures(in Input) Result {
	m := Merge(in.CoverRange())
	active := m.Set(SetActiveUsers)
	n := float64(active.GetCardinality())
	anyFeature := roaring.New()
	var rows []Row
	for _, k := range m.SetNames() {
		name, ok := strings.CutPrefix(k, FeatureSet(""))
		if !ok {
			continue
		}
		users := roaring.And(m.Set(k), active)
		anyFeature.Or(users)
		c := float64(users.GetCardinality())
		rows = append(rows, Row{Key: name, Value: ratio(c, n, 100), Numerator: c, Denominator: n})
	}
	sortRows(rows)
	slices.SortStableFunc(rows, func(a, b Row) int { return cmp.Compare(b.Numerator, a.Numerator) })
	if want, ok := in.Params["feature"]; ok {
		for _, r := range rows {
			if r.Key == want {
				return Result{Value: r.Value, Numerator: r.Numerator, Denominator: n, Details: map[string]any{"feature": want, "active_users": n}, Breakdown: rows}
			}
		}
		return Result{Value: ratio(0, n, 100), Numerator: 0, Denominator: n, Details: map[string]any{"feature": want, "active_users": n}, Breakdown: rows}
	}
	c := float64(anyFeature.GetCardinality())
	return Result{Value: ratio(c, n, 100), Numerator: c, Denominator: n,
		Details: map[string]any{"active_users": n, "users_of_any_feature": c, "features": len(rows)}, Breakdown: rows}
}

func evalProductAdoption(in Input) Result {
	windowStart := in.To.AddDays(-29)
	counts := map[uint32]int{}
	for _, p := range in.Between(windowStart, in.To) {
		if b, ok := p.Sets[SetActiveUsers]; ok {
			it := b.Iterator()
			for it.HasNext() {
				counts[it.Next()]++
			}
		}
	}
	population := in.History.Set(SetSignups)
	minDays := in.Config.AdoptionMinActiveDays
	if minDays <= 0 {
		minDays = 4
	}
	adopted := 0.0
	for ord, c := range counts {
		if c >= minDays && population.Contains(ord) {
			adopted++
		}
	}
	n := float64(population.GetCardinality())
	return Result{Value: ratio(adopted, n, 100), Numerator: adopted, Denominator: n,
		Details: map[string]any{"window_from": windowStart.String(), "window_to": in.To.String(), "min_active_days": minDays, "signed_up_before_window": n}}
}
