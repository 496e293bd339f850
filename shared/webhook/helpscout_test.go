package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

const helpScoutSecret = tenant.Secret("hs secret key")

func helpScoutSign(secret tenant.Secret, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// helpScoutFixture reads testdata/helpscout/<event>__<case>.json and
// returns its body and the request it arrives in.
func helpScoutFixture(t testing.TB, name string) Request {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "helpscout", name))
	if err != nil {
		t.Fatal(err)
	}
	ev, _, _ := strings.Cut(name, "__")
	h := http.Header{}
	h.Set(HelpScoutEventHeader, ev)
	h.Set(HelpScoutSignatureHeader, helpScoutSign(helpScoutSecret, b))
	return Request{Body: b, Header: h}
}

func TestHelpScoutVerify(t *testing.T) {
	r := helpScoutFixture(t, "convo.created__v2_email.json")
	good := r.Header.Get(HelpScoutSignatureHeader)
	tampered := append([]byte{}, r.Body...)
	tampered[10] ^= 1
	for _, tc := range []struct {
		name   string
		secret tenant.Secret
		header string
		body   []byte
		ok     bool
	}{
		{"ok", helpScoutSecret, good, r.Body, true},
		{"wrong secret", "other", good, r.Body, false},
		{"tampered body", helpScoutSecret, good, tampered, false},
		{"missing header", helpScoutSecret, "", r.Body, false},
		{"not base64", helpScoutSecret, "%%%", r.Body, false},
		{"hex instead of base64", helpScoutSecret, "deadbeef", r.Body, false},
		{"empty secret", "", helpScoutSign("", r.Body), r.Body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("x-helpscout-signature", tc.header)
			}
			err := HelpScout{}.Verify(tc.secret, Request{Body: tc.body, Header: h})
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrSignature)) {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestHelpScoutNormalise(t *testing.T) {
	m := Mapping{Users: map[string]string{"bear@acme.com": "user-12", "555": "user-555"}, Channel: "email", Touchpoint: "support"}
	for _, tc := range []struct {
		file string
		want Result
	}{
		{"convo.created__v2_email.json", Result{Tickets: []kpi.Ticket{{ID: "2391938111", Status: "open", Channel: "email",
			Tags: []string{"export", "bug"}, Requester: "user-12", Created: *ihfTime("2026-01-01T00:00:00Z"),
			Updated: *ihfTime("2026-01-01T00:45:00Z"), FirstResponse: ihfTime("2026-01-01T00:45:00Z")}}}},
		{"convo.status__v1_closed.json", Result{Tickets: []kpi.Ticket{{ID: "2391938111", Status: "solved", Channel: "chat",
			Tags: []string{"export", "bug"}, Requester: "user-12", Created: *ihfTime("2026-01-01T00:00:00Z"),
			Updated: *ihfTime("2026-01-01T05:00:00Z"), FirstResponse: ihfTime("2026-01-01T00:30:00Z"),
			Resolved: ihfTime("2026-01-01T04:00:00Z")}}}},
		{"convo.customer.reply.created__reopened.json", Result{Tickets: []kpi.Ticket{{ID: "2391938111", Status: "open",
			Channel: "email", Requester: "user-12", Created: *ihfTime("2026-01-01T00:00:00Z"),
			Updated: *ihfTime("2026-01-02T09:00:00Z"), FirstResponse: ihfTime("2026-01-01T00:45:00Z")}}}},
		{"convo.agent.reply.created__unicode_nulls.json", Result{Tickets: []kpi.Ticket{{ID: "77", Status: "pending",
			Channel: "phone", Tags: []string{"paiement-échoué", "日本"}, Requester: "user-555",
			Created: *ihfTime("2026-03-01T10:00:00Z"), Updated: *ihfTime("2026-03-01T10:20:00Z"),
			FirstResponse: ihfTime("2026-03-01T10:20:00Z")}}}},
		{"satisfaction.ratings__great.json", Result{Answers: []Answer{{ResponseID: "5434", SurveyID: "helpscout:satisfaction",
			Type: "csat", Score: 5, Respondent: "user-12", At: *ihfTime("2026-01-01T06:05:00Z"), Channel: "email",
			Touchpoint: "support", Comment: "Super rapide 👍"}}}},
		{"satisfaction.ratings__not_good.json", Result{Answers: []Answer{{ResponseID: "5435", SurveyID: "helpscout:satisfaction",
			Type: "csat", Score: 1, Respondent: "13", At: *ihfTime("2026-01-03T06:00:00Z"), Channel: "email",
			Touchpoint: "support"}}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := helpScoutFixture(t, tc.file)
			if err := (HelpScout{}).Verify(helpScoutSecret, r); err != nil {
				t.Fatal(err)
			}
			got, err := HelpScout{}.Normalise(context.Background(), r, m)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Normalise (-want +got):\n%s", d)
			}
			if id := (HelpScout{}).DeliveryID(r); id != "" {
				t.Errorf("DeliveryID = %q, want none", id)
			}
		})
	}
}

func TestHelpScoutRatingScale(t *testing.T) {
	m := Mapping{Questions: map[string]Question{HelpScoutRatingQuestion: {Type: "csat", ScaleMin: 1, ScaleMax: 3}}}
	for file, want := range map[string]float64{"satisfaction.ratings__great.json": 3, "satisfaction.ratings__not_good.json": 1} {
		got, err := HelpScout{}.Normalise(context.Background(), helpScoutFixture(t, file), m)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Answers) != 1 || got.Answers[0].Score != want {
			t.Errorf("%s: answers = %+v, want a score of %v", file, got.Answers, want)
		}
	}
}

func TestHelpScoutRejects(t *testing.T) {
	req := func(ev, body string) Request {
		h := http.Header{}
		if ev != "" {
			h.Set(HelpScoutEventHeader, ev)
		}
		return Request{Body: []byte(body), Header: h}
	}
	for _, tc := range []struct {
		name        string
		r           Request
		unprocessed bool
	}{
		{"deleted", helpScoutFixture(t, "convo.deleted__deleted.json"), true},
		{"unknown event", helpScoutFixture(t, "customer.created__unknown_event.json"), true},
		{"unknown rating", req("satisfaction.ratings", `{"id":1,"rating":"Meh","createdAt":"2026-01-01T00:00:00Z"}`), true},
		{"unknown status", req("convo.status", `{"id":1,"status":"archived","createdAt":"2026-01-01T00:00:00Z"}`), true},
		{"no event header", req("", `{"id":1}`), false},
		{"not json", req("convo.created", `[`), false},
		{"array body", req("convo.created", `[]`), false},
		{"no id", req("convo.created", `{"status":"active","createdAt":"2026-01-01T00:00:00Z"}`), false},
		{"no createdAt", req("convo.created", `{"id":1,"status":"active"}`), false},
		{"bad date", req("convo.created", `{"id":1,"status":"active","createdAt":"01/02/2026"}`), false},
		{"bad tags", req("convo.tags", `{"id":1,"status":"active","createdAt":"2026-01-01T00:00:00Z","tags":[3]}`), false},
		{"rating without date", req("satisfaction.ratings", `{"id":1,"rating":"Okay"}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := HelpScout{}.Normalise(context.Background(), tc.r, Mapping{})
			ihfRejected(t, err, tc.unprocessed)
		})
	}
}

func FuzzHelpScout(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "helpscout", "*.json"))
	for _, p := range files {
		r := helpScoutFixture(f, filepath.Base(p))
		f.Add(r.Body, r.Header.Get(HelpScoutEventHeader), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ev string, sign bool) {
		h := http.Header{}
		h.Set(HelpScoutEventHeader, ev)
		if sign {
			h.Set(HelpScoutSignatureHeader, helpScoutSign(helpScoutSecret, body))
		}
		ihfFuzzTickets(t, HelpScout{}, helpScoutSecret, Request{Body: body, Header: h})
	})
}
