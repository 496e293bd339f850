package dynamostore

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// Month parts (kpi.BuildMonth) are stored under T#<tenant>#MONTH, one or
// more items per month: sk <YYYY-MM>#<nn>, nn = 00, 01, … A month's union
// of sets, its keyed counters and its answers and tickets can pass
// DynamoDB's 400 KB item limit, so its values are packed into as many
// items as they need:
//
//	c  counters (number values), s sets, l lists (float64 arrays) and
//	   b blobs (responses, tickets, accounts, orders as JSON), each value
//	   in one item's map under its name;
//	x  the further pieces of a value too big for one item, under
//	   <kind>:<name>#<i>, concatenated with the first on reading;
//
// and every item carries v, the write's version (its time), and n, the
// number of items. Item 00 also holds day (the first day merged) and days
// (how many). Items are written, then the items of an earlier, longer
// version are deleted; a reader that meets items of two versions, or
// fewer than n, leaves the month out, and the query reads its days
// instead (a month being rewritten reads like a month not merged yet).
// Counters and sets are kept in maps by name so that MonthPartsOnly reads
// the few a history needs by projection, as PartsOnly does.

// monthItemBytes is what the packer puts in one item, well under the
// 400 KB limit (names and keys take the rest).
const monthItemBytes = 300 * 1024

func monthPK(tenantID string) string { return "T#" + tenantID + "#MONTH" }

func monthKey(m kpi.Day) string { return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Month())) }

// monthValue is one named value of a month part to pack.
type monthValue struct {
	kind, name string
	num        float64
	raw        []byte
	isNum      bool
}

// PutMonthPart stores a month part, replacing the month's earlier one.
func (st *Store) PutMonthPart(ctx context.Context, tenantID string, p kpi.Part, computedAt time.Time) error {
	vals, err := monthValues(p)
	if err != nil {
		return fmt.Errorf("month part %s: %w", p.Day, err)
	}
	items := packMonth(vals)
	m := kpi.MonthOf(p.Day)
	version := n(strconv.FormatInt(computedAt.UnixNano(), 10))
	count := n(strconv.Itoa(len(items)))
	reqs := make([]types.WriteRequest, 0, len(items))
	for i, it := range items {
		it["pk"], it["sk"] = s(monthPK(tenantID)), s(fmt.Sprintf("%s#%02d", monthKey(m), i))
		it["v"], it["n"] = version, count
		if i == 0 {
			it["day"] = s(p.Day.String())
			it["days"] = n(strconv.Itoa(p.Days))
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	// One item at a time: a batch of 25 items of 300 KB is over the
	// 16 MB a BatchWriteItem call takes.
	for _, r := range reqs {
		if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: r.PutRequest.Item}); err != nil {
			return fmt.Errorf("put month part %s: %w", monthKey(m), err)
		}
	}
	old, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :m)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(monthPK(tenantID)), ":m": s(monthKey(m) + "#")},
		ProjectionExpression:      aws.String("sk"),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("month part %s: %w", monthKey(m), err)
	}
	var dels []types.WriteRequest
	for _, it := range old {
		_, idx, _ := strings.Cut(str(it, "sk"), "#")
		if i, err := strconv.Atoi(idx); err == nil && i >= len(items) {
			dels = append(dels, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(monthPK(tenantID), str(it, "sk"))}})
		}
	}
	if err := st.batchWrite(ctx, dels); err != nil {
		return fmt.Errorf("month part %s: %w", monthKey(m), err)
	}
	return nil
}

// monthValues lists a month part's values in a fixed order.
func monthValues(p kpi.Part) ([]monthValue, error) {
	var out []monthValue
	for _, k := range slices.Sorted(maps.Keys(p.Counters)) {
		out = append(out, monthValue{kind: "c", name: k, num: p.Counters[k], isNum: true})
	}
	for _, k := range slices.Sorted(maps.Keys(p.Sets)) {
		raw, err := p.Sets[k].ToBytes()
		if err != nil {
			return nil, fmt.Errorf("encode set %s: %w", k, err)
		}
		out = append(out, monthValue{kind: "s", name: k, raw: raw})
	}
	for _, k := range slices.Sorted(maps.Keys(p.Lists)) {
		l := p.Lists[k]
		raw := make([]byte, 8*len(l))
		for i, v := range l {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
		out = append(out, monthValue{kind: "l", name: k, raw: raw})
	}
	blobs := []struct {
		name string
		v    any
		n    int
	}{{"responses", p.Responses, len(p.Responses)}, {"tickets", p.Tickets, len(p.Tickets)}, {"accounts", p.Accounts, len(p.Accounts)}, {"orders", p.Orders, len(p.Orders)}}
	for _, b := range blobs {
		if b.n == 0 {
			continue
		}
		raw, err := json.Marshal(b.v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", b.name, err)
		}
		out = append(out, monthValue{kind: "b", name: b.name, raw: raw})
	}
	return out, nil
}

// packMonth packs values into items of at most monthItemBytes, splitting
// a value that does not fit into pieces.
func packMonth(vals []monthValue) []map[string]types.AttributeValue {
	var items []map[string]types.AttributeValue
	var cur map[string]types.AttributeValue
	used := 0
	open := func() {
		cur = map[string]types.AttributeValue{}
		items = append(items, cur)
		used = 0
	}
	put := func(mapName, name string, v types.AttributeValue) {
		m, ok := cur[mapName].(*types.AttributeValueMemberM)
		if !ok {
			m = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
			cur[mapName] = m
		}
		m.Value[name] = v
	}
	open()
	for _, v := range vals {
		if v.isNum {
			size := len(v.name) + 24
			if used+size > monthItemBytes {
				open()
			}
			put(v.kind, v.name, n(strconv.FormatFloat(v.num, 'g', -1, 64)))
			used += size
			continue
		}
		raw := v.raw
		for piece := 0; piece == 0 || len(raw) > 0; piece++ {
			room := monthItemBytes - used - len(v.name) - 16
			if room < 1024 && used > 0 {
				open()
				room = monthItemBytes - len(v.name) - 16
			}
			chunk := raw[:min(len(raw), room)]
			raw = raw[len(chunk):]
			if piece == 0 {
				put(v.kind, v.name, &types.AttributeValueMemberB{Value: chunk})
			} else {
				put("x", v.kind+":"+v.name+"#"+strconv.Itoa(piece), &types.AttributeValueMemberB{Value: chunk})
			}
			used += len(chunk) + len(v.name) + 16
		}
	}
	return items
}

// MonthParts returns the month parts of the months from..to touch, in
// month order; months being rewritten are left out.
// Of the JSON fields, only those asked for are read.
func (st *Store) MonthParts(ctx context.Context, tenantID string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	proj := []string{"sk", "#v", "#n", "#d", "#ds", "#c", "#s", "#l", "#x"}
	attrNames := map[string]string{"#v": "v", "#n": "n", "#d": "day", "#ds": "days", "#c": "c", "#s": "s", "#l": "l", "#x": "x"}
	for i, f := range []struct {
		field kpi.Fields
		name  string
	}{{kpi.FieldResponses, "responses"}, {kpi.FieldTickets, "tickets"}, {kpi.FieldAccounts, "accounts"}, {kpi.FieldOrders, "orders"}} {
		if fields&f.field != 0 {
			attrNames["#b"], attrNames[fmt.Sprintf("#f%d", i)] = "b", f.name
			proj = append(proj, fmt.Sprintf("#b.#f%d", i))
		}
	}
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(monthPK(tenantID)), ":a": s(monthKey(from) + "#"), ":b": s(monthKey(to) + "#~")},
		ProjectionExpression:      aws.String(strings.Join(proj, ", ")),
		ExpressionAttributeNames:  attrNames,
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("query month parts: %w", err)
	}
	return decodeMonths(items)
}

// MonthPartsOnly returns the month parts of the months from..to touch with
// only the named counters and sets read (none: only Day and Days).
func (st *Store) MonthPartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error) {
	proj := []string{"sk", "#v", "#n", "#d", "#ds"}
	attrNames := map[string]string{"#v": "v", "#n": "n", "#d": "day", "#ds": "days"}
	if len(names) > 0 {
		attrNames["#c"], attrNames["#s"], attrNames["#x"] = "c", "s", "x"
		proj = append(proj, "#x")
		for i, name := range names {
			attrNames[fmt.Sprintf("#n%d", i)] = name
			proj = append(proj, fmt.Sprintf("#c.#n%d", i), fmt.Sprintf("#s.#n%d", i))
		}
	}
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(monthPK(tenantID)), ":a": s(monthKey(from) + "#"), ":b": s(monthKey(to) + "#~")},
		ProjectionExpression:      aws.String(strings.Join(proj, ", ")),
		ExpressionAttributeNames:  attrNames,
		ConsistentRead:            aws.Bool(true),
	}
	items, err := st.query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("query month part history: %w", err)
	}
	parts, err := decodeMonths(items)
	if err != nil || len(names) == 0 {
		return parts, err
	}
	// The overflow pieces come whole: keep the named values only.
	for i := range parts {
		for k := range parts[i].Lists {
			delete(parts[i].Lists, k)
		}
		for k := range parts[i].Sets {
			if !slices.Contains(names, k) {
				delete(parts[i].Sets, k)
			}
		}
		parts[i].Responses, parts[i].Tickets, parts[i].Accounts, parts[i].Orders = nil, nil, nil, nil
	}
	return parts, nil
}

// decodeMonths groups items by month and decodes the complete months.
func decodeMonths(items []map[string]types.AttributeValue) ([]kpi.Part, error) {
	byMonth := map[string][]map[string]types.AttributeValue{}
	for _, it := range items {
		m, _, _ := strings.Cut(str(it, "sk"), "#")
		byMonth[m] = append(byMonth[m], it)
	}
	var out []kpi.Part
	for _, m := range slices.Sorted(maps.Keys(byMonth)) {
		p, ok, err := decodeMonth(byMonth[m])
		if err != nil {
			return nil, fmt.Errorf("month part %s: %w", m, err)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// decodeMonth rebuilds a month part from its items; ok is false when they
// are not one complete version.
func decodeMonth(items []map[string]types.AttributeValue) (kpi.Part, bool, error) {
	slices.SortFunc(items, func(a, b map[string]types.AttributeValue) int { return cmp.Compare(str(a, "sk"), str(b, "sk")) })
	head := items[0]
	if !strings.HasSuffix(str(head, "sk"), "#00") {
		return kpi.Part{}, false, nil
	}
	count, _ := strconv.Atoi(num(head, "n"))
	version := num(head, "v")
	var mine []map[string]types.AttributeValue
	for _, it := range items {
		_, idx, _ := strings.Cut(str(it, "sk"), "#")
		if i, err := strconv.Atoi(idx); err == nil && i < count {
			if num(it, "v") != version {
				return kpi.Part{}, false, nil
			}
			mine = append(mine, it)
		}
	}
	if len(mine) != count {
		return kpi.Part{}, false, nil
	}
	day, err := kpi.ParseDay(str(head, "day"))
	if err != nil {
		return kpi.Part{}, false, fmt.Errorf("first day: %w", err)
	}
	p := kpi.NewPart(day)
	p.Days, _ = strconv.Atoi(num(head, "days"))
	raws := map[string][]byte{} // kind:name -> bytes, pieces in order
	extra := map[string]map[int][]byte{}
	for _, it := range mine {
		for kind, v := range it {
			m, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				continue
			}
			for name, av := range m.Value {
				switch kind {
				case "c":
					nv, ok := av.(*types.AttributeValueMemberN)
					if !ok {
						continue
					}
					f, err := strconv.ParseFloat(nv.Value, 64)
					if err != nil {
						return kpi.Part{}, false, fmt.Errorf("counter %s: %w", name, err)
					}
					p.Counters[name] = f
				case "s", "l", "b":
					if bv, ok := av.(*types.AttributeValueMemberB); ok {
						raws[kind+":"+name] = bv.Value
					}
				case "x":
					bv, ok := av.(*types.AttributeValueMemberB)
					base, idx, found := strings.Cut(name, "#")
					i, err := strconv.Atoi(idx)
					if !ok || !found || err != nil {
						continue
					}
					if extra[base] == nil {
						extra[base] = map[int][]byte{}
					}
					extra[base][i] = bv.Value
				}
			}
		}
	}
	for base, pieces := range extra {
		if _, ok := raws[base]; !ok {
			continue // a piece of a value the projection left out
		}
		whole := slices.Clone(raws[base])
		for i := 1; i <= len(pieces); i++ {
			piece, ok := pieces[i]
			if !ok {
				return kpi.Part{}, false, fmt.Errorf("%s: piece %d missing", base, i)
			}
			whole = append(whole, piece...)
		}
		raws[base] = whole
	}
	for k, raw := range raws {
		kind, name, _ := strings.Cut(k, ":")
		switch kind {
		case "s":
			b := roaring.New()
			if _, err := b.FromBuffer(raw); err != nil {
				return kpi.Part{}, false, fmt.Errorf("set %s: %w", name, err)
			}
			p.Sets[name] = b
		case "l":
			if len(raw)%8 != 0 {
				return kpi.Part{}, false, fmt.Errorf("list %s: not a float64 array", name)
			}
			l := make([]float64, len(raw)/8)
			for i := range l {
				l[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			p.Lists[name] = l
		case "b":
			var err error
			switch name {
			case "responses":
				err = json.Unmarshal(raw, &p.Responses)
			case "tickets":
				err = json.Unmarshal(raw, &p.Tickets)
			case "accounts":
				err = json.Unmarshal(raw, &p.Accounts)
			case "orders":
				err = json.Unmarshal(raw, &p.Orders)
			}
			if err != nil {
				return kpi.Part{}, false, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return p, true, nil
}
