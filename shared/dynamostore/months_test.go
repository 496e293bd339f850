package dynamostore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
)

// monthPart builds a month part from n days of generated day parts (and
// the days before the month, for its usage summary); big makes its sets
// and answers pass the 400 KB item limit several times.
func monthPart(t *testing.T, month kpi.Day, n int, big bool) kpi.Part {
	t.Helper()
	r := rand.New(rand.NewPCG(3, uint64(n)))
	var before, days []kpi.Part
	for i := range kpi.MonthLookback {
		p := kpi.NewPart(month.AddDays(i - kpi.MonthLookback))
		p.Sets[kpi.SetActiveUsers] = roaring.BitmapOf(r.Uint32N(100), r.Uint32N(100))
		before = append(before, p)
	}
	for i := range n {
		p := kpi.NewPart(month.AddDays(i))
		p.Counters["dau"] = float64(100 + i)
		p.Counters["session_seconds"] = 1234.5678 * float64(i+1)
		p.Counters[fmt.Sprintf("sessions|landing_page=/p%d", i)] = float64(i)
		users := roaring.New()
		size := 50
		if big {
			size = 40_000
		}
		for range size {
			users.Add(r.Uint32N(5_000_000))
		}
		p.Sets[kpi.SetActiveUsers] = users
		p.Sets[kpi.FirstSessionSet(kpi.DimSource, "organic")] = roaring.BitmapOf(uint32(i), 7)
		p.Lists[kpi.ListTTFVHours] = []float64{r.Float64() * 100, 1e-9}
		answers := 3
		if big {
			answers = 300
		}
		for k := range answers {
			p.Responses = append(p.Responses, kpi.Response{Type: "nps", SurveyID: "q", Respondent: fmt.Sprintf("u%d-%d", i, k),
				MessageID: fmt.Sprint(r.Int()), Time: month.AddDays(i).Start(time.UTC), Score: float64(r.IntN(11)), Comment: "a comment that takes some room"})
		}
		p.Tickets = []kpi.Ticket{{ID: fmt.Sprintf("t%d", i), Status: "open", Requester: fmt.Sprintf("r%d", i%5), Created: month.AddDays(i).Start(time.UTC), Updated: month.AddDays(i).Start(time.UTC)}}
		p.Orders = []kpi.OrderRecord{{Ordinal: uint32(i), Revenue: 10.25}}
		p.Accounts = []kpi.AccountState{{Ordinal: 9, ID: "acme", ACV: 5000, Since: month.Start(time.UTC)},
			{Ordinal: 10, ID: "beta", ACV: 100, Since: month.AddDays(i / 7 * 7).Start(time.UTC), Onboarded: i%2 == 0}}
		if i%7 == 0 {
			p.Sets[kpi.SetRenewed] = roaring.BitmapOf(10)
		}
		if i%9 == 4 {
			p.Sets[kpi.SetCancelled] = roaring.BitmapOf(9)
		}
		days = append(days, p)
	}
	m, ok := kpi.BuildMonth(days, before)
	if !ok {
		t.Fatal("BuildMonth of days gave no part")
	}
	return m
}

// partJSON is a part as comparable text: sets as their members.
func partJSON(t *testing.T, p kpi.Part) string {
	t.Helper()
	sets := map[string][]uint32{}
	for k, b := range p.Sets {
		sets[k] = b.ToArray()
	}
	b, err := json.Marshal(struct {
		P    kpi.Part
		Sets map[string][]uint32
	}{P: kpi.Part{Day: p.Day, Days: p.Days, Counters: p.Counters, Lists: p.Lists, Responses: p.Responses, Tickets: p.Tickets, Accounts: p.Accounts, Orders: p.Orders,
		Usage: p.Usage, Spells: p.Spells, Renewed: p.Renewed, FollowUps: p.FollowUps, Contacts: p.Contacts}, Sets: sets})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMonthParts: month parts round-trip through DynamoDB Local, a big one
// split over several items included; a smaller rewrite leaves no item of
// the longer version behind; MonthPartsOnly reads the named values.
func TestMonthParts(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	sep, oct := day("2026-09-01"), day("2026-10-01")
	small, big := monthPart(t, sep, 30, false), monthPart(t, oct, 31, true)
	if big.Size() < 1_000_000 {
		t.Fatalf("the big month part is %d bytes, want over 1 MB", big.Size())
	}
	for _, p := range []kpi.Part{small, big} {
		if err := st.PutMonthPart(ctx, "acme", p, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.MonthParts(ctx, "acme", day("2026-08-15"), day("2026-10-31"), kpi.AllFields)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("MonthParts = %d parts, want 2", len(got))
	}
	for i, want := range []kpi.Part{small, big} {
		if diff := cmp.Diff(partJSON(t, got[i]), partJSON(t, want)); diff != "" {
			t.Errorf("month part %s read back differs (-got +want):\n%s", want.Day, diff)
		}
	}
	only, err := st.MonthPartsOnly(ctx, "acme", sep, oct, []string{"dau", kpi.SetActiveUsers})
	if err != nil || len(only) != 2 {
		t.Fatalf("MonthPartsOnly = %d parts, %v", len(only), err)
	}
	for i, want := range []kpi.Part{small, big} {
		p := only[i]
		if p.Days != want.Days || p.Counters["dau"] != want.Counters["dau"] || len(p.Counters) != 1 || len(p.Sets) != 1 ||
			!p.Sets[kpi.SetActiveUsers].Equals(want.Sets[kpi.SetActiveUsers]) || len(p.Responses) != 0 {
			t.Errorf("MonthPartsOnly %s: days %d, %d counters, %d sets, want days %d and dau and active_users only", want.Day, p.Days, len(p.Counters), len(p.Sets), want.Days)
		}
	}
	keysOnly, err := st.MonthPartsOnly(ctx, "acme", sep, oct, nil)
	if err != nil || len(keysOnly) != 2 || keysOnly[1].Days != 31 || !keysOnly[1].Day.Equal(oct) || len(keysOnly[1].Sets) != 0 {
		t.Fatalf("MonthPartsOnly without names = %+v, %v", keysOnly, err)
	}
	// October rewritten small: the big version's extra items go.
	smaller := monthPart(t, oct, 5, false)
	if err := st.PutMonthPart(ctx, "acme", smaller, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err = st.MonthParts(ctx, "acme", oct, oct, kpi.AllFields)
	if err != nil || len(got) != 1 {
		t.Fatalf("MonthParts after the rewrite = %d parts, %v", len(got), err)
	}
	if diff := cmp.Diff(partJSON(t, got[0]), partJSON(t, smaller)); diff != "" {
		t.Errorf("rewritten month part differs (-got +want):\n%s", diff)
	}
	// Only the fields asked for.
	got, err = st.MonthParts(ctx, "acme", oct, oct, kpi.FieldOrders)
	if err != nil || len(got) != 1 {
		t.Fatalf("MonthParts after the rewrite = %d parts, %v", len(got), err)
	}
	if diff := cmp.Diff(partJSON(t, got[0]), partJSON(t, smaller.Only(kpi.FieldOrders))); diff != "" {
		t.Errorf("month part with its orders only differs (-got +want):\n%s", diff)
	}
}

// TestDayPartsFields: DayParts reads a day part with the JSON fields asked
// for only.
func TestDayPartsFields(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	p := monthPart(t, day("2026-10-01"), 1, false)
	p.Days = 0
	p.Usage, p.Spells, p.Renewed = nil, nil, nil // a day part has no summary
	p.FollowUps, p.Contacts = nil, nil
	if err := st.PutPart(ctx, "acme", p, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []kpi.Fields{0, kpi.FieldResponses, kpi.FieldTickets, kpi.FieldAccounts | kpi.FieldOrders, kpi.AllFields} {
		got, err := st.DayParts(ctx, "acme", p.Day, p.Day, f)
		if err != nil || len(got) != 1 {
			t.Fatalf("DayParts(%b) = %d parts, %v", f, len(got), err)
		}
		if diff := cmp.Diff(partJSON(t, got[0]), partJSON(t, p.Only(f))); diff != "" {
			t.Errorf("DayParts(%b) differs (-got +want):\n%s", f, diff)
		}
	}
	keys, err := st.PartsOnly(ctx, "acme", p.Day.AddDays(-3), p.Day, nil)
	if err != nil || len(keys) != 1 || !keys[0].Day.Equal(p.Day) || len(keys[0].Sets)+len(keys[0].Counters) != 0 {
		t.Fatalf("PartsOnly without names = %+v, %v, want the day alone", keys, err)
	}
}
