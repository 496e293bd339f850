package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
)

// state is the stored state of a table, normalised so that two stacks
// that were given the same input compare equal however their runs went:
// identities' ordinals (taken in the order runs create identities) are
// replaced by the identities in the day parts and dropped elsewhere;
// parts lose their computed-at time; sealed secrets (random nonces) and
// the dirty marks' times are left out, and webhook settings (sealed too)
// only count as present. Keys are "<pk> <sk>".
func state(t *testing.T, db *dynamodb.Client, table string) map[string]any {
	t.Helper()
	out := map[string]any{}
	ids := map[uint32]string{}
	for _, it := range scan(t, db, table) {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			t.Fatalf("decode item: %v", err)
		}
		pk, _ := m["pk"].(string)
		sk, _ := m["sk"].(string)
		switch {
		case strings.HasPrefix(sk, "SECRET#"):
			continue
		case strings.HasPrefix(sk, "HOOK#"):
			m = map[string]any{"sealed": "webhook settings"} // sealed with a random nonce
		case strings.HasSuffix(pk, "#DAY"), strings.HasSuffix(pk, "#MONTH"):
			continue // below, decoded (a month part's items carry the time it was written)
		case strings.HasSuffix(pk, "#DIRTY"):
			m = map[string]any{"dirty": true}
		case strings.HasSuffix(pk, "#ID"):
			if sk == "#counter" {
				continue
			}
			if o, ok := m["ord"].(float64); ok {
				id := strings.TrimPrefix(sk, "I#")
				if other, dup := ids[uint32(o)]; dup {
					// Two identities on one ordinal count as one.
					out[fmt.Sprintf("ordinal %d", uint32(o))] = []string{other, id}
				}
				ids[uint32(o)] = id
			}
			delete(m, "ord")
		}
		delete(m, "pk")
		delete(m, "sk")
		out[pk+" "+sk] = m
	}
	parts, err := dynamostore.New(db, table, nil).Parts(context.Background(), tenantID, kpi.NewDay(2000, 1, 1), kpi.NewDay(2100, 1, 1))
	if err != nil {
		t.Fatalf("read parts: %v", err)
	}
	for _, p := range parts {
		out["part "+p.Day.String()] = normalPart(t, p, ids)
	}
	months, err := dynamostore.New(db, table, nil).MonthParts(context.Background(), tenantID, kpi.NewDay(2000, 1, 1), kpi.NewDay(2100, 1, 1), kpi.AllFields)
	if err != nil {
		t.Fatalf("read month parts: %v", err)
	}
	for _, p := range months {
		out[fmt.Sprintf("month part %s of %d days", p.Day, p.Days)] = normalPart(t, p, ids)
	}
	return out
}

// normalPart is a part with identities in place of ordinals, and lists
// and records in a canonical order.
func normalPart(t *testing.T, p kpi.Part, ids map[uint32]string) map[string]any {
	t.Helper()
	id := func(o uint32) string {
		if s, ok := ids[o]; ok {
			return s
		}
		return "#" + strconv.FormatUint(uint64(o), 10)
	}
	sets := map[string][]string{}
	for k, b := range p.Sets {
		var members []string
		for _, o := range b.ToArray() {
			members = append(members, id(o))
		}
		slices.Sort(members)
		sets[k] = members
	}
	lists := map[string][]float64{}
	for k, l := range p.Lists {
		lists[k] = slices.Sorted(slices.Values(l))
	}
	// records marshals each record, replaces its ordinal fields by
	// identities and sorts them by their text.
	records := func(v any) []string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var rs []map[string]any
		if err := json.Unmarshal(b, &rs); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			for _, f := range []string{"ord", "acct", "acct_ord"} {
				if o, ok := r[f].(float64); ok {
					r[f] = id(uint32(o))
				}
			}
			rb, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(rb))
		}
		slices.Sort(out)
		return out
	}
	return map[string]any{
		"counters": p.Counters, "sets": sets, "lists": lists,
		"responses": records(p.Responses), "tickets": records(p.Tickets),
		"accounts": records(p.Accounts), "orders": records(p.Orders),
	}
}

// dynamoAPI is the DynamoDB client of dynamostore, with the SDK's
// signatures, for the fault-injecting client.
type dynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// label names a write by what it writes: the item's kind (the pk without
// the tenant) and, for identities, which field.
func label(op string, key map[string]types.AttributeValue, update string) string {
	pk, sk := "", ""
	if v, ok := key["pk"].(*types.AttributeValueMemberS); ok {
		pk = v.Value
	}
	if v, ok := key["sk"].(*types.AttributeValueMemberS); ok {
		sk = v.Value
	}
	kind := strings.TrimPrefix(strings.TrimPrefix(pk, "T#"+tenantID), "#")
	if kind == "" {
		kind = sk
	}
	switch {
	case kind == "ID" && sk == "#counter":
		kind = "ID ordinals"
	case kind == "ID" && op == "PutItem":
		kind = "ID create"
	case kind == "ID" && strings.Contains(update, "traits"):
		kind = "ID traits"
	case kind == "ID":
		kind = "ID first"
	}
	return fmt.Sprintf("%s %s", op, kind)
}
