package aggregate_test

import (
	"fmt"
	"testing"

	"github.com/uptakehq/uptake/shared/kpi"
)

// TestSeedConversionExample reproduces seed 003's worked example:
// 50 conversions of 500 visitors is a 10% conversion rate.
func TestSeedConversionExample(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	var req [][]byte
	for i := range 500 {
		req = append(req, fmt.Appendf(nil, `{"type":"page","messageId":"p%d","anonymousId":"v%d","timestamp":"2026-10-05T%02d:%02d:00Z"}`, i, i, i%24, i%60))
		if i%10 == 0 {
			req = append(req, fmt.Appendf(nil, `{"type":"track","event":"Signed Up","messageId":"s%d","anonymousId":"v%d","userId":"u%d","timestamp":"2026-10-05T%02d:%02d:30Z"}`, i, i, i, i%24, i%60))
		}
	}
	w.send(t, 0, req)
	w.aggregateAll(t)
	check(t, w, "conversion_rate 2026-10-05 value=10 numerator=50 denominator=500 conversions=50")
}

// TestSeedCSATExample reproduces seed 003's worked example: 20 positive
// answers of 50 is a CSAT of 40%.
func TestSeedCSATExample(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	var req [][]byte
	for i := range 50 {
		score := 1 + i%3 // 1, 2, 3: not positive
		if i < 20 {
			score = 4 + i%2 // 4, 5: positive
		}
		req = append(req, fmt.Appendf(nil, `{"type":"track","event":"Survey Responded","messageId":"c%d","userId":"u%d","timestamp":"2026-10-05T10:%02d:00Z","properties":{"survey_type":"csat","score":%d}}`, i, i, i, score))
	}
	w.send(t, 0, req)
	w.aggregateAll(t)
	check(t, w, "csat 2026-10-05 value=40 numerator=20 denominator=50")
}

// TestSeedROIExample reproduces seed 000's model: 1,000 new customers a
// year, onboarding completion 60% → 85%, renewal 90% if completed and 60%
// if not, $5,000 a year: 780 renewals (78%) → 855 (85.5%), +75 renewals,
// $375,000 retained.
func TestSeedROIExample(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	check(t, w, "roi_projection 2026-10-01 new_customers=1000 completion_now=60 completion_target=85 renewal_completed=90 "+
		"renewal_not_completed=60 contract_value=5000 value=780 renewals_now=780 renewals_target=855 renewal_rate_now_pct=78 "+
		"renewal_rate_target_pct=85.5 added_renewals=75 retained_revenue=375000")
}

// TestSeedChurnExample reproduces seed 003's worked example: 20 customers
// lost of 500 at the start is a churn rate of 4%.
func TestSeedChurnExample(t *testing.T) {
	w := newWorld(kpi.DefaultConfig())
	var req [][]byte
	for i := range 500 {
		req = append(req, fmt.Appendf(nil, `{"type":"track","event":"Subscription Started","messageId":"s%d","userId":"u%d","timestamp":"2026-09-01T10:00:00Z","properties":{"amount":1000}}`, i, i))
		if i%25 == 0 {
			req = append(req, fmt.Appendf(nil, `{"type":"track","event":"Subscription Cancelled","messageId":"c%d","userId":"u%d","timestamp":"2026-10-10T10:00:00Z"}`, i, i))
		}
	}
	w.send(t, 0, req)
	w.aggregateAll(t)
	check(t, w, "churn_rate 2026-10-01..2026-10-11 value=4 numerator=20 denominator=500 revenue_churn_pct=4")
}
