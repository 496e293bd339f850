package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// TestSampleEvents checks the `sam local invoke` samples of every tool:
// each is signed as the tool signs, with the local stack's secret, and
// the signature fails once the body changes.
func TestSampleEvents(t *testing.T) {
	files, err := filepath.Glob("../../events/webhooks-*.json")
	if err != nil || len(files) < 8 {
		t.Fatalf("webhook samples: %v %v", files, err)
	}
	adapters := webhook.DefaultAdapters(nil)
	signedAt := time.Date(2026, 10, 2, 10, 0, 4, 0, time.UTC)
	for _, f := range files {
		provider := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "webhooks-"), ".json")
		a, ok := adapters[provider]
		if !ok {
			continue // the generic survey and ticket shapes are checked with the template's samples
		}
		t.Run(provider, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.PathParameters["provider"] != provider {
				t.Fatalf("sample for %s has provider %q", provider, ev.PathParameters["provider"])
			}
			secret := tenant.Secret("demo-webhook-secret")
			if provider == "surveymonkey" {
				secret = "demo-client-id&demo-webhook-secret" // SurveyMonkey keys with "<client id>&<secret>"
			}
			r := webhook.Request{Body: []byte(ev.Body), Header: http.Header{}, Query: ev.QueryStringParameters, Now: signedAt}
			for k, v := range ev.Headers {
				r.Header.Set(k, v)
			}
			if err := a.Verify(secret, r); err != nil {
				t.Fatalf("the sample's signature does not verify: %v", err)
			}
			if provider != "surveymonkey" {
				if _, err := a.Normalise(context.Background(), r, webhook.Mapping{}); err != nil {
					t.Errorf("the sample does not normalise: %v", err)
				}
			}
			if provider != "freshdesk" { // a token, not a signature over the body
				r.Body = append(r.Body, ' ')
				if err := a.Verify(secret, r); err == nil {
					t.Error("the signature still verifies after the body changed")
				}
			}
		})
	}
}
