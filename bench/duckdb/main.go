// Command duckdb is P1's peer: DuckDB computing, from the raw files of one
// day and a day on each side (gendata's folder), the daily parts that
// Uptake's nightly run computes for the same day, with Uptake's rules:
//
//   - a repeated messageId counts once (a retried delivery carries the
//     same message, so which copy is kept does not matter);
//   - active users: distinct userIds of the day's page, screen and track
//     calls (ticket updates from a ticket tool are not activity);
//   - sessions: per visitor (anonymousId, else userId), non-bot activity
//     cut by more than 30 minutes of inactivity, followed across midnight
//     over the three days; a session counts on the day of its first event,
//     with all its page views;
//   - survey answers: the latest (time, then messageId) of each type,
//     survey and respondent within the day, NPS by group, CSAT top two;
//   - onboarding steps: users completing each step for the first time on
//     the day (the files' history starts the day before, which Uptake's
//     state has run).
//
// It prints the measure as JSON (the same shape as bench/cmd/nightly's):
// lines read, wall time of loading and querying, peak resident memory.
//
//	go run . -data ../data -day 2026-10-02
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/uptakehq/uptake/bench/duckdb/duck"
)

func main() {
	var (
		data    = flag.String("data", "", "folder gendata wrote (required)")
		dayFlag = flag.String("day", "", "day to aggregate, YYYY-MM-DD (required)")
		tenant  = flag.String("tenant", "t", "tenant id")
		threads = flag.Int("threads", 0, "DuckDB threads (0: its default, the cores)")
		out     = flag.String("o", "", "write the JSON here instead of stdout")
	)
	flag.Parse()
	if err := run(*data, *dayFlag, *tenant, *threads, *out); err != nil {
		fmt.Fprintln(os.Stderr, "duckdb:", err)
		os.Exit(1)
	}
}

// Measure is what one side of P1 measured (bench/cmd/nightly's shape).
type Measure struct {
	Engine     string             `json:"engine"`
	Day        string             `json:"day"`
	Events     int                `json:"events"`
	Seconds    float64            `json:"seconds"`
	CPUSeconds float64            `json:"cpu_seconds"` // user and system time of the process during the run
	EventsPerS float64            `json:"events_per_s"`
	PeakRSSMB  float64            `json:"peak_rss_mb"`
	BaseRSSMB  float64            `json:"base_rss_mb"`
	Figures    map[string]float64 `json:"figures"`
}

// botPattern is kpi.IsBot's expression.
const botPattern = `(?i)bot|crawl|spider|slurp|headless|lighthouse|pingdom|phantomjs|python-requests|curl/|wget/|facebookexternalhit`

func run(data, dayFlag, tenant string, threads int, out string) error {
	files, day, err := duck.Files(data, tenant, dayFlag)
	if err != nil {
		return err
	}
	base := rssKB("VmRSS")
	ctx := context.Background()
	t0, c0 := time.Now(), cpuSeconds()
	db, conn, err := duck.Open(ctx, threads)
	if err != nil {
		return err
	}
	defer db.Close()
	defer conn.Close()
	figs, n, err := compute(ctx, conn, files, day)
	if err != nil {
		return err
	}
	elapsed, cpu := time.Since(t0), cpuSeconds()-c0
	m := Measure{Engine: "duckdb", Day: dayFlag, Events: n, Seconds: elapsed.Seconds(), CPUSeconds: cpu, EventsPerS: float64(n) / elapsed.Seconds(),
		PeakRSSMB: float64(rssKB("VmHWM")) / 1024, BaseRSSMB: float64(base) / 1024, Figures: figs}
	return duck.WriteJSON(m, out)
}

func compute(ctx context.Context, conn *sql.Conn, files []string, day time.Time) (map[string]float64, int, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	start := "TIMESTAMPTZ '" + day.Format(time.DateOnly) + " 00:00:00+00'"
	end := "TIMESTAMPTZ '" + day.AddDate(0, 0, 1).Format(time.DateOnly) + " 00:00:00+00'"
	load := `CREATE TEMP TABLE ev AS
SELECT DISTINCT ON (messageId) * FROM (
  SELECT type, messageId, coalesce(userId, '') AS userId, coalesce(anonymousId, '') AS anonymousId,
         coalesce(event, '') AS event, "timestamp" AS ts, context.userAgent AS ua,
         properties.survey_type AS survey_type, properties.survey_id AS survey_id,
         properties.score AS score, properties.step_index AS step_index
  FROM read_json([` + strings.Join(quoted, ", ") + `], format = 'newline_delimited', compression = 'gzip',
    columns = {type: 'VARCHAR', messageId: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', event: 'VARCHAR',
               "timestamp": 'TIMESTAMPTZ', context: 'STRUCT(userAgent VARCHAR)',
               properties: 'STRUCT(survey_type VARCHAR, survey_id VARCHAR, score DOUBLE, step_index DOUBLE)'}))`
	if _, err := conn.ExecContext(ctx, load); err != nil {
		return nil, 0, fmt.Errorf("load: %w", err)
	}
	figs := map[string]float64{}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM ev`).Scan(&n); err != nil {
		return nil, 0, err
	}
	inDay := "ts >= " + start + " AND ts < " + end
	activity := "(type IN ('page', 'screen') OR (type = 'track' AND event <> 'Ticket Updated'))"
	queries := []struct {
		sql   string
		names []string
	}{
		{`SELECT count(DISTINCT userId) FROM ev WHERE ` + activity + ` AND userId <> '' AND ` + inDay, []string{"dau"}},
		{`WITH act AS (
  SELECT CASE WHEN anonymousId <> '' THEN anonymousId ELSE userId END AS visitor, ts, messageId, type
  FROM ev WHERE ` + activity + ` AND NOT coalesce(ua <> '' AND regexp_matches(ua, '` + botPattern + `'), false)
    AND (anonymousId <> '' OR userId <> '')),
cut AS (
  SELECT visitor, ts, messageId, type,
         CASE WHEN ts - lag(ts) OVER w > INTERVAL 30 MINUTE OR lag(ts) OVER w IS NULL THEN 1 ELSE 0 END AS starts
  FROM act WINDOW w AS (PARTITION BY visitor ORDER BY ts, messageId)),
num AS (
  SELECT visitor, ts, type, sum(starts) OVER (PARTITION BY visitor ORDER BY ts, messageId ROWS UNBOUNDED PRECEDING) AS sid FROM cut),
sess AS (SELECT visitor, sid, min(ts) AS first, count(*) FILTER (WHERE type = 'page') AS pages FROM num GROUP BY visitor, sid)
SELECT count(*), coalesce(sum(pages), 0) FROM sess WHERE first >= ` + start + ` AND first < ` + end, []string{"sessions", "session_pages"}},
		{`SELECT count(DISTINCT CASE WHEN anonymousId <> '' THEN anonymousId ELSE userId END) FROM ev
WHERE type = 'page' AND NOT coalesce(ua <> '' AND regexp_matches(ua, '` + botPattern + `'), false) AND ` + inDay, []string{"page_visitors"}},
		{`WITH ans AS (
  SELECT lower(trim(survey_type)) AS stype, score FROM ev
  WHERE type = 'track' AND event = 'Survey Responded' AND score IS NOT NULL AND (userId <> '' OR anonymousId <> '') AND ` + inDay + `
  QUALIFY row_number() OVER (PARTITION BY lower(trim(survey_type)), coalesce(survey_id, ''), CASE WHEN userId <> '' THEN userId ELSE anonymousId END
                             ORDER BY ts DESC, messageId DESC) = 1)
SELECT count(*),
  count(*) FILTER (WHERE stype = 'nps' AND score >= 9),
  count(*) FILTER (WHERE stype = 'nps' AND score >= 7 AND score < 9),
  count(*) FILTER (WHERE stype = 'nps' AND score < 7),
  count(*) FILTER (WHERE stype = 'csat' AND score >= 4),
  count(*) FILTER (WHERE stype = 'csat' AND score < 4)
FROM ans`, []string{"survey_answers", "nps_promoters", "nps_passives", "nps_detractors", "csat_positive", "csat_other"}},
	}
	for _, q := range queries {
		vals := make([]float64, len(q.names))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := conn.QueryRowContext(ctx, q.sql).Scan(ptrs...); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", strings.Join(q.names, ", "), err)
		}
		for i, name := range q.names {
			figs[name] = vals[i]
		}
	}
	if s := figs["sessions"]; s > 0 {
		figs["pages_per_visit"] = figs["session_pages"] / s
	}
	// A user's first completion of a step: on the day, and not on the day
	// before (the data's history starts then).
	rows, err := conn.QueryContext(ctx, `WITH steps AS (
  SELECT CASE WHEN userId <> '' THEN userId ELSE anonymousId END AS who, CAST(step_index AS INTEGER) AS step, min(ts) AS first
  FROM ev WHERE type = 'track' AND event = 'Onboarding Step Completed' AND (userId <> '' OR anonymousId <> '')
    AND step_index BETWEEN 1 AND 50 AND step_index = floor(step_index) AND ts < `+end+`
  GROUP BY ALL)
SELECT step, count(*) FROM steps WHERE first >= `+start+` GROUP BY step`)
	if err != nil {
		return nil, 0, fmt.Errorf("steps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int
		var c float64
		if err := rows.Scan(&k, &c); err != nil {
			return nil, 0, err
		}
		figs["step_"+strconv.Itoa(k)] = c
	}
	return figs, n, rows.Err()
}

// rssKB reads a memory figure of /proc/self/status, in KiB.
func rssKB(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// cpuSeconds is the process's user and system time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
