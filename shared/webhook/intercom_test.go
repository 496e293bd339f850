package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

const intercomSecret = tenant.Secret("ic_client_secret")

func intercomSign(secret tenant.Secret, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func intercomFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "intercom", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ihfTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func TestIntercomVerify(t *testing.T) {
	body := intercomFixture(t, "conversation_admin_closed.json")
	good := intercomSign(intercomSecret, body)
	tampered := append([]byte{}, body...)
	tampered[len(tampered)-3] = ' '
	for _, tc := range []struct {
		name   string
		secret tenant.Secret
		header string
		body   []byte
		ok     bool
	}{
		{"ok", intercomSecret, good, body, true},
		{"upper-case algorithm", intercomSecret, "SHA1=" + good[5:], body, true},
		{"wrong secret", "other", good, body, false},
		{"tampered body", intercomSecret, good, tampered, false},
		{"missing header", intercomSecret, "", body, false},
		{"not hex", intercomSecret, "sha1=zz", body, false},
		{"sha256 prefix", intercomSecret, "sha256=" + good[5:], body, false},
		{"empty secret", "", intercomSign("", body), body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("x-hub-signature", tc.header)
			}
			err := Intercom{}.Verify(tc.secret, Request{Body: tc.body, Header: h})
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrSignature)) {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestIntercomNormalise(t *testing.T) {
	closed := kpi.Ticket{ID: "148", Status: "solved", Channel: "email", Priority: "urgent", Tags: []string{"billing", "vip"},
		Requester: "user-42", Created: *ihfTime("2026-01-01T00:00:00Z"), Updated: *ihfTime("2026-01-01T04:00:00Z"),
		FirstResponse: ihfTime("2026-01-01T00:30:00Z"), Resolved: ihfTime("2026-01-01T04:00:00Z")}
	m := Mapping{Users: map[string]string{"66aa77bb": "user-77"}, Touchpoint: "support"}
	for _, tc := range []struct {
		file string
		want Result
		id   string
	}{
		{"conversation_admin_closed.json", Result{Tickets: []kpi.Ticket{closed}}, "notif_5e4b0b2c-7c6f-4d4c-9a4f-1a2b3c4d5e6f"},
		{"conversation_admin_closed_retry.json", Result{Tickets: []kpi.Ticket{closed}}, "notif_5e4b0b2c-7c6f-4d4c-9a4f-1a2b3c4d5e6f"},
		{"conversation_admin_opened_reopened.json", Result{Tickets: []kpi.Ticket{{ID: "148", Status: "open", Channel: "email",
			Priority: "normal", Tags: []string{"billing"}, Requester: "user-42", Created: *ihfTime("2026-01-01T00:00:00Z"),
			Updated: *ihfTime("2026-01-02T00:00:00Z"), FirstResponse: ihfTime("2026-01-01T00:30:00Z")}}}, "notif_reopen-0001"},
		{"conversation_user_created_nulls.json", Result{Tickets: []kpi.Ticket{{ID: "201", Status: "open", Channel: "chat",
			Priority: "normal", Tags: []string{"été ☀️"}, Requester: "user-77", Created: *ihfTime("2026-01-01T00:00:00Z"),
			Updated: *ihfTime("2026-01-01T00:00:00Z")}}}, "notif_new-0201"},
		{"conversation_rating_added.json", Result{
			Tickets: []kpi.Ticket{{ID: "148", Status: "solved", Channel: "chat", Priority: "normal", Requester: "user-42",
				Created: *ihfTime("2026-01-01T00:00:00Z"), Updated: *ihfTime("2026-01-01T05:00:00Z"),
				FirstResponse: ihfTime("2026-01-01T00:30:00Z"), Resolved: ihfTime("2026-01-01T04:00:00Z")}},
			Answers: []Answer{{ResponseID: "148-rating", SurveyID: "intercom:conversation_rating", Type: "csat", Score: 4,
				Respondent: "user-42", At: *ihfTime("2026-01-01T04:50:00Z"), Channel: "chat", Touchpoint: "support",
				Comment: "Très bien, merci !"}},
		}, "notif_rating-0148"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := Request{Body: intercomFixture(t, tc.file)}
			got, err := Intercom{}.Normalise(context.Background(), r, m)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Normalise (-want +got):\n%s", d)
			}
			if id := (Intercom{}).DeliveryID(r); id != tc.id {
				t.Errorf("DeliveryID = %q, want %q", id, tc.id)
			}
		})
	}
}

func TestIntercomRatingScale(t *testing.T) {
	m := Mapping{Questions: map[string]Question{IntercomRatingQuestion: {Type: "csat", ScaleMin: 0, ScaleMax: 10}}}
	got, err := Intercom{}.Normalise(context.Background(), Request{Body: intercomFixture(t, "conversation_rating_added.json")}, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Answers) != 1 || got.Answers[0].Score != 7.5 {
		t.Fatalf("answers = %+v, want a score of 7.5 on 0–10", got.Answers)
	}
}

func TestIntercomRejects(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		unprocessed bool
	}{
		{"unknown topic", string(intercomFixture(t, "contact_created_unknown_topic.json")), true},
		{"ping", string(intercomFixture(t, "ping.json")), true},
		{"rating topic without rating", `{"type":"notification_event","topic":"conversation.rating.added","data":{"item":{"type":"conversation","id":"1","created_at":1767225600,"updated_at":1767225600,"state":"open"}}}`, true},
		{"unknown state", `{"type":"notification_event","topic":"conversation.admin.closed","data":{"item":{"type":"conversation","id":"1","created_at":1767225600,"updated_at":1767225600,"state":"archived"}}}`, true},
		{"not json", `{"type":`, false},
		{"not a notification", `{"type":"conversation","id":"1"}`, false},
		{"no item", `{"type":"notification_event","topic":"conversation.admin.closed","data":{"item":null}}`, false},
		{"no id", `{"type":"notification_event","topic":"conversation.admin.closed","data":{"item":{"type":"conversation","created_at":1767225600,"state":"open"}}}`, false},
		{"no created_at", `{"type":"notification_event","topic":"conversation.admin.closed","data":{"item":{"type":"conversation","id":"1","state":"open"}}}`, false},
		{"bad time", `{"type":"notification_event","topic":"conversation.admin.closed","data":{"item":{"type":"conversation","id":"1","created_at":"yesterday","state":"open"}}}`, false},
		{"rating out of scale", `{"type":"notification_event","topic":"conversation.admin.closed","data":{"item":{"type":"conversation","id":"1","created_at":1767225600,"updated_at":1767225600,"state":"closed","conversation_rating":{"rating":9}}}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Intercom{}.Normalise(context.Background(), Request{Body: []byte(tc.body)}, Mapping{})
			ihfRejected(t, err, tc.unprocessed)
		})
	}
}

// ihfRejected asserts err is an *Unprocessable or, when not, a 4xx
// *apierr.Error.
func ihfRejected(t *testing.T, err error, unprocessable bool) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if IsUnprocessable(err) != unprocessable {
		t.Fatalf("err = %v (%T), want unprocessable=%v", err, err, unprocessable)
	}
	if !unprocessable {
		e, ok := apierr.As(err)
		if !ok || apierr.Status(e.Code)/100 != 4 {
			t.Fatalf("err = %v (%T), want a 4xx *apierr.Error", err, err)
		}
	}
}

// ihfFuzzErr fails unless err is nil, ErrSignature-wrapped, a 4xx
// *apierr.Error or an *Unprocessable.
func ihfFuzzErr(t *testing.T, err error) {
	t.Helper()
	if err == nil || errors.Is(err, ErrSignature) || IsUnprocessable(err) {
		return
	}
	if e, ok := apierr.As(err); ok && apierr.Status(e.Code)/100 == 4 {
		return
	}
	t.Fatalf("unexpected error %v (%T)", err, err)
}

// ihfFuzzTickets is the property the ticket tools' fuzz targets share:
// Verify and Normalise fail only as the handler expects, and every ticket
// has an id and is not updated before it was created.
func ihfFuzzTickets(t *testing.T, a Adapter, secret tenant.Secret, r Request) {
	err := a.Verify(secret, r)
	ihfFuzzErr(t, err)
	if err != nil {
		return
	}
	res, err := a.Normalise(context.Background(), r, Mapping{})
	ihfFuzzErr(t, err)
	for _, tk := range res.Tickets {
		if tk.ID == "" || tk.Updated.Before(tk.Created) {
			t.Fatalf("bad ticket %+v", tk)
		}
	}
	_ = a.DeliveryID(r)
}

func FuzzIntercom(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "intercom", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		h := http.Header{}
		if sign {
			h.Set(IntercomSignatureHeader, intercomSign(intercomSecret, body))
		}
		ihfFuzzTickets(t, Intercom{}, intercomSecret, Request{Body: body, Header: h})
	})
}
