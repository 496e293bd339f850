package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
)

// Day part sizes: one that fits in an item, one of about 600 KB, one of
// over 1 MB (3,000 answers with comments, sets of 500,000 ordinals,
// tickets).
const (
	small = iota
	medium
	big
)

// dayPart is a day part of values no Trim drops.
func dayPart(d kpi.Day, seed uint64, scale int) kpi.Part {
	r := rand.New(rand.NewPCG(seed, 11))
	p := kpi.NewPart(d)
	p.Counters["dau"] = float64(seed)
	p.Counters["session_seconds"] = 1234.5678 * float64(seed+1)
	size, answers, tickets := 20, 3, 2
	switch scale {
	case medium:
		size, answers, tickets = 100_000, 1_000, 100
	case big:
		size, answers, tickets = 500_000, 3_000, 500
	}
	for i, name := range []string{kpi.SetActiveUsers, kpi.FirstSessionSet(kpi.DimSource, "organic")} {
		b := roaring.New()
		for range size / (1 + 9*i) {
			b.Add(r.Uint32N(5_000_000))
		}
		p.Sets[name] = b
	}
	p.Lists[kpi.ListTTFVHours] = []float64{r.Float64() * 100, 1e-9, float64(seed)}
	for k := range answers {
		p.Responses = append(p.Responses, kpi.Response{Type: "nps", SurveyID: "q", Respondent: fmt.Sprintf("u%d-%d", seed, k),
			MessageID: fmt.Sprint(r.Int()), Time: d.Start(time.UTC), Score: float64(r.IntN(11)),
			Comment: "a comment that takes some room, as customers' comments do " + fmt.Sprint(r.Int())})
	}
	for k := range tickets {
		p.Tickets = append(p.Tickets, kpi.Ticket{ID: fmt.Sprintf("t%d-%d", seed, k), Status: "open", Created: d.Start(time.UTC), Updated: d.Start(time.UTC)})
	}
	p.Orders = []kpi.OrderRecord{{Ordinal: uint32(seed), Revenue: 10.25}}
	p.Accounts = []kpi.AccountState{{Ordinal: 9, ID: "acme", ACV: 5000, Since: d.Start(time.UTC)}}
	return p
}

// samePart reports whether a and b hold the same values (partJSON, with
// sets compared as bitmaps: faster on big ones).
func samePart(t *testing.T, a, b kpi.Part) bool {
	t.Helper()
	if len(a.Sets) != len(b.Sets) {
		return false
	}
	for k, s := range a.Sets {
		if o, ok := b.Sets[k]; !ok || !s.Equals(o) {
			return false
		}
	}
	a.Sets, b.Sets = nil, nil
	return partJSON(t, a) == partJSON(t, b)
}

// dayTable is a new table and its raw client.
func dayTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
	table := localstacktest.UniqueName("days")
	if err := dynamostore.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	return db, table
}

// dayItems lists the sort keys of the items stored for day d.
func dayItems(t *testing.T, db *dynamodb.Client, table string, d kpi.Day) []string {
	t.Helper()
	return sortKeys(t, db, table, "T#acme#DAY", d.String())
}

// sortKeys lists the sort keys of the items under pk that begin with
// prefix.
func sortKeys(t *testing.T, db *dynamodb.Client, table, pk, prefix string) []string {
	t.Helper()
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ProjectionExpression:      aws.String("sk"),
		ConsistentRead:            aws.Bool(true),
	}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("pk = :pk AND begins_with(sk, :d)")
		in.ExpressionAttributeValues[":d"] = &types.AttributeValueMemberS{Value: prefix}
	}
	out, err := db.Query(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it["sk"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

// readDay reads day d back every way a reader does (DayParts with each of
// fields, all of them when none), checking they agree: the part (nil when
// absent).
func readDay(t *testing.T, st *dynamostore.Store, d kpi.Day, fields ...kpi.Fields) *kpi.Part {
	t.Helper()
	ctx := context.Background()
	parts, err := st.Parts(ctx, "acme", d, d)
	if err != nil {
		t.Fatal(err)
	}
	var p *kpi.Part
	for i := range parts {
		if parts[i].Day.Equal(d) {
			p = &parts[i]
		}
	}
	has, err := st.HasParts(ctx, "acme", []kpi.Day{d.AddDays(-1), d, d.AddDays(1)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.PartsOnly(ctx, "acme", d, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if has[d] != (p != nil) || len(keys) == 1 != (p != nil) || len(keys) > 1 {
		t.Fatalf("day %s: Parts has it %v, HasParts %v, PartsOnly %d parts", d, p != nil, has[d], len(keys))
	}
	if p == nil {
		return nil
	}
	if len(fields) == 0 {
		fields = []kpi.Fields{kpi.AllFields}
	}
	for _, f := range fields {
		got, err := st.DayParts(ctx, "acme", d, d, f)
		if err != nil || len(got) != 1 {
			t.Fatalf("DayParts(%b) = %d parts, %v", f, len(got), err)
		}
		if !samePart(t, got[0], p.Only(f)) {
			t.Fatalf("DayParts(%b) differs from Parts", f)
		}
	}
	only, err := st.PartsOnly(ctx, "acme", d, d, []string{"dau", kpi.SetActiveUsers})
	if err != nil || len(only) != 1 {
		t.Fatalf("PartsOnly = %d parts, %v", len(only), err)
	}
	o := only[0]
	if len(o.Counters) != 1 || o.Counters["dau"] != p.Counters["dau"] || len(o.Sets) != 1 || !o.Sets[kpi.SetActiveUsers].Equals(p.Sets[kpi.SetActiveUsers]) ||
		len(o.Lists)+len(o.Responses)+len(o.Tickets)+len(o.Orders)+len(o.Accounts) != 0 {
		t.Fatalf("PartsOnly(dau, active users) = %d counters, %d sets, %d lists, %d answers", len(o.Counters), len(o.Sets), len(o.Lists), len(o.Responses))
	}
	return p
}

// TestBigDayParts: a day part over 1 MB is packed over several items and
// round-trips exactly through every reader; a part that fits keeps its
// one item; rewrites between the two leave no item behind.
func TestBigDayParts(t *testing.T) {
	ctx := context.Background()
	db, table := dayTable(t)
	st := dynamostore.New(db, table, nil)
	d := day("2026-10-07")
	one, packed := dayPart(d, 1, small), dayPart(d, 2, big)
	if packed.Size() < 1_000_000 {
		t.Fatalf("the big day part is %d bytes, want over 1 MB", packed.Size())
	}
	nbs := []kpi.Part{dayPart(d.AddDays(-1), 3, small), dayPart(d.AddDays(1), 4, medium)}
	// The neighbours: a small day before, a packed one after (a query's
	// last day packed too).
	for _, p := range nbs {
		if err := st.PutPart(ctx, "acme", p, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []kpi.Part{one, packed, one, packed, dayPart(d, 5, medium)} {
		if err := st.PutPart(ctx, "acme", want, time.Now()); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		items := dayItems(t, db, table, d)
		if want.Size() < 300_000 && (len(items) != 1 || items[0] != d.String()) {
			t.Fatalf("write %d: a part that fits is stored as %v, want one item %s", i, items, d)
		}
		if want.Size() > 1_000_000 && len(items) < 4 || want.Size() > 500_000 && len(items) < 2 {
			t.Fatalf("write %d: a %d-byte part is stored as %v, want it packed", i, want.Size(), items)
		}
		var fields []kpi.Fields
		if i < 2 { // the field selection, of one item and of packed items
			fields = []kpi.Fields{0, kpi.FieldResponses, kpi.FieldTickets, kpi.FieldAccounts | kpi.FieldOrders, kpi.AllFields}
		}
		got := readDay(t, st, d, fields...)
		if got == nil {
			t.Fatalf("write %d: the day reads as absent", i)
		}
		if !samePart(t, *got, want) {
			t.Fatalf("write %d: day part read back differs", i)
		}
	}
	for _, nb := range nbs {
		got := readDay(t, st, nb.Day)
		if got == nil || !samePart(t, *got, nb) {
			t.Fatalf("neighbour %s read back differs", nb.Day)
		}
	}
	parts, err := st.Parts(ctx, "acme", d.AddDays(-1), d.AddDays(1))
	if err != nil || len(parts) != 3 {
		t.Fatalf("Parts of the 3 days = %d parts, %v", len(parts), err)
	}
}

// TestBigDayPartKilled: a write of a day killed after any number of its
// item writes leaves the day reading as its earlier part or as absent,
// never as a mix; the next write completes it.
func TestBigDayPartKilled(t *testing.T) {
	ctx := context.Background()
	d := day("2026-10-07")
	for _, tc := range []struct {
		name     string
		old, new kpi.Part
	}{
		{"packed over packed", dayPart(d, 1, medium), dayPart(d, 2, medium)},
		{"packed over one item", dayPart(d, 1, small), dayPart(d, 2, medium)},
		{"one item over packed", dayPart(d, 1, medium), dayPart(d, 2, small)},
	} {
		for writes := 0; ; writes++ {
			db, table := dayTable(t)
			st := dynamostore.New(db, table, nil)
			if err := st.PutPart(ctx, "acme", tc.old, time.Now()); err != nil {
				t.Fatal(err)
			}
			err := dynamostore.New(&dying{Client: db, left: writes}, table, nil).PutPart(ctx, "acme", tc.new, time.Now())
			if err != nil && !errors.Is(err, errKilled) {
				t.Fatalf("%s, killed after %d writes: %v", tc.name, writes, err)
			}
			got := readDay(t, st, d)
			if got != nil && !samePart(t, *got, tc.old) && !samePart(t, *got, tc.new) {
				t.Fatalf("%s, killed after %d writes: the day reads as a part neither written", tc.name, writes)
			}
			if err := st.PutPart(ctx, "acme", tc.new, time.Now()); err != nil {
				t.Fatal(err)
			}
			if got := readDay(t, st, d); got == nil || !samePart(t, *got, tc.new) {
				t.Fatalf("%s, killed after %d writes and written again: the day does not read as its part", tc.name, writes)
			}
			if n := len(dayItems(t, db, table, d)); tc.new.Size() < 300_000 && n != 1 {
				t.Fatalf("%s: %d items left, want 1", tc.name, n)
			}
			if err == nil {
				break
			}
		}
	}
}
