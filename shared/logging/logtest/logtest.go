// Package logtest reads back, in tests, the JSON log lines that package
// logging writes.
package logtest

import (
	"encoding/json"
	"strings"
	"testing"
)

// Lines decodes each non-empty line of out as a JSON object, failing the
// test on a line that is not one.
func Lines(tb testing.TB, out string) []map[string]any {
	tb.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	return recs
}
