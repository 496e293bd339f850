package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// Day parts are stored under T#<tenant>#DAY, sk the day (YYYY-MM-DD):
// one item with the maps counters, sets and lists and the JSON blobs
// responses, tickets and accounts (accounts and orders), as long as the
// part fits in one item, as nearly all do. A part that does not is packed
// like a month part (pack.go): the head at sk <day> holds v and n, the
// further items are <day>#01, <day>#02, … A reader tells the two apart by
// the head's n; it ignores <day>#nn items beside a single-item head (an
// earlier packed version's leftovers, deleted after the head is written),
// and leaves out a packed day whose items are not one complete version (a
// day being rewritten reads like a day not aggregated yet).
//
// Unlike month parts (months.go), a day part's values are not split into
// groups by field: a day's answers and tickets are a small share of its
// item (about a tenth, its sets most of the rest), a range of days is
// read by one Query whatever its KPIs, and groups would make every day
// read a Query per group. Only the rare packed day pays for its fields
// all together.

// maxItemBytes keeps a day's part under DynamoDB's 400 KB item limit.
const maxItemBytes = 390 * 1024

func dayPK(tenantID string) string { return "T#" + tenantID + "#DAY" }

// dayRange is the sk range of the items of from..to's parts.
func dayRange(from, to kpi.Day) (string, string) { return from.String(), to.String() + "#~" }

// PutPart stores a day's part, replacing any earlier one: re-running a day
// writes the same items again.
func (st *Store) PutPart(ctx context.Context, tenantID string, p kpi.Part, computedAt time.Time) error {
	// Rare: a day with very many trait values or pages loses those
	// breakdowns (recorded in the part) rather than failing the run.
	p.Trim(maxItemBytes - 16*1024)
	item, size, err := partItem(p)
	if err != nil {
		return fmt.Errorf("part %s: %w", p.Day, err)
	}
	items := []map[string]types.AttributeValue{item}
	limit, itemBytes := maxItemBytes, packItemBytes
	if st.packDaysOver > 0 {
		limit, itemBytes = st.packDaysOver, max(2048, st.packDaysOver)
	}
	if size > limit {
		// Rarer still: what cannot be dropped does not fit in one item.
		vals, err := packValues(p)
		if err != nil {
			return fmt.Errorf("part %s: %w", p.Day, err)
		}
		items = pack(vals, itemBytes)
		rnd := make([]byte, 4)
		if _, err := rand.Read(rnd); err != nil {
			return fmt.Errorf("part %s: %w", p.Day, err)
		}
		// Two writes of a day in the same instant still differ.
		version := n(fmt.Sprintf("%d%010d", computedAt.UnixNano(), binary.BigEndian.Uint32(rnd)))
		count := n(strconv.Itoa(len(items)))
		for _, it := range items {
			it["v"], it["n"] = version, count
		}
	}
	items[0]["computed_at"] = s(computedAt.UTC().Format(time.RFC3339Nano))
	if err := st.putItems(ctx, dayPK(tenantID), p.Day.String(), p.Day.String(), items); err != nil {
		return fmt.Errorf("put part %s: %w", p.Day, err)
	}
	return nil
}

// PackDaysOver makes st pack the day parts over bytes (into items of
// about bytes, 2 KB or more), not only those over the item limit: for
// tests, to run small days through the packed layout. It returns st.
func (st *Store) PackDaysOver(bytes int) *Store {
	st.packDaysOver = bytes
	return st
}

// partItem is p as one item (without its key), and the item's size as
// DynamoDB counts it, roughly: names and values.
func partItem(p kpi.Part) (map[string]types.AttributeValue, int, error) {
	size := 256
	counters := make(map[string]types.AttributeValue, len(p.Counters))
	for k, v := range p.Counters {
		counters[k] = n(strconv.FormatFloat(v, 'g', -1, 64))
		size += len(k) + 24
	}
	sets := make(map[string]types.AttributeValue, len(p.Sets))
	for k, b := range p.Sets {
		raw, err := b.ToBytes()
		if err != nil {
			return nil, 0, fmt.Errorf("encode set %s: %w", k, err)
		}
		size += len(k) + len(raw) + 8
		sets[k] = &types.AttributeValueMemberB{Value: raw}
	}
	lists := make(map[string]types.AttributeValue, len(p.Lists))
	for k, l := range p.Lists {
		raw := encodeList(l)
		size += len(k) + len(raw) + 8
		lists[k] = &types.AttributeValueMemberB{Value: raw}
	}
	item := map[string]types.AttributeValue{
		"counters": &types.AttributeValueMemberM{Value: counters},
		"sets":     &types.AttributeValueMemberM{Value: sets},
		"lists":    &types.AttributeValueMemberM{Value: lists},
	}
	if len(p.Accounts) > 0 || len(p.Orders) > 0 {
		raw, err := json.Marshal(struct {
			Accounts []kpi.AccountState `json:"accounts"`
			Orders   []kpi.OrderRecord  `json:"orders"`
		}{p.Accounts, p.Orders})
		if err != nil {
			return nil, 0, fmt.Errorf("encode accounts: %w", err)
		}
		size += len(raw)
		item["accounts"] = &types.AttributeValueMemberB{Value: raw}
	}
	if len(p.Tickets) > 0 {
		raw, err := json.Marshal(p.Tickets)
		if err != nil {
			return nil, 0, fmt.Errorf("encode tickets: %w", err)
		}
		size += len(raw)
		item["tickets"] = &types.AttributeValueMemberB{Value: raw}
	}
	if len(p.Responses) > 0 {
		raw, err := json.Marshal(p.Responses)
		if err != nil {
			return nil, 0, fmt.Errorf("encode responses: %w", err)
		}
		size += len(raw)
		item["responses"] = &types.AttributeValueMemberB{Value: raw}
	}
	return item, size, nil
}

// Parts returns the stored parts of from..to, in day order; days never
// aggregated (or being rewritten) are absent.
func (st *Store) Parts(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Part, error) {
	a, b := dayRange(from, to)
	items, err := st.queryRange(ctx, dayPK(tenantID), a, b)
	if err != nil {
		return nil, fmt.Errorf("query parts: %w", err)
	}
	return decodeParts(items)
}

// DayParts returns the stored parts of from..to with only the fields
// asked for read beside the counters (the accounts attribute holds
// accounts and orders).
func (st *Store) DayParts(ctx context.Context, tenantID string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	// The single item's attributes, then the packed items'.
	names := []string{"counters", "v", "n", "c", "x"}
	if fields&kpi.FieldSets != 0 {
		names = append(names, "sets", "s")
	}
	if fields&kpi.FieldLists != 0 {
		names = append(names, "lists", "l")
	}
	var blobs []string
	if fields&kpi.FieldResponses != 0 {
		names, blobs = append(names, "responses"), append(blobs, "responses")
	}
	if fields&kpi.FieldTickets != 0 {
		names, blobs = append(names, "tickets"), append(blobs, "tickets")
	}
	if fields&(kpi.FieldAccounts|kpi.FieldOrders) != 0 {
		names, blobs = append(names, "accounts"), append(blobs, "accounts", "orders")
	}
	proj, attrNames := []string{"sk"}, map[string]string{}
	for i, name := range names {
		attrNames[fmt.Sprintf("#a%d", i)] = name
		proj = append(proj, fmt.Sprintf("#a%d", i))
	}
	for i, name := range blobs {
		attrNames["#b"], attrNames[fmt.Sprintf("#f%d", i)] = "b", name
		proj = append(proj, fmt.Sprintf("#b.#f%d", i))
	}
	a, b := dayRange(from, to)
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(dayPK(tenantID)), ":a": s(a), ":b": s(b)},
		ProjectionExpression:      aws.String(strings.Join(proj, ", ")),
		ExpressionAttributeNames:  attrNames,
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("query parts: %w", err)
	}
	return decodeParts(items)
}

// decodeParts groups items by day and decodes the days whose items are
// one complete part.
func decodeParts(items []map[string]types.AttributeValue) ([]kpi.Part, error) {
	parts := make([]kpi.Part, 0, len(items))
	for len(items) > 0 {
		// The query returns a day's head, then its <day>#nn items.
		day := str(items[0], "sk")
		j := 1
		for j < len(items) && strings.HasPrefix(str(items[j], "sk"), day+"#") {
			j++
		}
		p, ok, err := decodeDay(items[:j])
		if err != nil {
			return nil, err
		}
		if ok {
			parts = append(parts, p)
		}
		items = items[j:]
	}
	return parts, nil
}

// decodeDay decodes the items of one day, its head first; ok is false
// when they are not one complete part.
func decodeDay(items []map[string]types.AttributeValue) (kpi.Part, bool, error) {
	head := items[0]
	if strings.Contains(str(head, "sk"), "#") {
		return kpi.Part{}, false, nil // items of a head not written yet
	}
	if _, packed := head["n"]; !packed {
		p, err := decodePart(head)
		return p, err == nil, err
	}
	day, err := kpi.ParseDay(str(head, "sk"))
	if err != nil {
		return kpi.Part{}, false, fmt.Errorf("stored part key: %w", err)
	}
	mine, ok := packedItems(head, items, func(sk string) (int, bool) {
		if sk == day.String() {
			return 0, true
		}
		return packedIndex(sk)
	})
	if !ok {
		return kpi.Part{}, false, nil
	}
	p := kpi.NewPart(day)
	if err := unpack(&p, mine); err != nil {
		return kpi.Part{}, false, fmt.Errorf("part %s: %w", day, err)
	}
	return p, true, nil
}

// PartsOnly returns the parts of from..to with only the named counters
// and sets read: cheap reads of a long history; without names, only which
// days have a part.
func (st *Store) PartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error) {
	proj := []string{"sk", "#v", "#n"}
	attrNames := map[string]string{"#v": "v", "#n": "n"}
	if len(names) > 0 {
		attrNames["#c"], attrNames["#s"] = "counters", "sets"
		attrNames["#pc"], attrNames["#ps"], attrNames["#x"] = "c", "s", "x"
		proj = append(proj, "#x")
	}
	for i, name := range names {
		attrNames[fmt.Sprintf("#n%d", i)] = name
		proj = append(proj, fmt.Sprintf("#c.#n%d", i), fmt.Sprintf("#s.#n%d", i), fmt.Sprintf("#pc.#n%d", i), fmt.Sprintf("#ps.#n%d", i))
	}
	a, b := dayRange(from, to)
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(dayPK(tenantID)), ":a": s(a), ":b": s(b)},
		ProjectionExpression:      aws.String(strings.Join(proj, ", ")),
		ExpressionAttributeNames:  attrNames,
		ConsistentRead:            aws.Bool(true),
	}
	items, err := st.query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("query part history: %w", err)
	}
	parts, err := decodeParts(items)
	if err != nil {
		return nil, err
	}
	// A packed day's overflow pieces come whole: keep the named values only.
	onlyNamed(parts, names)
	return parts, nil
}

// HasParts reports which of days have a stored part.
func (st *Store) HasParts(ctx context.Context, tenantID string, days []kpi.Day) (map[kpi.Day]bool, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(days))
	for _, d := range days {
		keys = append(keys, key(dayPK(tenantID), d.String()))
	}
	names := map[string]string{"#v": "v", "#n": "n"}
	heads, err := st.batchGet(ctx, keys, "sk, #v, #n", names)
	if err != nil {
		return nil, fmt.Errorf("check parts: %w", err)
	}
	// A packed day has a part only when its other items are there, of
	// its head's version.
	var more []map[string]types.AttributeValue
	for _, it := range heads {
		c, _ := strconv.Atoi(num(it, "n"))
		for i := 1; i < c; i++ {
			more = append(more, key(dayPK(tenantID), packedSK(str(it, "sk"), i)))
		}
	}
	rest, err := st.batchGet(ctx, more, "sk, #v, #n", names)
	if err != nil {
		return nil, fmt.Errorf("check parts: %w", err)
	}
	byDay := map[string][]map[string]types.AttributeValue{}
	for _, it := range rest {
		day, _, _ := strings.Cut(str(it, "sk"), "#")
		byDay[day] = append(byDay[day], it)
	}
	has := map[kpi.Day]bool{}
	for _, it := range heads {
		d, err := kpi.ParseDay(str(it, "sk"))
		if err != nil {
			continue
		}
		_, ok, _ := decodeDay(append([]map[string]types.AttributeValue{it}, byDay[str(it, "sk")]...))
		has[d] = ok
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
			if !ok {
				return kpi.Part{}, fmt.Errorf("part %s list %s: not a float64 array", day, k)
			}
			l, ok := decodeList(bv.Value)
			if !ok {
				return kpi.Part{}, fmt.Errorf("part %s list %s: not a float64 array", day, k)
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
