package event_test

import (
	"encoding/json"
	"testing"

	"github.com/uptakehq/uptake/shared/event"
)

// BenchmarkDecodeRecord decodes a stored raw line as the nightly run does.
func BenchmarkDecodeRecord(b *testing.B) {
	line := []byte(`{"type":"page","messageId":"msg_5f1c2a9e0b7d4c3a","userId":"usr_3b9f27c1d0e84a56","anonymousId":"anon_8c1d2e3f4a5b6c7d","timestamp":"2026-10-02T09:14:07.123Z","receivedAt":"2026-10-02T09:14:08.001Z","context":{"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15","groupId":"acct_42","page":{"path":"/app/reports","url":"https://app.acme.example/app/reports","referrer":"https://www.google.com/"}},"properties":{"path":"/app/reports","title":"Reports"}}`)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		var r event.Record
		if err := json.Unmarshal(line, &r); err != nil {
			b.Fatal(err)
		}
	}
}
