package dynamostore

import (
	"context"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// A part too big for one item (every month part, the rare day part over
// the 400 KB limit) is packed into as many items as it needs:
//
//	c  counters (number values), s sets, l lists (float64 arrays) and
//	   b blobs (responses, tickets, accounts, orders, and a month part's
//	   summaries usage, spells and renewed, as JSON), each value
//	   in one item's map under its name;
//	x  the further pieces of a value too big for one item, under
//	   <kind>:<name>#<i>, concatenated with the first on reading;
//
// and every item carries v, the write's version, and n, the number of
// items. The items after the first are written first and the first (the
// head) last, then the items of an earlier, longer version are deleted; a
// reader keeps a part only when it finds the head's n items, all of the
// head's version (items numbered n or more are an older version's
// leftovers, which it ignores).

// packItemBytes is what the packer puts in one item, well under the
// 400 KB limit (names and keys take the rest).
const packItemBytes = 300 * 1024

// packedValue is one named value of a part to pack.
type packedValue struct {
	kind, name string
	num        float64
	raw        []byte
	isNum      bool
}

// packValues lists a part's values in a fixed order.
func packValues(p kpi.Part) ([]packedValue, error) {
	var out []packedValue
	for _, k := range slices.Sorted(maps.Keys(p.Counters)) {
		out = append(out, packedValue{kind: "c", name: k, num: p.Counters[k], isNum: true})
	}
	for _, k := range slices.Sorted(maps.Keys(p.Sets)) {
		raw, err := p.Sets[k].ToBytes()
		if err != nil {
			return nil, fmt.Errorf("encode set %s: %w", k, err)
		}
		out = append(out, packedValue{kind: "s", name: k, raw: raw})
	}
	for _, k := range slices.Sorted(maps.Keys(p.Lists)) {
		out = append(out, packedValue{kind: "l", name: k, raw: encodeList(p.Lists[k])})
	}
	blobs := []struct {
		name string
		v    any
		n    int
	}{{"responses", p.Responses, len(p.Responses)}, {"tickets", p.Tickets, len(p.Tickets)}, {"accounts", p.Accounts, len(p.Accounts)}, {"orders", p.Orders, len(p.Orders)},
		{"usage", p.Usage, len(p.Usage)}, {"spells", p.Spells, len(p.Spells)}, {"renewed", p.Renewed, len(p.Renewed)},
		{"followups", p.FollowUps, len(p.FollowUps)}, {"contacts", p.Contacts, contactsLen(p.Contacts)}, {"cohorts", p.Cohorts, cohortsLen(p.Cohorts)}}
	for _, b := range blobs {
		if b.n == 0 {
			continue
		}
		var raw []byte
		var err error
		if m, ok := b.v.(encoding.BinaryMarshaler); ok { // the cohort summary
			raw, err = m.MarshalBinary()
		} else {
			raw, err = json.Marshal(b.v)
		}
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", b.name, err)
		}
		out = append(out, packedValue{kind: "b", name: b.name, raw: raw})
	}
	return out, nil
}

func encodeList(l []float64) []byte {
	raw := make([]byte, 8*len(l))
	for i, v := range l {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
	}
	return raw
}

func decodeList(raw []byte) ([]float64, bool) {
	if len(raw)%8 != 0 {
		return nil, false
	}
	l := make([]float64, len(raw)/8)
	for i := range l {
		l[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return l, true
}

// pack packs values into items of at most itemBytes (2 KB or more),
// splitting a value that does not fit into pieces.
func pack(vals []packedValue, itemBytes int) []map[string]types.AttributeValue {
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
			if used+size > itemBytes {
				open()
			}
			put(v.kind, v.name, n(strconv.FormatFloat(v.num, 'g', -1, 64)))
			used += size
			continue
		}
		raw := v.raw
		for piece := 0; piece == 0 || len(raw) > 0; piece++ {
			room := itemBytes - used - len(v.name) - 16
			if room < 1024 && used > 0 {
				open()
				room = itemBytes - len(v.name) - 16
			}
			room = max(room, 1024)
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

// putItems writes a part's items under pk, items[0] (the head) at sk head
// and items[i] at <base>#<ii>: the others first, the head last. It then
// deletes the items <base>#<ii> with ii >= len(items), an earlier, longer
// version's (or, for a head at base, all of them when items is one).
func (st *Store) putItems(ctx context.Context, pk, head, base string, items []map[string]types.AttributeValue) error {
	// One item at a time: a batch of 25 items of 300 KB is over the
	// 16 MB a BatchWriteItem call takes.
	order := append(slices.Clone(items[1:]), items[0])
	for i, it := range order {
		idx := (i + 1) % len(items)
		it["pk"] = s(pk)
		if idx == 0 {
			it["sk"] = s(head)
		} else {
			it["sk"] = s(packedSK(base, idx))
		}
		if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: it}); err != nil {
			return err
		}
	}
	old, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :m)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":m": s(base + "#")},
		ProjectionExpression:      aws.String("sk"),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return err
	}
	var dels []types.WriteRequest
	for _, it := range old {
		if i, ok := packedIndex(str(it, "sk")); ok && i >= len(items) {
			dels = append(dels, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(pk, str(it, "sk"))}})
		}
	}
	return st.batchWrite(ctx, dels)
}

func packedSK(base string, i int) string { return fmt.Sprintf("%s#%02d", base, i) }

// packedIndex is the number of the item at sk <base>#<ii>.
func packedIndex(sk string) (int, bool) {
	_, idx, found := strings.Cut(sk, "#")
	i, err := strconv.Atoi(idx)
	return i, found && err == nil
}

// packedItems returns the items of head's version: ok is false unless
// items (head and the others, numbered by index) hold head's n items,
// all of head's v.
func packedItems(head map[string]types.AttributeValue, items []map[string]types.AttributeValue, index func(sk string) (int, bool)) ([]map[string]types.AttributeValue, bool) {
	count, err := strconv.Atoi(num(head, "n"))
	version := num(head, "v")
	if err != nil || count < 1 || version == "" {
		return nil, false
	}
	seen := map[int]bool{}
	var mine []map[string]types.AttributeValue
	for _, it := range items {
		i, ok := index(str(it, "sk"))
		if !ok || i >= count {
			continue
		}
		if num(it, "v") != version || seen[i] {
			return nil, false
		}
		seen[i] = true
		mine = append(mine, it)
	}
	return mine, len(mine) == count
}

// unpack reads the packed values of items, one complete version, into p.
// A value's further pieces are joined to it only when its first piece was
// read (a projection may leave it out).
func unpack(p *kpi.Part, items []map[string]types.AttributeValue) error {
	raws := map[string][]byte{} // kind:name -> bytes, pieces in order
	extra := map[string]map[int][]byte{}
	for _, it := range items {
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
						return fmt.Errorf("counter %s: %w", name, err)
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
				return fmt.Errorf("%s: piece %d missing", base, i)
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
				return fmt.Errorf("set %s: %w", name, err)
			}
			p.Sets[name] = b
		case "l":
			l, ok := decodeList(raw)
			if !ok {
				return fmt.Errorf("list %s: not a float64 array", name)
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
			case "usage":
				err = json.Unmarshal(raw, &p.Usage)
			case "spells":
				err = json.Unmarshal(raw, &p.Spells)
			case "renewed":
				err = json.Unmarshal(raw, &p.Renewed)
			case "followups":
				err = json.Unmarshal(raw, &p.FollowUps)
			case "contacts":
				err = json.Unmarshal(raw, &p.Contacts)
			case "cohorts":
				p.Cohorts = new(kpi.CohortSummary)
				err = p.Cohorts.UnmarshalBinary(raw)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

// onlyNamed keeps of parts read by a projection of named counters and sets
// (and the whole overflow pieces) the named values only.
func onlyNamed(parts []kpi.Part, names []string) {
	for i := range parts {
		clear(parts[i].Lists)
		for k := range parts[i].Sets {
			if !slices.Contains(names, k) {
				delete(parts[i].Sets, k)
			}
		}
		parts[i].Responses, parts[i].Tickets, parts[i].Accounts, parts[i].Orders = nil, nil, nil, nil
		parts[i].Usage, parts[i].Spells, parts[i].Renewed = nil, nil, nil
		parts[i].FollowUps, parts[i].Contacts, parts[i].Cohorts = nil, nil, nil
	}
}

// contactsLen is 1 for a month part's contact summary, 0 without one.
func contactsLen(c *kpi.Contacts) int {
	if c == nil {
		return 0
	}
	return 1
}

// cohortsLen is 1 for a month part's cohort summary, 0 without one.
func cohortsLen(c *kpi.CohortSummary) int {
	if c == nil {
		return 0
	}
	return 1
}
