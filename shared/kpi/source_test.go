package kpi_test

import (
	"testing"

	"github.com/uptakehq/uptake/shared/kpi"
)

func TestTrafficSource(t *testing.T) {
	tests := []struct {
		name                                    string
		source, medium, referrer, pageURL, want string
	}{
		{"paid search", "google", "cpc", "https://www.google.com/", "", "paid"},
		{"ppc", "bing", "PPC", "", "", "paid"},
		{"display", "network", "display", "", "", "paid"},
		{"email", "newsletter", "email", "", "", "email"},
		{"social campaign", "linkedin", "social", "", "", "social"},
		{"other campaign", "partner", "affiliate", "", "", "campaign"},
		{"organic google", "", "", "https://www.google.co.uk/search?q=x", "", "organic"},
		{"organic duckduckgo", "", "", "https://duckduckgo.com/", "", "organic"},
		{"organic bing subdomain", "", "", "https://cn.bing.com/", "", "organic"},
		{"social referrer", "", "", "https://t.co/abc", "", "social"},
		{"social subdomain", "", "", "https://m.facebook.com/", "", "social"},
		{"referral", "", "", "https://blog.example.org/post", "https://app.acme.com/", "referral"},
		{"not google", "", "", "https://notgoogle.com/", "", "referral"},
		{"direct", "", "", "", "https://app.acme.com/", "direct"},
		{"same site", "", "", "https://app.acme.com/a", "https://app.acme.com/b", "direct"},
	}
	for _, tc := range tests {
		if got := kpi.TrafficSource(tc.source, tc.medium, tc.referrer, tc.pageURL); got != tc.want {
			t.Errorf("%s: TrafficSource(%q, %q, %q, %q) = %q, want %q", tc.name, tc.source, tc.medium, tc.referrer, tc.pageURL, got, tc.want)
		}
	}
}

func TestDevice(t *testing.T) {
	tests := []struct{ deviceType, ua, typ, want string }{
		{"ios", "", "screen", "mobile"},
		{"", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", "page", "mobile"},
		{"", "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "page", "tablet"},
		{"", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120", "page", "desktop"},
		{"", "", "screen", "mobile"},
		{"", "", "track", "unknown"},
	}
	for _, tc := range tests {
		if got := kpi.Device(tc.deviceType, tc.ua, tc.typ); got != tc.want {
			t.Errorf("Device(%q, %q, %q) = %q, want %q", tc.deviceType, tc.ua, tc.typ, got, tc.want)
		}
	}
}
