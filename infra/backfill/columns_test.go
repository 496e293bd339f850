package backfill

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestHeaders maps the headers of common exports to the generic webhooks'
// fields.
func TestHeaders(t *testing.T) {
	tests := []struct {
		name   string
		kind   Kind
		header string
		want   columns
	}{
		{"generic survey", Surveys, "id,survey_id,type,score,respondent,submitted_at,updated_at,channel,touchpoint,comment",
			columns{"id": 0, "survey_id": 1, "type": 2, "score": 3, "respondent": 4, "submitted_at": 5, "updated_at": 6, "channel": 7, "touchpoint": 8, "comment": 9}},
		{"typeform", Surveys, "#,How likely are you to recommend us?,user_id,Start Date (UTC),Submit Date (UTC),Network ID,Score",
			columns{"id": 0, "respondent": 2, "submitted_at": 4, "score": 6}},
		{"delighted", Surveys, "\ufeffResponse ID,Score,Comment,Email,Name,Created At,Updated At,Survey Type",
			columns{"id": 0, "score": 1, "comment": 2, "respondent": 3, "submitted_at": 5, "updated_at": 6, "type": 7}},
		{"generic ticket", Tickets, "id,status,channel,priority,tags,requester,account,created_at,updated_at,first_response_at,resolved_at",
			columns{"id": 0, "status": 1, "channel": 2, "priority": 3, "tags": 4, "requester": 5, "account": 6, "created_at": 7, "updated_at": 8, "first_response_at": 9, "resolved_at": 10}},
		{"zendesk", Tickets, "Summation column,Id,Requester,Requester id,Organization,Subject,Status,Priority,Via,Tags,Created at,Updated at,Solved at,First reply time in minutes",
			columns{"id": 1, "requester": 3, "account": 4, "status": 6, "priority": 7, "channel": 8, "tags": 9, "created_at": 10, "updated_at": 11, "resolved_at": 12, "first_response_minutes": 13}},
		{"freshdesk", Tickets, "Ticket ID,Subject,Status,Priority,Source,Type,Agent,Group,Created time,Due by Time,Resolved time,Closed time,Last update time,Initial response time,First response time (in hrs),Tags,Contact ID,Company Name",
			columns{"id": 0, "status": 2, "priority": 3, "channel": 4, "created_at": 8, "resolved_at": 10, "updated_at": 12, "first_response_at": 13, "first_response_hours": 14, "tags": 15, "requester": 16, "account": 17}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := strings.Split(tt.header, ",")
			if k := guessKind(header); k != tt.kind {
				t.Errorf("guessKind = %q, want %q", k, tt.kind)
			}
			got, err := mapHeader(tt.kind, header)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("columns (-got +want):\n%s", diff)
			}
		})
	}
}

// TestTicketRow turns a Zendesk row into the generic ticket webhook's
// payload: the first response from its minutes, solved with its time.
func TestTicketRow(t *testing.T) {
	header := strings.Split("Id,Requester id,Status,Via,Tags,Created at,Updated at,Solved at,First reply time in minutes", ",")
	cols, err := mapHeader(Tickets, header)
	if err != nil {
		t.Fatal(err)
	}
	row := strings.Split("42,u7,Solved,Email,a b,2026-10-01 09:00:00 +0200,2026-10-02 10:00:00 +0200,2026-10-02 10:00:00 +0200,90", ",")
	payload, _, at, created, err := cols.ticket(row)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"42","status":"solved","channel":"email","tags":["a","b"],"requester":"u7","created_at":"2026-10-01T07:00:00Z",` +
		`"updated_at":"2026-10-02T08:00:00Z","first_response_at":"2026-10-01T08:30:00Z","resolved_at":"2026-10-02T08:00:00Z"}`
	if diff := cmp.Diff(string(payload), want); diff != "" {
		t.Errorf("payload (-got +want):\n%s", diff)
	}
	if !at.Equal(time.Date(2026, 10, 2, 8, 0, 0, 0, time.UTC)) || !created.Equal(time.Date(2026, 10, 1, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("at %s, created %s", at, created)
	}
}
