package webhook_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

func delightedRequest(secret tenant.Secret, body []byte) webhook.Request {
	h := http.Header{}
	h.Set("X-Delighted-Webhook-Signature", "sha256="+hex.EncodeToString(surveyMAC(secret, body)))
	return webhook.Request{Body: body, Header: h, Now: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}
}

func TestDelightedVerify(t *testing.T) {
	var a webhook.Delighted
	for name, body := range surveyFixtures(t, "delighted") {
		t.Run(name, func(t *testing.T) {
			if err := a.Verify(surveySecret, delightedRequest(surveySecret, body)); err != nil {
				t.Fatalf("signed body: %v", err)
			}
			bare := delightedRequest(surveySecret, body)
			bare.Header.Set("X-Delighted-Webhook-Signature", hex.EncodeToString(surveyMAC(surveySecret, body)))
			if err := a.Verify(surveySecret, bare); err != nil {
				t.Fatalf("bare hex signature: %v", err)
			}
			tampered := delightedRequest(surveySecret, body)
			tampered.Body = append(append([]byte{}, body...), ' ')
			noHeader := delightedRequest(surveySecret, body)
			noHeader.Header.Del("X-Delighted-Webhook-Signature")
			sha1 := delightedRequest(surveySecret, body)
			sha1.Header.Set("X-Delighted-Webhook-Signature", "sha1="+hex.EncodeToString(surveyMAC(surveySecret, body)))
			notHex := delightedRequest(surveySecret, body)
			notHex.Header.Set("X-Delighted-Webhook-Signature", "sha256=zz")
			for what, c := range map[string]struct {
				secret tenant.Secret
				r      webhook.Request
			}{
				"wrong secret":   {"another secret", delightedRequest(surveySecret, body)},
				"empty secret":   {"", delightedRequest("", body)},
				"tampered body":  {surveySecret, tampered},
				"missing header": {surveySecret, noHeader},
				"other algo":     {surveySecret, sha1},
				"not hex":        {surveySecret, notHex},
			} {
				if err := a.Verify(c.secret, c.r); surveyErrKind(err) != "signature" {
					t.Errorf("%s: got %v, want ErrSignature", what, err)
				}
			}
		})
	}
}

func TestDelightedNormalise(t *testing.T) {
	unix := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	tests := []struct {
		name    string
		fixture string
		body    string
		mapping webhook.Mapping
		want    []webhook.Answer
		wantErr string
	}{
		{name: "created, nps 0, null comment and properties, email respondent", fixture: "created_nps_0.json",
			want: []webhook.Answer{{ResponseID: "5435", SurveyID: "nps", Type: "nps", Score: 0,
				Respondent: "charlie_gravis@example.com", At: unix(1715680060), Channel: "delighted"}}},
		{name: "updated, re-scored 10, unicode comment, account, mapped user", fixture: "updated_rescored_10.json",
			mapping: webhook.Mapping{Users: map[string]string{"charlie_gravis@example.com": "u_7"}, Touchpoint: "onboarding"},
			want: []webhook.Answer{{ResponseID: "5435", SurveyID: "nps", Type: "nps", Score: 10,
				Respondent: "u_7", Account: "acme", At: unix(1715680660), Channel: "delighted", Touchpoint: "onboarding",
				Comment: "Changed my mind: ça marche très bien ✨ 非常好"}}},
		{name: "csat with customer_id", fixture: "csat_customer_id.json", mapping: webhook.Mapping{Channel: "email"},
			want: []webhook.Answer{{ResponseID: "7001", SurveyID: "csat", Type: "csat", Score: 4,
				Respondent: "cust_77", Account: "globex", At: unix(1717200100), Channel: "email"}}},
		{name: "smileys as csat, customer_id property, no updated_at", fixture: "smileys.json",
			want: []webhook.Answer{{ResponseID: "7002", SurveyID: "smileys", Type: "csat", Score: 5,
				Respondent: "991", At: unix(1717300000), Channel: "delighted"}}},
		{name: "respondent field in person properties", fixture: "updated_rescored_10.json",
			mapping: webhook.Mapping{RespondentField: "Plan", AccountField: "missing"},
			want: []webhook.Answer{{ResponseID: "5435", SurveyID: "nps", Type: "nps", Score: 10,
				Respondent: "pro", At: unix(1715680660), Channel: "delighted",
				Comment: "Changed my mind: ça marche très bien ✨ 非常好"}}},
		{name: "thumbs mapped", fixture: "thumbs_unmapped.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"thumbs": {Type: "csat", ScaleMin: 0, ScaleMax: 1}}},
			want: []webhook.Answer{{ResponseID: "7003", SurveyID: "thumbs", Type: "csat", Score: 1,
				Respondent: "t@example.com", At: unix(1717400000), Channel: "delighted"}}},
		{name: "bare person id (REST shape)", body: `{"event_type":"survey_response.created","event_data":{"id":9,"person":"123","score":7,"created_at":1717200000}}`,
			want: []webhook.Answer{{ResponseID: "9", SurveyID: "nps", Type: "nps", Score: 7,
				Respondent: "123", At: unix(1717200000), Channel: "delighted"}}},
		{name: "thumbs unmapped", fixture: "thumbs_unmapped.json", wantErr: "unprocessable"},
		{name: "unsubscribe event", fixture: "unsubscribe.json", wantErr: "unprocessable"},
		{name: "unknown event", body: `{"event_type":"survey_response.deleted","event_data":{}}`, wantErr: "unprocessable"},
		{name: "no score", fixture: "no_score.json", wantErr: "unprocessable"},
		{name: "mapped to an unknown type", fixture: "created_nps_0.json",
			mapping: webhook.Mapping{Questions: map[string]webhook.Question{"nps": {Type: "nss"}}}, wantErr: "unprocessable"},
		{name: "no person", body: `{"event_type":"survey_response.created","event_data":{"id":"1","person":null,"score":7,"created_at":1717200000}}`, wantErr: "unprocessable"},
		{name: "nps score 11", fixture: "out_of_range.json", wantErr: "4xx"},
		{name: "malformed json", fixture: "malformed.json", wantErr: "4xx"},
		{name: "no event_data", body: `{"event_type":"survey_response.created"}`, wantErr: "4xx"},
		{name: "no id", body: `{"event_type":"survey_response.created","event_data":{"score":7,"created_at":1717200000}}`, wantErr: "4xx"},
		{name: "no time", body: `{"event_type":"survey_response.created","event_data":{"id":"1","score":7,"person":"1"}}`, wantErr: "4xx"},
		{name: "time as a string", body: `{"event_type":"survey_response.created","event_data":{"id":"1","score":7,"created_at":"2024-01-01"}}`, wantErr: "4xx"},
	}
	var a webhook.Delighted
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.fixture != "" {
				body = surveyFixture(t, "delighted", tt.fixture)
			}
			res, err := a.Normalise(context.Background(), delightedRequest(surveySecret, body), tt.mapping)
			if got := surveyErrKind(err); got != tt.wantErr {
				t.Fatalf("error %v (%q), want %q", err, got, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, res.Answers); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

// A re-scored response keeps its response id and moves its time to
// updated_at, so its message replaces the created one's; a retry of either
// is the same message again.
func TestDelightedRescoreAndRetry(t *testing.T) {
	var a webhook.Delighted
	ctx := context.Background()
	created := surveyFixture(t, "delighted", "created_nps_0.json")
	updated := surveyFixture(t, "delighted", "updated_rescored_10.json")
	c, err := a.Normalise(ctx, delightedRequest(surveySecret, created), webhook.Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.Normalise(ctx, delightedRequest(surveySecret, updated), webhook.Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Answers[0].ResponseID != u.Answers[0].ResponseID || !u.Answers[0].At.After(c.Answers[0].At) {
		t.Fatalf("re-score: created %+v, updated %+v", c.Answers[0], u.Answers[0])
	}
	again, err := a.Normalise(ctx, delightedRequest(surveySecret, append([]byte{}, updated...)), webhook.Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, again); diff != "" {
		t.Fatalf("retry differs:\n%s", diff)
	}
	m1, _ := u.Answers[0].Message("delighted")
	m2, _ := again.Answers[0].Message("delighted")
	if string(m1) != string(m2) {
		t.Errorf("retry messages differ")
	}
	if got := a.DeliveryID(delightedRequest(surveySecret, updated)); got != "c0ffee0000000000000000000000000000000000000000000000000000000002" {
		t.Errorf("delivery id %q", got)
	}
	if got := a.DeliveryID(webhook.Request{Body: []byte(`{"event_type":"survey_response.created"}`)}); got != "" {
		t.Errorf("delivery id without event_id: %q", got)
	}
}

func FuzzDelighted(f *testing.F) {
	for _, body := range surveyFixtures(f, "delighted") {
		f.Add(body)
	}
	var a webhook.Delighted
	mapping := webhook.Mapping{Questions: map[string]webhook.Question{"thumbs": {Type: "csat", ScaleMin: 0, ScaleMax: 1}}, AccountField: "account_id"}
	c := surveyFuzzCase{adapter: a, sign: delightedRequest, secret: surveySecret, otherSecret: "other", header: "X-Delighted-Webhook-Signature",
		mapping: mapping, kind: surveyErrKind, oneAnswer: true, otherKinds: "a signature, 4xx nor unprocessable"}
	f.Fuzz(func(t *testing.T, body []byte) { c.run(t, body) })
}
