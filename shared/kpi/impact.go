package kpi

import (
	"fmt"
	"math"
	"strconv"
)

// Guide plays and flow comparison.
const (
	EventGuidePlayed   = "Guide Played"
	CounterGuidePlays  = "guide_plays"
	ParamChangeDate    = "change_date"
	ParamFlow          = "flow"
	ParamSavingMinutes = "saving_minutes"
	ParamHourlyWage    = "hourly_wage"
	ParamAttribution   = "attribution_pct"
	defaultAttribution = 10.0
)

func checkChangeDate(params map[string]string) error {
	if v, ok := params[ParamChangeDate]; ok {
		if _, err := ParseDay(v); err != nil {
			return fmt.Errorf("%s: %v", ParamChangeDate, err)
		}
	}
	if v, ok := params[ParamFlow]; ok && v != "onboarding" {
		return fmt.Errorf("%s %q is not known: the flow compared is the onboarding funnel (flow=onboarding)", ParamFlow, v)
	}
	return nil
}

func checkImpact(params map[string]string) error {
	if err := checkChangeDate(params); err != nil {
		return err
	}
	for _, k := range []string{ParamSavingMinutes, ParamHourlyWage, ParamAttribution} {
		v, ok := params[k]
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e6 || (k == ParamAttribution && f > 100) {
			return fmt.Errorf("%s must be a number from 0 (to 100 for a percentage), got %q", k, v)
		}
	}
	return nil
}

// flowFigures are the onboarding flow's figures over some signup days.
func flowFigures(in Input, from, to Day) map[string]any {
	sub := in
	sub.From, sub.To = from, to
	funnel := evalFunnel(sub)
	m := Merge(in.Cover(from, to))
	return map[string]any{
		"from": from.String(), "to": to.String(),
		"signed_up":               m.Counters[CounterSignups],
		"completion_rate_pct":     ratio(m.Counters[CounterOnboarded], m.Counters[CounterSignups], 100),
		"median_completion_hours": Median(m.Lists[ListOnboardingHours]),
		"steps":                   funnel.Details["steps"],
	}
}

// changeDay is the change date, or nil when it is missing or outside the
// range's interior.
func changeDay(in Input) (Day, bool) {
	d, err := ParseDay(in.Params[ParamChangeDate])
	if err != nil || !d.After(in.From) || d.After(in.To) {
		return Day{}, false
	}
	return d, true
}

func evalFlowComparison(in Input) Result {
	change, ok := changeDay(in)
	if !ok {
		return Result{Details: map[string]any{"note": "give change_date, a day after from and not after to"}}
	}
	before, after := flowFigures(in, in.From, change.AddDays(-1)), flowFigures(in, change, in.To)
	details := map[string]any{"flow": "onboarding", "change_date": change.String(), "before": before, "after": after, "completion_change_pp": nil}
	b, a := before["completion_rate_pct"].(*float64), after["completion_rate_pct"].(*float64)
	if a != nil && b != nil {
		details["completion_change_pp"] = *a - *b
	}
	m := Merge(in.Cover(change, in.To))
	return Result{Value: a, Numerator: m.Counters[CounterOnboarded], Denominator: m.Counters[CounterSignups], Details: details}
}

func evalGuidanceImpact(in Input) Result {
	num := func(k string, def float64) (float64, bool) {
		v, ok := in.Params[k]
		if !ok {
			return def, !math.IsNaN(def)
		}
		f, _ := strconv.ParseFloat(v, 64)
		return f, true
	}
	plays := Merge(in.CoverRange()).Counters[CounterGuidePlays]
	saving, ok1 := num(ParamSavingMinutes, math.NaN())
	wage, ok2 := num(ParamHourlyWage, math.NaN())
	attribution, _ := num(ParamAttribution, defaultAttribution)
	details := map[string]any{"plays": plays, "attribution_pct": attribution}
	if !ok1 || !ok2 {
		details["note"] = "give saving_minutes and hourly_wage"
		return Result{Numerator: plays, Details: details}
	}
	value := plays * saving * wage / 60 * attribution / 100
	details["saving_minutes"], details["hourly_wage"] = saving, wage
	// Time saved by a faster flow: (median completion time before − after)
	// × completions after × hourly wage.
	details["time_saved_value"] = nil
	if change, ok := changeDay(in); ok {
		before, after := Merge(in.Cover(in.From, change.AddDays(-1))), Merge(in.Cover(change, in.To))
		mb, ma := Median(before.Lists[ListOnboardingHours]), Median(after.Lists[ListOnboardingHours])
		if mb != nil && ma != nil {
			saved := (*mb - *ma) * after.Counters[CounterOnboarded] * wage
			details["time_saved_value"] = saved
			details["median_completion_hours_before"], details["median_completion_hours_after"] = *mb, *ma
			details["completions_after"] = after.Counters[CounterOnboarded]
		}
	}
	return Result{Value: &value, Numerator: plays, Denominator: 1, Details: details}
}
