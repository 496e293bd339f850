package memstate

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

func TestIdentityRoundTrip(t *testing.T) {
	at := time.Date(2026, 10, 2, 23, 30, 0, 123456789, time.FixedZone("", -3*3600))
	ident := kpi.Identity{Ordinal: 70000, Firsts: map[kpi.Milestone]kpi.First{
		kpi.SignedUp:          {At: at, Day: kpi.NewDay(2026, 10, 2)},
		kpi.StepMilestone(12): {At: at.Add(time.Hour), Day: kpi.NewDay(2026, 10, 3)},
	}, Traits: kpi.Traits{"plan": {{At: at, Value: "pro"}}}}
	b, err := encodeIdentity(ident)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeIdentity(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ordinal != ident.Ordinal || len(got.Firsts) != 2 || len(got.Traits["plan"]) != 1 {
		t.Fatalf("got %+v", got)
	}
	for m, f := range ident.Firsts {
		if g := got.Firsts[m]; !g.At.Equal(f.At) || g.At.Location() != time.UTC || !g.Day.Equal(f.Day) {
			t.Errorf("%s: got %v %s, want %v %s in UTC", m, g.At, g.Day, f.At, f.Day)
		}
	}
	if c := got.Traits["plan"][0]; !c.At.Equal(at) || c.Value != "pro" {
		t.Errorf("traits: got %+v", got.Traits)
	}
	if same, err := sameTraits(got.Traits, ident.Traits); err != nil || !same {
		t.Errorf("traits read back differ from those written: %v", err)
	}
}

func TestCohortFollowsEarlierSignup(t *testing.T) {
	ctx := context.Background()
	m := New("t", kpi.DefaultConfig())
	d1, d2 := kpi.NewDay(2026, 10, 1), kpi.NewDay(2026, 10, 2)
	at := d2.Start(time.UTC).Add(time.Hour)
	for _, id := range []string{"b", "a"} {
		if _, _, err := m.SetFirst(ctx, "t", id, kpi.SignedUp, kpi.First{At: at, Day: d2}); err != nil {
			t.Fatal(err)
		}
	}
	if _, changed, _ := m.SetFirst(ctx, "t", "b", kpi.SignedUp, kpi.First{At: at.Add(-24 * time.Hour), Day: d1}); !changed {
		t.Fatal("an earlier signup was not taken")
	}
	if _, changed, _ := m.SetFirst(ctx, "t", "a", kpi.SignedUp, kpi.First{At: at.Add(time.Hour), Day: d2}); changed {
		t.Fatal("a later signup replaced an earlier one")
	}
	for day, want := range map[kpi.Day][]string{d1: {"b"}, d2: {"a"}} {
		if got, _ := m.Cohort(ctx, "t", day); !reflect.DeepEqual(got, want) {
			t.Errorf("cohort of %s: got %v, want %v", day, got, want)
		}
	}
}
