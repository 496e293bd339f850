package memstate

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
)

// TestMonthSummariesRoundTrip: a month part's summaries (usage, renewals,
// follow-ups, contacts) are read back with the fields that ask for them,
// and only then, as from DynamoDB.
func TestMonthSummariesRoundTrip(t *testing.T) {
	ctx := context.Background()
	oct := kpi.NewDay(2026, 10, 1)
	var days []kpi.Part
	for i := range 3 {
		p := kpi.NewPart(oct.AddDays(i))
		p.Sets[kpi.SetActiveUsers] = roaring.BitmapOf(uint32(i), 9)
		p.Counters[kpi.CounterDAU] = 2
		p.Accounts = []kpi.AccountState{{Ordinal: 5, Since: oct.Start(time.UTC)}}
		p.Sets[kpi.SetRenewed] = roaring.BitmapOf(5)
		p.Responses = []kpi.Response{{Type: "nps", Respondent: "u", Score: 3, Time: oct.AddDays(i).Start(time.UTC)}}
		p.Tickets = []kpi.Ticket{{ID: "t", Requester: "r", Created: oct.AddDays(i).Start(time.UTC)}}
		days = append(days, p)
	}
	want, _ := kpi.BuildMonth(days, nil)
	st := New("t", kpi.DefaultConfig())
	if err := st.PutMonthPart(ctx, "t", want, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []kpi.Fields{0, kpi.FieldUsage, kpi.FieldRenewals, kpi.FieldFollowUps, kpi.FieldContacts, kpi.AllFields} {
		got, err := st.MonthParts(ctx, "t", oct, oct, f)
		if err != nil || len(got) != 1 {
			t.Fatalf("MonthParts(%b) = %d parts, %v", f, len(got), err)
		}
		w := want.Only(f)
		if diff := cmp.Diff([]any{got[0].Usage, got[0].Spells, got[0].Renewed, got[0].FollowUps, got[0].Contacts},
			[]any{w.Usage, w.Spells, w.Renewed, w.FollowUps, w.Contacts}); diff != "" {
			t.Errorf("MonthParts(%b) summaries (-got +want):\n%s", f, diff)
		}
		if (f&kpi.FieldUsage != 0) != (len(got[0].Usage) == 3) || (f&kpi.FieldRenewals != 0) != (len(got[0].Spells) == 1 && len(got[0].Renewed) == 3) {
			t.Errorf("MonthParts(%b): %d days of usage, %d spells, %d renewals", f, len(got[0].Usage), len(got[0].Spells), len(got[0].Renewed))
		}
		if (f&kpi.FieldFollowUps != 0) != (len(got[0].FollowUps) == 1 && got[0].FollowUps[0].N == 3) ||
			(f&kpi.FieldContacts != 0) != (got[0].Contacts != nil && len(got[0].Contacts.Requesters) == 1) {
			t.Errorf("MonthParts(%b): follow-ups %+v, contacts %+v", f, got[0].FollowUps, got[0].Contacts)
		}
	}
}

// TestMonthAccountSetsRoundTrip: a month part read with the account sets
// alone (kpi.FieldAccountSets) has those of its sets and no other, as
// from DynamoDB; with kpi.FieldSets, all of them.
func TestMonthAccountSetsRoundTrip(t *testing.T) {
	ctx := context.Background()
	oct := kpi.NewDay(2026, 10, 1)
	p := kpi.NewPart(oct)
	p.Sets[kpi.SetActiveUsers] = roaring.BitmapOf(1, 2, 3)
	p.Sets[kpi.SetCancelled] = roaring.BitmapOf(7)
	p.Sets[kpi.SetActiveAccounts] = roaring.BitmapOf(7, 8)
	p.Accounts = []kpi.AccountState{{Ordinal: 7, Since: oct.Start(time.UTC)}}
	want, _ := kpi.BuildMonth([]kpi.Part{p}, nil)
	st := New("t", kpi.DefaultConfig())
	if err := st.PutMonthPart(ctx, "t", want, time.Now()); err != nil {
		t.Fatal(err)
	}
	for f, names := range map[kpi.Fields][]string{
		kpi.FieldAccountSets: {kpi.SetActiveAccounts, kpi.SetCancelled},
		kpi.FieldSets:        {kpi.SetActiveAccounts, kpi.SetActiveUsers, kpi.SetCancelled},
		0:                    nil,
	} {
		got, err := st.MonthParts(ctx, "t", oct, oct, f)
		if err != nil || len(got) != 1 {
			t.Fatalf("MonthParts(%b) = %d parts, %v", f, len(got), err)
		}
		var gotNames []string
		for _, name := range slices.Sorted(maps.Keys(got[0].Sets)) {
			if !got[0].Sets[name].Equals(want.Sets[name]) {
				t.Errorf("MonthParts(%b): set %s differs", f, name)
			}
			gotNames = append(gotNames, name)
		}
		if diff := cmp.Diff(gotNames, names); diff != "" {
			t.Errorf("MonthParts(%b) sets (-got +want):\n%s", f, diff)
		}
		if len(got[0].Accounts) != 0 {
			t.Errorf("MonthParts(%b) reads the accounts", f)
		}
	}
}
