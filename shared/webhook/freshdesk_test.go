package webhook

import (
	"context"
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

const freshdeskSecret = tenant.Secret("fd_token_0123456789")

func freshdeskFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "freshdesk", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFreshdeskVerify(t *testing.T) {
	body := freshdeskFixture(t, "resolved_names.json")
	for _, tc := range []struct {
		name   string
		secret tenant.Secret
		header string
		query  string
		ok     bool
	}{
		{"header", freshdeskSecret, string(freshdeskSecret), "", true},
		{"query", freshdeskSecret, "", string(freshdeskSecret), true},
		{"wrong secret", "other", string(freshdeskSecret), "", false},
		{"wrong token", freshdeskSecret, "fd_token_012345678", "", false},
		{"wrong header, right query", freshdeskSecret, "nope", string(freshdeskSecret), false},
		{"missing", freshdeskSecret, "", "", false},
		{"empty secret", "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("x-uptake-token", tc.header)
			}
			q := map[string]string{}
			if tc.query != "" {
				q["token"] = tc.query
			}
			err := Freshdesk{}.Verify(tc.secret, Request{Body: body, Header: h, Query: q})
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrSignature)) {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestFreshdeskTemplateIsJSON(t *testing.T) {
	// Rendered with plain values, the template is a body Normalise reads.
	body := FreshdeskTemplate
	for _, kv := range [][2]string{{"{{ticket.id}}", "7"}, {"{{ticket.status}}", "Pending"}, {"{{ticket.priority}}", "Urgent"},
		{"{{ticket.source}}", "Chat"}, {"{{ticket.tags}}", "a,b"}, {"{{ticket.requester.email}}", "x@y.z"},
		{"{{ticket.created_on}}", "Thu, 26 Nov 2026 10:00 AM"}, {"{{ticket.updated_on}}", "Thu, 26 Nov 2026 10:30 AM"}} {
		body = strings.ReplaceAll(body, kv[0], kv[1])
	}
	got, err := Freshdesk{}.Normalise(context.Background(), Request{Body: []byte(body)}, Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Tickets: []kpi.Ticket{{ID: "7", Status: "pending", Channel: "chat", Priority: "urgent", Tags: []string{"a", "b"},
		Requester: "x@y.z", Created: *ihfTime("2026-11-26T10:00:00Z"), Updated: *ihfTime("2026-11-26T10:30:00Z")}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Normalise (-want +got):\n%s", d)
	}
}

func TestFreshdeskNormalise(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 500, time.UTC)
	m := Mapping{Users: map[string]string{"jane@acme.com": "user-1"}}
	for _, tc := range []struct {
		file string
		want kpi.Ticket
	}{
		{"resolved_names.json", kpi.Ticket{ID: "1042", Status: "solved", Channel: "email", Priority: "high",
			Tags: []string{"billing", "refund"}, Requester: "user-1", Created: *ihfTime("2026-11-26T10:00:00Z"),
			Updated: *ihfTime("2026-11-26T15:30:00Z"), Resolved: ihfTime("2026-11-26T15:30:00Z")}},
		{"open_numbers_rfc3339.json", kpi.Ticket{ID: "1043", Status: "open", Channel: "chat", Priority: "urgent",
			Tags: []string{"chat", "vip"}, Requester: "bob@acme.com", Account: "acct-9", Created: *ihfTime("2026-11-26T10:00:00Z"),
			Updated: *ihfTime("2026-11-26T11:05:00Z"), FirstResponse: ihfTime("2026-11-26T10:01:00Z")}},
		{"reopened_time_zone.json", kpi.Ticket{ID: "1042", Status: "open", Channel: "portal", Priority: "normal",
			Tags: []string{"billing"}, Requester: "user-1", Created: *ihfTime("2026-11-26T10:00:00Z"),
			Updated: *ihfTime("2026-11-27T08:15:00Z")}},
		{"wrapped_simple.json", kpi.Ticket{ID: "1044", Status: "closed", Channel: "phone", Priority: "low",
			Requester: "zoë@exämple.com", Created: *ihfTime("2026-11-20T08:00:00Z"), Updated: *ihfTime("2026-11-21T17:45:00Z"),
			Resolved: ihfTime("2026-11-21T17:45:00Z")}},
		{"unrendered_unicode.json", kpi.Ticket{ID: "1045", Status: "pending", Channel: "feedback_widget",
			Tags: []string{"naïve", "日本語"}, Created: *ihfTime("2026-11-26T10:00:00Z"), Updated: *ihfTime("2026-11-26T12:00:00Z")}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := Request{Body: freshdeskFixture(t, tc.file), Now: now}
			got, err := Freshdesk{}.Normalise(context.Background(), r, m)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(Result{Tickets: []kpi.Ticket{tc.want}}, got); d != "" {
				t.Errorf("Normalise (-want +got):\n%s", d)
			}
			if id := (Freshdesk{}).DeliveryID(r); id != "" {
				t.Errorf("DeliveryID = %q, want none", id)
			}
		})
	}
}

func TestFreshdeskRejects(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		unprocessed bool
	}{
		{"custom status", string(freshdeskFixture(t, "custom_status.json")), true},
		{"not json", `{`, false},
		{"not an object", `[1]`, false},
		{"null", `null`, false},
		{"no id", `{"status":"Open","created_at":"2026-11-26T10:00:00Z"}`, false},
		{"unrendered id", `{"id":"{{ticket.id}}","status":"Open","created_at":"2026-11-26T10:00:00Z"}`, false},
		{"no status", `{"id":"1","created_at":"2026-11-26T10:00:00Z"}`, false},
		{"no created_at", `{"id":"1","status":"Open"}`, false},
		{"bad date", `{"id":"1","status":"Open","created_at":"26/11/2026"}`, false},
		{"before 2000", `{"id":"1","status":"Open","created_at":"1999-12-31T00:00:00Z"}`, false},
		{"bad zone", `{"id":"1","status":"Open","created_at":"2026-11-26T10:00:00Z","time_zone":"Mars/Olympus"}`, false},
		{"bad tags", `{"id":"1","status":"Open","created_at":"2026-11-26T10:00:00Z","tags":{"a":1}}`, false},
		{"no updated_at nor clock", `{"id":"1","status":"Open","created_at":"2026-11-26T10:00:00Z"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Freshdesk{}.Normalise(context.Background(), Request{Body: []byte(tc.body)}, Mapping{})
			ihfRejected(t, err, tc.unprocessed)
		})
	}
}

func FuzzFreshdesk(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "freshdesk", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, string(freshdeskSecret), "")
	}
	f.Add([]byte(FreshdeskTemplate), "", string(freshdeskSecret))
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, header, query string) {
		h := http.Header{}
		h.Set(FreshdeskTokenHeader, header)
		ihfFuzzTickets(t, Freshdesk{}, freshdeskSecret, Request{Body: body, Header: h, Query: map[string]string{"token": query}, Now: now})
	})
}
