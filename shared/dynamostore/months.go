package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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
//	h#<YYYY-MM>              the head: the counters, day (the first day
//	                         merged), days (how many), v (the write's
//	                         version), n (the items of the head group), g
//	                         (the items of each other group, by group; a
//	                         group with no value has none) and sn (the
//	                         names of the sets, for MonthPartsOnly)
//	h#<YYYY-MM>#<v>#<nn>     the head group's further items (nn from 01),
//	                         in the rare month whose counters pass an item
//	s#<YYYY-MM>#<v>#<nn>     the sets but the account sets; k#… the
//	                         account sets (kpi.AccountSets); l#… the
//	                         lists; r#…, t#…, a#…, o#… the answers,
//	                         tickets, accounts and orders; u#… the usage
//	                         summary, n#… the spells and renewals (kpi's
//	                         summary.go)
//
// A group's values are packed into as many items as they need (pack.go:
// a month's union of sets or its answers can pass DynamoDB's 400 KB item
// limit). Every item but the head has its write's version in its key, so
// a write never overwrites an item that a head points to: it puts its
// groups' items, then the head, on condition that the stored head is of
// an earlier version, then deletes the items of earlier versions (and,
// when a later version's head is in place already, its own). The head is
// one item, so a month reads as the part of one write: its earlier part
// while a write is under way or after one was killed (as when a month
// part was one item; the days merged stay dirty until their month is,
// aggregate.Service), and never the head of one write with a group of
// another. Two nightly runs merging a month at once leave the later
// version's part. A reader keeps a month only when the head group and
// every group it reads hold the counts the head gives, all of the head's
// version, and reads it as not merged otherwise (items lost): the query
// then reads its days.
//
// A month part written before the summaries has no u or n group (its g
// gives none): it reads with no summary, and without the counters
// kpi.CounterUsage and kpi.CounterRenewals, so the query reads its days
// for the KPIs that need them (kpi.Definition.Requires). So with the
// follow-up (f) and contact (c) summaries, and kpi.CounterFollowUps and
// kpi.CounterContacts, and with the cohort summary (y) and
// kpi.CounterCohorts.
//
// A month part written before the k group keeps its account sets in s,
// and its g has no k (the g of a later write always has, 0 when the month
// has no account set): a read of the account sets without the other sets
// (kpi.FieldAccountSets) reads such a month's s group and keeps the
// account sets of it.
//
// Items of the earlier layout (every value in items <YYYY-MM>#<nn>) sort
// apart from these keys, so no read of this layout meets them: such a
// month reads as not merged (its days are read, as before month parts
// existed) until it is merged again (aggregate.Service.MergeMonths, the
// upgrade path), whose write deletes them.

// monthWrites orders the month writes of a process within an instant; it
// starts at a random point, so that two processes' writes of the same
// instant still differ.
var monthWrites = func() *atomic.Uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	var c atomic.Uint32
	c.Store(binary.BigEndian.Uint32(b[:]) >> 1)
	return &c
}()

func monthPK(tenantID string) string { return "T#" + tenantID + "#MONTH" }

func monthKey(m kpi.Day) string { return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Month())) }

// monthGroup is a group of a month part's items other than the head.
type monthGroup struct {
	name  string // the sk prefix, and the key in the head's g
	field kpi.Fields
}

// headGroup is the sk prefix of the head group; accountSetsGroup, of the
// account sets, which every head's g lists.
const (
	headGroup        = "h"
	accountSetsGroup = "k"
)

// maxSetNameBytes bounds the set names a head lists (sn), so that the
// head stays under the item limit beside its counters; a head with sets
// and no sn names them all, as far as MonthPartsOnly knows.
const maxSetNameBytes = 32 * 1024

// monthGroups are the groups beside the head, in the order written.
var monthGroups = []monthGroup{
	{"s", kpi.FieldSets}, {"k", kpi.FieldSets | kpi.FieldAccountSets}, {"l", kpi.FieldLists},
	{"r", kpi.FieldResponses}, {"t", kpi.FieldTickets}, {"a", kpi.FieldAccounts}, {"o", kpi.FieldOrders},
	{"u", kpi.FieldUsage}, {"n", kpi.FieldRenewals}, {"f", kpi.FieldFollowUps}, {"c", kpi.FieldContacts},
	{"y", kpi.FieldCohorts},
}

// groupOf is the group of a packed value: counters go to the head.
func groupOf(v packedValue) string {
	switch v.kind {
	case "s":
		if kpi.IsAccountSet(v.name) {
			return accountSetsGroup
		}
		return "s"
	case "l":
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
		case "usage":
			return "u"
		case "spells", "renewed":
			return "n"
		case "followups":
			return "f"
		case "contacts":
			return "c"
		case "cohorts":
			return "y"
		}
	}
	return headGroup
}

// monthHeadSK is the sk of the head of month m.
func monthHeadSK(m kpi.Day) string { return headGroup + "#" + monthKey(m) }

// monthSK is the sk of item i of a group of month m, of a version.
func monthSK(group string, m kpi.Day, version string, i int) string {
	return fmt.Sprintf("%s#%s#%s#%02d", group, monthKey(m), version, i)
}

// monthItem is what the sk of an item of this layout says.
type monthItem struct {
	group, month, version string
	i                     int // 0 for the head
}

// monthItemKey parses an sk of this layout.
func monthItemKey(sk string) (monthItem, bool) {
	parts := strings.Split(sk, "#")
	switch len(parts) {
	case 2:
		return monthItem{group: parts[0], month: parts[1]}, parts[0] == headGroup
	case 4:
		i, err := strconv.Atoi(parts[3])
		return monthItem{group: parts[0], month: parts[1], version: parts[2], i: i}, err == nil && i >= 0
	}
	return monthItem{}, false
}

// olderVersion reports whether version a was written before b (both
// decimal numbers without leading zeros).
func olderVersion(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// PutMonthPart stores a month part, replacing the month's earlier one
// unless a later version is stored already.
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
	// Two writes of a month in the same instant still differ, and the
	// later one of a process wins: a frozen clock (tests, a run's fixed
	// time) merges a month again after a late day as a moving one does.
	version := fmt.Sprintf("%d%010d", computedAt.UnixNano(), monthWrites.Add(1))
	type keyed struct {
		sk   string
		item map[string]types.AttributeValue
	}
	var order []keyed
	g := map[string]types.AttributeValue{accountSetsGroup: n("0")}
	for _, grp := range monthGroups {
		if len(byGroup[grp.name]) == 0 {
			continue
		}
		items := pack(byGroup[grp.name], itemBytes)
		g[grp.name] = n(strconv.Itoa(len(items)))
		for i, it := range items {
			order = append(order, keyed{monthSK(grp.name, m, version, i), it})
		}
	}
	head := pack(byGroup[headGroup], itemBytes) // one item at least
	for i, it := range head[1:] {
		order = append(order, keyed{monthSK(headGroup, m, version, i+1), it})
	}
	put := func(sk string, it map[string]types.AttributeValue, cond *string) error {
		it["pk"], it["sk"], it["v"] = s(monthPK(tenantID)), s(sk), n(version)
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: it, ConditionExpression: cond,
			ExpressionAttributeValues: condValues(cond, version)})
		return err
	}
	// One item at a time: a batch of 25 items of 300 KB is over the 16 MB
	// a BatchWriteItem call takes.
	for _, k := range order {
		if err := put(k.sk, k.item, nil); err != nil {
			return fmt.Errorf("put month part %s: %w", monthKey(m), err)
		}
	}
	h := head[0]
	h["n"], h["day"], h["days"] = n(strconv.Itoa(len(head))), s(p.Day.String()), n(strconv.Itoa(p.Days))
	h["g"] = &types.AttributeValueMemberM{Value: g}
	if names := slices.Sorted(maps.Keys(p.Sets)); len(names) > 0 && len(strings.Join(names, "")) <= maxSetNameBytes {
		h["sn"] = &types.AttributeValueMemberSS{Value: names}
	}
	superseded := false
	// v = :v: this write's own head, sent again by the SDK after an answer
	// was lost.
	if err := put(monthHeadSK(m), h, aws.String("attribute_not_exists(v) OR v <= :v")); err != nil {
		if !isConditionFailed(err) {
			return fmt.Errorf("put month part %s: %w", monthKey(m), err)
		}
		superseded = true // a later write's head is in place: drop this one
	}
	if err := st.deleteMonthItems(ctx, tenantID, m, func(it monthItem) bool {
		if superseded {
			return it.version == version
		}
		return it.version != "" && olderVersion(it.version, version)
	}); err != nil {
		return fmt.Errorf("put month part %s: %w", monthKey(m), err)
	}
	return nil
}

// condValues are the values of a condition on the version, if any.
func condValues(cond *string, version string) map[string]types.AttributeValue {
	if cond == nil {
		return nil
	}
	return map[string]types.AttributeValue{":v": n(version)}
}

// deleteMonthItems deletes the items of month m that drop says to (never
// the head), and those of the earlier layout.
func (st *Store) deleteMonthItems(ctx context.Context, tenantID string, m kpi.Day, drop func(monthItem) bool) error {
	var dels []types.WriteRequest
	for _, prefix := range append([]string{"", headGroup + "#"}, groupPrefixes()...) {
		items, err := st.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :m)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(monthPK(tenantID)), ":m": s(prefix + monthKey(m) + "#")},
			ProjectionExpression:      aws.String("sk"),
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			sk := str(it, "sk")
			if mi, ok := monthItemKey(sk); ok && !drop(mi) {
				continue
			}
			dels = append(dels, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(monthPK(tenantID), sk)}})
		}
	}
	return st.batchWrite(ctx, dels)
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
// one for each group asked for (and, for the account sets without the
// other sets, one for the s groups of the months written before k).
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
	setsForK := false
	if fields&kpi.FieldSets == 0 && fields&kpi.FieldAccountSets != 0 {
		for _, run := range setsBeforeK(heads) {
			setsForK = true
			items, err := st.queryGroup(ctx, tenantID, "s", run.From, run.To, nil)
			if err != nil {
				return nil, fmt.Errorf("query month parts: %w", err)
			}
			groups["s"] = append(groups["s"], items...)
		}
	}
	parts, err := decodeMonths(heads, groups, setsForK)
	if err != nil || !setsForK {
		return parts, err
	}
	for i := range parts {
		parts[i] = parts[i].Only(fields) // the other sets of the s groups read
	}
	return parts, nil
}

// hasGroupK reports whether head h lists the k group (was written with it).
func hasGroupK(h map[string]types.AttributeValue) bool {
	g, _ := h["g"].(*types.AttributeValueMemberM)
	return g != nil && g.Value[accountSetsGroup] != nil
}

// setsBeforeK returns the months of heads (in month order) written before
// the k group (their g has no k) that have sets, as runs of consecutive
// months, so that their s groups are read without those of the months
// between.
func setsBeforeK(heads []map[string]types.AttributeValue) []kpi.Span {
	var runs []kpi.Span
	for _, h := range heads {
		mi, isHead := monthItemKey(str(h, "sk"))
		g, _ := h["g"].(*types.AttributeValueMemberM)
		if !isHead || mi.version != "" || g == nil || hasGroupK(h) || g.Value["s"] == nil {
			continue
		}
		m, err := kpi.ParseDay(mi.month + "-01")
		if err != nil {
			continue
		}
		if n := len(runs); n > 0 && kpi.NextMonth(runs[n-1].To).Equal(m) {
			runs[n-1].To = m
			continue
		}
		runs = append(runs, kpi.Span{From: m, To: m})
	}
	return runs
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
	if slices.ContainsFunc(names, kpi.IsAccountSet) {
		proj, attrNames := []string{"#v", "#x"}, map[string]string{"#v": "v", "#s": "s", "#x": "x"}
		for i, name := range names {
			attrNames[fmt.Sprintf("#n%d", i)] = name
			proj = append(proj, fmt.Sprintf("#s.#n%d", i))
		}
		if groups[accountSetsGroup], err = st.queryGroup(ctx, tenantID, accountSetsGroup, from, to, projection(proj, attrNames)); err != nil {
			return nil, fmt.Errorf("query month part history: %w", err)
		}
	}
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
	parts, err := decodeMonths(heads, groups, false)
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
	// The head h#<YYYY-MM> sorts before its month's h#<YYYY-MM>#… items.
	in := &dynamodb.QueryInput{
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(monthPK(tenantID)),
			":a": s(group + "#" + monthKey(from)), ":b": s(group + "#" + monthKey(to) + "#~")},
		ConsistentRead: aws.Bool(true),
	}
	if proj != nil {
		in.ProjectionExpression, in.ExpressionAttributeNames = aws.String(proj.proj), proj.names
	}
	return st.query(ctx, in)
}

// decodeMonths decodes the months of heads (the head groups' items) whose
// head group and every group of groups (the items read of each, by
// group) are complete, of the head's version. setsForK says the s group
// was read only for the account sets of the months written before the k
// group: the other months do not read it.
func decodeMonths(heads []map[string]types.AttributeValue, groups map[string][]map[string]types.AttributeValue, setsForK bool) ([]kpi.Part, error) {
	type month struct {
		head  map[string]types.AttributeValue
		items map[string][]map[string]types.AttributeValue // by group, the head's further items under h
	}
	byMonth := map[string]*month{}
	at := func(m string) *month {
		if byMonth[m] == nil {
			byMonth[m] = &month{items: map[string][]map[string]types.AttributeValue{}}
		}
		return byMonth[m]
	}
	for _, it := range heads {
		mi, ok := monthItemKey(str(it, "sk"))
		switch {
		case !ok:
		case mi.version == "":
			at(mi.month).head = it
		default:
			at(mi.month).items[headGroup] = append(at(mi.month).items[headGroup], it)
		}
	}
	for g, items := range groups {
		for _, it := range items {
			if mi, ok := monthItemKey(str(it, "sk")); ok && byMonth[mi.month] != nil {
				byMonth[mi.month].items[g] = append(byMonth[mi.month].items[g], it)
			}
		}
	}
	var out []kpi.Part
	for _, m := range slices.Sorted(maps.Keys(byMonth)) {
		mo := byMonth[m]
		if mo.head == nil {
			continue
		}
		read := slices.Sorted(maps.Keys(groups))
		if setsForK && hasGroupK(mo.head) {
			read = slices.DeleteFunc(read, func(g string) bool { return g == "s" })
		}
		p, ok, err := decodeMonth(mo.head, read, mo.items)
		if err != nil {
			return nil, fmt.Errorf("month part %s: %w", m, err)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// decodeMonth rebuilds a month part from its head, and the items of its
// head group and of the groups read; ok is false when they are not
// complete, of the head's version.
func decodeMonth(h map[string]types.AttributeValue, read []string, items map[string][]map[string]types.AttributeValue) (kpi.Part, bool, error) {
	version := num(h, "v")
	count, err := strconv.Atoi(num(h, "n"))
	if err != nil || count < 1 || version == "" {
		return kpi.Part{}, false, nil
	}
	more, ok := versionItems(items[headGroup], 1, count, version)
	if !ok {
		return kpi.Part{}, false, nil
	}
	mine := append([]map[string]types.AttributeValue{h}, more...)
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
		got, ok := versionItems(items[g], 0, c, version)
		if !ok {
			return kpi.Part{}, false, nil
		}
		mine = append(mine, got...)
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

// versionItems returns a group's items of version numbered from..count-1
// (items of other versions are those of writes under way, killed or
// superseded): ok is false unless there is one of each.
func versionItems(items []map[string]types.AttributeValue, from, count int, version string) ([]map[string]types.AttributeValue, bool) {
	seen := map[int]bool{}
	var mine []map[string]types.AttributeValue
	for _, it := range items {
		mi, ok := monthItemKey(str(it, "sk"))
		if !ok || mi.version != version || mi.i < from || mi.i >= count || seen[mi.i] {
			continue
		}
		seen[mi.i] = true
		mine = append(mine, it)
	}
	return mine, len(mine) == count-from
}
