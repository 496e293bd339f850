package kpi

import (
	"errors"
	"fmt"
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
}

// DefaultConfig is what a tenant gets without configuring anything.
func DefaultConfig() Config {
	return Config{TimeZone: "UTC", SessionTimeoutMinutes: 30, ConversionEvent: "Signed Up", ActiveEvents: []string{},
		FeatureEvents: []string{}, AdoptionMinActiveDays: 4}
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
	}{{"active_events", c.ActiveEvents}, {"feature_events", c.FeatureEvents}} {
		for _, e := range l.names {
			if strings.TrimSpace(e) == "" || len(e) > 200 {
				errs = append(errs, fmt.Errorf("%s must hold event names of 1 to 200 characters", l.name))
				break
			}
		}
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
