package devstack_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// syncBuffer is a buffer the stack's goroutines can write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsHoldNoSecrets drives every kind of request, good and bad, with
// the logs captured, and fails if any key, secret, email or comment the
// test used appears in them.
func TestLogsHoldNoSecrets(t *testing.T) {
	logs := &syncBuffer{}
	st := stacktest.StartWith(t, stacktest.Options{Logs: logs})
	const email, comment = "jane.secret@acme.example", "my private complaint text"
	batch := `{"batch":[{"type":"identify","messageId":"l1","userId":"u1","timestamp":"2026-10-01T08:00:00Z","traits":{"email":"` + email + `","plan":"pro"}},
{"type":"track","event":"Survey Responded","messageId":"l2","userId":"u1","timestamp":"2026-10-01T09:00:00Z","properties":{"survey_type":"nps","score":2,"comment":"` + comment + `"}},
{"type":"track","event":"Survey Responded","messageId":"l3","userId":"u1","timestamp":"2026-10-01T09:00:00Z","properties":{"survey_type":"nps","score":99,"comment":"` + comment + `"}}]}`
	do(t, http.MethodPut, st.URL+"/v1/config", bearer(st.AdminKey), []byte(`{"alert_url":"http://127.0.0.1:1/x"}`))
	do(t, http.MethodPost, st.URL+"/v1/batch", bearer(st.WriteKey), []byte(batch))
	do(t, http.MethodPost, st.URL+"/v1/batch", bearer(st.ReadKey), []byte(batch))
	do(t, http.MethodPost, st.URL+"/v1/batch", bearer("not-a-key-"+st.WriteKey), []byte(batch))
	survey := []byte(`{"id":"r1","type":"nps","score":1,"respondent":"` + email + `","submitted_at":"2026-10-01T10:00:00Z","comment":"` + comment + `"}`)
	sig := webhook.Sign(tenant.Secret(st.WebhookSecret), survey, time.Now())
	do(t, http.MethodPost, st.URL+"/v1/webhooks/survey/demo", map[string]string{webhook.SignatureHeader: sig}, survey)
	do(t, http.MethodPost, st.URL+"/v1/webhooks/survey/demo", map[string]string{webhook.SignatureHeader: sig + "0"}, survey)
	do(t, http.MethodPut, st.URL+"/v1/admin/webhooks/typeform", bearer(st.AdminKey), []byte(`{"secret":"typeform-secret-xyz","mapping":{"api_token":"tok-abc-123"}}`))
	do(t, http.MethodPost, st.URL+"/v1/webhooks/typeform/demo", map[string]string{"Typeform-Signature": "sha256=AAAA"}, []byte(`{"event_type":"form_response","form_response":{"hidden":{"user_id":"`+email+`"}}}`))
	do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2026-10-01","to":"2026-10-01"}`))
	st.App.Alerts.Send(t.Context()) // the alert URL refuses: logged, with no content
	do(t, http.MethodGet, st.URL+"/v1/kpis/detractor_followups?from=2026-10-01&to=2026-10-01", bearer(st.ReadKey), nil)
	if r := do(t, http.MethodDelete, st.URL+"/v1/users/"+email, bearer(st.AdminKey), nil); r.status != 200 { // a user known by their email
		t.Fatalf("erase: %d %s", r.status, r.body)
	}

	out := logs.String()
	if !strings.Contains(out, "alert not delivered") {
		t.Fatalf("the test did not exercise the logging paths; logs:\n%s", out)
	}
	for _, secret := range []string{st.WriteKey, st.ReadKey, st.AdminKey, st.WebhookSecret, "typeform-secret-xyz", "tok-abc-123", email, comment} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}
