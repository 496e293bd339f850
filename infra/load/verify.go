package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/shared/ingest"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

// Verification compares the ledger with what the stack counts and keeps.
type Verification struct {
	// Days are each day's figures: what the KPIs count (less what they
	// counted before the run) and what the ledger says.
	Days []DayCheck
	// Acknowledged is the number of distinct messageIds acknowledged;
	// Deliveries, of acknowledged deliveries, resends included.
	Acknowledged, Deliveries int
	// Stored is the number of the run's distinct messageIds in the raw
	// store; StoredLines, of its lines there (a resent message is kept
	// again, and the aggregation de-duplicates it).
	Stored, StoredLines int
	// Problems are the differences; none means exactly once.
	Problems []string
}

// DayCheck is one day's figures.
type DayCheck struct {
	Day         kpi.Day
	KPI, Ledger Counts
}

// OK reports whether the check found no difference.
func (v Verification) OK() bool { return len(v.Problems) == 0 }

// maxListed is how many ids a problem quotes.
const maxListed = 5

// verify compares, day by day, the KPIs' figures after the run less
// those before it with the ledger's, and the run's messageIds in the raw
// store with the ledger's.
func verify(l *Ledger, days []kpi.Day, o observation) Verification {
	v := Verification{Acknowledged: l.Messages(), Deliveries: l.Deliveries(), Stored: len(o.stored)}
	for _, n := range o.stored {
		v.StoredLines += n
	}
	if len(o.incomplete) > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("after the aggregation, %s still answer complete = false", strings.Join(o.incomplete, ", ")))
	}
	want := l.expect(o.rules)
	for _, d := range days {
		dc := DayCheck{Day: d, KPI: o.after[d].minus(o.before[d]), Ledger: want[d]}
		got, exp := dc.KPI.fields(), dc.Ledger.fields()
		for i := range got {
			if got[i].value != exp[i].value {
				v.Problems = append(v.Problems, fmt.Sprintf("%s %s: the KPI counts %s, the ledger %s", d, got[i].name, count(got[i].value), count(exp[i].value)))
			}
		}
		v.Days = append(v.Days, dc)
		delete(want, d)
	}
	for _, d := range sortedDays(want) {
		v.Problems = append(v.Problems, fmt.Sprintf("%s: the ledger has messages on this day, outside the days under load", d))
	}
	ids := l.ids()
	var missing, extra []string
	for id := range ids {
		if o.stored[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id := range o.stored {
		if !ids[id] {
			extra = append(extra, id)
		}
	}
	if len(missing) > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("raw store: %d acknowledged messageIds are not stored: %s", len(missing), sample(missing)))
	}
	if len(extra) > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("raw store: %d stored messageIds were never acknowledged: %s", len(extra), sample(extra)))
	}
	return v
}

func count(x float64) string {
	if math.IsNaN(x) {
		return "nothing"
	}
	return fmt.Sprint(x)
}

func sample(ids []string) string {
	slices.Sort(ids)
	if len(ids) > maxListed {
		return strings.Join(ids[:maxListed], ", ") + ", …"
	}
	return strings.Join(ids, ", ")
}

// storedIDs reads the raw store's files of the UTC days that from..to
// covers and counts the lines of each of the run's messageIds.
func storedIDs(ctx context.Context, t Target, run string, from, to time.Time) (map[string]int, error) {
	st := rawstore.New(localstack.NewS3Client(t.S3Endpoint), t.Bucket)
	out := map[string]int{}
	for _, d := range kpi.Days(kpi.DayOf(from, time.UTC), kpi.DayOf(to, time.UTC)) {
		keys, err := st.Keys(ctx, ingest.RawKind, t.Tenant, d)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			err := st.Lines(ctx, k, func(line []byte) error {
				var m struct {
					MessageID string `json:"messageId"`
				}
				if err := json.Unmarshal(line, &m); err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
				if strings.Contains(m.MessageID, run+"-") { // every id of the run has "<run>-"
					out[m.MessageID]++
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Write prints the run's report: the conditions, each route's figures,
// and the exactly-once check day by day.
func (r *Result) Write(w io.Writer) {
	o := r.Options
	fmt.Fprintf(w, "\nUptake load run %s against %s\n", r.Run, r.Target)
	fmt.Fprintf(w, "  %s at %g requests/s, open loop (latency from the scheduled start), %d workers, seed %d\n", o.Duration, o.Rate, o.Workers, o.Seed)
	fmt.Fprintf(w, "  event times over %s..%s (%s); %d requests scheduled in %s; worst start lag %s\n\n",
		r.Days[0], r.Days[len(r.Days)-1], r.Zone, r.Scheduled, r.Elapsed.Round(time.Millisecond), r.MaxStartLag.Round(time.Millisecond))
	writeRoutes(w, r.Routes, r.All)
	c := r.Check
	fmt.Fprintf(w, "\nacknowledged: %d distinct messages in %d deliveries (%d resent or redelivered)\n", c.Acknowledged, c.Deliveries, c.Deliveries-c.Acknowledged)
	fmt.Fprintf(w, "raw store:    %d distinct messageIds of the run in %d lines\n", c.Stored, c.StoredLines)
	fmt.Fprintf(w, "aggregation of %d days after the run: %s\n\n", len(r.Days), r.Aggregation.Round(time.Millisecond))
	const row = "%-11s %-9s %8s %9s %9s %9s %10s %9s %9s %8s\n"
	fmt.Fprintf(w, row, "day", "", "dau", "sessions", "promoter", "passive", "detractor", "csat n", "csat pos", "tickets")
	for _, d := range c.Days {
		for i, side := range []Counts{d.KPI, d.Ledger} {
			f := side.fields()
			label, day := "KPI", d.Day.String()
			if i == 1 {
				label, day = "ledger", ""
			}
			fmt.Fprintf(w, row, day, label, count(f[0].value), count(f[1].value), count(f[2].value), count(f[3].value), count(f[4].value),
				count(f[5].value), count(f[6].value), count(f[7].value))
		}
	}
	if c.OK() {
		fmt.Fprintf(w, "\nexactly once: OK: every acknowledged message is stored and counted once, every checked KPI equals the ledger\n")
	} else {
		fmt.Fprintf(w, "\nexactly once: FAILED (%d differences)\n", len(c.Problems))
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if n := r.All.Errors(); n > 0 {
		fmt.Fprintf(w, "traffic: %d errors (4xx, wrong answers or requests given up): FAILED\n", n)
	} else {
		fmt.Fprintf(w, "traffic: no errors (%d retried after a 5xx or a broken connection)\n", r.All.Retries)
	}
}
