package query

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// CSV renders an answer for spreadsheets: one row per series period, or a
// single row for the whole range; scalar details become columns.
func CSV(a Answer) string {
	type row struct {
		Point
		key string
	}
	var rows []row
	for _, p := range a.Series {
		rows = append(rows, row{Point: p})
	}
	for _, b := range a.Breakdown {
		if len(a.Series) == 0 {
			rows = append(rows, row{Point: Point{Period: a.From, Value: b.Value, Numerator: b.Numerator, Denominator: b.Denominator, Details: b.Details}, key: b.Key})
		}
	}
	if len(rows) == 0 {
		rows = []row{{Point: Point{Period: a.From, Value: a.Value, Numerator: a.Numerator, Denominator: a.Denominator, Details: a.Details}}}
	}
	cols := map[string]bool{}
	for _, r := range rows {
		for k, v := range r.Details {
			if _, ok := scalar(v); ok {
				cols[k] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(cols))
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(append([]string{"kpi", "period", "key", "value", "numerator", "denominator"}, names...))
	for _, r := range rows {
		rec := []string{a.KPI, r.Period, r.key, optional(r.Value), num(r.Numerator), num(r.Denominator)}
		for _, n := range names {
			s, _ := scalar(r.Details[n])
			rec = append(rec, s)
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.String()
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func optional(f *float64) string {
	if f == nil {
		return ""
	}
	return num(*f)
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case float64:
		return num(x), true
	case *float64:
		return optional(x), true
	case int:
		return strconv.Itoa(x), true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	}
	return fmt.Sprint(v), false
}
