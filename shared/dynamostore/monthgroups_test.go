package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

// monthFieldSets are the field selections a month is read with: none,
// each field alone, the account sets with the accounts (churn_rate's day
// parts), and all.
var monthFieldSets = []kpi.Fields{0, kpi.FieldSets, kpi.FieldLists, kpi.FieldResponses, kpi.FieldTickets, kpi.FieldAccounts, kpi.FieldOrders,
	kpi.FieldUsage, kpi.FieldRenewals, kpi.FieldFollowUps, kpi.FieldContacts, kpi.FieldAccountSets, kpi.FieldAccountSets | kpi.FieldAccounts, kpi.AllFields}

// readMonth reads month m with each of monthFieldSets: the parts read
// (nil where the month reads as absent).
func readMonth(t *testing.T, st *dynamostore.Store, m kpi.Day) map[kpi.Fields]*kpi.Part {
	t.Helper()
	out := map[kpi.Fields]*kpi.Part{}
	for _, f := range monthFieldSets {
		got, err := st.MonthParts(context.Background(), "acme", m, m, f)
		if err != nil {
			t.Fatalf("MonthParts(%b): %v", f, err)
		}
		switch len(got) {
		case 0:
			out[f] = nil
		case 1:
			out[f] = &got[0]
		default:
			t.Fatalf("MonthParts(%b) of one month = %d parts", f, len(got))
		}
	}
	return out
}

// monthItems lists the sort keys of the month items stored for the
// tenant acme.
func monthItems(t *testing.T, db *dynamodb.Client, table string) []string {
	t.Helper()
	return sortKeys(t, db, table, "T#acme#MONTH", "")
}

// itemShapes are sort keys with their versions (the third of four
// fields) left out.
func itemShapes(sks []string) string {
	var out []string
	for _, sk := range sks {
		if f := strings.Split(sk, "#"); len(f) == 4 {
			f[2] = "v"
			sk = strings.Join(f, "#")
		}
		out = append(out, sk)
	}
	return strings.Join(out, " ")
}

// TestMonthPartGroups: every field selection reads a month part's counters
// with exactly the fields asked for, whether its groups take one item each
// or many.
func TestMonthPartGroups(t *testing.T) {
	ctx := context.Background()
	for _, itemBytes := range []int{0, 4096} {
		db, table := dayTable(t)
		st := dynamostore.New(db, table, nil).PackMonthItems(itemBytes)
		oct := day("2026-10-01")
		want := monthPart(t, oct, 31, false)
		if err := st.PutMonthPart(ctx, "acme", want, time.Now()); err != nil {
			t.Fatal(err)
		}
		for f, got := range readMonth(t, st, oct) {
			if got == nil || !samePart(t, *got, want.Only(f)) {
				t.Errorf("items of %d bytes: MonthParts(%b) does not read the part with those fields only", itemBytes, f)
			}
		}
		if n := len(monthItems(t, db, table)); itemBytes > 0 && n < 10 {
			t.Errorf("items of %d bytes: the month takes %d items, want many", itemBytes, n)
		}
	}
}

// TestMonthPartKilled: a write of a month part killed after any number of
// its writes (each item of each group, the head, the deletes) leaves every
// read of the month, whatever its fields, reading the earlier part or
// nothing, never a mix; the next write completes it and leaves no item of
// the earlier one behind.
func TestMonthPartKilled(t *testing.T) {
	ctx := context.Background()
	oct := day("2026-10-01")
	full := monthPart(t, oct, 31, false)
	other := monthPart(t, oct, 20, false)
	bare := other
	bare.Tickets, bare.Orders, bare.Responses, bare.Lists = nil, nil, nil, map[string][]float64{}
	bare.Usage, bare.Spells, bare.Renewed = nil, nil, nil // as merged before the summaries
	bare.FollowUps, bare.Contacts = nil, nil
	for _, tc := range []struct {
		name     string
		old, new kpi.Part
	}{
		{"fewer items over more", full, other},
		{"more items over fewer", other, full},
		{"no answers, tickets, orders, lists or summaries over some", full, bare},
		{"some over none", bare, full},
	} {
		for writes := 0; ; writes++ {
			db, table := dayTable(t)
			st := dynamostore.New(db, table, nil).PackMonthItems(4096)
			if err := st.PutMonthPart(ctx, "acme", tc.old, time.Now()); err != nil {
				t.Fatal(err)
			}
			err := dynamostore.New(&dying{Client: db, left: writes}, table, nil).PackMonthItems(4096).PutMonthPart(ctx, "acme", tc.new, time.Now())
			if err != nil && !errors.Is(err, errKilled) {
				t.Fatalf("%s, killed after %d writes: %v", tc.name, writes, err)
			}
			for f, got := range readMonth(t, st, oct) {
				if got != nil && !samePart(t, *got, tc.old.Only(f)) && !samePart(t, *got, tc.new.Only(f)) {
					t.Fatalf("%s, killed after %d writes: MonthParts(%b) reads a part neither written", tc.name, writes, f)
				}
			}
			if err := st.PutMonthPart(ctx, "acme", tc.new, time.Now()); err != nil {
				t.Fatal(err)
			}
			for f, got := range readMonth(t, st, oct) {
				if got == nil || !samePart(t, *got, tc.new.Only(f)) {
					t.Fatalf("%s, killed after %d writes and written again: MonthParts(%b) does not read the part", tc.name, writes, f)
				}
			}
			again := itemShapes(monthItems(t, db, table))
			fresh, freshTable := dayTable(t)
			if err := dynamostore.New(fresh, freshTable, nil).PackMonthItems(4096).PutMonthPart(ctx, "acme", tc.new, time.Now()); err != nil {
				t.Fatal(err)
			}
			if want := itemShapes(monthItems(t, fresh, freshTable)); again != want {
				t.Fatalf("%s, killed after %d writes and written again: items %v, want those of one write %v", tc.name, writes, again, want)
			}
			if err == nil {
				if writes < 3 {
					t.Fatalf("%s: the write took %d writes, want many", tc.name, writes)
				}
				break
			}
		}
	}
}

// TestMonthPartVersionsMixed: a head of one write whose group (tickets,
// sets, account sets) has items of another write only, or fewer items
// than the head announces, reads as no month part for the reads of that
// group, and as the head's part for the others.
func TestMonthPartVersionsMixed(t *testing.T) {
	ctx := context.Background()
	db, table := dayTable(t)
	st := dynamostore.New(db, table, nil).PackMonthItems(4096)
	oct := day("2026-10-01")
	old := monthPart(t, oct, 31, false)
	if err := st.PutMonthPart(ctx, "acme", old, time.Now()); err != nil {
		t.Fatal(err)
	}
	keyOf := func(sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#MONTH"}, "sk": &types.AttributeValueMemberS{Value: sk}}
	}
	group := func(prefix string) []map[string]types.AttributeValue {
		var out []map[string]types.AttributeValue
		for _, sk := range monthItems(t, db, table) {
			if strings.HasPrefix(sk, prefix) {
				got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), Key: keyOf(sk)})
				if err != nil || got.Item == nil {
					t.Fatalf("get %s: %v", sk, err)
				}
				out = append(out, got.Item)
			}
		}
		return out
	}
	stale := group("t#")
	if len(stale) == 0 {
		t.Fatal("no item of tickets")
	}
	// Another write of the same shape, other tickets; its tickets lost
	// and the first write's back.
	next := old
	next.Tickets = nil
	for _, tk := range old.Tickets {
		tk.Status = "solved"
		next.Tickets = append(next.Tickets, tk)
	}
	if err := st.PutMonthPart(ctx, "acme", next, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, it := range group("t#") {
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: keyOf(it["sk"].(*types.AttributeValueMemberS).Value)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range stale {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	for f, got := range readMonth(t, st, oct) {
		switch {
		case f&kpi.FieldTickets != 0 && got != nil:
			t.Errorf("MonthParts(%b) reads a month whose tickets are of another write than its head", f)
		case f&kpi.FieldTickets == 0 && (got == nil || !samePart(t, *got, next.Only(f))):
			t.Errorf("MonthParts(%b) does not read the head's part", f)
		}
	}
	// A set item lost.
	if err := st.PutMonthPart(ctx, "acme", next, time.Now().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	sets := group("s#")
	if len(sets) < 2 {
		t.Fatalf("%d items of sets, want several", len(sets))
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: keyOf(sets[1]["sk"].(*types.AttributeValueMemberS).Value)}); err != nil {
		t.Fatal(err)
	}
	for f, got := range readMonth(t, st, oct) {
		switch {
		case f&kpi.FieldSets != 0 && got != nil:
			t.Errorf("MonthParts(%b) reads a month with a set item missing", f)
		case f&kpi.FieldSets == 0 && (got == nil || !samePart(t, *got, next.Only(f))):
			t.Errorf("MonthParts(%b) does not read the part", f)
		}
	}
	// The item of the account sets lost.
	if err := st.PutMonthPart(ctx, "acme", next, time.Now().Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	accountSets := group("k#")
	if len(accountSets) != 1 {
		t.Fatalf("%d items of account sets, want one", len(accountSets))
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: keyOf(accountSets[0]["sk"].(*types.AttributeValueMemberS).Value)}); err != nil {
		t.Fatal(err)
	}
	for f, got := range readMonth(t, st, oct) {
		switch read := f&(kpi.FieldSets|kpi.FieldAccountSets) != 0; {
		case read && got != nil:
			t.Errorf("MonthParts(%b) reads a month with its account sets missing", f)
		case !read && (got == nil || !samePart(t, *got, next.Only(f))):
			t.Errorf("MonthParts(%b) does not read the part", f)
		}
	}
}

// TestMonthPartConcurrent: two writes of a month at once, each with its
// own client, leave the part of one of them, whole, and no other item
// behind; a write of an earlier version than the stored one changes
// nothing.
func TestMonthPartConcurrent(t *testing.T) {
	ctx := context.Background()
	oct := day("2026-10-01")
	a, b := monthPart(t, oct, 31, false), monthPart(t, oct, 20, false)
	for round := range 4 {
		db, table := dayTable(t)
		now := time.Now()
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, p := range []kpi.Part{a, b} {
			wg.Go(func() {
				errs[i] = dynamostore.New(db, table, nil).PackMonthItems(4096).PutMonthPart(ctx, "acme", p, now.Add(time.Duration(i)))
			})
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		st := dynamostore.New(db, table, nil)
		var won kpi.Part
		for f, got := range readMonth(t, st, oct) {
			switch {
			case got == nil:
				t.Fatalf("round %d: MonthParts(%b) reads no part", round, f)
			case samePart(t, *got, b.Only(f)):
				won = b
			case samePart(t, *got, a.Only(f)):
				won = a
			default:
				t.Fatalf("round %d: MonthParts(%b) reads a part neither wrote", round, f)
			}
		}
		fresh, freshTable := dayTable(t)
		if err := dynamostore.New(fresh, freshTable, nil).PackMonthItems(4096).PutMonthPart(ctx, "acme", won, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got, want := itemShapes(monthItems(t, db, table)), itemShapes(monthItems(t, fresh, freshTable)); got != want {
			t.Fatalf("round %d: items %s, want those of one write %s", round, got, want)
		}
		// An earlier version.
		if err := st.PackMonthItems(4096).PutMonthPart(ctx, "acme", a, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := readMonth(t, st, oct)[kpi.AllFields]; got == nil || !samePart(t, *got, won) {
			t.Fatalf("round %d: a write of an earlier version replaced the part", round)
		}
	}
}

// resent is a DynamoDB client whose every PutItem is sent twice, as the
// SDK sends a request again when its answer was lost: the second answer
// is returned.
type resent struct{ *dynamodb.Client }

func (r resent) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := r.Client.PutItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return r.Client.PutItem(ctx, in, opts...)
}

// TestMonthPartResent: a month part whose writes are each applied twice
// (answers lost, requests sent again) is stored whole (the chaos suite
// found the head's second put taken for a later write's).
func TestMonthPartResent(t *testing.T) {
	ctx := context.Background()
	db, table := dayTable(t)
	oct := day("2026-10-01")
	want := monthPart(t, oct, 31, false)
	for i := range 2 {
		if err := dynamostore.New(resent{db}, table, nil).PackMonthItems(4096).PutMonthPart(ctx, "acme", want, time.Now()); err != nil {
			t.Fatal(err)
		}
		for f, got := range readMonth(t, dynamostore.New(db, table, nil), oct) {
			if got == nil || !samePart(t, *got, want.Only(f)) {
				t.Fatalf("write %d: MonthParts(%b) does not read the part", i, f)
			}
		}
	}
}

// TestMonthPartEarlierLayout: items of the earlier layout (one series of
// items <YYYY-MM>#<nn> holding every value) are not read as a month part,
// and the month's next write deletes them.
func TestMonthPartEarlierLayout(t *testing.T) {
	ctx := context.Background()
	db, table := dayTable(t)
	st := dynamostore.New(db, table, nil)
	oct := day("2026-10-01")
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "T#acme#MONTH"}, "sk": &types.AttributeValueMemberS{Value: "2026-10#00"},
		"v": &types.AttributeValueMemberN{Value: "1"}, "n": &types.AttributeValueMemberN{Value: "1"},
		"day": &types.AttributeValueMemberS{Value: "2026-10-01"}, "days": &types.AttributeValueMemberN{Value: "31"},
		"c": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"dau": &types.AttributeValueMemberN{Value: "7"}}},
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	for f, got := range readMonth(t, st, oct) {
		if got != nil {
			t.Fatalf("MonthParts(%b) reads an item of the earlier layout as a month part", f)
		}
	}
	if only, err := st.MonthPartsOnly(ctx, "acme", oct, oct, nil); err != nil || len(only) != 0 {
		t.Fatalf("MonthPartsOnly = %d parts, %v; want none", len(only), err)
	}
	want := monthPart(t, oct, 31, false)
	if err := st.PutMonthPart(ctx, "acme", want, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, sk := range monthItems(t, db, table) {
		if strings.HasPrefix(sk, "2026-10#") {
			t.Errorf("item %s of the earlier layout left after the month was written", sk)
		}
	}
	if got := readMonth(t, st, oct)[kpi.AllFields]; got == nil || !samePart(t, *got, want) {
		t.Error("the month written does not read back")
	}
}

// counting is a DynamoDB client that counts its read calls.
type counting struct {
	*dynamodb.Client
	reads atomic.Int64
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.reads.Add(1)
	return c.Client.Query(ctx, in, opts...)
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.reads.Add(1)
	return c.Client.GetItem(ctx, in, opts...)
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.reads.Add(1)
	return c.Client.BatchGetItem(ctx, in, opts...)
}

// TestYearOfCountersReadsNoAnswers: a year of dau, sessions or NPS (made
// of counters) makes as many DynamoDB calls whether its month parts hold a
// month of answers and tickets each (several MB over the year) or none: a
// query pages only through the items of the fields it reads. Month parts
// that kept every value in the same items paged through them all.
func TestYearOfCountersReadsNoAnswers(t *testing.T) {
	ctx := context.Background()
	db, table := dayTable(t)
	c := &counting{Client: db}
	st := dynamostore.New(c, table, nil)
	from, to := day("2025-11-01"), day("2026-10-31")
	for m := from; !m.After(to); m = kpi.NextMonth(m) {
		bare := monthPart(t, m, m.DaysUntil(kpi.MonthEnd(m))+1, false)
		bare.Responses, bare.Tickets = nil, nil
		full := bare
		for i := range 2500 {
			full.Responses = append(full.Responses, kpi.Response{Type: "csat", SurveyID: "q", Respondent: fmt.Sprintf("u%d", i),
				MessageID: fmt.Sprint(i), Time: m.Start(time.UTC), Score: float64(1 + i%5), Comment: strings.Repeat("a comment that takes room ", 4)})
		}
		for i := range 400 {
			full.Tickets = append(full.Tickets, kpi.Ticket{ID: fmt.Sprintf("t%d", i), Status: "open", Channel: "email",
				Tags: []string{"billing", "onboarding"}, Created: m.Start(time.UTC), Updated: m.Start(time.UTC)})
		}
		for tenant, p := range map[string]kpi.Part{"bare": bare, "full": full} {
			if err := st.PutMonthPart(ctx, tenant, p, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	svc := &query.Service{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, id := range []string{"dau", "sessions", "nps"} {
		calls := map[string]int64{}
		answers := map[string]query.Answer{}
		for _, tenant := range []string{"bare", "full"} {
			c.reads.Store(0)
			a, err := svc.KPI(ctx, tenant, query.Request{KPI: id, From: from, To: to})
			if err != nil {
				t.Fatal(err)
			}
			calls[tenant], answers[tenant] = c.reads.Load(), a
			if !a.Complete {
				t.Fatalf("%s over %s..%s of %s: not complete (the month parts were not read)", id, from, to, tenant)
			}
		}
		if calls["full"] != calls["bare"] {
			t.Errorf("%s over %s..%s: %d DynamoDB calls with month parts full of answers and tickets, %d without: want as many", id, from, to, calls["full"], calls["bare"])
		}
		if diff := cmp.Diff(answers["full"], answers["bare"]); diff != "" {
			t.Errorf("%s: the answers differ (-full +bare):\n%s", id, diff)
		}
	}
}
