package backfill

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/event"
)

// FuzzPrepareEvent checks that whatever a line holds, prepareEvent either
// rejects it or returns a message the API accepts, with a messageId and
// its own timestamp, the same on every call.
func FuzzPrepareEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"track","event":"x","userId":"u1","messageId":"m1","timestamp":"2026-10-01T10:00:00Z"}`,
		`{"type":"page","anonymousId":"a1","originalTimestamp":"2026-10-01T10:00:00Z","sentAt":"2026-10-01T10:00:02Z","receivedAt":"2026-10-01T10:00:03Z"}`,
		`{"type":"identify","userId":1,"receivedAt":"2026-10-01T10:00:00Z"}`,
		`{"type":"track","event":"Survey Responded","userId":"u","timestamp":"2026-10-01T10:00:00Z","properties":{"survey_type":"nps","score":"9"}}`,
		`[1]`, `{"timestamp":null}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, at, _, err := prepareEvent(raw, "f.ndjson", 7, now)
		if err != nil {
			return
		}
		p, err := event.Parse(msg, event.Arrival{ReceivedAt: now})
		if err != nil {
			t.Fatalf("accepted %q, the API rejects %q: %v", raw, msg, err)
		}
		if !p.Record.Timestamp.Equal(at) || p.Record.MessageID == "" || len(msg) > event.MaxMessageBytes {
			t.Fatalf("%q: message %q, time %s", raw, msg, at)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(msg, &m) != nil || m["timestamp"] == nil {
			t.Fatalf("%q: message %q has no timestamp of its own", raw, msg)
		}
		again, _, _, _ := prepareEvent(raw, "f.ndjson", 7, now)
		if string(again) != string(msg) {
			t.Fatalf("%q: not deterministic: %q then %q", raw, msg, again)
		}
	})
}
