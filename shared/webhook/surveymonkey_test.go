package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// surveyMonkeySecret is "<client id>&<client secret>", the HMAC key of
// SurveyMonkey's signatures.
const surveyMonkeySecret tenant.Secret = "sm-client-id-123&sm-secret-секрет"

const surveyMonkeyToken tenant.Secret = "sm-access-token-xyz"

func surveyMonkeyMAC(secret tenant.Secret, body []byte) []byte {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func surveyMonkeyRequest(secret tenant.Secret, body []byte) webhook.Request {
	h := http.Header{}
	h.Set("Sm-Signature", base64.StdEncoding.EncodeToString(surveyMonkeyMAC(secret, body)))
	h.Set("Sm-Apikey", "sm-client-id-123")
	return webhook.Request{Body: body, Header: h, Now: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}
}

// surveyMonkeyErrKind is surveyErrKind, with "fetch" for a failed call to
// SurveyMonkey's API: a plain error, so the handler keeps the delivery.
func surveyMonkeyErrKind(err error) string {
	k := surveyErrKind(err)
	if k == "other" && errors.Is(err, webhook.ErrSurveyMonkeyAPI) {
		if _, isAPI := apierr.As(err); !isAPI {
			return "fetch"
		}
	}
	return k
}

var surveyMonkeyDetailsPath = regexp.MustCompile(`^/v3/surveys/([0-9A-Za-z_-]+)/responses/([0-9A-Za-z_-]+)/details$`)

// fakeSurveyMonkey is a local SurveyMonkey API serving the fixtures'
// response details (details_<response id>.json) to the bearer token
// surveyMonkeyToken. It answers 500 while fail is set.
type fakeSurveyMonkey struct {
	*httptest.Server
	fail  atomic.Bool
	calls atomic.Int64
}

func newFakeSurveyMonkey(t testing.TB) *fakeSurveyMonkey {
	t.Helper()
	f := &fakeSurveyMonkey{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if f.fail.Load() {
			http.Error(w, `{"error":{"id":"1050","name":"Internal Server Error"}}`, http.StatusInternalServerError)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+string(surveyMonkeyToken) {
			http.Error(w, `{"error":{"id":"1011","name":"Authorization Error"}}`, http.StatusUnauthorized)
			return
		}
		m := surveyMonkeyDetailsPath.FindStringSubmatch(r.URL.Path)
		if m == nil {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", "surveymonkey", "details_"+m[2]+".json"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSurveyMonkey) adapter() webhook.SurveyMonkey {
	return webhook.NewSurveyMonkey(f.Client(), f.URL+"/v3/")
}

func TestNewSurveyMonkey(t *testing.T) {
	if got := webhook.NewSurveyMonkey(nil, ""); got.BaseURL != "https://api.surveymonkey.com/v3" || got.Client != nil {
		t.Errorf("default %+v", got)
	}
	c := &http.Client{}
	if got := webhook.NewSurveyMonkey(c, "http://x/v3/"); got.BaseURL != "http://x/v3" || got.Client != c {
		t.Errorf("custom %+v", got)
	}
}

func TestSurveyMonkeyVerify(t *testing.T) {
	var a webhook.SurveyMonkey
	for name, body := range surveyFixtures(t, "surveymonkey") {
		t.Run(name, func(t *testing.T) {
			if err := a.Verify(surveyMonkeySecret, surveyMonkeyRequest(surveyMonkeySecret, body)); err != nil {
				t.Fatalf("signed body: %v", err)
			}
			tampered := append([]byte{}, body...)
			tampered[len(tampered)/2] ^= 1
			tamperedReq := surveyMonkeyRequest(surveyMonkeySecret, body)
			tamperedReq.Body = tampered
			noHeader := surveyMonkeyRequest(surveyMonkeySecret, body)
			noHeader.Header.Del("Sm-Signature")
			rawSig := surveyMonkeyRequest(surveyMonkeySecret, body)
			rawSig.Header.Set("Sm-Signature", string(surveyMonkeyMAC(surveyMonkeySecret, body)))
			secretOnly := tenant.Secret("sm-secret-секрет")
			for what, c := range map[string]struct {
				secret tenant.Secret
				r      webhook.Request
			}{
				"wrong secret":       {"another&secret", surveyMonkeyRequest(surveyMonkeySecret, body)},
				"client secret only": {secretOnly, surveyMonkeyRequest(secretOnly, body)},
				"empty secret":       {"", surveyMonkeyRequest("", body)},
				"tampered body":      {surveyMonkeySecret, tamperedReq},
				"missing header":     {surveyMonkeySecret, noHeader},
				"not base64":         {surveyMonkeySecret, rawSig},
				"sha256 instead of sha1": {surveyMonkeySecret, func() webhook.Request {
					r := surveyMonkeyRequest(surveyMonkeySecret, body)
					r.Header.Set("Sm-Signature", base64.StdEncoding.EncodeToString(surveyMAC(surveyMonkeySecret, body)))
					return r
				}()},
			} {
				if err := a.Verify(c.secret, c.r); !errors.Is(err, webhook.ErrSignature) {
					t.Errorf("%s: got %v, want ErrSignature", what, err)
				}
			}
		})
	}
}

func TestSurveyMonkeyNormalise(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	const comment = "Très bien 👍 — 素晴らしい"
	nps := map[string]webhook.Question{"q_nps": {Type: "nps"}}
	withToken := func(m webhook.Mapping) webhook.Mapping {
		m.APIToken = surveyMonkeyToken
		return m
	}
	tests := []struct {
		name      string
		fixture   string
		body      string // instead of fixture
		mapping   webhook.Mapping
		noToken   bool
		want      []webhook.Answer
		wantErr   string // "", "4xx", "unprocessable" or "fetch"
		wantCalls int64
	}{
		{name: "nps 10 by choice weight, unicode comment, csat unmapped", fixture: "completed_nps_10.json", mapping: webhook.Mapping{Questions: nps},
			want: []webhook.Answer{{ResponseID: "1001", SurveyID: "500100", Type: "nps", Score: 10,
				Respondent: "u_42", Account: "acme", At: at("2024-05-14T10:00:12Z"), Channel: "surveymonkey", Comment: comment}},
			wantCalls: 1},
		{name: "csat by choice text, user mapped, channel and touchpoint", fixture: "completed_nps_10.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"q_nps": {Type: "nps"}, "q_csat": {Type: "csat", ScaleMin: 1, ScaleMax: 5}},
				Users: map[string]string{"u_42": "user-42"}, Channel: "email", Touchpoint: "renewal"},
			want: []webhook.Answer{
				{ResponseID: "1001", SurveyID: "500100", Type: "nps", Score: 10,
					Respondent: "user-42", Account: "acme", At: at("2024-05-14T10:00:12Z"), Channel: "email", Touchpoint: "renewal", Comment: comment},
				{ResponseID: "1001", SurveyID: "500100", Type: "csat", Score: 4,
					Respondent: "user-42", Account: "acme", At: at("2024-05-14T10:00:12Z"), Channel: "email", Touchpoint: "renewal", Comment: comment},
			}, wantCalls: 1},
		{name: "nps 0 (numeric weight), comment skipped, respondent from contact email", fixture: "completed_nps_0_skipped.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"q_nps": {Type: "nps"}, "q_why": {Type: "csat"}}},
			want: []webhook.Answer{{ResponseID: "1002", SurveyID: "500100", Type: "nps", Score: 0,
				Respondent: "jane@example.com", At: at("2024-05-15T16:30:45.123Z"), Channel: "surveymonkey"}},
			wantCalls: 1},
		{name: "updated response: rescored 9, numeric text mapped to ces, numeric custom variable, offset time", fixture: "updated_rescored.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"q_nps": {Type: "nps"}, "q_effort": {Type: "ces", ScaleMin: 1, ScaleMax: 7}}},
			want: []webhook.Answer{
				{ResponseID: "1003", SurveyID: "500100", Type: "nps", Score: 9, Respondent: "1234", At: at("2024-05-20T08:15:00Z"), Channel: "surveymonkey"},
				{ResponseID: "1003", SurveyID: "500100", Type: "ces", Score: 6, Respondent: "1234", At: at("2024-05-20T08:15:00Z"), Channel: "surveymonkey"},
			}, wantCalls: 1},
		{name: "respondent field not set, falls back to email_address; unmapped text answer is the comment", fixture: "updated_rescored.json",
			mapping:   webhook.Mapping{Questions: nps, RespondentField: "uid", Users: map[string]string{"bob@example.com": "user-bob"}},
			want:      []webhook.Answer{{ResponseID: "1003", SurveyID: "500100", Type: "nps", Score: 9, Respondent: "user-bob", At: at("2024-05-20T08:15:00Z"), Channel: "surveymonkey", Comment: "6"}},
			wantCalls: 1},
		{name: "no mapped question answered", fixture: "completed_unmapped.json", mapping: webhook.Mapping{Questions: nps}, wantErr: "unprocessable", wantCalls: 1},
		{name: "no mapping at all: no call", fixture: "completed_nps_10.json", wantErr: "unprocessable"},
		{name: "mapped choice without weight or numeric text", fixture: "completed_unmapped.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"q_color": {Type: "csat"}}}, wantErr: "unprocessable", wantCalls: 1},
		{name: "mapped to an unknown type", fixture: "completed_nps_10.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"q_nps": {Type: "stars"}}}, wantErr: "unprocessable", wantCalls: 1},
		{name: "score outside the mapped scale", fixture: "completed_nps_10.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"q_csat": {Type: "csat", ScaleMin: 1, ScaleMax: 3}}}, wantErr: "unprocessable", wantCalls: 1},
		{name: "no API token: no call", fixture: "completed_nps_10.json", mapping: webhook.Mapping{Questions: nps}, noToken: true, wantErr: "unprocessable"},
		{name: "unknown event type: no call", fixture: "collector_created_unknown_event.json", mapping: webhook.Mapping{Questions: nps}, wantErr: "unprocessable"},
		{name: "malformed json", fixture: "malformed.json", wantErr: "4xx"},
		{name: "no object_id", body: `{"event_type":"response_completed","object_type":"response","resources":{"survey_id":"500100"}}`, wantErr: "4xx"},
		{name: "no survey_id", body: `{"event_type":"response_completed","object_type":"response","object_id":"1001"}`, wantErr: "4xx"},
		{name: "path in object_id", body: `{"event_type":"response_completed","object_type":"response","object_id":"../../users/me","resources":{"survey_id":"500100"}}`, wantErr: "4xx"},
		{name: "resources not an object", body: `{"event_type":"response_completed","object_id":"1001","resources":[]}`, wantErr: "4xx"},
		{name: "unknown response: API 404 is kept", body: `{"event_type":"response_completed","object_type":"response","object_id":"9999","resources":{"survey_id":"500100"}}`,
			mapping: webhook.Mapping{Questions: nps}, wantErr: "fetch", wantCalls: 1},
		{name: "wrong token: API 401 is kept", fixture: "completed_nps_10.json", mapping: webhook.Mapping{Questions: nps, APIToken: "revoked"}, wantErr: "fetch", wantCalls: 1},
	}
	sm := newFakeSurveyMonkey(t)
	a := sm.adapter()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.fixture != "" {
				body = surveyFixture(t, "surveymonkey", tt.fixture)
			}
			m := tt.mapping
			if m.APIToken == "" && !tt.noToken {
				m = withToken(m)
			}
			before := sm.calls.Load()
			res, err := a.Normalise(context.Background(), surveyMonkeyRequest(surveyMonkeySecret, body), m)
			if got := surveyMonkeyErrKind(err); got != tt.wantErr {
				t.Fatalf("error %v (%q), want %q", err, got, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, res.Answers); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			if calls := sm.calls.Load() - before; calls != tt.wantCalls {
				t.Errorf("%d calls to the API, want %d", calls, tt.wantCalls)
			}
		})
	}
}

// A failed follow-up call is a plain error (kept, 202, reprocessed later);
// once the API answers again the same delivery goes through.
func TestSurveyMonkeyAPIDown(t *testing.T) {
	body := surveyFixture(t, "surveymonkey", "completed_nps_10.json")
	r := surveyMonkeyRequest(surveyMonkeySecret, body)
	m := webhook.Mapping{Questions: map[string]webhook.Question{"q_nps": {Type: "nps"}}, APIToken: surveyMonkeyToken}
	want := []webhook.Answer{{ResponseID: "1001", SurveyID: "500100", Type: "nps", Score: 10, Respondent: "u_42", Account: "acme",
		At: time.Date(2024, 5, 14, 10, 0, 12, 0, time.UTC), Channel: "surveymonkey", Comment: "Très bien 👍 — 素晴らしい"}}
	keptAs := func(t *testing.T, err error) {
		t.Helper()
		if got := surveyMonkeyErrKind(err); got != "fetch" {
			t.Fatalf("error %v (%q), want a fetch error", err, got)
		}
		if _, isAPI := apierr.As(err); isAPI || webhook.IsUnprocessable(err) || errors.Is(err, webhook.ErrSignature) {
			t.Fatalf("error %T %v would not be kept as-is", err, err)
		}
		if err != nil && strings.Contains(err.Error(), string(surveyMonkeyToken)) {
			t.Fatalf("error shows the token: %v", err)
		}
	}

	t.Run("500 then ok", func(t *testing.T) {
		sm := newFakeSurveyMonkey(t)
		a := sm.adapter()
		sm.fail.Store(true)
		_, err := a.Normalise(context.Background(), r, m)
		keptAs(t, err)
		sm.fail.Store(false)
		res, err := a.Normalise(context.Background(), r, m)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, res.Answers); diff != "" {
			t.Errorf("answers (-want +got):\n%s", diff)
		}
	})
	t.Run("closed server then ok", func(t *testing.T) {
		down := newFakeSurveyMonkey(t)
		a := down.adapter()
		down.Close()
		_, err := a.Normalise(context.Background(), r, m)
		keptAs(t, err)
		up := newFakeSurveyMonkey(t)
		res, err := up.adapter().Normalise(context.Background(), r, m)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, res.Answers); diff != "" {
			t.Errorf("answers (-want +got):\n%s", diff)
		}
	})
	t.Run("request context cancelled", func(t *testing.T) {
		sm := newFakeSurveyMonkey(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := sm.adapter().Normalise(ctx, r, m)
		keptAs(t, err)
	})
	t.Run("not json from the API", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>")) }))
		defer srv.Close()
		_, err := webhook.NewSurveyMonkey(srv.Client(), srv.URL).Normalise(context.Background(), r, m)
		keptAs(t, err)
	})
}

// A retried delivery is the same body again: same delivery id, same answers,
// same message ids, so it counts once.
func TestSurveyMonkeyRetry(t *testing.T) {
	a := newFakeSurveyMonkey(t).adapter()
	body := surveyFixture(t, "surveymonkey", "completed_nps_10.json")
	first, second := surveyMonkeyRequest(surveyMonkeySecret, body), surveyMonkeyRequest(surveyMonkeySecret, append([]byte{}, body...))
	if got := a.DeliveryID(first); got != "90010001" || a.DeliveryID(second) != got {
		t.Fatalf("delivery ids %q, %q", got, a.DeliveryID(second))
	}
	m := webhook.Mapping{Questions: map[string]webhook.Question{"q_nps": {Type: "nps"}}, APIToken: surveyMonkeyToken}
	r1, err1 := a.Normalise(context.Background(), first, m)
	r2, err2 := a.Normalise(context.Background(), second, m)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if diff := cmp.Diff(r1, r2); diff != "" {
		t.Fatalf("retry differs:\n%s", diff)
	}
	m1, _ := r1.Answers[0].Message("surveymonkey")
	m2, _ := r2.Answers[0].Message("surveymonkey")
	if string(m1) != string(m2) {
		t.Errorf("messages differ:\n%s\n%s", m1, m2)
	}
	for body, want := range map[string]string{
		"not json": "",
		`{"event_type":"response_updated","object_id":"1003","event_datetime":"2024-05-20T08:15:02+00:00"}`: "response_updated:1003:2024-05-20T08:15:02+00:00",
		`{"event_type":"response_updated","object_id":"1003"}`:                                              "",
	} {
		if got := a.DeliveryID(webhook.Request{Body: []byte(body)}); got != want {
			t.Errorf("delivery id of %s: %q, want %q", body, got, want)
		}
	}
}

func FuzzSurveyMonkey(f *testing.F) {
	for _, body := range surveyFixtures(f, "surveymonkey") {
		f.Add(body)
	}
	sm := newFakeSurveyMonkey(f)
	a := sm.adapter()
	mapping := webhook.Mapping{
		Questions: map[string]webhook.Question{"q_nps": {Type: "nps"}, "q_csat": {Type: "csat", ScaleMin: 1, ScaleMax: 5}, "q_effort": {Type: "ces"}, "q_color": {Type: "csat"}},
		APIToken:  surveyMonkeyToken,
	}
	c := surveyFuzzCase{adapter: a, sign: surveyMonkeyRequest, secret: surveyMonkeySecret, otherSecret: "other&secret", header: "Sm-Signature",
		mapping: mapping, kind: surveyMonkeyErrKind, otherKinds: "a signature, 4xx, unprocessable nor fetch"}
	f.Fuzz(func(t *testing.T, body []byte) { c.run(t, body) })
}
