package devstack_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/uptakehq/uptake/infra/router"
	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/logging/logtest"
	"github.com/uptakehq/uptake/shared/metrics"
	"github.com/uptakehq/uptake/shared/metrics/metricstest"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// TestOperationsTelemetry invokes the handlers as Lambda does (a
// lambdacontext in the context) and through the router, and reads back
// the JSON logs and the EMF records they write: ingest of a batch with bad
// and repeated messages, a webhook with a bad signature, an on-demand and
// a nightly aggregation run on the local stack.
func TestOperationsTelemetry(t *testing.T) {
	logs, out := &syncBuffer{}, &syncBuffer{}
	now := time.Date(2026, 10, 2, 0, 15, 0, 0, time.UTC) // the nightly schedule's time
	st := stacktest.StartWith(t, stacktest.Options{Logs: logs, Metrics: out, Now: func() time.Time { return now }})
	invocation := func(id string) *lambdacontext.LambdaContext { return &lambdacontext.LambdaContext{AwsRequestID: id} }

	// 1. Ingest, invoked as Lambda invokes it: 2 accepted, 1 repeat, 2 rejected.
	batch := `{"batch":[` + msg("1") + `,` + msg("1") + `,` + msg("2") + `,{"type":"track","userId":"u"},{"type":"nope","messageId":"x"}]}`
	req := httptest.NewRequest(http.MethodPost, "/v1/batch", strings.NewReader(batch))
	req.Header.Set("Authorization", "Bearer "+st.WriteKey)
	req.Header.Set("Content-Type", "application/json")
	ctx := lambdacontext.NewContext(t.Context(), invocation("req-ingest-1"))
	resp, err := st.App.Ingest.Handle(ctx, router.Event(req, []byte(batch), "POST /v1/batch", nil))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	var rejected []map[string]any
	for _, l := range logtest.Lines(t, logs.String()) {
		if l["message"] == "messages rejected" {
			rejected = append(rejected, l)
		}
	}
	if len(rejected) != 1 || rejected[0]["requestId"] != "req-ingest-1" || rejected[0]["tenant"] != "demo" || rejected[0]["level"] != "WARN" {
		t.Errorf("log records of the rejected messages = %v, want one WARN with requestId req-ingest-1 and tenant demo\nlogs:\n%s", rejected, logs.String())
	}
	recs := metricstest.Records(t, []byte(out.String()))
	ing := metricstest.Find(recs, metrics.EventsAccepted)
	if len(ing) != 1 {
		t.Fatalf("ingest records: %d, want 1:\n%s", len(ing), out.String())
	}
	r := ing[0]
	if r.Namespace != "Uptake" || r.String(metrics.Stack) != "local" || r.String("requestId") != "req-ingest-1" || r.String("tenant") != "demo" ||
		r.Value(t, metrics.EventsAccepted) != 2 || r.Value(t, metrics.EventsRejected) != 2 || r.Value(t, metrics.EventsDuplicated) != 1 {
		t.Errorf("ingest record = %v, want namespace Uptake, Stack local, requestId req-ingest-1, tenant demo, 2 accepted, 2 rejected, 1 duplicated", r.Members)
	}

	// 2. Webhooks through the router: a bad signature fails, an unknown
	// provider is no dimension value, a good delivery is no failure.
	survey := []byte(`{"id":"r1","type":"nps","score":3,"respondent":"u1","submitted_at":"2026-10-01T10:00:00Z"}`)
	bad := map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret("not-the-secret"), survey, now)}
	good := map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(st.WebhookSecret), survey, now)}
	if got := do(t, http.MethodPost, st.URL+"/v1/webhooks/survey/demo", bad, survey); got.status != 401 {
		t.Fatalf("bad signature: %d %s", got.status, got.body)
	}
	if got := do(t, http.MethodPost, st.URL+"/v1/webhooks/no-such-tool/demo", bad, survey); got.status != 404 {
		t.Fatalf("unknown provider: %d %s", got.status, got.body)
	}
	if got := do(t, http.MethodPost, st.URL+"/v1/webhooks/survey/demo", good, survey); got.status != 200 {
		t.Fatalf("signed webhook: %d %s", got.status, got.body)
	}
	recs = metricstest.Records(t, []byte(out.String()))
	fails := metricstest.Find(recs, metrics.WebhookFailures)
	if len(fails) != 1 {
		t.Fatalf("webhook failure records: %d, want 1 (the bad signature):\n%s", len(fails), metricstest.Describe(fails))
	}
	f := fails[0]
	if f.String(metrics.Provider) != "survey" || f.Value(t, metrics.WebhookFailures) != 1 || fmt.Sprint(f.Members["status"]) != "401" ||
		f.String("requestId") == "" || f.String("tenant") != "" {
		t.Errorf("webhook failure record = %v, want Provider survey, 1 failure, status 401, a request id and no tenant (the signature did not name one)", f.Members)
	}
	if ing := metricstest.Find(recs, metrics.EventsAccepted); len(ing) != 2 || ing[1].Value(t, metrics.EventsAccepted) != 1 || ing[1].String("tenant") != "demo" {
		t.Errorf("the signed delivery's ingest record is missing or wrong:\n%s", metricstest.Describe(ing))
	}

	// 3. An on-demand run (admin route) and the nightly run (scheduled
	// function, invoked as Lambda does).
	if got := do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2026-10-01","to":"2026-10-01"}`)); got.status != 200 {
		t.Fatalf("aggregate: %d %s", got.status, got.body)
	}
	if err := st.App.Nightly(lambdacontext.NewContext(t.Context(), invocation("req-nightly-1")), events.EventBridgeEvent{}); err != nil {
		t.Fatalf("nightly: %v", err)
	}
	recs = metricstest.Records(t, []byte(out.String()))
	runs := metricstest.Find(recs, metrics.AggregationDuration)
	if len(runs) != 2 {
		t.Fatalf("aggregation records: %d, want 2:\n%s", len(runs), metricstest.Describe(runs))
	}
	onDemand, nightly := runs[0], runs[1]
	if onDemand.String(metrics.Trigger) != metrics.TriggerOnDemand || onDemand.String("tenant") != "demo" || onDemand.Value(t, metrics.AggregationDuration) < 0 {
		t.Errorf("on-demand run record = %v", onDemand.Members)
	}
	if _, has := onDemand.Values[metrics.AggregationLag]; has {
		t.Errorf("on-demand run record has a lag: %v", onDemand.Members)
	}
	// The nightly run at 00:15 UTC aggregates 2026-10-01 (UTC), which
	// ended 15 minutes before; the clock stands still, so the run took 0.
	if nightly.String(metrics.Trigger) != metrics.TriggerNightly || nightly.String("tenant") != "demo" || nightly.String("requestId") != "req-nightly-1" ||
		nightly.Value(t, metrics.AggregationLag) != 900 || nightly.Value(t, metrics.AggregationDuration) != 0 {
		t.Errorf("nightly run record = %v, want Trigger nightly, tenant demo, requestId req-nightly-1, lag 900 s, duration 0 ms", nightly.Members)
	}
	// Every log record of the nightly invocation names it and its tenant.
	for _, l := range logtest.Lines(t, logs.String()) {
		if l["requestId"] == "req-nightly-1" && l["tenant"] != "demo" {
			t.Errorf("nightly log record without its tenant: %v", l)
		}
	}
}
