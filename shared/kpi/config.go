package kpi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is a tenant's KPI configuration, the (config) marks of kpis.md.
// The zero value is not valid; start from DefaultConfig.
type Config struct {
	// TimeZone is an IANA zone name; a "day" is a calendar day there.
	TimeZone string `json:"timezone"`
	// SessionTimeoutMinutes is the inactivity that ends a session.
	SessionTimeoutMinutes int `json:"session_timeout_minutes"`
	// ConversionEvent is the track event that converts a visitor.
	ConversionEvent string `json:"conversion_event"`
	// ActiveEvents, when not empty, restricts the track/page/screen events
	// that make a user active to these event names (page and screen calls
	// are named by their `name`; an empty list means every such call).
	ActiveEvents []string `json:"active_events"`
	// FeatureEvents are track events that count as features by their
	// name, besides `Feature Used` with its `feature` property.
	FeatureEvents []string `json:"feature_events"`
	// AdoptionMinActiveDays is how many active days in the last 30 days
	// of a range make a user "adopted" (product_adoption).
	AdoptionMinActiveDays int `json:"adoption_min_active_days"`
	// OnboardingSteps names the onboarding steps in order, as the `step`
	// property of `Onboarding Step Completed` says them; empty means steps
	// are known by their `step_index` (1, 2, …) only.
	OnboardingSteps []string `json:"onboarding_steps"`
	// OnboardingWindowDays is how long after signup onboarding may be
	// completed to count.
	OnboardingWindowDays int `json:"onboarding_window_days"`
	// ValueEvents are the events that mean a user reached first value.
	ValueEvents []string `json:"value_events"`
	// CSATScaleMin and CSATScaleMax bound CSAT scores; the top two values
	// are positive.
	CSATScaleMin int `json:"csat_scale_min"`
	CSATScaleMax int `json:"csat_scale_max"`
	// CESScaleMin and CESScaleMax bound CES scores; CESHigherIsEasier says
	// which end is easy.
	CESScaleMin       int  `json:"ces_scale_min"`
	CESScaleMax       int  `json:"ces_scale_max"`
	CESHigherIsEasier bool `json:"ces_higher_is_easier"`
	// BusinessHours, when set, adds business time to ticket times.
	BusinessHours *BusinessHours `json:"business_hours"`
	// EscalationTag marks escalated tickets (besides priority urgent).
	EscalationTag string `json:"escalation_tag"`
	// TrialConversionDays is how soon after a trial a paid start counts
	// as its conversion; RenewalTermDays, a subscription's term.
	TrialConversionDays int `json:"trial_conversion_days"`
	RenewalTermDays     int `json:"renewal_term_days"`
	// HealthWeights weigh the health score's components.
	HealthWeights HealthWeights `json:"health_weights"`
	// AlertURL receives a JSON message (Slack incoming-webhook compatible)
	// for each detractor or bottom-two answer; empty sends none.
	AlertURL string `json:"alert_url"`
}

// DefaultConfig is what a tenant gets without configuring anything.
func DefaultConfig() Config {
	return Config{TimeZone: "UTC", SessionTimeoutMinutes: 30, ConversionEvent: "Signed Up", ActiveEvents: []string{},
		FeatureEvents: []string{}, AdoptionMinActiveDays: 4, OnboardingSteps: []string{}, OnboardingWindowDays: 30,
		ValueEvents: []string{"First Value Reached"}, CSATScaleMin: 1, CSATScaleMax: 5, CESScaleMin: 1, CESScaleMax: 5, CESHigherIsEasier: true,
		EscalationTag: "escalated", TrialConversionDays: 30, RenewalTermDays: 365,
		HealthWeights: DefaultHealthWeights()}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" || strings.EqualFold(c.TimeZone, "local") {
		errs = append(errs, fmt.Errorf("timezone %q is not an IANA time zone name", c.TimeZone))
	}
	if c.SessionTimeoutMinutes < 1 || c.SessionTimeoutMinutes > 24*60 {
		errs = append(errs, fmt.Errorf("session_timeout_minutes must be between 1 and 1440, got %d", c.SessionTimeoutMinutes))
	}
	if strings.TrimSpace(c.ConversionEvent) == "" || len(c.ConversionEvent) > 200 {
		errs = append(errs, errors.New("conversion_event must be a non-empty event name of at most 200 characters"))
	}
	for _, l := range []struct {
		name  string
		names []string
	}{{"active_events", c.ActiveEvents}, {"feature_events", c.FeatureEvents}, {"onboarding_steps", c.OnboardingSteps}, {"value_events", c.ValueEvents}} {
		for _, e := range l.names {
			if strings.TrimSpace(e) == "" || len(e) > 200 {
				errs = append(errs, fmt.Errorf("%s must hold event names of 1 to 200 characters", l.name))
				break
			}
		}
	}
	for _, sc := range []struct {
		name     string
		min, max int
	}{{"csat", c.CSATScaleMin, c.CSATScaleMax}, {"ces", c.CESScaleMin, c.CESScaleMax}} {
		if sc.min < 0 || sc.max > 100 || sc.max-sc.min < 2 {
			errs = append(errs, fmt.Errorf("%s scale must span at least 3 values within 0..100, got %d..%d", sc.name, sc.min, sc.max))
		}
	}
	if c.TrialConversionDays < 1 || c.TrialConversionDays > 365 {
		errs = append(errs, fmt.Errorf("trial_conversion_days must be between 1 and 365, got %d", c.TrialConversionDays))
	}
	if c.RenewalTermDays < 28 || c.RenewalTermDays > 1100 {
		errs = append(errs, fmt.Errorf("renewal_term_days must be between 28 and 1100, got %d", c.RenewalTermDays))
	}
	if c.AlertURL != "" {
		u, err := url.Parse(c.AlertURL)
		local := err == nil && u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost")
		if err != nil || (u.Scheme != "https" && !local) || u.Host == "" || len(c.AlertURL) > 2000 {
			errs = append(errs, errors.New("alert_url must be an https URL (http only to 127.0.0.1 or localhost)"))
		}
	}
	if err := c.HealthWeights.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.BusinessHours.Validate(); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.EscalationTag) == "" || len(c.EscalationTag) > 200 {
		errs = append(errs, errors.New("escalation_tag must be a tag of 1 to 200 characters"))
	}
	if len(c.ValueEvents) == 0 {
		errs = append(errs, errors.New("value_events must name at least one event"))
	}
	if len(c.OnboardingSteps) > 50 {
		errs = append(errs, errors.New("onboarding_steps holds at most 50 steps"))
	}
	if c.OnboardingWindowDays < 1 || c.OnboardingWindowDays > 365 {
		errs = append(errs, fmt.Errorf("onboarding_window_days must be between 1 and 365, got %d", c.OnboardingWindowDays))
	}
	if c.AdoptionMinActiveDays < 1 || c.AdoptionMinActiveDays > 30 {
		errs = append(errs, fmt.Errorf("adoption_min_active_days must be between 1 and 30, got %d", c.AdoptionMinActiveDays))
	}
	return errors.Join(errs...)
}

// Location is the tenant's time zone; UTC when the name does not load.
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// SessionTimeout is the inactivity gap that ends a session.
func (c Config) SessionTimeout() time.Duration {
	if c.SessionTimeoutMinutes <= 0 {
		return 30 * time.Minute
	}
	return time.Duration(c.SessionTimeoutMinutes) * time.Minute
}
