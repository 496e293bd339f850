package backfill

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/webhook"
)

// A field of the generic survey or ticket webhook and the CSV headers
// that fill it, matched case-insensitively with spaces, underscores and
// hyphens alike: the webhook's own name (first, unless the list places
// it), then the common exports' (Typeform, Delighted, Zendesk, Freshdesk).
// The first header of the list found wins.
type field struct {
	name     string
	headers  []string
	required bool
}

var surveyFields = []field{
	{"id", []string{"id", "response id", "response", "#", "token", "network id"}, true},
	{"survey_id", []string{"survey id", "survey", "form id", "form"}, false},
	{"type", []string{"type", "survey type", "question type"}, false},
	{"score", []string{"score", "rating", "nps score", "nps", "csat score", "ces score", "value"}, true},
	{"respondent", []string{"respondent", "user id", "userid", "respondent id", "customer id", "person id", "person", "external id", "email", "respondent email", "customer email"}, true},
	{"submitted_at", []string{"submitted at", "submit date (utc)", "submit date", "response date", "response timestamp", "created at", "created", "date", "timestamp"}, true},
	{"updated_at", []string{"updated at", "updated", "last updated"}, false},
	{"channel", []string{"channel", "source"}, false},
	{"touchpoint", []string{"touchpoint", "touch point", "trigger"}, false},
	{"comment", []string{"comment", "comments", "feedback", "reason", "open text"}, false},
}

var ticketFields = []field{
	{"id", []string{"id", "ticket id", "ticket", "ticket number", "conversation id"}, true},
	{"status", []string{"status", "ticket status", "state"}, true},
	{"channel", []string{"channel", "via", "source", "ticket source"}, false},
	{"priority", []string{"priority"}, false},
	{"tags", []string{"tags", "tag", "labels"}, false},
	{"requester", []string{"requester id", "requester external id", "user id", "contact id", "customer id", "requester", "requester email", "email", "contact email"}, false},
	{"account", []string{"account", "account id", "organization", "organization id", "organization name", "company", "company id", "company name", "group id"}, false},
	{"created_at", []string{"created at", "created time", "created", "created on", "opened at", "date created"}, true},
	{"updated_at", []string{"updated at", "last update time", "updated time", "last updated", "updated", "updated on", "last modified"}, false},
	{"first_response_at", []string{"first response at", "first responded at", "first reply at", "initial response time", "first response date"}, false},
	{"first_response_minutes", []string{"first reply time in minutes", "first response time in minutes", "first reply time (minutes)", "first response time (minutes)", "first reply time in minutes within business hours"}, false},
	{"first_response_hours", []string{"first response time (in hrs)", "first response time in hours", "first response time (hours)", "first response time (hrs)"}, false},
	{"resolved_at", []string{"resolved at", "solved at", "resolved time", "resolution time", "closed at", "closed time", "resolved on", "date resolved"}, false},
}

// normHeader folds a header for matching: lower case, a byte-order mark
// dropped, runs of spaces, underscores and hyphens made one space.
func normHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		if r == '_' || r == '-' || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// columns maps the webhook's field names to column indexes.
type columns map[string]int

func (c columns) get(row []string, name string) string {
	i, ok := c[name]
	if !ok || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

func fieldsOf(k Kind) []field {
	if k == Surveys {
		return surveyFields
	}
	return ticketFields
}

// mapHeader finds each field's column, or says which required fields no
// header names.
func mapHeader(k Kind, header []string) (columns, error) {
	idx := map[string]int{}
	for i, h := range header {
		if _, dup := idx[normHeader(h)]; !dup {
			idx[normHeader(h)] = i
		}
	}
	cols := columns{}
	var missing []string
	for _, f := range fieldsOf(k) {
		names := f.headers
		if !slices.Contains(names, normHeader(f.name)) {
			names = append([]string{f.name}, names...)
		}
		for _, h := range names {
			if i, ok := idx[normHeader(h)]; ok {
				cols[f.name] = i
				break
			}
		}
		if _, ok := cols[f.name]; !ok && f.required {
			missing = append(missing, fmt.Sprintf("%s (a column named %s)", f.name, strings.Join(quoteAll(f.headers), ", ")))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s export: no column for %s; the header is %q", strings.TrimSuffix(string(k), "s"), strings.Join(missing, "; "), header)
	}
	return cols, nil
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return q
}

// guessKind tells a survey export (it has a score) from a ticket export
// (it has a status), or "".
func guessKind(header []string) Kind {
	has := func(fs []field, name string) bool {
		i := slices.IndexFunc(fs, func(f field) bool { return f.name == name })
		for _, h := range header {
			n := normHeader(h)
			if n == fs[i].name || slices.Contains(fs[i].headers, n) {
				return true
			}
		}
		return false
	}
	score, status := has(surveyFields, "score"), has(ticketFields, "status")
	switch {
	case score && !status:
		return Surveys
	case status && !score:
		return Tickets
	}
	return ""
}

// parseTime reads the date-times of exports: ISO 8601 (a time without a
// zone is UTC), "2006-01-02 15:04:05" with or without a zone offset, a
// date alone (midnight UTC), or unix seconds.
func parseTime(s string) (time.Time, error) {
	if t, err := event.ParseTime(s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 -07:00", "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n > 1e11 { // milliseconds
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time (ISO 8601, 2006-01-02 15:04:05 or unix seconds)", s)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// survey turns a survey export's row into the generic survey webhook's
// payload and the message that webhook makes of it.
func (c columns) survey(row []string, o *Options) (payload, msg []byte, at time.Time, err error) {
	sv := webhook.Survey{
		ID: c.get(row, "id"), SurveyID: c.get(row, "survey_id"), Type: strings.ToLower(c.get(row, "type")),
		Respondent: c.get(row, "respondent"), Channel: c.get(row, "channel"), Touchpoint: c.get(row, "touchpoint"),
		Comment: c.get(row, "comment"),
	}
	if sv.SurveyID == "" {
		sv.SurveyID = o.SurveyID
	}
	if sv.Type == "" {
		sv.Type = o.SurveyType
	}
	for name, v := range map[string]string{"id": sv.ID, "respondent": sv.Respondent} {
		if v == "" {
			return nil, nil, time.Time{}, fmt.Errorf("%s is empty", name)
		}
	}
	score := c.get(row, "score")
	if score == "" {
		return nil, nil, time.Time{}, errors.New("score is empty")
	}
	if f, perr := strconv.ParseFloat(score, 64); perr == nil {
		sv.Score = json.RawMessage(strconv.FormatFloat(f, 'f', -1, 64))
	} else {
		return nil, nil, time.Time{}, fmt.Errorf("score %q is not a number", score)
	}
	submitted, err := parseTime(c.get(row, "submitted_at"))
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("submitted_at: %w", err)
	}
	sv.SubmittedAt, at = rfc3339(submitted), submitted
	if u := c.get(row, "updated_at"); u != "" {
		updated, err := parseTime(u)
		if err != nil {
			return nil, nil, time.Time{}, fmt.Errorf("updated_at: %w", err)
		}
		sv.UpdatedAt, at = rfc3339(updated), updated
	}
	if payload, err = json.Marshal(sv); err != nil {
		return nil, nil, time.Time{}, err
	}
	msg, err = webhook.SurveyMessage(payload)
	return payload, msg, at, err
}

// ticketStatuses maps the help desks' status names to the generic
// webhook's.
var ticketStatuses = map[string]string{
	"new": "new", "open": "open", "pending": "pending", "hold": "hold", "on hold": "hold",
	"solved": "solved", "resolved": "solved", "closed": "closed",
	"waiting on customer": "pending", "waiting on third party": "pending", "active": "open", "snoozed": "pending",
}

// ticket turns a ticket export's row (a ticket's latest state) into the
// generic ticket webhook's payload and the message that webhook makes of
// it. With no update time, the ticket's latest known time stands for it.
func (c columns) ticket(row []string) (payload, msg []byte, at, created time.Time, err error) {
	tk := webhook.Ticket{
		ID: c.get(row, "id"), Channel: strings.ToLower(c.get(row, "channel")), Priority: strings.ToLower(c.get(row, "priority")),
		Requester: c.get(row, "requester"), Account: c.get(row, "account"),
	}
	if tk.ID == "" {
		return nil, nil, time.Time{}, time.Time{}, errors.New("id is empty")
	}
	status := normHeader(c.get(row, "status"))
	var ok bool
	if tk.Status, ok = ticketStatuses[status]; !ok {
		return nil, nil, time.Time{}, time.Time{}, fmt.Errorf("status %q is not one of new, open, pending, hold, solved (resolved), closed", c.get(row, "status"))
	}
	tk.Tags = strings.FieldsFunc(c.get(row, "tags"), func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	timeOf := func(name string, required bool) (*time.Time, error) {
		v := c.get(row, name)
		if v == "" {
			if required {
				return nil, fmt.Errorf("%s is empty", name)
			}
			return nil, nil
		}
		t, err := parseTime(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &t, nil
	}
	createdAt, err := timeOf("created_at", true)
	if err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	first, err := timeOf("first_response_at", false)
	if err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	for name, unit := range map[string]time.Duration{"first_response_minutes": time.Minute, "first_response_hours": time.Hour} {
		if v := c.get(row, name); first == nil && v != "" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n < 0 {
				return nil, nil, time.Time{}, time.Time{}, fmt.Errorf("%s %q is not a number of %s", name, v, strings.TrimPrefix(name, "first_response_"))
			}
			t := createdAt.Add(time.Duration(n * float64(unit)))
			first = &t
		}
	}
	resolved, err := timeOf("resolved_at", false)
	if err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	updated, err := timeOf("updated_at", false)
	if err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	if updated == nil {
		updated = createdAt
		for _, t := range []*time.Time{first, resolved} {
			if t != nil && t.After(*updated) {
				updated = t
			}
		}
	}
	tk.CreatedAt, tk.UpdatedAt = rfc3339(*createdAt), rfc3339(*updated)
	if first != nil {
		s := rfc3339(*first)
		tk.FirstResponseAt = &s
	}
	if resolved != nil {
		s := rfc3339(*resolved)
		tk.ResolvedAt = &s
	}
	if payload, err = json.Marshal(tk); err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	msg, err = webhook.TicketMessage(payload)
	return payload, msg, *updated, *createdAt, err
}
