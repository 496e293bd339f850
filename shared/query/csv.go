package query

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// CSV renders an answer for spreadsheets and Grafana's Infinity data
// source: a header row, then one row per series period, or one per
// breakdown row, or a single row for the whole range; scalar details
// become columns. Quoting is RFC 4180's (encoding/csv), the text UTF-8,
// with no comment lines; `period` is an ISO 8601 date. Text that comes
// from users (breakdown keys, string details) is defused against formula
// injection (see textCell).
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
		rec := []string{a.KPI, r.Period, textCell(r.key), optional(r.Value), num(r.Numerator), num(r.Denominator)}
		for _, n := range names {
			s, _ := scalar(r.Details[n])
			if _, isText := r.Details[n].(string); isText {
				s = textCell(s)
			}
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

// textCell defuses a text cell that a spreadsheet would run as a formula
// (CSV injection, OWASP): one that starts with =, +, -, @, a tab or a
// carriage return gets a leading single quote, which spreadsheets show as
// text. A plain number such as -5 or +1.5e3 is no formula and is kept.
func textCell(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) || plainNumber(s) {
		return s
	}
	return "'" + s
}

// plainNumber reports whether s is a decimal number: an optional sign,
// digits with at most one point, and an optional exponent.
func plainNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	whole, frac, _ := strings.Cut(mant, ".")
	if whole+frac == "" || !digits(whole) || !digits(frac) {
		return false
	}
	if !hasExp {
		return true
	}
	if exp != "" && (exp[0] == '+' || exp[0] == '-') {
		exp = exp[1:]
	}
	return exp != "" && digits(exp)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
