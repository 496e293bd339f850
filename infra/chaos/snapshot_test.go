package chaos

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

// snapshot is what a run stored and answers, in a form two runs of the
// same input share whatever the order things happened in.
type snapshot struct {
	// MessageIDs are the distinct messageIds of the raw store.
	MessageIDs []string
	// Overview is GET /v1/kpis over the whole range: every KPI's headline.
	Overview any
	// KPIs are the full answers (details, daily series) of every
	// computed KPI over the whole range.
	KPIs map[string]any
	// Parts are the stored day parts, ordinals replaced by the identities
	// they stand for (runs may number identities differently).
	Parts map[string]canonicalPart
	// Months are the stored month parts of the months the range touches,
	// by their first day part's day, the same way.
	Months map[string]canonicalPart
	// rawLines counts the raw store's lines, repeats included.
	rawLines int
}

// canonicalPart is a kpi.Part without ordinals and with lists sorted.
type canonicalPart struct {
	Days      int
	Counters  map[string]float64
	Sets      map[string][]string
	Lists     map[string][]float64
	Responses []string
	Tickets   []string
	Accounts  []string
	Orders    []string
}

// take reads the stack's raw store, parts and KPI answers over from..to.
// It reads the stores with clients of its own, free of injected faults,
// and the KPIs over HTTP (retrying 5xx).
func take(t *testing.T, c *client, from, to string) snapshot {
	t.Helper()
	ctx := t.Context()
	st := c.st
	var snap snapshot

	raw := rawstore.New(localstack.NewS3Client(st.S3Endpoint), st.Bucket)
	keys, err := raw.List(ctx, "raw/tenant="+st.Tenant+"/")
	if err != nil {
		t.Fatalf("list raw objects: %v", err)
	}
	ids := map[string]bool{}
	for _, k := range keys {
		err := raw.Lines(ctx, k, func(line []byte) error {
			var m struct {
				MessageID string `json:"messageId"`
			}
			if err := json.Unmarshal(line, &m); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			ids[m.MessageID] = true
			snap.rawLines++
			return nil
		})
		if err != nil {
			t.Fatalf("read raw objects: %v", err)
		}
	}
	snap.MessageIDs = slices.Sorted(maps.Keys(ids))

	v := url.Values{"from": {from}, "to": {to}}
	var overview struct {
		Complete bool `json:"complete"`
	}
	body := c.get(t, "/v1/kpis?"+v.Encode())
	if err := json.Unmarshal(body, &snap.Overview); err != nil {
		t.Fatalf("GET /v1/kpis: %v", err)
	}
	if err := json.Unmarshal(body, &overview); err != nil || !overview.Complete {
		t.Fatalf("GET /v1/kpis after the aggregation: %s, want complete", body)
	}
	v.Set("interval", "day")
	snap.KPIs = map[string]any{}
	for _, id := range kpi.Computed() {
		var a any
		if err := json.Unmarshal(c.get(t, "/v1/kpis/"+id+"?"+v.Encode()), &a); err != nil {
			t.Fatalf("GET /v1/kpis/%s: %v", id, err)
		}
		snap.KPIs[id] = a
	}

	db := localstack.NewDynamoDBClient(st.DynamoDBEndpoint)
	names := identities(t, db, st.Table, st.Tenant)
	fromDay, err1 := kpi.ParseDay(from)
	toDay, err2 := kpi.ParseDay(to)
	if err1 != nil || err2 != nil {
		t.Fatalf("range %s..%s: %v %v", from, to, err1, err2)
	}
	// One day on either side: sessions and windows reach across midnight.
	parts, err := dynamostore.New(db, st.Table, nil).Parts(ctx, st.Tenant, fromDay.AddDays(-1), toDay.AddDays(1))
	if err != nil {
		t.Fatalf("read parts: %v", err)
	}
	snap.Parts = map[string]canonicalPart{}
	for _, p := range parts {
		snap.Parts[p.Day.String()] = canonical(p, names)
	}
	months, err := dynamostore.New(db, st.Table, nil).MonthParts(ctx, st.Tenant, fromDay.AddDays(-1), toDay.AddDays(1), kpi.AllFields)
	if err != nil {
		t.Fatalf("read month parts: %v", err)
	}
	snap.Months = map[string]canonicalPart{}
	for _, p := range months {
		snap.Months[p.Day.String()] = canonical(p, names)
	}
	return snap
}

// identities reads the tenant's identity dictionary: ordinal → identity.
func identities(t *testing.T, db *dynamodb.Client, table, tenantID string) map[uint32]string {
	t.Helper()
	names := map[uint32]string{}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :i)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + tenantID + "#ID"}, ":i": &types.AttributeValueMemberS{Value: "I#"}},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		out, err := db.Query(t.Context(), in)
		if err != nil {
			t.Fatalf("read identities: %v", err)
		}
		for _, it := range out.Items {
			sk, _ := it["sk"].(*types.AttributeValueMemberS)
			ord, _ := it["ord"].(*types.AttributeValueMemberN)
			if sk == nil || ord == nil {
				continue
			}
			n, err := strconv.ParseUint(ord.Value, 10, 32)
			if err != nil {
				t.Fatalf("identity %s: ordinal %q", sk.Value, ord.Value)
			}
			if other, dup := names[uint32(n)]; dup {
				t.Errorf("identities %s and %s share ordinal %d", other, sk.Value, n)
			}
			names[uint32(n)] = strings.TrimPrefix(sk.Value, "I#")
		}
		if len(out.LastEvaluatedKey) == 0 {
			return names
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func canonical(p kpi.Part, names map[uint32]string) canonicalPart {
	name := func(o uint32) string {
		if n, ok := names[o]; ok {
			return n
		}
		return fmt.Sprintf("unknown ordinal %d", o)
	}
	namePtr := func(o *uint32) string {
		if o == nil {
			return ""
		}
		return name(*o)
	}
	c := canonicalPart{Days: p.Days, Counters: p.Counters, Sets: map[string][]string{}, Lists: map[string][]float64{}}
	for k, b := range p.Sets {
		var ids []string
		for _, o := range b.ToArray() {
			ids = append(ids, name(o))
		}
		slices.Sort(ids)
		c.Sets[k] = ids
	}
	for k, l := range p.Lists {
		c.Lists[k] = slices.Sorted(slices.Values(l))
	}
	line := func(who string, v any) string {
		b, _ := json.Marshal(v)
		return who + " " + string(b)
	}
	for _, r := range p.Responses {
		who := name(r.Ordinal) + "@" + namePtr(r.Account)
		r.Ordinal, r.Account = 0, nil
		c.Responses = append(c.Responses, line(who, r))
	}
	for _, tk := range p.Tickets {
		who := namePtr(tk.AccountOrd)
		tk.AccountOrd = nil
		c.Tickets = append(c.Tickets, line(who, tk))
	}
	for _, a := range p.Accounts {
		who := name(a.Ordinal)
		a.Ordinal = 0
		c.Accounts = append(c.Accounts, line(who, a))
	}
	for _, o := range p.Orders {
		who := name(o.Ordinal)
		o.Ordinal = 0
		c.Orders = append(c.Orders, line(who, o))
	}
	for _, s := range [][]string{c.Responses, c.Tickets, c.Accounts, c.Orders} {
		slices.Sort(s)
	}
	return c
}

// approx compares floats with a relative tolerance of 1e-9: sums may be
// taken in another order.
var approx = gocmp.Comparer(func(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
})

// compare fails the test unless the disturbed run stored and answers what
// the undisturbed one does.
func compare(t *testing.T, got, want snapshot) {
	t.Helper()
	if diff := gocmp.Diff(got.MessageIDs, want.MessageIDs); diff != "" {
		t.Errorf("raw store: %d distinct messageIds, undisturbed run %d (-got +want):\n%s", len(got.MessageIDs), len(want.MessageIDs), diff)
	}
	if diff := gocmp.Diff(got.Overview, want.Overview, approx); diff != "" {
		t.Errorf("GET /v1/kpis differs from the undisturbed run (-got +want):\n%s", diff)
	}
	for _, id := range slices.Sorted(maps.Keys(want.KPIs)) {
		if diff := gocmp.Diff(got.KPIs[id], want.KPIs[id], approx); diff != "" {
			t.Errorf("GET /v1/kpis/%s differs from the undisturbed run (-got +want):\n%s", id, diff)
		}
	}
	if diff := gocmp.Diff(got.Parts, want.Parts, approx); diff != "" {
		t.Errorf("stored day parts differ from the undisturbed run (-got +want):\n%s", diff)
	}
	if len(want.Months) == 0 {
		t.Errorf("the undisturbed run stored no month part")
	}
	if diff := gocmp.Diff(got.Months, want.Months, approx); diff != "" {
		t.Errorf("stored month parts differ from the undisturbed run (-got +want):\n%s", diff)
	}
	t.Logf("compared with the undisturbed run: %d distinct messageIds (%d raw lines here, %d there), %d KPI answers, %d day parts",
		len(got.MessageIDs), got.rawLines, want.rawLines, len(got.KPIs)+1, len(got.Parts))
}

// references caches the undisturbed runs, one per workload.
var references struct {
	mu   sync.Mutex
	runs map[string]*reference
}

type reference struct {
	once sync.Once
	snap snapshot
	ok   bool
}

// undisturbed returns the snapshot of w sent to a fresh stack without
// faults, computing it once per test binary.
func undisturbed(t *testing.T, w workload) snapshot {
	t.Helper()
	references.mu.Lock()
	if references.runs == nil {
		references.runs = map[string]*reference{}
	}
	r := references.runs[w.name]
	if r == nil {
		r = &reference{}
		references.runs[w.name] = r
	}
	references.mu.Unlock()
	r.once.Do(func() {
		began := time.Now()
		c := newClient(stacktest.Start(t))
		c.send(t, w, nil)
		sent := time.Now()
		c.aggregate(t, w.from, w.to)
		t.Logf("undisturbed run of %s: sent in %v, aggregated in %v", w.name, sent.Sub(began).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))
		r.snap = take(t, c, w.from, w.to)
		r.ok = true
		c.report(t, "undisturbed run of "+w.name, time.Since(began))
		if len(r.snap.MessageIDs) != w.distinct {
			t.Fatalf("undisturbed run: %d distinct messageIds stored, %d sent", len(r.snap.MessageIDs), w.distinct)
		}
		// Without faults nothing may fail, not even the aggregation of a
		// fresh range (it once ran out of passes re-running trial days).
		if n := c.serverErrors.Load(); n > 0 {
			t.Fatalf("undisturbed run: %d requests answered 5xx without any fault", n)
		}
	})
	if !r.ok {
		t.Fatal("the undisturbed run failed (see the test that ran it)")
	}
	return r.snap
}
