package query_test

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/query"
)

func ptr(f float64) *float64 { return &f }

// readCSV parses a CSV answer as a spreadsheet or Grafana's Infinity
// data source would, and checks what both need: UTF-8, no comment lines,
// a header row, the same number of cells on every row, and a period that
// is an ISO 8601 date.
func readCSV(t *testing.T, body string) (header []string, rows []map[string]string) {
	t.Helper()
	if !utf8.ValidString(body) {
		t.Fatalf("CSV is not UTF-8: %q", body)
	}
	if strings.HasPrefix(body, "\ufeff") {
		t.Error("CSV starts with a byte-order mark, which Infinity reads into the first column's name")
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "#") {
			t.Errorf("comment line %q", line)
		}
	}
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = 0 // every record as long as the header
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse (RFC 4180): %v\n%s", err, body)
	}
	if len(recs) == 0 {
		t.Fatal("CSV has no header row")
	}
	header = recs[0]
	if diff := cmp.Diff(header[:6], []string{"kpi", "period", "key", "value", "numerator", "denominator"}); diff != "" {
		t.Errorf("header (-got +want):\n%s", diff)
	}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range header {
			row[h] = rec[i]
		}
		if _, err := time.Parse(time.DateOnly, row["period"]); err != nil {
			t.Errorf("period %q is not an ISO 8601 date: %v", row["period"], err)
		}
		rows = append(rows, row)
	}
	return header, rows
}

func TestCSVSeries(t *testing.T) {
	a := query.Answer{KPI: "nps", From: "2026-10-01", To: "2026-10-03", Value: ptr(25), Numerator: 1, Denominator: 4,
		Details: map[string]any{"promoters": 2.0, "detractors": 1.0},
		Series: []query.Point{
			{Period: "2026-10-01", Value: ptr(50), Numerator: 1, Denominator: 2, Details: map[string]any{"promoters": 1.0, "detractors": 0.0}},
			{Period: "2026-10-02", Value: nil, Details: map[string]any{}},
			{Period: "2026-10-03", Value: ptr(-100), Numerator: -1, Denominator: 1, Details: map[string]any{"promoters": 0.0, "detractors": 1.0}},
		}}
	header, rows := readCSV(t, query.CSV(a))
	if diff := cmp.Diff(header, []string{"kpi", "period", "key", "value", "numerator", "denominator", "detractors", "promoters"}); diff != "" {
		t.Errorf("header (-got +want):\n%s", diff)
	}
	want := []map[string]string{
		{"kpi": "nps", "period": "2026-10-01", "key": "", "value": "50", "numerator": "1", "denominator": "2", "detractors": "0", "promoters": "1"},
		{"kpi": "nps", "period": "2026-10-02", "key": "", "value": "", "numerator": "0", "denominator": "0", "detractors": "", "promoters": ""},
		// A negative number is a number, not a formula: kept as it is.
		{"kpi": "nps", "period": "2026-10-03", "key": "", "value": "-100", "numerator": "-1", "denominator": "1", "detractors": "1", "promoters": "0"},
	}
	if diff := cmp.Diff(rows, want); diff != "" {
		t.Errorf("rows (-got +want):\n%s", diff)
	}
}

// TestCSVCellsFromUsers checks breakdown keys and string details, which
// come from users' traits and answers: quoted as RFC 4180 says, kept in
// UTF-8, and never run as a formula by a spreadsheet.
func TestCSVCellsFromUsers(t *testing.T) {
	keys := []struct{ in, want string }{
		{`=HYPERLINK("http://evil.example","click")`, `'=HYPERLINK("http://evil.example","click")`},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"-Inf", "'-Inf"},
		{"-5", "-5"},
		{"+1.5e3", "+1.5e3"},
		{"pro, annual", "pro, annual"},
		{`the "team" plan`, `the "team" plan`},
		{"two\nlines", "two\nlines"},
		{"日本語 ✓ Ünïcode", "日本語 ✓ Ünïcode"},
		{"a=b", "a=b"},
	}
	a := query.Answer{KPI: "dau", From: "2026-10-01", To: "2026-10-31", Value: ptr(3), Details: map[string]any{}}
	for i, k := range keys {
		a.Breakdown = append(a.Breakdown, kpi.Row{Key: k.in, Value: ptr(float64(i)), Numerator: float64(i), Denominator: 1,
			Details: map[string]any{"note": k.in}})
	}
	body := query.CSV(a)
	header, rows := readCSV(t, body)
	if len(rows) != len(keys) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(keys), body)
	}
	if !cmp.Equal(header, []string{"kpi", "period", "key", "value", "numerator", "denominator", "note"}) {
		t.Errorf("header %q", header)
	}
	for i, k := range keys {
		if got := rows[i]["key"]; got != k.want {
			t.Errorf("key %q: cell %q, want %q", k.in, got, k.want)
		}
		if got := rows[i]["note"]; got != k.want {
			t.Errorf("detail %q: cell %q, want %q", k.in, got, k.want)
		}
		if got, want := rows[i]["value"], fmt.Sprint(i); got != want {
			t.Errorf("row %d: value %q, want %q", i, got, want)
		}
		if rows[i]["period"] != "2026-10-01" {
			t.Errorf("row %d: period %q, want the range's first day", i, rows[i]["period"])
		}
	}
}

// TestCSVWholeRange: without series or breakdown, one row for the range.
func TestCSVWholeRange(t *testing.T) {
	a := query.Answer{KPI: "health_score", From: "2026-10-01", To: "2026-10-31", Value: ptr(71.5), Numerator: 143, Denominator: 2,
		Details: map[string]any{"accounts": []any{map[string]any{"account": "acme"}}, "at_risk": 1.0, "band": "watch"}}
	header, rows := readCSV(t, query.CSV(a))
	if diff := cmp.Diff(header, []string{"kpi", "period", "key", "value", "numerator", "denominator", "at_risk", "band"}); diff != "" {
		t.Errorf("header (-got +want): lists and objects are left out\n%s", diff)
	}
	want := []map[string]string{{"kpi": "health_score", "period": "2026-10-01", "key": "", "value": "71.5", "numerator": "143", "denominator": "2", "at_risk": "1", "band": "watch"}}
	if diff := cmp.Diff(rows, want); diff != "" {
		t.Errorf("rows (-got +want):\n%s", diff)
	}
}
