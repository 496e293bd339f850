package dynamostore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// Month parts (kpi.BuildMonth) are stored under T#<tenant>#MONTH, in one
// group of items per kind of value, so that a query reads only the groups
// of the fields its KPIs use (kpi.Definition.FieldsOf): a DynamoDB Query
// reads, and pages through, every whole item of its key range whatever
// its projection, so a year of dau read from items that also held a
// month of answers, tickets and sets read all of them.
//
//	h#<YYYY-MM>#<nn>  the head group: the counters; item 00 also holds
//	                  day (the first day merged), days (how many), n (the
//	                  head group's items), g (the other groups' items, by
//	                  group; a group with no value has none) and sn (the
//	                  names of the sets, for MonthPartsOnly)
//	s#…, l#…          the sets, the lists
//	r#…, t#…, a#…, o#… the answers, tickets, accounts and orders (JSON)
//
// A group's values are packed into as many items as they need (pack.go:
// a month's union of sets or its answers can pass DynamoDB's 400 KB item
// limit). Every item carries v, the write's version. A write puts the
// other groups' items first, then the head group's, h#…#00 last, then
// deletes the items numbered past their group's new count. A reader keeps
// a month only when its head group and every group it reads hold the
// counts h#…#00 gives, all of h#…#00's version (items numbered past a
// count are an earlier version's leftovers, ignored): a month being
// rewritten or half-written, or a head of one write with a group of
// another, reads as not merged, and the query reads its days instead.
//
// Items of the earlier layout (every value in items <YYYY-MM>#<nn>) sort
// apart from these keys, so no read of this layout meets them: such a
// month reads as not merged (its days are read, as before month parts
// existed) until it is merged again (aggregate.Service.MergeMonths, the
// upgrade path), whose write deletes them.

func monthPK(tenantID string) string { return "T#" + tenantID + "#MONTH" }

func monthKey(m kpi.Day) string { return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Month())) }

// monthGroup is a group of a month part's items other than the head.
type monthGroup struct {
	name  string // the sk prefix, and the key in the head's g
	field kpi.Fields
}

// headGroup is the sk prefix of the head group.
const headGroup = "h"

// maxSetNameBytes bounds the set names a head lists (sn), so that the
// head stays under the item limit beside its counters; a head with sets
// and no sn names them all, as far as MonthPartsOnly knows.
const maxSetNameBytes = 32 * 1024

// monthGroups are the groups beside the head, in the order written.
var monthGroups = []monthGroup{
	{"s", kpi.FieldSets}, {"l", kpi.FieldLists},
	{"r", kpi.FieldResponses}, {"t", kpi.FieldTickets}, {"a", kpi.FieldAccounts}, {"o", kpi.FieldOrders},
}

// groupOf is the group of a packed value: counters go to the head.
func groupOf(v packedValue) string {
	switch v.kind {
	case "s", "l":
		return v.kind
	case "b":
		switch v.name {
		case "responses":
			return "r"
		case "tickets":
			return "t"
		case "accounts":
			return "a"
		case "orders":
			return "o"
		}
	}
	return headGroup
}

// monthSK is the sk of item i of a group of month m.
func monthSK(group string, m kpi.Day, i int) string {
	return packedSK(group+"#"+monthKey(m), i)
}

// monthItemKey splits an sk of this layout into its group, month key and
// item number.
func monthItemKey(sk string) (group, month string, i int, ok bool) {
	parts := strings.Split(sk, "#")
	if len(parts) != 3 {
		return "", "", 0, false
	}
	i, err := strconv.Atoi(parts[2])
	return parts[0], parts[1], i, err == nil
}

// PutMonthPart stores a month part, replacing the month's earlier one.
func (st *Store) PutMonthPart(ctx context.Context, tenantID string, p kpi.Part, computedAt time.Time) error {
	vals, err := packValues(p)
	if err != nil {
		return fmt.Errorf("month part %s: %w", p.Day, err)
	}
	byGroup := map[string][]packedValue{}
	for _, v := range vals {
		g := groupOf(v)
		byGroup[g] = append(byGroup[g], v)
	}
	itemBytes := packItemBytes
	if st.packMonthBytes > 0 {
		itemBytes = max(2048, st.packMonthBytes)
	}
	m := kpi.MonthOf(p.Day)
	version := n(strconv.FormatInt(computedAt.UnixNano(), 10))
	counts := map[string]int{}
	type keyed struct {
		sk   string
		item map[string]types.AttributeValue
	}
	var order []keyed
	for _, g := range monthGroups {
		if len(byGroup[g.name]) == 0 {
			continue
		}
		items := pack(byGroup[g.name], itemBytes)
		counts[g.name] = len(items)
		for i, it := range items {
			it["v"] = version
			order = append(order, keyed{monthSK(g.name, m, i), it})
		}
	}
	head := pack(byGroup[headGroup], itemBytes) // one item at least
	counts[headGroup] = len(head)
	for i, it := range head[1:] {
		it["v"] = version
		order = append(order, keyed{monthSK(headGroup, m, i+1), it})
	}
	h := head[0]
	h["v"], h["n"] = version, n(strconv.Itoa(len(head)))
	h["day"], h["days"] = s(p.Day.String()), n(strconv.Itoa(p.Days))
	g := map[string]types.AttributeValue{}
	for name, c := range counts {
		if name != headGroup {
			g[name] = n(strconv.Itoa(c))
		}
	}
	h["g"] = &types.AttributeValueMemberM{Value: g}
	if names := slices.Sorted(maps.Keys(p.Sets)); len(names) > 0 && len(strings.Join(names, "")) <= maxSetNameBytes {
		h["sn"] = &types.AttributeValueMemberSS{Value: names}
	}
	order = append(order, keyed{monthSK(headGroup, m, 0), h})
	// One item at a time: a batch of 25 items of 300 KB is over the 16 MB
	// a BatchWriteItem call takes.
	for _, k := range order {
		k.item["pk"], k.item["sk"] = s(monthPK(tenantID)), s(k.sk)
		if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: k.item}); err != nil {
			return fmt.Errorf("put month part %s: %w", monthKey(m), err)
		}
	}
	// The items numbered past their group's count, and the earlier
	// layout's.
	var dels []types.WriteRequest
	for _, prefix := range append([]string{headGroup + "#", ""}, groupPrefixes()...) {
		old, err := st.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :m)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(monthPK(tenantID)), ":m": s(prefix + monthKey(m) + "#")},
			ProjectionExpression:      aws.String("sk"),
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			return fmt.Errorf("put month part %s: %w", monthKey(m), err)
		}
		for _, it := range old {
			sk := str(it, "sk")
			if g, _, i, ok := monthItemKey(sk); ok && i < counts[g] {
				continue
			}
			dels = append(dels, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(monthPK(tenantID), sk)}})
		}
	}
	if err := st.batchWrite(ctx, dels); err != nil {
		return fmt.Errorf("put month part %s: %w", monthKey(m), err)
	}
	return nil
}

// PackMonthItems makes st pack month parts into items of about bytes (2 KB
// or more) rather than 300 KB: for tests, to run small months through
// groups of many items. It returns st.
func (st *Store) PackMonthItems(bytes int) *Store {
	st.packMonthBytes = bytes
	return st
}

// groupPrefixes are the sk prefixes of the groups beside the head.
func groupPrefixes() []string {
	out := make([]string, len(monthGroups))
	for i, g := range monthGroups {
		out[i] = g.name + "#"
	}
	return out
}

// MonthParts returns the month parts of the months from..to touch, in
// month order; months being rewritten are left out. Beside the counters,
// only the fields asked for are read: one Query for the head group, and
// one for each group asked for.
func (st *Store) MonthParts(ctx context.Context, tenantID string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	heads, err := st.queryGroup(ctx, tenantID, headGroup, from, to, nil)
	if err != nil {
		return nil, fmt.Errorf("query month parts: %w", err)
	}
	groups := map[string][]map[string]types.AttributeValue{}
	for _, g := range monthGroups {
		if fields&g.field == 0 {
			continue
		}
		if groups[g.name], err = st.queryGroup(ctx, tenantID, g.name, from, to, nil); err != nil {
			return nil, fmt.Errorf("query month parts: %w", err)
		}
	}
	return decodeMonths(heads, groups)
}

// MonthPartsOnly returns the month parts of the months from..to touch with
// only the named counters and sets read (none: only Day and Days). The
// sets are read only when some month has a set of one of the names.
func (st *Store) MonthPartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error) {
	headProj := []string{"#v", "#n", "#d", "#ds", "#g", "#sn"}
	headNames := map[string]string{"#v": "v", "#n": "n", "#d": "day", "#ds": "days", "#g": "g", "#sn": "sn"}
	if len(names) > 0 {
		headNames["#c"] = "c"
		for i, name := range names {
			headNames[fmt.Sprintf("#n%d", i)] = name
			headProj = append(headProj, fmt.Sprintf("#c.#n%d", i))
		}
	}
	heads, err := st.queryGroup(ctx, tenantID, headGroup, from, to, projection(headProj, headNames))
	if err != nil {
		return nil, fmt.Errorf("query month part history: %w", err)
	}
	groups := map[string][]map[string]types.AttributeValue{}
	if hasSet(heads, names) {
		proj, attrNames := []string{"#v", "#x"}, map[string]string{"#v": "v", "#s": "s", "#x": "x"}
		for i, name := range names {
			attrNames[fmt.Sprintf("#n%d", i)] = name
			proj = append(proj, fmt.Sprintf("#s.#n%d", i))
		}
		if groups["s"], err = st.queryGroup(ctx, tenantID, "s", from, to, projection(proj, attrNames)); err != nil {
			return nil, fmt.Errorf("query month part history: %w", err)
		}
	}
	parts, err := decodeMonths(heads, groups)
	if err != nil || len(names) == 0 {
		return parts, err
	}
	// The overflow pieces come whole: keep the named values only.
	onlyNamed(parts, names)
	return parts, nil
}

// hasSet reports whether a head among heads may have a set of names: it
// has sets (g) and lists one of names, or lists none (sn).
func hasSet(heads []map[string]types.AttributeValue, names []string) bool {
	for _, h := range heads {
		if g, ok := h["g"].(*types.AttributeValueMemberM); !ok || g.Value["s"] == nil {
			continue
		}
		ss, ok := h["sn"].(*types.AttributeValueMemberSS)
		if !ok {
			return len(names) > 0
		}
		for _, name := range names {
			if slices.Contains(ss.Value, name) {
				return true
			}
		}
	}
	return false
}

// queryExpr is a projection and its attribute names.
type queryExpr struct {
	proj  string
	names map[string]string
}

func projection(proj []string, names map[string]string) *queryExpr {
	return &queryExpr{proj: strings.Join(append([]string{"sk"}, proj...), ", "), names: names}
}

// queryGroup reads the items of a group of the months from..to touch,
// whole or with a projection.
func (st *Store) queryGroup(ctx context.Context, tenantID, group string, from, to kpi.Day, proj *queryExpr) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.QueryInput{
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(monthPK(tenantID)),
			":a": s(group + "#" + monthKey(from) + "#"), ":b": s(group + "#" + monthKey(to) + "#~")},
		ConsistentRead: aws.Bool(true),
	}
	if proj != nil {
		in.ProjectionExpression, in.ExpressionAttributeNames = aws.String(proj.proj), proj.names
	}
	return st.query(ctx, in)
}

// decodeMonths decodes the months of heads (the head groups' items) whose
// head group and every group of groups (the items read of each, by
// group) are complete, of one version.
func decodeMonths(heads []map[string]types.AttributeValue, groups map[string][]map[string]types.AttributeValue) ([]kpi.Part, error) {
	type month struct {
		head   []map[string]types.AttributeValue
		groups map[string][]map[string]types.AttributeValue
	}
	byMonth := map[string]*month{}
	for _, it := range heads {
		if _, m, _, ok := monthItemKey(str(it, "sk")); ok {
			if byMonth[m] == nil {
				byMonth[m] = &month{groups: map[string][]map[string]types.AttributeValue{}}
			}
			byMonth[m].head = append(byMonth[m].head, it)
		}
	}
	for g, items := range groups {
		for _, it := range items {
			if _, m, _, ok := monthItemKey(str(it, "sk")); ok && byMonth[m] != nil {
				byMonth[m].groups[g] = append(byMonth[m].groups[g], it)
			}
		}
	}
	var out []kpi.Part
	for _, m := range slices.Sorted(maps.Keys(byMonth)) {
		mo := byMonth[m]
		p, ok, err := decodeMonth(mo.head, slices.Sorted(maps.Keys(groups)), mo.groups)
		if err != nil {
			return nil, fmt.Errorf("month part %s: %w", m, err)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// decodeMonth rebuilds a month part from its head group's items and the
// items of the groups read; ok is false when they are not one complete
// version.
func decodeMonth(head []map[string]types.AttributeValue, read []string, groups map[string][]map[string]types.AttributeValue) (kpi.Part, bool, error) {
	slices.SortFunc(head, func(a, b map[string]types.AttributeValue) int { return cmp.Compare(str(a, "sk"), str(b, "sk")) })
	h := head[0]
	if _, _, i, _ := monthItemKey(str(h, "sk")); i != 0 {
		return kpi.Part{}, false, nil
	}
	version := num(h, "v")
	count, err := strconv.Atoi(num(h, "n"))
	if err != nil || version == "" {
		return kpi.Part{}, false, nil
	}
	mine, ok := versionItems(head, count, version)
	if !ok {
		return kpi.Part{}, false, nil
	}
	counts, _ := h["g"].(*types.AttributeValueMemberM)
	for _, g := range read {
		c := 0
		if counts != nil {
			if cv, ok := counts.Value[g].(*types.AttributeValueMemberN); ok {
				if c, err = strconv.Atoi(cv.Value); err != nil {
					return kpi.Part{}, false, nil
				}
			}
		}
		items, ok := versionItems(groups[g], c, version)
		if !ok {
			return kpi.Part{}, false, nil
		}
		mine = append(mine, items...)
	}
	day, err := kpi.ParseDay(str(h, "day"))
	if err != nil {
		return kpi.Part{}, false, fmt.Errorf("first day: %w", err)
	}
	p := kpi.NewPart(day)
	p.Days, _ = strconv.Atoi(num(h, "days"))
	if err := unpack(&p, mine); err != nil {
		return kpi.Part{}, false, err
	}
	return p, true, nil
}

// versionItems returns the items of a group numbered below count: ok is
// false unless there are count of them, one of each number, all of
// version.
func versionItems(items []map[string]types.AttributeValue, count int, version string) ([]map[string]types.AttributeValue, bool) {
	seen := map[int]bool{}
	var mine []map[string]types.AttributeValue
	for _, it := range items {
		_, _, i, ok := monthItemKey(str(it, "sk"))
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
