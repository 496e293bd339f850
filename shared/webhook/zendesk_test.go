package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

const zdSecret = tenant.Secret("dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3RpbmdfcHVycG9zZXNfb25seQ==")

// zdNow is the clock of the tests, an hour after the fixtures' events.
var zdNow = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func zdSign(secret tenant.Secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func zdFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "zendesk", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zdTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

func TestZendeskVerify(t *testing.T) {
	body := zdFixture(t, "comment_added_public_agent.json")
	ts := zdNow.Add(-30 * time.Second).Format(time.RFC3339)
	good := zdSign(zdSecret, ts, body)
	tampered := append([]byte{}, body...)
	tampered[len(tampered)-3] = ' '
	stale := zdNow.Add(-6 * time.Minute).Format(time.RFC3339)
	future := zdNow.Add(6 * time.Minute).Format(time.RFC3339)
	for _, tc := range []struct {
		name      string
		secret    tenant.Secret
		sig, ts   string
		body      []byte
		ok        bool
		setHeader bool
	}{
		{"ok", zdSecret, good, ts, body, true, true},
		{"ok, 4m59s old", zdSecret, zdSign(zdSecret, zdNow.Add(-299*time.Second).Format(time.RFC3339), body),
			zdNow.Add(-299 * time.Second).Format(time.RFC3339), body, true, true},
		{"ok, empty body", zdSecret, zdSign(zdSecret, ts, nil), ts, nil, true, true},
		{"wrong secret", "other", good, ts, body, false, true},
		{"tampered body", zdSecret, good, ts, tampered, false, true},
		{"timestamp changed", zdSecret, good, zdNow.Add(-31 * time.Second).Format(time.RFC3339), body, false, true},
		{"stale timestamp, signed", zdSecret, zdSign(zdSecret, stale, body), stale, body, false, true},
		{"future timestamp, signed", zdSecret, zdSign(zdSecret, future, body), future, body, false, true},
		{"timestamp not a time", zdSecret, zdSign(zdSecret, "yesterday", body), "yesterday", body, false, true},
		{"signature not base64", zdSecret, "%%%", ts, body, false, true},
		{"hex signature", zdSecret, "deadbeef", ts, body, false, true},
		{"missing signature", zdSecret, "", ts, body, false, true},
		{"missing timestamp", zdSecret, good, "", body, false, true},
		{"missing headers", zdSecret, "", "", body, false, false},
		{"empty secret", "", zdSign("", ts, body), ts, body, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.setHeader {
				if tc.sig != "" {
					h.Set("x-zendesk-webhook-signature", tc.sig)
				}
				if tc.ts != "" {
					h.Set("x-zendesk-webhook-signature-timestamp", tc.ts)
				}
			}
			err := Zendesk{}.Verify(tc.secret, Request{Body: tc.body, Header: h, Now: zdNow})
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrSignature)) {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestZendeskNormalise(t *testing.T) {
	m := Mapping{Users: map[string]string{"9001": "user-ada"}}
	base := func(status, prio string, updated string) kpi.Ticket {
		return kpi.Ticket{ID: "5158", Status: status, Channel: "email", Priority: prio, Tags: []string{"billing", "vip"},
			Requester: "user-ada", Account: "7001", Created: *zdTime("2026-01-01T09:00:00Z"), Updated: *zdTime(updated)}
	}
	withFR := base("open", "high", "2026-01-01T09:30:00Z")
	withFR.FirstResponse = zdTime("2026-01-01T09:30:00.25Z")
	solved := base("solved", "high", "2026-01-01T12:00:00Z")
	solved.Tags = []string{"billing", "vip", "refunded"}
	solved.Resolved = zdTime("2026-01-01T12:00:00Z")
	reopened := base("open", "high", "2026-01-02T08:00:00Z")
	reopened.Tags = []string{"billing", "vip", "refunded"}
	for _, tc := range []struct {
		file string
		want kpi.Ticket
		id   string
	}{
		{"ticket_created.json", base("new", "normal", "2026-01-01T09:00:00Z"), "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f01"},
		{"comment_added_public_agent.json", withFR, "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f02"},
		{"comment_added_private_note.json", base("open", "high", "2026-01-01T09:20:00Z"), "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f03"},
		{"comment_added_end_user.json", base("open", "high", "2026-01-01T10:00:00Z"), "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f04"},
		{"status_changed_solved.json", solved, "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f05"},
		{"status_changed_reopened.json", reopened, "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f06"},
		{"priority_changed_nulls.json", kpi.Ticket{ID: "5160", Status: "pending",
			Created: *zdTime("2026-01-03T09:00:00Z"), Updated: *zdTime("2026-01-03T09:15:00Z")}, "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f07"},
		{"subject_changed_unicode.json", kpi.Ticket{ID: "5161", Status: "hold", Channel: "web_service", Priority: "urgent",
			Tags: []string{"été_☀️", "connexion"}, Requester: "9002", Account: "7002",
			Created: *zdTime("2026-01-04T07:00:00Z"), Updated: *zdTime("2026-01-04T07:45:00Z")}, "0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f08"},
		// An agent's ticket opened on a caller's behalf: its opening comment
		// is the request, not a response.
		{"comment_added_agent_opened.json", kpi.Ticket{ID: "5162", Status: "open", Channel: "voice", Priority: "low",
			Requester: "9003", Created: *zdTime("2026-01-05T14:00:00Z"), Updated: *zdTime("2026-01-05T14:00:00Z")},
			"0b7e1c2a-1f0e-4d6a-9a43-5b1d2c3e4f09"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := Request{Body: zdFixture(t, tc.file)}
			got, err := Zendesk{}.Normalise(context.Background(), r, m)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(Result{Tickets: []kpi.Ticket{tc.want}}, got); d != "" {
				t.Errorf("Normalise (-want +got):\n%s", d)
			}
			if id := (Zendesk{}).DeliveryID(r); id != tc.id {
				t.Errorf("DeliveryID = %q, want %q", id, tc.id)
			}
		})
	}
}

// TestZendeskCommentAuthor covers comments whose author's is_staff is
// absent: the role decides, else whether the author is the requester.
func TestZendeskCommentAuthor(t *testing.T) {
	body := string(zdFixture(t, "comment_added_public_agent.json"))
	const staff = `"is_staff": true,`
	if !strings.Contains(body, staff) {
		t.Fatal("fixture changed")
	}
	for _, tc := range []struct {
		name, author string
		response     bool
	}{
		{"other than requester", `"id": "8001",`, true},
		{"requester", `"id": "9001",`, false},
		{"agent role", `"id": "9001", "role": "agent",`, true},
		{"admin role", `"id": "9001", "role": "Admin",`, true},
		{"end-user role", `"id": "8001", "role": "end-user",`, false},
		{"no author id", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := strings.Replace(body, `"id": "8001",`+"\n        "+staff, tc.author, 1)
			if b == body {
				t.Fatal("no replacement")
			}
			got, err := Zendesk{}.Normalise(context.Background(), Request{Body: []byte(b)}, Mapping{})
			if err != nil {
				t.Fatal(err)
			}
			if fr := got.Tickets[0].FirstResponse; (fr != nil) != tc.response {
				t.Fatalf("FirstResponse = %v, want a response: %v", fr, tc.response)
			}
		})
	}
}

func TestZendeskRejects(t *testing.T) {
	ticket := func(typ, detail string) string {
		return `{"type":"zen:event-type:` + typ + `","id":"e1","time":"2026-01-01T09:00:00Z","detail":` + detail + `,"event":{}}`
	}
	for _, tc := range []struct {
		name, body  string
		unprocessed bool
	}{
		{"user event", string(zdFixture(t, "user_created_unknown_event.json")), true},
		{"organization event", `{"type":"zen:event-type:organization.created","id":"e1","detail":{"id":"1"}}`, true},
		{"soft deleted", ticket("ticket.soft_deleted", `{"id":"1","status":"DELETED","created_at":"2026-01-01T09:00:00Z"}`), true},
		{"deleted status", ticket("ticket.tags_changed", `{"id":"1","status":"DELETED","created_at":"2026-01-01T09:00:00Z"}`), true},
		{"not json", `{"type":`, false},
		{"trigger body", `{"ticket_id":"1","status":"Open"}`, false},
		{"not an event type", `{"type":"ticket.created","detail":{"id":"1"}}`, false},
		{"no detail", `{"type":"zen:event-type:ticket.created","id":"e1"}`, false},
		{"no id", ticket("ticket.created", `{"status":"OPEN","created_at":"2026-01-01T09:00:00Z"}`), false},
		{"no status", ticket("ticket.created", `{"id":"1","created_at":"2026-01-01T09:00:00Z"}`), false},
		{"no created_at", ticket("ticket.created", `{"id":"1","status":"OPEN"}`), false},
		{"bad time", ticket("ticket.created", `{"id":"1","status":"OPEN","created_at":"2026-01-01 09:00:00"}`), false},
		{"tags not a list", ticket("ticket.created", `{"id":"1","status":"OPEN","created_at":"2026-01-01T09:00:00Z","tags":"a b"}`), false},
		{"detail not an object", ticket("ticket.created", `[1]`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Zendesk{}.Normalise(context.Background(), Request{Body: []byte(tc.body)}, Mapping{})
			ihfRejected(t, err, tc.unprocessed)
		})
	}
}

// TestZendeskStatusFromEvent takes a status_changed event's status from
// event.current when the detail lacks it.
func TestZendeskStatusFromEvent(t *testing.T) {
	body := `{"type":"zen:event-type:ticket.status_changed","id":"e1","time":"2026-01-01T11:00:00Z",
		"detail":{"id":"1","created_at":"2026-01-01T09:00:00Z"},"event":{"current":"CLOSED","previous":"SOLVED"}}`
	got, err := Zendesk{}.Normalise(context.Background(), Request{Body: []byte(body)}, Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	want := kpi.Ticket{ID: "1", Status: "closed", Created: *zdTime("2026-01-01T09:00:00Z"),
		Updated: *zdTime("2026-01-01T11:00:00Z"), Resolved: zdTime("2026-01-01T11:00:00Z")}
	if d := cmp.Diff(Result{Tickets: []kpi.Ticket{want}}, got); d != "" {
		t.Errorf("Normalise (-want +got):\n%s", d)
	}
}

func FuzzZendesk(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "zendesk", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add([]byte(`{"type":"zen:event-type:ticket.created"}`), false)
	ts := zdNow.Format(time.RFC3339)
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		h := http.Header{}
		if sign {
			h.Set(ZendeskTimestampHeader, ts)
			h.Set(ZendeskSignatureHeader, zdSign(zdSecret, ts, body))
		}
		r := Request{Body: body, Header: h, Now: zdNow}
		a := Zendesk{}
		err := a.Verify(zdSecret, r)
		ihfFuzzErr(t, err)
		if err != nil {
			if sign || !errors.Is(err, ErrSignature) {
				t.Fatalf("Verify = %v", err)
			}
			return
		}
		res, err := a.Normalise(context.Background(), r, Mapping{})
		ihfFuzzErr(t, err)
		for _, tk := range res.Tickets {
			if tk.ID == "" || tk.Updated.Before(tk.Created) || tk.Status == "" {
				t.Fatalf("bad ticket %+v", tk)
			}
			if _, err := TicketMessageOf("zendesk", tk); err != nil {
				t.Fatalf("TicketMessageOf: %v", err)
			}
		}
		_ = a.DeliveryID(r)
	})
}
