package kpi

import (
	"iter"
	"maps"
	"slices"
)

// Result is a KPI's value over some days, with what it was made from.
type Result struct {
	// Value is nil when the KPI is undefined (a zero denominator).
	Value       *float64       `json:"value"`
	Numerator   float64        `json:"numerator"`
	Denominator float64        `json:"denominator"`
	Details     map[string]any `json:"details"`
}

// Definition is a KPI that the engine computes.
type Definition struct {
	ID string
	// Eval computes the KPI from the parts of the days it covers (days not
	// yet aggregated are absent).
	Eval func(parts []Part) Result
}

var definitions = map[string]Definition{
	"dau":                  {ID: "dau", Eval: evalDAU},
	"active_users":         {ID: "active_users", Eval: evalDAU},
	"nps":                  {ID: "nps", Eval: evalNPS},
	"pages_per_session":    {ID: "pages_per_session", Eval: evalPagesPerSession},
	"avg_session_duration": {ID: "avg_session_duration", Eval: evalSessionDuration},
	"conversion_rate":      {ID: "conversion_rate", Eval: evalConversion},
}

// Lookup returns the definition of a computed KPI.
func Lookup(id string) (Definition, bool) {
	d, ok := definitions[id]
	return d, ok
}

// Computed lists the KPIs the engine computes, sorted.
func Computed() []string { return slicesSorted(maps.Keys(definitions)) }

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

func evalDAU(parts []Part) Result {
	m := Merge(parts)
	dau, newUsers := m.Counters[CounterDAU], m.Counters[CounterDAUNew]
	days := float64(m.Days)
	details := map[string]any{"new": ratio(newUsers, days, 1), "returning": ratio(dau-newUsers, days, 1), "days": m.Days}
	return Result{Value: ratio(dau, days, 1), Numerator: dau, Denominator: days, Details: details}
}

func evalNPS(parts []Part) Result {
	m := Merge(parts)
	p, pa, d := m.Counters[CounterNPSPromoters], m.Counters[CounterNPSPassives], m.Counters[CounterNPSDetractors]
	n := p + pa + d
	details := map[string]any{
		"promoters": p, "passives": pa, "detractors": d, "responses": n,
		"promoters_pct": ratio(p, n, 100), "passives_pct": ratio(pa, n, 100), "detractors_pct": ratio(d, n, 100),
	}
	return Result{Value: ratio(p-d, n, 100), Numerator: p - d, Denominator: n, Details: details}
}

func evalPagesPerSession(parts []Part) Result {
	m := Merge(parts)
	pages, sessions := m.Counters[CounterSessionPages], m.Counters[CounterSessions]
	return Result{Value: ratio(pages, sessions, 1), Numerator: pages, Denominator: sessions,
		Details: map[string]any{"pages": pages, "sessions": sessions}}
}

func evalSessionDuration(parts []Part) Result {
	m := Merge(parts)
	secs, sessions := m.Counters[CounterSessionSeconds], m.Counters[CounterSessions]
	return Result{Value: ratio(secs, sessions, 1), Numerator: secs, Denominator: sessions,
		Details: map[string]any{"seconds": secs, "sessions": sessions}}
}

func evalConversion(parts []Part) Result {
	m := Merge(parts)
	visitors := m.Set(SetPageVisitors)
	converted := float64(visitors.AndCardinality(m.Set(SetConvertedVisitors)))
	v := float64(visitors.GetCardinality())
	return Result{Value: ratio(converted, v, 100), Numerator: converted, Denominator: v,
		Details: map[string]any{"visitors": v, "converted": converted, "conversions": m.Counters[CounterConversionEvents]}}
}

func slicesSorted(seq iter.Seq[string]) []string {
	out := slices.Collect(seq)
	slices.Sort(out)
	return out
}
