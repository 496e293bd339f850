package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

const surveySecret tenant.Secret = "whsec-test-секрет"

func surveyFixture(t testing.TB, provider, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", provider, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func surveyFixtures(t testing.TB, provider string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", provider, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no %s fixtures: %v", provider, err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		out[filepath.Base(n)] = surveyFixture(t, provider, filepath.Base(n))
	}
	return out
}

func surveyMAC(secret tenant.Secret, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func typeformRequest(secret tenant.Secret, body []byte) webhook.Request {
	h := http.Header{}
	h.Set("Typeform-Signature", "sha256="+base64.StdEncoding.EncodeToString(surveyMAC(secret, body)))
	return webhook.Request{Body: body, Header: h, Now: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}
}

// surveyErrKind classifies an adapter's error as the handler will: "" (nil),
// "signature", "4xx", "unprocessable", or "other" (a bug: would be a 500).
func surveyErrKind(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, webhook.ErrSignature) {
		return "signature"
	}
	if webhook.IsUnprocessable(err) {
		return "unprocessable"
	}
	if e, ok := apierr.As(err); ok {
		if s := apierr.Status(e.Code); s >= 400 && s < 500 {
			return "4xx"
		}
	}
	return "other"
}

func TestTypeformVerify(t *testing.T) {
	var a webhook.Typeform
	for name, body := range surveyFixtures(t, "typeform") {
		t.Run(name, func(t *testing.T) {
			if err := a.Verify(surveySecret, typeformRequest(surveySecret, body)); err != nil {
				t.Fatalf("signed body: %v", err)
			}
			tampered := append([]byte{}, body...)
			tampered[len(tampered)/2] ^= 1
			noHeader := typeformRequest(surveySecret, body)
			noHeader.Header.Del("Typeform-Signature")
			hexSig := typeformRequest(surveySecret, body)
			hexSig.Header.Set("Typeform-Signature", "sha256="+string(surveyMAC(surveySecret, body)))
			bare := typeformRequest(surveySecret, body)
			bare.Header.Set("Typeform-Signature", base64.StdEncoding.EncodeToString(surveyMAC(surveySecret, body)))
			tamperedReq := typeformRequest(surveySecret, body)
			tamperedReq.Body = tampered
			for what, c := range map[string]struct {
				secret tenant.Secret
				r      webhook.Request
			}{
				"wrong secret":    {"another secret", typeformRequest(surveySecret, body)},
				"empty secret":    {"", typeformRequest("", body)},
				"tampered body":   {surveySecret, tamperedReq},
				"missing header":  {surveySecret, noHeader},
				"not base64":      {surveySecret, hexSig},
				"no sha256 label": {surveySecret, bare},
			} {
				if err := a.Verify(c.secret, c.r); !errors.Is(err, webhook.ErrSignature) {
					t.Errorf("%s: got %v, want ErrSignature", what, err)
				}
			}
		})
	}
}

func TestTypeformNormalise(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	const comment = "Très bien 👍 — 素晴らしい"
	tests := []struct {
		name    string
		fixture string
		body    string // instead of fixture
		mapping webhook.Mapping
		want    []webhook.Answer
		wantErr string // "", "4xx" or "unprocessable"
	}{
		{name: "nps 10 with unicode comment, unmapped rating ignored", fixture: "nps_10_comment.json",
			want: []webhook.Answer{{ResponseID: "a3a12ec67a1365927098a606107fac15", SurveyID: "lT4Z3j", Type: "nps", Score: 10,
				Respondent: "u_42", Account: "acme", At: at("2024-05-14T10:00:12Z"), Channel: "typeform", Comment: comment}}},
		{name: "rating mapped to csat, user mapped, channel and touchpoint", fixture: "nps_10_comment.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"rate1": {Type: "csat", ScaleMin: 1, ScaleMax: 5}},
				Users: map[string]string{"u_42": "user-42"}, Channel: "in-app", Touchpoint: "renewal"},
			want: []webhook.Answer{
				{ResponseID: "a3a12ec67a1365927098a606107fac15", SurveyID: "lT4Z3j", Type: "nps", Score: 10,
					Respondent: "user-42", Account: "acme", At: at("2024-05-14T10:00:12Z"), Channel: "in-app", Touchpoint: "renewal", Comment: comment},
				{ResponseID: "a3a12ec67a1365927098a606107fac15", SurveyID: "lT4Z3j", Type: "csat", Score: 4,
					Respondent: "user-42", Account: "acme", At: at("2024-05-14T10:00:12Z"), Channel: "in-app", Touchpoint: "renewal", Comment: comment},
			}},
		{name: "nps 0, comment skipped, null account", fixture: "nps_0_skipped.json",
			want: []webhook.Answer{{ResponseID: "0b7e2f1c9d", SurveyID: "lT4Z3j", Type: "nps", Score: 0,
				Respondent: "jane@example.com", At: at("2024-05-15T16:30:45.123Z"), Channel: "typeform"}}},
		{name: "opinion scale mapped to ces by ref, custom hidden fields", fixture: "mapped_ces.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"effort": {Type: "ces", ScaleMin: 1, ScaleMax: 7}},
				RespondentField: "uid", AccountField: "org"},
			want: []webhook.Answer{{ResponseID: "ces-token-7", SurveyID: "Ef0rT5", Type: "ces", Score: 6,
				Respondent: "77", Account: "globex", At: at("2024-06-01T08:00:00Z"), Channel: "typeform", Comment: "Setup was quick"}}},
		{name: "field type from the definition, numeric hidden user id, offset time", fixture: "field_type_from_definition.json",
			want: []webhook.Answer{{ResponseID: "def-1", SurveyID: "lT4Z3j", Type: "nps", Score: 9,
				Respondent: "1234", At: at("2024-05-19T08:00:00Z"), Channel: "typeform"}}},
		{name: "opinion scale not mapped", fixture: "mapped_ces.json", mapping: webhook.Mapping{RespondentField: "uid"}, wantErr: "unprocessable"},
		{name: "no scorable question", fixture: "no_score.json", wantErr: "unprocessable"},
		{name: "mapped to an unknown type", fixture: "no_score.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"rate1": {Type: "stars"}}}, wantErr: "unprocessable"},
		{name: "score outside the mapped scale", fixture: "nps_10_comment.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"rate1": {Type: "csat", ScaleMin: 1, ScaleMax: 3}}}, wantErr: "unprocessable"},
		{name: "no respondent (hidden null)", fixture: "no_respondent.json", wantErr: "unprocessable"},
		{name: "respondent field not in hidden", fixture: "nps_0_skipped.json", mapping: webhook.Mapping{RespondentField: "uid"}, wantErr: "unprocessable"},
		{name: "unknown event type", fixture: "unknown_event.json", wantErr: "unprocessable"},
		{name: "malformed json", fixture: "malformed.json", wantErr: "4xx"},
		{name: "no form_response", body: `{"event_id":"x","event_type":"form_response"}`, wantErr: "4xx"},
		{name: "no submitted_at", body: `{"event_type":"form_response","form_response":{"form_id":"f","token":"t","hidden":{"user_id":"u"},"answers":[{"type":"number","number":5,"field":{"id":"n","type":"nps"}}]}}`, wantErr: "4xx"},
		{name: "nps out of 0-10", body: `{"event_type":"form_response","form_response":{"form_id":"f","token":"t","submitted_at":"2024-01-01T00:00:00Z","hidden":{"user_id":"u"},"answers":[{"type":"number","number":11,"field":{"id":"n","type":"nps"}}]}}`, wantErr: "4xx"},
		{name: "answers not a list", body: `{"event_type":"form_response","form_response":{"form_id":"f","token":"t","answers":{}}}`, wantErr: "4xx"},
	}
	var a webhook.Typeform
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.fixture != "" {
				body = surveyFixture(t, "typeform", tt.fixture)
			}
			r := typeformRequest(surveySecret, body)
			res, err := a.Normalise(context.Background(), r, tt.mapping)
			if got := surveyErrKind(err); got != tt.wantErr {
				t.Fatalf("error %v (%q), want %q", err, got, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, res.Answers); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

// A retried delivery is the same body again: same delivery id, same answers,
// same message ids, so it counts once.
func TestTypeformRetry(t *testing.T) {
	var a webhook.Typeform
	body := surveyFixture(t, "typeform", "nps_10_comment.json")
	first, second := typeformRequest(surveySecret, body), typeformRequest(surveySecret, append([]byte{}, body...))
	if got := a.DeliveryID(first); got != "01HXTF0000000000000000NPS1" || a.DeliveryID(second) != got {
		t.Fatalf("delivery ids %q, %q", got, a.DeliveryID(second))
	}
	r1, err1 := a.Normalise(context.Background(), first, webhook.Mapping{})
	r2, err2 := a.Normalise(context.Background(), second, webhook.Mapping{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if diff := cmp.Diff(r1, r2); diff != "" {
		t.Fatalf("retry differs:\n%s", diff)
	}
	m1, _ := r1.Answers[0].Message("typeform")
	m2, _ := r2.Answers[0].Message("typeform")
	if string(m1) != string(m2) {
		t.Errorf("messages differ:\n%s\n%s", m1, m2)
	}
	if a.DeliveryID(webhook.Request{Body: []byte("not json")}) != "" {
		t.Error("delivery id of a bad body")
	}
}

func FuzzTypeform(f *testing.F) {
	for _, body := range surveyFixtures(f, "typeform") {
		f.Add(body)
	}
	var a webhook.Typeform
	mapping := webhook.Mapping{Questions: map[string]webhook.Question{"rate1": {Type: "csat", ScaleMin: 1, ScaleMax: 5}, "effort": {Type: "ces"}}}
	c := surveyFuzzCase{adapter: a, sign: typeformRequest, secret: surveySecret, otherSecret: "other", header: "Typeform-Signature",
		mapping: mapping, kind: surveyErrKind, otherKinds: "a signature, 4xx nor unprocessable"}
	f.Fuzz(func(t *testing.T, body []byte) { c.run(t, body) })
}
