package tenant_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/uptakehq/uptake/shared/tenant"
)

// idPattern is the rule ValidID writes out.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"acme", true},
		{"a", true},
		{"0", true},
		{"acme-2", true},
		{"acme-", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{"-acme", false},
		{"Acme", false},
		{"acme_co", false},
		{"acme.co", false},
		{"acme/co", false},
		{"acme\n", false},
		{"é", false},
		{strings.Repeat("a", 64), false},
	} {
		if got := tenant.ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// FuzzValidID checks ValidID against the regular expression it replaces.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"acme", "-a", "a-", "A", strings.Repeat("z", 63), strings.Repeat("9", 64), "a\n", "ä"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := tenant.ValidID(id), idPattern.MatchString(id); got != want {
			t.Errorf("ValidID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}
