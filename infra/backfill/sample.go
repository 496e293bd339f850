package backfill

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Sample is a generated 30-day export, to try the import on and to test
// it: a gzipped Segment NDJSON file (40 users, a few anonymous visitors,
// some lines without messageId or with Segment's raw times), a survey CSV
// in Delighted's column names and a ticket CSV in Zendesk's, with what
// the KPIs must answer, computed here from the generated data, not by
// Uptake's code.
type Sample struct {
	Events, Surveys, Tickets string
	Start                    time.Time
	Days                     int
	// active[d] are the users active on day d: those with a track or page
	// event, survey answers included (a `Survey Responded` is a track).
	active []map[string]bool
	// promoters, passives and detractors of the NPS answers.
	promoters, passives, detractors int
	// firstReply are the first response times (minutes) of the tickets.
	firstReply []float64
	// ids are the messageIds the export gives (those without one aside);
	// messages counts every valid message: events, answers, tickets.
	ids      []string
	messages int
	// noID counts the events written without a messageId.
	noID int
}

// Messages is the number of messages (events, answers, tickets) of the
// sample.
func (e Sample) Messages() int { return e.messages }

func (e Sample) day(d int) string { return e.Start.AddDate(0, 0, d).Format(time.DateOnly) }

// Inputs are the sample's files.
func (e Sample) Inputs() []Input {
	return []Input{{Path: e.Events}, {Path: e.Surveys}, {Path: e.Tickets}}
}

// WriteSample writes a deterministic export of the 30 days from start
// (a UTC date) into dir, with about 24 events over the month for each
// of users users (at least 40); the same arguments write the same files.
func WriteSample(dir string, start time.Time, users int, seed uint64) (Sample, error) {
	users = max(users, 40)
	rng := rand.New(rand.NewPCG(seed, 7))
	e := Sample{Start: start.UTC().Truncate(24 * time.Hour), Days: 30}
	var failed error
	e.active = make([]map[string]bool, e.Days)
	for d := range e.active {
		e.active[d] = map[string]bool{}
	}
	var lines bytes.Buffer
	n := 0
	write := func(m map[string]any) {
		n++
		switch {
		case n%5 == 0: // no messageId: the importer makes one
			delete(m, "messageId")
			e.noID++
		case n%9 == 0: // Segment's raw times instead of timestamp
			ts, _ := time.Parse(time.RFC3339, m["timestamp"].(string))
			orig := ts.Add(-time.Second)
			delete(m, "timestamp")
			m["originalTimestamp"] = orig.Format(time.RFC3339)
			m["sentAt"] = orig.Add(2 * time.Second).Format(time.RFC3339)
			m["receivedAt"] = orig.Add(3 * time.Second).Format(time.RFC3339)
		}
		if id, ok := m["messageId"].(string); ok {
			e.ids = append(e.ids, id)
		}
		e.messages++
		b, err := json.Marshal(m)
		if err != nil {
			failed = err
		}
		lines.Write(b)
		lines.WriteByte('\n')
		if n%13 == 0 {
			lines.WriteByte('\n') // blank lines are skipped
		}
	}
	at := func(d int) string {
		sec := 3600 + rng.IntN(20*3600) // 01:00 to 21:00, away from midnight
		return e.Start.AddDate(0, 0, d).Add(time.Duration(sec) * time.Second).Format(time.RFC3339)
	}
	for u := range users {
		write(map[string]any{"type": "identify", "messageId": fmt.Sprintf("id-%d", u), "userId": fmt.Sprintf("u%03d", u),
			"timestamp": at(0), "traits": map[string]any{"plan": []string{"free", "pro"}[u%2]}})
	}
	for d := range e.Days {
		for u := range users {
			if rng.IntN(10) >= 4 {
				continue
			}
			e.active[d][fmt.Sprintf("u%03d", u)] = true
			for k := range 1 + rng.IntN(3) {
				m := map[string]any{"messageId": fmt.Sprintf("ev-%d-%d-%d", d, u, k), "userId": fmt.Sprintf("u%03d", u), "timestamp": at(d)}
				if rng.IntN(2) == 0 {
					m["type"], m["name"], m["properties"] = "page", "Docs", map[string]any{"path": "/docs"}
				} else {
					m["type"], m["event"], m["properties"] = "track", "Feature Used", map[string]any{"feature": "export"}
				}
				write(m)
			}
		}
		for v := range 3 { // visitors: no userId, so not in DAU
			write(map[string]any{"type": "page", "messageId": fmt.Sprintf("anon-%d-%d", d, v), "anonymousId": fmt.Sprintf("a-%d-%d", d, v),
				"timestamp": at(d), "properties": map[string]any{"path": "/"}})
		}
	}
	dir = filepath.Clean(dir)
	e.Events = filepath.Join(dir, "segment-export.ndjson.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(lines.Bytes())
	zw.Close()
	if failed != nil {
		return Sample{}, failed
	}
	if err := os.WriteFile(e.Events, gz.Bytes(), 0o644); err != nil {
		return Sample{}, err
	}

	// Surveys: one NPS answer per respondent, so NPS is plain counting.
	var sv bytes.Buffer
	w := csv.NewWriter(&sv)
	w.Write([]string{"Response ID", "Customer ID", "Score", "Comment", "Submit Date (UTC)", "Channel"})
	for r := range 60 {
		score := rng.IntN(11)
		switch {
		case score >= 9:
			e.promoters++
		case score >= 7:
			e.passives++
		default:
			e.detractors++
		}
		e.active[r%e.Days][fmt.Sprintf("u%03d", r)] = true
		when := e.Start.AddDate(0, 0, r%e.Days).Add(time.Duration(2*3600+r*60) * time.Second)
		w.Write([]string{fmt.Sprintf("resp-%d", r), fmt.Sprintf("u%03d", r), fmt.Sprint(score), "comment, with a comma", when.Format("2006-01-02 15:04:05"), "email"})
		e.messages++
	}
	w.Flush()
	e.Surveys = filepath.Join(dir, "delighted-responses.csv")
	if err := os.WriteFile(e.Surveys, sv.Bytes(), 0o644); err != nil {
		return Sample{}, err
	}

	// Tickets: Zendesk's export, first reply as minutes after creation.
	var tk bytes.Buffer
	w = csv.NewWriter(&tk)
	w.Write([]string{"Id", "Requester id", "Organization", "Status", "Priority", "Via", "Tags", "Created at", "Updated at", "Solved at", "First reply time in minutes"})
	for i := range 25 {
		created := e.Start.AddDate(0, 0, i).Add(9 * time.Hour)
		minutes := 5 + rng.IntN(300)
		status, solved := "open", ""
		updated := created.Add(time.Duration(minutes) * time.Minute)
		if i%3 == 0 {
			status = "Solved"
			updated = created.Add(26 * time.Hour)
			solved = updated.Format("2006-01-02 15:04:05 -0700")
		}
		reply := fmt.Sprint(minutes)
		if i%7 == 6 {
			reply = "" // not answered: no first response time
		} else {
			e.firstReply = append(e.firstReply, float64(minutes))
		}
		w.Write([]string{fmt.Sprint(1000 + i), fmt.Sprintf("u%03d", i), "acme", status, "Normal", "Email", "billing onboarding",
			created.Format("2006-01-02 15:04:05 -0700"), updated.Format("2006-01-02 15:04:05 -0700"), solved, reply})
		e.messages++
	}
	w.Flush()
	e.Tickets = filepath.Join(dir, "zendesk-tickets.csv")
	if err := os.WriteFile(e.Tickets, tk.Bytes(), 0o644); err != nil {
		return Sample{}, err
	}
	slices.Sort(e.ids)
	return e, nil
}
