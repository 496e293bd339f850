package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/event"
)

var now = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func TestParseTimestamps(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		sentAt time.Time
		want   time.Time
	}{
		{"timestamp wins", `{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"2026-09-30T08:00:00+02:00","originalTimestamp":"2026-01-01T00:00:00Z"}`, time.Time{}, time.Date(2026, 9, 30, 6, 0, 0, 0, time.UTC)},
		{"no time: received", `{"type":"track","event":"E","userId":"u","messageId":"m"}`, time.Time{}, now},
		{"original without sentAt", `{"type":"track","event":"E","userId":"u","messageId":"m","originalTimestamp":"2026-09-01T00:00:00Z"}`, time.Time{}, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)},
		{"original corrected for clock skew", `{"type":"track","event":"E","userId":"u","messageId":"m","originalTimestamp":"2026-10-01T10:00:00Z"}`, time.Date(2026, 10, 1, 10, 0, 5, 0, time.UTC), now.Add(-5 * time.Second)},
		{"message sentAt beats batch sentAt", `{"type":"track","event":"E","userId":"u","messageId":"m","originalTimestamp":"2026-10-01T10:00:00Z","sentAt":"2026-10-01T10:01:00Z"}`, time.Date(2026, 10, 1, 10, 0, 5, 0, time.UTC), now.Add(-time.Minute)},
		{"fractional seconds", `{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"2026-09-30T08:00:00.123Z"}`, time.Time{}, time.Date(2026, 9, 30, 8, 0, 0, 123e6, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := event.Parse([]byte(tc.msg), event.Arrival{ReceivedAt: now, SentAt: tc.sentAt})
			if err != nil {
				t.Fatal(err)
			}
			if !p.Record.Timestamp.Equal(tc.want) {
				t.Errorf("timestamp = %s, want %s", p.Record.Timestamp, tc.want)
			}
			var line map[string]any
			if err := json.Unmarshal(p.Line, &line); err != nil {
				t.Fatal(err)
			}
			if line["timestamp"] != tc.want.Format(time.RFC3339Nano) || line["receivedAt"] != now.Format(time.RFC3339Nano) || line["type"] != "track" {
				t.Errorf("stored line %s lacks the resolved timestamp, receivedAt or type", p.Line)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ msg, route, reason string }{
		{`[]`, "", "JSON object"},
		{`{"type":"track","event":"E","userId":"u"}`, "", "messageId"},
		{`{"type":"track","event":"E","messageId":"m"}`, "", "userId or anonymousId"},
		{`{"type":"track","userId":"u","messageId":"m"}`, "", "event is required"},
		{`{"type":"teleport","userId":"u","messageId":"m"}`, "", "not one of"},
		{`{"userId":"u","messageId":"m"}`, "", "type is required"},
		{`{"type":"page","userId":"u","messageId":"m"}`, "track", "does not match"},
		{`{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"yesterday"}`, "", "ISO 8601"},
		{`{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"1999-12-31T23:59:59Z"}`, "", "before 2000"},
		{`{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"2026-10-02T12:00:01Z"}`, "", "future"},
		{`{"type":"track","event":"E","userId":"u","messageId":"m","properties":[1]}`, "", "properties must be an object"},
		{`{"type":"track","event":"E","userId":true,"messageId":"m"}`, "", "userId must be a string"},
		{`{"type":"track","event":"Survey Responded","userId":"u","messageId":"m","properties":{"survey_type":"nps","score":7.5}}`, "", "whole number"},
		{`{"type":"track","event":"Survey Responded","userId":"u","messageId":"m","properties":{"survey_type":"mood","score":1}}`, "", "survey_type"},
		{`{"type":"track","event":"Survey Responded","userId":"u","messageId":"m","properties":{"survey_type":"nps"}}`, "", "score"},
	}
	for _, tc := range tests {
		_, err := event.Parse([]byte(tc.msg), event.Arrival{RouteType: tc.route, ReceivedAt: now})
		if !event.IsInvalid(err) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("Parse(%s) = %v, want a rejection mentioning %q", tc.msg, err, tc.reason)
		}
	}
	// A numeric userId is kept as text, as Segment libraries send it.
	p, err := event.Parse([]byte(`{"type":"identify","userId":42,"messageId":"m"}`), event.Arrival{ReceivedAt: now})
	if err != nil || p.Record.UserID != "42" || !strings.Contains(string(p.Line), `"userId":"42"`) {
		t.Errorf("numeric userId: %v %s", err, p.Line)
	}
	// A future timestamp within 24 hours is accepted.
	if _, err := event.Parse([]byte(`{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"2026-10-02T11:59:59Z"}`), event.Arrival{ReceivedAt: now}); err != nil {
		t.Errorf("timestamp 24 h ahead: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"2026-09-30T08:00:00Z","properties":{"survey_type":"nps","score":9}}`), "")
	f.Add([]byte(`{"userId":1,"messageId":"m","originalTimestamp":"2026-10-01T10:00:00Z","sentAt":"2026-10-01T10:00:00Z"}`), "page")
	f.Fuzz(func(t *testing.T, msg []byte, route string) {
		// Routes are "" (batch) or a message type.
		route = []string{"", "track", "identify", "page", "screen", "group", "alias"}[len(route)%7]
		p, err := event.Parse(msg, event.Arrival{RouteType: route, ReceivedAt: now})
		if err != nil {
			if !event.IsInvalid(err) {
				t.Fatalf("Parse failed without a reason: %v", err)
			}
			return
		}
		// What is kept parses again to the same record.
		again, err := event.Parse(p.Line, event.Arrival{RouteType: route, ReceivedAt: now})
		if err != nil {
			t.Fatalf("stored line %s does not parse again: %v", p.Line, err)
		}
		if !again.Record.Timestamp.Equal(p.Record.Timestamp) || again.Record.MessageID != p.Record.MessageID || again.Record.User() != p.Record.User() {
			t.Fatalf("stored line changed meaning: %+v vs %+v", again.Record, p.Record)
		}
	})
}
