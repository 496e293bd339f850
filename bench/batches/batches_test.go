package batches_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/uptakehq/uptake/bench/batches"
	"github.com/uptakehq/uptake/shared/event"
)

// TestBatchShape checks what the benchmarks rely on: every message is
// valid, ids are unique across generators, the mix and the sizes are the
// documented ones.
func TestBatchShape(t *testing.T) {
	now := time.Date(2026, 10, 14, 12, 0, 0, 0, time.UTC)
	ids := map[string]bool{}
	types := map[string]int{}
	size, n := 0, 0
	for seed := range uint64(3) {
		g := batches.New(batches.Options{Seed: seed, Clock: func() time.Time { return now }})
		for range 20 {
			var b struct {
				Batch  []json.RawMessage `json:"batch"`
				SentAt string            `json:"sentAt"`
			}
			if err := json.Unmarshal(g.Batch(100), &b); err != nil {
				t.Fatal(err)
			}
			if len(b.Batch) != 100 || b.SentAt == "" {
				t.Fatalf("batch of %d messages, sentAt %q", len(b.Batch), b.SentAt)
			}
			for _, m := range b.Batch {
				p, err := event.Parse(m, event.Arrival{ReceivedAt: now})
				if err != nil {
					t.Fatalf("invalid message: %v\n%s", err, m)
				}
				if ids[p.Record.MessageID] {
					t.Fatalf("messageId %s twice", p.Record.MessageID)
				}
				ids[p.Record.MessageID] = true
				types[p.Record.Type]++
				size += len(m)
				n++
			}
		}
	}
	if avg := size / n; avg < 500 || avg > 1024 {
		t.Errorf("average message is %d bytes, want 0.5 to 1 KB", avg)
	}
	for typ, lo := range map[string]int{event.Track: 35, event.Page: 25, event.Identify: 5, event.Screen: 5} {
		if pct := 100 * types[typ] / n; pct < lo {
			t.Errorf("%s: %d%% of messages, want at least %d%%", typ, pct, lo)
		}
	}
	t.Logf("%d messages, %d bytes on average, types %v", n, size/n, types)
}
