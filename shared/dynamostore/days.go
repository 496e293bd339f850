package dynamostore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// maxItemBytes keeps a day's part under DynamoDB's 400 KB item limit.
const maxItemBytes = 390 * 1024

// PutPart stores a day's part, replacing any earlier one: re-running a day
// writes the same item again.
func (st *Store) PutPart(ctx context.Context, tenantID string, p kpi.Part, computedAt time.Time) error {
	// Rare: a day with very many trait values or pages loses those
	// breakdowns (recorded in the part) rather than failing the run.
	p.Trim(maxItemBytes - 16*1024)
	counters := make(map[string]types.AttributeValue, len(p.Counters))
	for k, v := range p.Counters {
		counters[k] = n(strconv.FormatFloat(v, 'g', -1, 64))
	}
	sets := make(map[string]types.AttributeValue, len(p.Sets))
	size := 0
	for k, b := range p.Sets {
		raw, err := b.ToBytes()
		if err != nil {
			return fmt.Errorf("encode set %s: %w", k, err)
		}
		size += len(raw)
		sets[k] = &types.AttributeValueMemberB{Value: raw}
	}
	lists := make(map[string]types.AttributeValue, len(p.Lists))
	for k, l := range p.Lists {
		raw := make([]byte, 8*len(l))
		for i, v := range l {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
		size += len(raw)
		lists[k] = &types.AttributeValueMemberB{Value: raw}
	}
	var accounts []byte
	if len(p.Accounts) > 0 || len(p.Orders) > 0 {
		var err error
		if accounts, err = json.Marshal(struct {
			Accounts []kpi.AccountState `json:"accounts"`
			Orders   []kpi.OrderRecord  `json:"orders"`
		}{p.Accounts, p.Orders}); err != nil {
			return fmt.Errorf("encode accounts: %w", err)
		}
		size += len(accounts)
	}
	var tickets []byte
	if len(p.Tickets) > 0 {
		var err error
		if tickets, err = json.Marshal(p.Tickets); err != nil {
			return fmt.Errorf("encode tickets: %w", err)
		}
		size += len(tickets)
	}
	var responses []byte
	if len(p.Responses) > 0 {
		var err error
		if responses, err = json.Marshal(p.Responses); err != nil {
			return fmt.Errorf("encode responses: %w", err)
		}
		size += len(responses)
	}
	if size > maxItemBytes+16*1024 {
		return fmt.Errorf("part of %s for %s is %d bytes, over the item limit", p.Day, tenantID, size)
	}
	item := key("T#"+tenantID+"#DAY", p.Day.String())
	item["counters"] = &types.AttributeValueMemberM{Value: counters}
	item["sets"] = &types.AttributeValueMemberM{Value: sets}
	item["lists"] = &types.AttributeValueMemberM{Value: lists}
	if responses != nil {
		item["responses"] = &types.AttributeValueMemberB{Value: responses}
	}
	if tickets != nil {
		item["tickets"] = &types.AttributeValueMemberB{Value: tickets}
	}
	if accounts != nil {
		item["accounts"] = &types.AttributeValueMemberB{Value: accounts}
	}
	item["computed_at"] = s(computedAt.UTC().Format(time.RFC3339Nano))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: item}); err != nil {
		return fmt.Errorf("put part %s: %w", p.Day, err)
	}
	return nil
}

// Parts returns the stored parts of from..to, in day order; days never
// aggregated are absent.
func (st *Store) Parts(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Part, error) {
	items, err := st.queryRange(ctx, "T#"+tenantID+"#DAY", from.String(), to.String())
	if err != nil {
		return nil, fmt.Errorf("query parts: %w", err)
	}
	return decodeParts(items)
}

// DayParts returns the stored parts of from..to with only the JSON fields
// asked for read (the accounts attribute holds accounts and orders).
func (st *Store) DayParts(ctx context.Context, tenantID string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	names := []string{"counters", "sets", "lists"}
	if fields&kpi.FieldResponses != 0 {
		names = append(names, "responses")
	}
	if fields&kpi.FieldTickets != 0 {
		names = append(names, "tickets")
	}
	if fields&(kpi.FieldAccounts|kpi.FieldOrders) != 0 {
		names = append(names, "accounts")
	}
	proj, attrNames := []string{"sk"}, map[string]string{}
	for i, name := range names {
		attrNames[fmt.Sprintf("#a%d", i)] = name
		proj = append(proj, fmt.Sprintf("#a%d", i))
	}
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("T#" + tenantID + "#DAY"), ":a": s(from.String()), ":b": s(to.String())},
		ProjectionExpression:      aws.String(strings.Join(proj, ", ")),
		ExpressionAttributeNames:  attrNames,
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("query parts: %w", err)
	}
	return decodeParts(items)
}

func decodeParts(items []map[string]types.AttributeValue) ([]kpi.Part, error) {
	parts := make([]kpi.Part, 0, len(items))
	for _, it := range items {
		p, err := decodePart(it)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// PartsOnly returns the parts of from..to with only the named counters
// and sets read: cheap reads of a long history; without names, only which
// days have a part.
func (st *Store) PartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error) {
	proj := []string{"sk"}
	attrNames := map[string]string{}
	if len(names) > 0 {
		attrNames["#c"], attrNames["#s"] = "counters", "sets"
	}
	for i, name := range names {
		attrNames[fmt.Sprintf("#n%d", i)] = name
		proj = append(proj, fmt.Sprintf("#c.#n%d", i), fmt.Sprintf("#s.#n%d", i))
	}
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("T#" + tenantID + "#DAY"), ":a": s(from.String()), ":b": s(to.String())},
		ProjectionExpression:      aws.String(strings.Join(proj, ", ")),
		ConsistentRead:            aws.Bool(true),
	}
	if len(attrNames) > 0 {
		in.ExpressionAttributeNames = attrNames
	}
	items, err := st.query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("query part history: %w", err)
	}
	return decodeParts(items)
}

// HasParts reports which of days have a stored part.
func (st *Store) HasParts(ctx context.Context, tenantID string, days []kpi.Day) (map[kpi.Day]bool, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(days))
	for _, d := range days {
		keys = append(keys, key("T#"+tenantID+"#DAY", d.String()))
	}
	items, err := st.batchGet(ctx, keys, "sk")
	if err != nil {
		return nil, fmt.Errorf("check parts: %w", err)
	}
	has := map[kpi.Day]bool{}
	for _, it := range items {
		d, err := kpi.ParseDay(str(it, "sk"))
		if err == nil {
			has[d] = true
		}
	}
	return has, nil
}

func decodePart(it map[string]types.AttributeValue) (kpi.Part, error) {
	day, err := kpi.ParseDay(str(it, "sk"))
	if err != nil {
		return kpi.Part{}, fmt.Errorf("stored part key: %w", err)
	}
	p := kpi.NewPart(day)
	if m, ok := it["counters"].(*types.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			nv, ok := v.(*types.AttributeValueMemberN)
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(nv.Value, 64)
			if err != nil {
				return kpi.Part{}, fmt.Errorf("part %s counter %s: %w", day, k, err)
			}
			p.Counters[k] = f
		}
	}
	if m, ok := it["sets"].(*types.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			bv, ok := v.(*types.AttributeValueMemberB)
			if !ok {
				continue
			}
			// A view on the item's bytes, which nothing writes to: no copy
			// of sets a query does not read (FromBuffer is copy-on-write).
			b := roaring.New()
			if _, err := b.FromBuffer(bv.Value); err != nil {
				return kpi.Part{}, fmt.Errorf("part %s set %s: %w", day, k, err)
			}
			p.Sets[k] = b
		}
	}
	if b, ok := it["accounts"].(*types.AttributeValueMemberB); ok {
		var v struct {
			Accounts []kpi.AccountState `json:"accounts"`
			Orders   []kpi.OrderRecord  `json:"orders"`
		}
		if err := json.Unmarshal(b.Value, &v); err != nil {
			return kpi.Part{}, fmt.Errorf("part %s accounts: %w", day, err)
		}
		p.Accounts, p.Orders = v.Accounts, v.Orders
	}
	if b, ok := it["tickets"].(*types.AttributeValueMemberB); ok {
		if err := json.Unmarshal(b.Value, &p.Tickets); err != nil {
			return kpi.Part{}, fmt.Errorf("part %s tickets: %w", day, err)
		}
	}
	if b, ok := it["responses"].(*types.AttributeValueMemberB); ok {
		if err := json.Unmarshal(b.Value, &p.Responses); err != nil {
			return kpi.Part{}, fmt.Errorf("part %s responses: %w", day, err)
		}
	}
	if m, ok := it["lists"].(*types.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			bv, ok := v.(*types.AttributeValueMemberB)
			if !ok || len(bv.Value)%8 != 0 {
				return kpi.Part{}, fmt.Errorf("part %s list %s: not a float64 array", day, k)
			}
			l := make([]float64, len(bv.Value)/8)
			for i := range l {
				l[i] = math.Float64frombits(binary.LittleEndian.Uint64(bv.Value[8*i:]))
			}
			p.Lists[k] = l
		}
	}
	return p, nil
}

// MarkDirty records that days received events at `at`.
func (st *Store) MarkDirty(ctx context.Context, tenantID string, days []kpi.Day, at time.Time) error {
	reqs := make([]types.WriteRequest, 0, len(days))
	for _, d := range days {
		item := key("T#"+tenantID+"#DIRTY", d.String())
		item["at"] = n(strconv.FormatInt(at.UnixNano(), 10))
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	if err := st.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("mark days dirty: %w", err)
	}
	return nil
}

// DirtyDays lists the dirty days of from..to.
func (st *Store) DirtyDays(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Dirty, error) {
	items, err := st.queryRange(ctx, "T#"+tenantID+"#DIRTY", from.String(), to.String())
	if err != nil {
		return nil, fmt.Errorf("query dirty days: %w", err)
	}
	out := make([]kpi.Dirty, 0, len(items))
	for _, it := range items {
		d, err := kpi.ParseDay(str(it, "sk"))
		if err != nil {
			return nil, fmt.Errorf("stored dirty key: %w", err)
		}
		at, _ := strconv.ParseInt(num(it, "at"), 10, 64)
		out = append(out, kpi.Dirty{Day: d, At: at})
	}
	return out, nil
}

// ClearDirty removes a dirty mark unless events arrived after it was read
// (its `at` changed), in which case the day stays dirty.
func (st *Store) ClearDirty(ctx context.Context, tenantID string, d kpi.Dirty) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(st.table),
		Key:                       key("T#"+tenantID+"#DIRTY", d.Day.String()),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #at = :at"),
		ExpressionAttributeNames:  map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": n(strconv.FormatInt(d.At, 10))},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("clear dirty %s: %w", d.Day, err)
	}
	return nil
}
