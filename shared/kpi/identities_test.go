package kpi_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
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
			Firsts: map[string]kpi.Reached{}, TraitChanges: map[string]kpi.Traits{},
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

// TestReached: a user's milestones of the day keep the earliest time of
// each, in milestone order whatever the order they are reached in.
func TestReached(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 10, 2, 10, 0, s, 0, time.UTC) }
	steps := []kpi.MilestoneAt{{kpi.FirstSeen, at(5)}, {kpi.SignedUp, at(3)}, {kpi.FirstActive, at(7)}, {kpi.FirstSeen, at(2)}, {kpi.FirstActive, at(9)}}
	var want kpi.Reached
	for i, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}} {
		var r kpi.Reached
		for _, j := range order {
			r.Reach(steps[j].M, steps[j].At)
		}
		if i == 0 {
			want = r
			if got, ok := r.At(kpi.FirstSeen); !ok || !got.Equal(at(2)) {
				t.Errorf("FirstSeen at %v, %v; want %v", got, ok, at(2))
			}
			if _, ok := r.At(kpi.Onboarded); ok {
				t.Error("Onboarded reached, want not")
			}
			if len(r) != 3 || !slices.IsSortedFunc(r, func(a, b kpi.MilestoneAt) int { return strings.Compare(string(a.M), string(b.M)) }) {
				t.Errorf("reached %v, want three milestones in order", r)
			}
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("order %v: %v, want %v", order, r, want)
		}
	}
}
