package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/bench/parts"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

// beforeAccountSets rewrites the month part of month m of tenant as it was
// written before the account sets had their group (k): its account sets
// in the s group, after the other sets' items, and no k in the head's g.
func beforeAccountSets(t *testing.T, db *dynamodb.Client, table, tenant string, m kpi.Day) {
	t.Helper()
	ctx := context.Background()
	month := fmt.Sprintf("%04d-%02d", m.Year(), int(m.Month()))
	pg := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + tenant + "#MONTH"}},
		ConsistentRead:            aws.Bool(true),
	})
	var head map[string]types.AttributeValue
	var kItems []map[string]types.AttributeValue
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			switch sk := it["sk"].(*types.AttributeValueMemberS).Value; {
			case sk == "h#"+month:
				head = it
			case strings.HasPrefix(sk, "k#"+month+"#"):
				kItems = append(kItems, it)
			}
		}
	}
	if head == nil {
		t.Fatalf("no month part of %s", month)
	}
	g := head["g"].(*types.AttributeValueMemberM).Value
	if _, ok := g["k"]; !ok {
		t.Fatalf("the head of %s lists no k group", month)
	}
	sets := 0
	if n, ok := g["s"].(*types.AttributeValueMemberN); ok {
		sets, _ = strconv.Atoi(n.Value)
	}
	for _, it := range kItems {
		f := strings.Split(it["sk"].(*types.AttributeValueMemberS).Value, "#")
		i, _ := strconv.Atoi(f[3])
		moved := map[string]types.AttributeValue{}
		for k, v := range it {
			moved[k] = v
		}
		moved["sk"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("s#%s#%s#%02d", month, f[2], sets+i)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: moved}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}}); err != nil {
			t.Fatal(err)
		}
	}
	delete(g, "k")
	if sets+len(kItems) > 0 {
		g["s"] = &types.AttributeValueMemberN{Value: strconv.Itoa(sets + len(kItems))}
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: head}); err != nil {
		t.Fatal(err)
	}
}

// TestMonthPartAccountSets: a month part's account sets are stored in a
// group of their own (k), read alone by kpi.FieldAccountSets; a month part
// written before that group (account sets in s) reads with every field
// selection as it did, its account sets from its s group; a write killed
// over it leaves it or the new part, never a mix.
func TestMonthPartAccountSets(t *testing.T) {
	ctx := context.Background()
	oct := day("2026-10-01")
	want := monthPart(t, oct, 31, false)
	for _, name := range []string{kpi.SetCancelled, kpi.SetRenewed} {
		if want.Sets[name] == nil {
			t.Fatalf("the month part has no set %s", name)
		}
	}
	db, table := dayTable(t)
	st := dynamostore.New(db, table, nil).PackMonthItems(4096)
	if err := st.PutMonthPart(ctx, "acme", want, time.Now()); err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, sk := range monthItems(t, db, table) {
		if g, _, _ := strings.Cut(sk, "#"); !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	if !slices.Contains(groups, "k") {
		t.Fatalf("groups %v: no k group of account sets", groups)
	}
	only, err := st.MonthParts(ctx, "acme", oct, oct, kpi.FieldAccountSets)
	if err != nil || len(only) != 1 {
		t.Fatalf("MonthParts(account sets) = %d parts, %v", len(only), err)
	}
	if got := slices.Sorted(maps.Keys(only[0].Sets)); !cmp.Equal(got, []string{kpi.SetCancelled, kpi.SetRenewed}) {
		t.Errorf("MonthParts(account sets) reads the sets %v", got)
	}

	beforeAccountSets(t, db, table, "acme", oct)
	if slices.ContainsFunc(monthItems(t, db, table), func(sk string) bool { return strings.HasPrefix(sk, "k#") }) {
		t.Fatal("the month of the earlier layout keeps a k item")
	}
	for f, got := range readMonth(t, st, oct) {
		if got == nil || !samePart(t, *got, want.Only(f)) {
			t.Errorf("a month part written before the k group: MonthParts(%b) does not read the part with those fields only", f)
		}
	}

	// A write killed over a month part of the earlier layout.
	next := monthPart(t, oct, 20, false)
	for writes := 0; ; writes++ {
		db, table := dayTable(t)
		st := dynamostore.New(db, table, nil).PackMonthItems(4096)
		if err := st.PutMonthPart(ctx, "acme", want, time.Now()); err != nil {
			t.Fatal(err)
		}
		beforeAccountSets(t, db, table, "acme", oct)
		err := dynamostore.New(&dying{Client: db, left: writes}, table, nil).PackMonthItems(4096).PutMonthPart(ctx, "acme", next, time.Now())
		if err != nil && !errors.Is(err, errKilled) {
			t.Fatalf("killed after %d writes: %v", writes, err)
		}
		for f, got := range readMonth(t, st, oct) {
			if got == nil || !samePart(t, *got, want.Only(f)) && !samePart(t, *got, next.Only(f)) {
				t.Fatalf("killed after %d writes over the earlier layout: MonthParts(%b) reads a part neither written", writes, f)
			}
		}
		if err == nil {
			for f, got := range readMonth(t, st, oct) {
				if !samePart(t, *got, next.Only(f)) {
					t.Fatalf("written over the earlier layout: MonthParts(%b) does not read the new part", f)
				}
			}
			break
		}
	}
}

// groupReads is a DynamoDB client that counts the month items its queries
// return, by group (the sk's prefix), and the months of each group.
type groupReads struct {
	*dynamodb.Client
	mu     sync.Mutex
	items  map[string]int
	months map[string][]string
}

func (c *groupReads) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.Client.Query(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	pk, _ := in.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS)
	if pk == nil || !strings.HasSuffix(pk.Value, "#MONTH") {
		return out, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range out.Items {
		f := strings.Split(it["sk"].(*types.AttributeValueMemberS).Value, "#")
		c.items[f[0]]++
		if len(f) > 1 && !slices.Contains(c.months[f[0]], f[1]) {
			c.months[f[0]] = append(c.months[f[0]], f[1])
		}
	}
	return out, nil
}

func (c *groupReads) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items, c.months = map[string]int{}, map[string][]string{}
}

// TestYearOfChurnReadsNoUserSets: a year of churn_rate over the month
// parts the nightly run merges (bench/parts: 50,000 users, 200 accounts)
// reads no item of the months' sets (s) nor of their accounts (a), only
// their heads and account sets (k), and answers as the day parts do, to
// the last bit; with months written before the k group among them, it
// reads the s groups of those months only, and still answers so.
func TestYearOfChurnReadsNoUserSets(t *testing.T) {
	ctx := context.Background()
	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
	table := localstacktest.UniqueName("churn")
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	c := &groupReads{Client: db}
	c.reset()
	st := dynamostore.New(c, table, nil)
	from, to := day("2025-11-01"), day("2026-10-31")
	h := parts.New(to, from.DaysUntil(to)+1+kpi.MonthLookback+1, parts.Seed)
	putMerged(t, st, h)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	monthly, daily := &query.Service{Store: st, Log: log}, &query.Service{Store: st, Log: log, DayParts: true}
	q := query.Request{KPI: "churn_rate", From: from, To: to}
	want, err := daily.KPI(ctx, "acme", q)
	if err != nil {
		t.Fatal(err)
	}
	if !want.Complete || want.Denominator == 0 || want.Numerator == 0 {
		t.Fatalf("churn_rate from day parts: %+v; want complete, with customers and some lost", want)
	}
	check := func(when string, months int) map[string][]string {
		t.Helper()
		c.reset()
		got, err := monthly.KPI(ctx, "acme", q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := answerDiff(got, want); diff != "" {
			t.Errorf("%s: month parts answer differently (-months +days):\n%s", when, diff)
		}
		if c.items["h"] < 12 || c.items["k"] < months {
			t.Errorf("%s: %d head items and %d of account sets read, want those of 12 and %d months at least (month parts not read)", when, c.items["h"], c.items["k"], months)
		}
		if c.items["a"] > 0 {
			t.Errorf("%s: %d items of the months' accounts read, want none", when, c.items["a"])
		}
		return c.months
	}
	if months := check("every month of the k group", 12); len(months["s"]) > 0 {
		t.Errorf("every month of the k group: items of sets read of the months %v, want none", months["s"])
	}
	earlier := []kpi.Day{day("2026-01-01"), day("2026-02-01"), day("2026-06-01")}
	for _, m := range earlier {
		beforeAccountSets(t, db, table, "acme", m)
	}
	if months := check("three months written before the k group", 12-len(earlier)); !cmp.Equal(months["s"], []string{"2026-01", "2026-02", "2026-06"}) {
		t.Errorf("three months written before the k group: items of sets read of the months %v, want those three only", months["s"])
	}
}
