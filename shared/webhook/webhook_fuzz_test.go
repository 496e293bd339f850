package webhook_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// fuzzAPIErr fails unless err is an *apierr.Error of the given status
// (0: any 4xx).
func fuzzAPIErr(t *testing.T, what string, err error, status int) {
	t.Helper()
	e, ok := apierr.As(err)
	if !ok {
		t.Fatalf("%s: error %v (%T) is not an *apierr.Error: it would be a 500", what, err, err)
	}
	got := apierr.Status(e.Code)
	if status != 0 && got != status {
		t.Fatalf("%s: error %v has status %d, want %d", what, err, got, status)
	}
	if got < 400 || got >= 500 {
		t.Fatalf("%s: error %v has status %d, want 4xx", what, err, got)
	}
}

// FuzzVerify checks the generic X-Uptake-Signature: what Sign makes
// verifies with the same secret and body only, and any header either
// verifies or fails with a 401.
func FuzzVerify(f *testing.F) {
	sample := []byte(`{"id":"resp_123","survey_id":"q4-relationship","type":"nps","score":9,"respondent":"user_42","submitted_at":"2026-10-02T10:00:00Z"}`)
	at := time.Date(2026, 10, 2, 10, 0, 4, 0, time.UTC).Unix()
	f.Add(string(surveySecret), sample, webhook.Sign(surveySecret, sample, time.Unix(at, 0)), at, int64(0))
	f.Add("whsec_local", sample, "t=1790935204,v1=00", at, int64(299))
	f.Add("", []byte{}, "", int64(0), int64(-301))
	f.Add("s", []byte("{}"), "t=1790935204,v1=a,v1=b, v0=c,t=1", at, int64(-300))
	f.Add("s", []byte("x"), "t=-9223372036854775808,v1=", int64(-1<<63), int64(1<<62))
	f.Add("s", []byte("x"), "t=,=,,v1==", at, int64(0))
	f.Fuzz(func(t *testing.T, secretS string, body []byte, header string, signedAt, skew int64) {
		secret := tenant.Secret(secretS)
		signed := time.Unix(signedAt, 0)
		sig := webhook.Sign(secret, body, signed)
		// A clock within the tolerance of the signature's time.
		skew %= int64(webhook.Tolerance / time.Second)
		now := signed.Add(time.Duration(skew) * time.Second)

		if err := webhook.Verify(secret, sig, body, now); err != nil {
			t.Fatalf("Sign's header %q rejected for its own body and secret at %s skew: %v", sig, time.Duration(skew)*time.Second, err)
		}
		if err := webhook.Verify(secret+"x", sig, body, now); err == nil {
			t.Fatalf("header %q verified with another secret", sig)
		} else {
			fuzzAPIErr(t, "other secret", err, http.StatusUnauthorized)
		}
		other := append(append([]byte{}, body...), 'x')
		if err := webhook.Verify(secret, sig, other, now); err == nil {
			t.Fatalf("header %q verified for another body", sig)
		} else {
			fuzzAPIErr(t, "other body", err, http.StatusUnauthorized)
		}
		if len(body) > 0 {
			flipped := append([]byte{}, body...)
			flipped[len(flipped)-1] ^= 1
			if err := webhook.Verify(secret, sig, flipped, now); err == nil {
				t.Fatalf("header %q verified for a changed body", sig)
			}
		}
		late := signed.Add(webhook.Tolerance + time.Second)
		if signedAt < 1<<40 { // not where time.Time arithmetic saturates
			if err := webhook.Verify(secret, sig, body, late); err == nil {
				t.Fatalf("header %q verified %s after it was made", sig, webhook.Tolerance+time.Second)
			} else {
				fuzzAPIErr(t, "late", err, http.StatusUnauthorized)
			}
		}

		// Any header: a 401, unless it carries the MAC of its own timestamp
		// made with the secret (as Sign makes it for a canonical timestamp).
		err := webhook.Verify(secret, header, body, now)
		if err == nil {
			var ts string
			for _, part := range strings.Split(header, ",") {
				if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k == "t" {
					ts = v
				}
			}
			sec, perr := strconv.ParseInt(ts, 10, 64)
			_, mac, _ := strings.Cut(webhook.Sign(secret, body, time.Unix(sec, 0)), ",v1=")
			if perr != nil || strconv.FormatInt(sec, 10) != ts || !strings.Contains(header, "v1="+mac) {
				t.Fatalf("arbitrary header %q verified without the MAC of its timestamp", header)
			}
			return
		}
		fuzzAPIErr(t, "arbitrary header", err, http.StatusUnauthorized)
	})
}

// parseNormalised checks that a normalised message is one event.Parse
// takes as ingest does, received just after its own timestamp: it must
// not fail other than with *event.Invalid (ingest's 400), and realistic
// inputs (mustAccept) must be accepted.
func parseNormalised(t *testing.T, msg []byte, mustAccept bool) event.Parsed {
	t.Helper()
	if !json.Valid(msg) {
		t.Fatalf("normalised message is not JSON: %s", msg)
	}
	var fields struct {
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(msg, &fields); err != nil {
		t.Fatalf("normalised message is not an object: %s", msg)
	}
	received := time.Date(2026, 10, 2, 12, 0, 0, 0, time.UTC)
	if ts, err := event.ParseTime(fields.Timestamp); err == nil && ts.After(event.Earliest) {
		received = ts.Add(time.Minute)
	}
	p, err := event.Parse(msg, event.Arrival{RouteType: event.Track, ReceivedAt: received})
	switch {
	case err == nil:
	case !event.IsInvalid(err):
		t.Fatalf("event.Parse failed (would be a 500) on %s: %v", msg, err)
	case mustAccept:
		t.Fatalf("event.Parse rejected the normalised seed %s: %v", msg, err)
	}
	return p
}

var surveySeeds = []string{
	`{"id":"resp_123","survey_id":"q4-relationship","type":"nps","score":9,"respondent":"user_42","submitted_at":"2026-10-02T10:00:00Z","channel":"email","comment":"Great onboarding"}`,
	`{"id":"r2","survey_id":"post-ticket","type":"csat","score":4,"respondent":"u_7","submitted_at":"2026-10-02T10:00:00+02:00","updated_at":"2026-10-03T08:30:00Z","touchpoint":"ticket_closed"}`,
	`{"id":"r3","type":"ces","score":"6","respondent":"ü-ñ","submitted_at":"2026-10-02T10:00:00.123Z","comment":"😀 \u0000 ok"}`,
	`{"id":"r4","type":"nps","score":null,"respondent":"u","submitted_at":"2026-10-02"}`,
}

// FuzzSurveyMessage checks the generic survey shape: no panic, 4xx
// errors only, and a message ingest can parse.
func FuzzSurveyMessage(f *testing.F) {
	seeds := map[string]bool{}
	for i, s := range surveySeeds {
		f.Add([]byte(s))
		seeds[s] = i < 3 // the fourth has no time of day: left to Parse to judge
	}
	f.Add([]byte(`{"id":"r","respondent":"u","submitted_at":"x","extra":1}`))
	f.Add([]byte(`{"id":"","respondent":"u","submitted_at":"2026-10-02T10:00:00Z"}`))
	f.Add([]byte(`{"id":"r","respondent":"u","submitted_at":"2026-10-02T10:00:00Z","score":1e400}`))
	f.Add([]byte(`{"id":"r","respondent":"u","submitted_at":"2026-10-02T10:00:00Z"} trailing`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, err := webhook.SurveyMessage(body)
		if err != nil {
			fuzzAPIErr(t, "SurveyMessage", err, 0)
			return
		}
		p := parseNormalised(t, msg, seeds[string(body)])
		if p.Line != nil {
			if p.Record.Event != event.SurveyResponded || !strings.HasPrefix(p.Record.MessageID, "survey:") {
				t.Fatalf("parsed as event %q, messageId %q", p.Record.Event, p.Record.MessageID)
			}
		}
	})
}

var ticketSeeds = []string{
	`{"id":"T-1001","status":"open","channel":"Email","priority":"High","tags":["billing"],"requester":"user_42","account":"acme","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:30:00Z","first_response_at":"2026-10-01T09:20:00Z"}`,
	`{"id":"T-1002","status":"solved","created_at":"2026-10-01T09:00:00+01:00","updated_at":"2026-10-02T10:00:00Z","resolved_at":"2026-10-02T09:59:00Z"}`,
	`{"id":"T-1003","status":"closed","requester":"u_1","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:00:00Z","first_response_at":"","resolved_at":null}`,
	`{"id":"T-1004","status":"pending","account":"g","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-03T00:00:00.5Z","tags":[]}`,
}

// FuzzTicketMessage checks the generic ticket shape likewise.
func FuzzTicketMessage(f *testing.F) {
	seeds := map[string]bool{}
	for _, s := range ticketSeeds {
		f.Add([]byte(s))
		seeds[s] = true
	}
	f.Add([]byte(`{"id":"T","status":"reopened","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:30:00Z"}`))
	f.Add([]byte(`{"id":"T","status":"open","created_at":"2026-10-02T09:00:00Z","updated_at":"2026-10-01T09:30:00Z"}`))
	f.Add([]byte(`{"id":"T","status":"open","created_at":"1999-12-31T23:59:59Z","updated_at":"2026-10-01T09:30:00Z"}`))
	f.Add([]byte(`{"id":"T","status":"hold","created_at":"2026-10-01T09:00:00Z","updated_at":"9999-12-31T23:59:59Z"}`))
	f.Add([]byte(`{"id":"T","status":"new","tags":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, err := webhook.TicketMessage(body)
		if err != nil {
			fuzzAPIErr(t, "TicketMessage", err, 0)
			return
		}
		p := parseNormalised(t, msg, seeds[string(body)])
		if p.Line != nil && !strings.HasPrefix(p.Record.MessageID, "ticket:") {
			t.Fatalf("parsed with messageId %q", p.Record.MessageID)
		}
	})
}
