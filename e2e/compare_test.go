package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// compareAll asks every query, reports each answer that differs from the
// reference (its first 25 differences), and returns a summary of the
// queries agreeing with it, per KPI.
func compareAll[Q any](t *testing.T, qs []Q, kpi func(Q) string, path func(Q) string, check func(Q) []string) string {
	t.Helper()
	asked, failed := map[string]int{}, map[string]int{}
	for _, q := range qs {
		asked[kpi(q)]++
		if diffs := check(q); len(diffs) > 0 {
			failed[kpi(q)]++
			if len(diffs) > 25 {
				diffs = append(diffs[:25], fmt.Sprintf("... and %d more", len(diffs)-25))
			}
			t.Errorf("GET %s: the answer differs from the reference:\n\t%s", path(q), strings.Join(diffs, "\n\t"))
		}
	}
	var summary []string
	for _, k := range slices.Sorted(maps.Keys(asked)) {
		summary = append(summary, fmt.Sprintf("%s %d/%d", k, asked[k]-failed[k], asked[k]))
	}
	return strings.Join(summary, ", ")
}
