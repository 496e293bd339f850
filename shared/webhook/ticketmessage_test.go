package webhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
)

// TestTicketEventsOfOneUpdate: Zendesk sends an agent's first reply as two
// events of one update, the public comment (which tells the first
// response) and the status change (which does not), in either order and
// each maybe retried. The day's ticket must have its first response
// whatever the order. Found by the chaos suite (infra/chaos/nightly,
// TestWebhooksRedelivered): the two messages shared a messageId, so the
// first to arrive won and a status change arriving first lost the first
// response.
func TestTicketEventsOfOneUpdate(t *testing.T) {
	comment := zdFixture(t, "comment_added_public_agent.json")
	var env map[string]any
	if err := json.Unmarshal(comment, &env); err != nil {
		t.Fatal(err)
	}
	env["type"] = "zen:event-type:ticket.status_changed"
	env["id"] = "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f03"
	env["event"] = map[string]any{"current": "OPEN", "previous": "NEW"}
	status, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	record := func(body []byte) event.Record {
		t.Helper()
		res, err := Zendesk{}.Normalise(context.Background(), Request{Body: body, Now: zdNow}, Mapping{})
		if err != nil || len(res.Tickets) != 1 {
			t.Fatalf("Normalise = %+v, %v; want one ticket", res, err)
		}
		msg, err := TicketMessageOf("zendesk", res.Tickets[0])
		if err != nil {
			t.Fatal(err)
		}
		p, err := event.Parse(msg, event.Arrival{ReceivedAt: zdNow})
		if err != nil {
			t.Fatal(err)
		}
		return p.Record
	}
	c, s := record(comment), record(status)
	if retry := record(comment); retry.MessageID != c.MessageID {
		t.Errorf("a retried delivery's messageId %q differs from the first's %q: it would count twice", retry.MessageID, c.MessageID)
	}
	day := kpi.DayOf(c.Timestamp, time.UTC)
	want := kpi.ComputeDay(kpi.DefaultConfig(), day, []event.Record{c, s}).Tickets
	if len(want) != 1 || want[0].FirstResponse == nil || !want[0].FirstResponse.Equal(*zdTime("2026-01-01T09:30:00.250Z")) {
		t.Fatalf("comment, then status change: tickets %+v, want one with its first response at 09:30:00.250", want)
	}
	for name, recs := range map[string][]event.Record{
		"status change first":           {s, c},
		"both retried, interleaved":     {s, c, s, c, c},
		"status change retried, first":  {s, s, s, c},
		"comment retried, status first": {s, c, c, c},
	} {
		got := kpi.ComputeDay(kpi.DefaultConfig(), day, recs).Tickets
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s: tickets differ from comment-then-status (-got +want):\n%s", name, diff)
		}
	}
}
