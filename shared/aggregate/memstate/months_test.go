package memstate

import (
	"context"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
)

// TestMonthSummariesRoundTrip: a month part's summaries are read back
// with the fields that ask for them, and only then, as from DynamoDB.
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
		days = append(days, p)
	}
	want, _ := kpi.BuildMonth(days, nil)
	st := New("t", kpi.DefaultConfig())
	if err := st.PutMonthPart(ctx, "t", want, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []kpi.Fields{0, kpi.FieldUsage, kpi.FieldRenewals, kpi.AllFields} {
		got, err := st.MonthParts(ctx, "t", oct, oct, f)
		if err != nil || len(got) != 1 {
			t.Fatalf("MonthParts(%b) = %d parts, %v", f, len(got), err)
		}
		w := want.Only(f)
		if diff := cmp.Diff([]any{got[0].Usage, got[0].Spells, got[0].Renewed}, []any{w.Usage, w.Spells, w.Renewed}); diff != "" {
			t.Errorf("MonthParts(%b) summaries (-got +want):\n%s", f, diff)
		}
		if (f&kpi.FieldUsage != 0) != (len(got[0].Usage) == 3) || (f&kpi.FieldRenewals != 0) != (len(got[0].Spells) == 1 && len(got[0].Renewed) == 3) {
			t.Errorf("MonthParts(%b): %d days of usage, %d spells, %d renewals", f, len(got[0].Usage), len(got[0].Spells), len(got[0].Renewed))
		}
	}
}
