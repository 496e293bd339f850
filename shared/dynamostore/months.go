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

// Month parts (kpi.BuildMonth) are stored under T#<tenant>#MONTH, one or
// more items per month: sk <YYYY-MM>#<nn>, nn = 00, 01, … A month's union
// of sets, its keyed counters and its answers and tickets can pass
// DynamoDB's 400 KB item limit, so its values are packed into as many
// items as they need (pack.go), item 00 the head. Item 00 also holds day
// (the first day merged) and days (how many). A reader that meets items
// of two versions, or fewer than n, leaves the month out, and the query
// reads its days instead (a month being rewritten reads like a month not
// merged yet). Counters and sets are kept in maps by name so that
// MonthPartsOnly reads the few a history needs by projection, as
// PartsOnly does.

func monthPK(tenantID string) string { return "T#" + tenantID + "#MONTH" }

func monthKey(m kpi.Day) string { return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Month())) }

// PutMonthPart stores a month part, replacing the month's earlier one.
func (st *Store) PutMonthPart(ctx context.Context, tenantID string, p kpi.Part, computedAt time.Time) error {
	vals, err := packValues(p)
	if err != nil {
		return fmt.Errorf("month part %s: %w", p.Day, err)
	}
	items := pack(vals, packItemBytes)
	m := kpi.MonthOf(p.Day)
	version := n(strconv.FormatInt(computedAt.UnixNano(), 10))
	count := n(strconv.Itoa(len(items)))
	for _, it := range items {
		it["v"], it["n"] = version, count
	}
	items[0]["day"] = s(p.Day.String())
	items[0]["days"] = n(strconv.Itoa(p.Days))
	if err := st.putItems(ctx, monthPK(tenantID), packedSK(monthKey(m), 0), monthKey(m), items); err != nil {
		return fmt.Errorf("put month part %s: %w", monthKey(m), err)
	}
	return nil
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
	onlyNamed(parts, names)
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
	mine, ok := packedItems(head, items, packedIndex)
	if !ok {
		return kpi.Part{}, false, nil
	}
	day, err := kpi.ParseDay(str(head, "day"))
	if err != nil {
		return kpi.Part{}, false, fmt.Errorf("first day: %w", err)
	}
	p := kpi.NewPart(day)
	p.Days, _ = strconv.Atoi(num(head, "days"))
	if err := unpack(&p, mine); err != nil {
		return kpi.Part{}, false, err
	}
	return p, true, nil
}
