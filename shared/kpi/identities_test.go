package kpi_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

// TestIdentitiesMerged holds Facts.Identities, which merges its lists, to
// sorting them all together: sorted lists and unsorted ones, repeats
// within and across them, empty ones.
func TestIdentitiesMerged(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ids := func(n int, sorted bool) []string {
		var out []string
		for range rng.IntN(n + 1) {
			out = append(out, fmt.Sprintf("id-%d", rng.IntN(60)))
		}
		if sorted {
			slices.Sort(out)
		}
		return out
	}
	for round := range 300 {
		f := kpi.Facts{
			ActiveUsers: ids(30, true), PageVisitors: ids(40, round%3 != 0), ConvertedVisitors: ids(5, true), KnownUsers: ids(20, round%5 != 0),
			Firsts: map[string]map[kpi.Milestone]time.Time{}, TraitChanges: map[string]kpi.Traits{},
			Features:     map[string][]string{"a": ids(10, true), "b": ids(10, false)},
			FirstSession: map[string]map[string][]string{"source": {"direct": ids(10, true), "paid": ids(10, true)}},
		}
		for _, id := range ids(15, false) {
			f.Firsts[id] = nil
		}
		for _, id := range ids(5, false) {
			f.TraitChanges[id] = nil
		}
		for _, id := range ids(8, false) {
			f.Responses = append(f.Responses, kpi.Response{Respondent: id})
		}
		all := slices.Concat(f.ActiveUsers, f.PageVisitors, f.ConvertedVisitors, f.KnownUsers,
			slices.Collect(maps.Keys(f.Firsts)), slices.Collect(maps.Keys(f.TraitChanges)), f.Features["a"], f.Features["b"],
			f.FirstSession["source"]["direct"], f.FirstSession["source"]["paid"])
		for _, r := range f.Responses {
			all = append(all, r.Respondent)
		}
		slices.Sort(all)
		want := slices.Compact(all)
		if got := f.Identities(); !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
	}
}
