// Command query is P2's peer: DuckDB answering KPI queries of one day by
// scanning the raw files (gendata's folder: gzip NDJSON as the ingest
// function stores them) with nothing prepared beforehand, one SQL
// statement a query, as a user with raw events in a data lake would. It
// reads the files of the day and a day on each side (late events are
// stored on the day they arrive; sessions are followed across midnight),
// and answers as Uptake's query does (kpis.md), with P1's rules (see
// bench/duckdb's main.go):
//
//   - dau: distinct userIds of the day's page, screen and track calls
//     (ticket updates are not activity), per day of the range (one day);
//   - sessions and pages_per_session: per visitor, non-bot activity cut by
//     more than 30 minutes of inactivity, counted on the day of its first
//     event, a repeated messageId once;
//   - nps and csat: the latest answer (time, then messageId) of each
//     survey and respondent within the day; NPS is %promoters (9-10) minus
//     %detractors (0-6), CSAT the share of the top two of 1-5.
//
// Each query runs -rounds times; it prints, as JSON, the lines the files
// hold (counted by dau's scan) and, per KPI, the answer (value, numerator, denominator) and the
// wall time of every round.
//
//	go run ./query -data ../data/p1-1000000-20261014 -day 2026-10-02
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/uptakehq/uptake/bench/duckdb/duck"
)

func main() {
	var (
		data    = flag.String("data", "", "folder gendata wrote (required)")
		dayFlag = flag.String("day", "", "the day queried, YYYY-MM-DD (required)")
		tenant  = flag.String("tenant", "t", "tenant id")
		kpis    = flag.String("kpis", "dau,sessions,pages_per_session,nps,csat", "KPIs to answer, comma-separated")
		rounds  = flag.Int("rounds", 1, "times each query runs")
		threads = flag.Int("threads", 0, "DuckDB threads (0: its default, the cores)")
		out     = flag.String("o", "", "write the JSON here instead of stdout")
	)
	flag.Parse()
	if err := run(*data, *dayFlag, *tenant, strings.Split(*kpis, ","), *rounds, *threads, *out); err != nil {
		fmt.Fprintln(os.Stderr, "duckdb query:", err)
		os.Exit(1)
	}
}

// Scan is what this program measured (bench/cmd/p2 reads the same shape).
type Scan struct {
	Engine string `json:"engine"`
	Day    string `json:"day"`
	Files  int    `json:"files"`
	Lines  int    `json:"lines"` // lines of the files scanned by every query
	// Threads is DuckDB's threads setting during the scans.
	Threads int               `json:"threads"`
	KPIs    map[string]Answer `json:"kpis"`
}

// Answer is one KPI's answer and the wall time of each round.
type Answer struct {
	Value       *float64  `json:"value"`
	Numerator   float64   `json:"numerator"`
	Denominator float64   `json:"denominator"`
	Seconds     []float64 `json:"seconds"`
}

// botPattern is kpi.IsBot's expression.
const botPattern = `(?i)bot|crawl|spider|slurp|headless|lighthouse|pingdom|phantomjs|python-requests|curl/|wget/|facebookexternalhit`

func run(data, dayFlag, tenant string, kpis []string, rounds, threads int, out string) error {
	files, day, err := duck.Files(data, tenant, dayFlag)
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, conn, err := duck.Open(ctx, threads)
	if err != nil {
		return err
	}
	defer db.Close()
	defer conn.Close()
	s := Scan{Engine: "duckdb", Day: dayFlag, Files: len(files), KPIs: map[string]Answer{}}
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('threads')").Scan(&s.Threads); err != nil {
		return err
	}
	qs := queries(files, day)
	if !slices.Contains(kpis, "dau") {
		// dau's scan counts the lines too; without it, one more scan.
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+source(files, "type: 'VARCHAR'")).Scan(&s.Lines); err != nil {
			return fmt.Errorf("count lines: %w", err)
		}
	}
	for _, id := range kpis {
		q, ok := qs[id]
		if !ok {
			return fmt.Errorf("no query for KPI %q", id)
		}
		var a Answer
		for range rounds {
			t0 := time.Now()
			var num, den float64
			dest := []any{&num, &den}
			if id == "dau" {
				dest = append(dest, &s.Lines)
			}
			if err := conn.QueryRowContext(ctx, q).Scan(dest...); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			a.Seconds = append(a.Seconds, time.Since(t0).Seconds())
			a.Numerator, a.Denominator = num, den
		}
		if a.Denominator != 0 {
			v := a.Numerator / a.Denominator * scale[id]
			a.Value = &v
		}
		s.KPIs[id] = a
	}
	return duck.WriteJSON(s, out)
}

// scale turns a KPI's numerator over denominator into its value.
var scale = map[string]float64{"dau": 1, "sessions": 1, "pages_per_session": 1, "nps": 100, "csat": 100}

// source is read_json over the files, with only the columns given.
func source(files []string, columns string) string {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	return "read_json([" + strings.Join(quoted, ", ") + "], format = 'newline_delimited', compression = 'gzip', columns = {" + columns + "})"
}

// queries are each KPI's statement, answering its numerator and
// denominator for the day.
func queries(files []string, day time.Time) map[string]string {
	start := "TIMESTAMPTZ '" + day.Format(time.DateOnly) + " 00:00:00+00'"
	end := "TIMESTAMPTZ '" + day.AddDate(0, 0, 1).Format(time.DateOnly) + " 00:00:00+00'"
	inDay := `"timestamp" >= ` + start + ` AND "timestamp" < ` + end
	activity := "(type IN ('page', 'screen') OR (type = 'track' AND coalesce(event, '') <> 'Ticket Updated'))"
	notBot := "NOT coalesce(context.userAgent <> '' AND regexp_matches(context.userAgent, '" + botPattern + "'), false)"
	sessions := `WITH act AS (
  SELECT DISTINCT ON (messageId) CASE WHEN coalesce(anonymousId, '') <> '' THEN anonymousId ELSE userId END AS visitor,
         "timestamp" AS ts, messageId, type
  FROM ` + source(files, `type: 'VARCHAR', messageId: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', event: 'VARCHAR', "timestamp": 'TIMESTAMPTZ', context: 'STRUCT(userAgent VARCHAR)'`) + `
  WHERE ` + activity + ` AND ` + notBot + ` AND (coalesce(anonymousId, '') <> '' OR coalesce(userId, '') <> '')),
cut AS (
  SELECT visitor, ts, messageId, type,
         CASE WHEN ts - lag(ts) OVER w > INTERVAL 30 MINUTE OR lag(ts) OVER w IS NULL THEN 1 ELSE 0 END AS starts
  FROM act WINDOW w AS (PARTITION BY visitor ORDER BY ts, messageId)),
num AS (
  SELECT visitor, ts, type, sum(starts) OVER (PARTITION BY visitor ORDER BY ts, messageId ROWS UNBOUNDED PRECEDING) AS sid FROM cut),
sess AS (SELECT visitor, sid, min(ts) AS first, count(*) FILTER (WHERE type = 'page') AS pages FROM num GROUP BY visitor, sid)
`
	survey := func(typ string) string {
		return `WITH ans AS (
  SELECT properties.score AS score FROM ` + source(files, `type: 'VARCHAR', messageId: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', event: 'VARCHAR', "timestamp": 'TIMESTAMPTZ', properties: 'STRUCT(survey_type VARCHAR, survey_id VARCHAR, score DOUBLE)'`) + `
  WHERE type = 'track' AND event = 'Survey Responded' AND lower(trim(properties.survey_type)) = '` + typ + `' AND properties.score IS NOT NULL
    AND (coalesce(userId, '') <> '' OR coalesce(anonymousId, '') <> '') AND ` + inDay + `
  QUALIFY row_number() OVER (PARTITION BY coalesce(properties.survey_id, ''), CASE WHEN coalesce(userId, '') <> '' THEN userId ELSE anonymousId END
                             ORDER BY "timestamp" DESC, messageId DESC) = 1)
`
	}
	return map[string]string{
		"dau": `SELECT count(DISTINCT userId) FILTER (WHERE ` + activity + ` AND coalesce(userId, '') <> '' AND ` + inDay + `), 1, count(*)
FROM ` + source(files, `type: 'VARCHAR', userId: 'VARCHAR', event: 'VARCHAR', "timestamp": 'TIMESTAMPTZ'`),
		"sessions":          sessions + `SELECT count(*), 1 FROM sess WHERE first >= ` + start + ` AND first < ` + end,
		"pages_per_session": sessions + `SELECT coalesce(sum(pages), 0), count(*) FROM sess WHERE first >= ` + start + ` AND first < ` + end,
		"nps":               survey("nps") + `SELECT count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score < 7), count(*) FROM ans`,
		"csat": survey("csat") + `SELECT count(*) FILTER (WHERE score >= 4 AND score <= 5 AND score = floor(score)),
  count(*) FILTER (WHERE score >= 1 AND score <= 5 AND score = floor(score)) FROM ans`,
	}
}
