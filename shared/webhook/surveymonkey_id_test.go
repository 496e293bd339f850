package webhook

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzSurveyMonkeyID checks surveyMonkeyID against the regular expression
// it writes out.
func FuzzSurveyMonkeyID(f *testing.F) {
	pattern := regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
	for _, s := range []string{"", "123456789", "abc_DEF-9", strings.Repeat("1", 64), strings.Repeat("1", 65), "12/../x", "1 2", "1\n", "١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := surveyMonkeyID(id), pattern.MatchString(id); got != want {
			t.Errorf("surveyMonkeyID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}
