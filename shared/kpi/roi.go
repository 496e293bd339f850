package kpi

import (
	"fmt"
	"math"
	"strconv"
)

// ROI inputs (query parameters of roi_projection). Rates are percentages.
const (
	ParamNewCustomers      = "new_customers"
	ParamCompletionNow     = "completion_now"
	ParamCompletionTarget  = "completion_target"
	ParamRenewalCompleted  = "renewal_completed"
	ParamRenewalNot        = "renewal_not_completed"
	ParamContractValue     = "contract_value"
	maxROICustomers        = 1e9
	maxROIContractValue    = 1e9
	roiObservedCompletion  = "observed_onboarding_completion_rate_of_the_range"
	roiRenewalsNeedsInputs = "give the missing inputs: the range has no observed value for them"
)

var roiParams = []string{ParamNewCustomers, ParamCompletionNow, ParamCompletionTarget, ParamRenewalCompleted, ParamRenewalNot, ParamContractValue}

// checkROI validates the ROI inputs that are given.
func checkROI(params map[string]string) error {
	for _, k := range roiParams {
		v, ok := params[k]
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return fmt.Errorf("%s must be a number of at least 0, got %q", k, v)
		}
		switch k {
		case ParamNewCustomers:
			if f > maxROICustomers {
				return fmt.Errorf("%s must be at most %g", k, float64(maxROICustomers))
			}
		case ParamContractValue:
			if f > maxROIContractValue {
				return fmt.Errorf("%s must be at most %g", k, float64(maxROIContractValue))
			}
		default:
			if f > 100 {
				return fmt.Errorf("%s is a percentage: at most 100, got %v", k, f)
			}
		}
	}
	return nil
}

// ROI is seed 000's model: renewals = customers × (completion × renewal
// if completed + (1 − completion) × renewal if not).
type ROI struct {
	NewCustomers, CompletionNow, CompletionTarget, RenewalCompleted, RenewalNot, ContractValue float64
}

// Renewals at a completion rate (percent). Computed on percentages so that
// whole-number inputs give exact results.
func (r ROI) Renewals(completion float64) float64 {
	return r.NewCustomers * (completion*r.RenewalCompleted + (100-completion)*r.RenewalNot) / 10000
}

func evalROI(in Input) Result {
	missing := []string{}
	get := func(k string) float64 {
		v, ok := in.Params[k]
		if !ok {
			missing = append(missing, k)
			return 0
		}
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	r := ROI{NewCustomers: get(ParamNewCustomers), CompletionTarget: get(ParamCompletionTarget), ContractValue: get(ParamContractValue)}
	// Renewal rates default to those observed (renewal_by_onboarding).
	due, renewed := renewals(in)
	renewalSource := map[string]string{}
	for _, x := range []struct {
		param string
		dst   *float64
		i     int
	}{{ParamRenewalCompleted, &r.RenewalCompleted, 1}, {ParamRenewalNot, &r.RenewalNot, 0}} {
		if v, ok := in.Params[x.param]; ok {
			*x.dst, _ = strconv.ParseFloat(v, 64)
			renewalSource[x.param] = "given"
		} else if obs := ratio(renewed[x.i], due[x.i], 100); obs != nil {
			*x.dst, renewalSource[x.param] = *obs, "observed_renewal_by_onboarding"
		} else {
			missing = append(missing, x.param)
		}
	}
	source := "given"
	if v, ok := in.Params[ParamCompletionNow]; ok {
		r.CompletionNow, _ = strconv.ParseFloat(v, 64)
	} else {
		m := Merge(in.CoverRange())
		obs := ratio(m.Counters[CounterOnboarded], m.Counters[CounterSignups], 100)
		if obs == nil {
			missing = append(missing, ParamCompletionNow)
		} else {
			r.CompletionNow, source = *obs, roiObservedCompletion
		}
	}
	details := map[string]any{"inputs": map[string]any{
		ParamNewCustomers: r.NewCustomers, ParamCompletionNow: r.CompletionNow, "completion_now_source": source,
		ParamCompletionTarget: r.CompletionTarget, ParamRenewalCompleted: r.RenewalCompleted, ParamRenewalNot: r.RenewalNot,
		ParamContractValue: r.ContractValue, "renewal_source": renewalSource,
	}}
	if len(missing) > 0 {
		details["missing"] = missing
		details["note"] = roiRenewalsNeedsInputs
		return Result{Value: nil, Details: details}
	}
	now, target := r.Renewals(r.CompletionNow), r.Renewals(r.CompletionTarget)
	details["renewals_now"] = now
	details["renewals_target"] = target
	details["renewal_rate_now_pct"] = ratio(now, r.NewCustomers, 100)
	details["renewal_rate_target_pct"] = ratio(target, r.NewCustomers, 100)
	details["added_renewals"] = target - now
	details["retained_revenue"] = (target - now) * r.ContractValue
	return Result{Value: &now, Numerator: now, Denominator: r.NewCustomers, Details: details}
}
