package samtemplate_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uptakehq/uptake/infra/samtemplate"
)

// Dev credentials of the local stack's demo tenant (docs/spec/api.md).
const (
	demoWriteKey      = "demo-write-key"
	demoReadKey       = "demo-read-key"
	demoAdminKey      = "demo-admin-key"
	demoWebhookSecret = "demo-webhook-secret"
)

// wantKey is the API key each function's samples must carry.
var wantKey = map[string]string{
	"IngestFunction": demoWriteKey,
	"QueryFunction":  demoReadKey,
	"AdminFunction":  demoAdminKey,
	// WebhooksFunction: authenticated by the provider's signature instead.
}

// requiredEvents are the samples sam local invoke -e needs, by file.
var requiredEvents = map[string]string{ // file -> routeKey, or "schedule"
	"ingest-batch.json":       "POST /v1/batch",
	"ingest-track.json":       "POST /v1/track",
	"ingest-identify.json":    "POST /v1/identify",
	"webhooks-survey.json":    "POST /v1/webhooks/{provider}/{tenant}",
	"query-kpi-dau.json":      "GET /v1/kpis/{id}",
	"query-kpis.json":         "GET /v1/kpis",
	"admin-aggregate.json":    "POST /v1/admin/aggregate",
	"admin-config-get.json":   "GET /v1/config",
	"admin-erase-user.json":   "DELETE /v1/users/{id}",
	"aggregate-schedule.json": "schedule",
}

// decodeStrict decodes exactly one JSON value into v, refusing fields v
// does not have.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func eventsDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "events")
}

func TestEvents(t *testing.T) {
	tpl := loadRepoTemplate(t)
	routes := map[string]samtemplate.Route{}
	for _, r := range tpl.Routes() {
		routes[r.Method+" "+r.Path] = r
	}

	files, err := filepath.Glob(filepath.Join(eventsDir(t), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		present[name] = true
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var probe map[string]json.RawMessage
			if err := json.Unmarshal(data, &probe); err != nil {
				t.Fatalf("not a JSON object: %v", err)
			}
			_, scheduled := probe["detail-type"]
			want, required := requiredEvents[name]
			switch {
			case scheduled:
				if required && want != "schedule" {
					t.Fatalf("is an EventBridge event, want an API Gateway request for %s", want)
				}
				checkScheduledEvent(t, tpl, data)
			default:
				if required && want == "schedule" {
					t.Fatal("is not an EventBridge scheduled event")
				}
				req := checkHTTPEvent(t, routes, data)
				if required && req.RouteKey != want {
					t.Errorf("routeKey %q, want %q", req.RouteKey, want)
				}
			}
		})
	}
	for name := range requiredEvents {
		if !present[name] {
			t.Errorf("events/%s is missing", name)
		}
	}
}

// checkHTTPEvent checks an API Gateway HTTP API payload v2.0 request against
// the template's routes.
func checkHTTPEvent(t *testing.T, routes map[string]samtemplate.Route, data []byte) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := decodeStrict(data, &req); err != nil {
		t.Fatalf("does not decode strictly into events.APIGatewayV2HTTPRequest: %v", err)
	}
	if req.Version != "2.0" {
		t.Errorf("version %q, want 2.0", req.Version)
	}
	route, ok := routes[req.RouteKey]
	if !ok {
		t.Fatalf("routeKey %q is no route of template.yaml", req.RouteKey)
	}
	rc := req.RequestContext
	if rc.RouteKey != req.RouteKey {
		t.Errorf("requestContext.routeKey %q != routeKey %q", rc.RouteKey, req.RouteKey)
	}
	if rc.HTTP.Method != route.Method {
		t.Errorf("requestContext.http.method %q, route method %q", rc.HTTP.Method, route.Method)
	}
	if rc.HTTP.Path != req.RawPath {
		t.Errorf("requestContext.http.path %q != rawPath %q", rc.HTTP.Path, req.RawPath)
	}
	if rc.HTTP.SourceIP == "" || rc.RequestID == "" || rc.APIID == "" || rc.Stage == "" || rc.TimeEpoch == 0 {
		t.Error("requestContext lacks sourceIp, requestId, apiId, stage or timeEpoch")
	}

	params, ok := matchRoute(route.Path, req.RawPath)
	if !ok {
		t.Errorf("rawPath %q does not match route %s", req.RawPath, route.Path)
	}
	if d := cmp.Diff(params, req.PathParameters, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("pathParameters do not match rawPath (-from rawPath +pathParameters):\n%s", d)
	}
	query, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		t.Errorf("rawQueryString: %v", err)
	}
	flat := map[string]string{}
	for k, v := range query {
		flat[k] = strings.Join(v, ",") // as API Gateway joins repeated parameters
	}
	if d := cmp.Diff(flat, req.QueryStringParameters, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("queryStringParameters do not match rawQueryString (-from rawQueryString +queryStringParameters):\n%s", d)
	}

	for k := range req.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q: HTTP APIs deliver header names in lower case", k)
		}
	}
	if req.IsBase64Encoded {
		t.Error("isBase64Encoded is true; the samples carry JSON text bodies")
	}
	if req.Body != "" {
		if !json.Valid([]byte(req.Body)) {
			t.Error("body is not valid JSON")
		}
		if !strings.HasPrefix(req.Headers["content-type"], "application/json") {
			t.Errorf("body without content-type application/json (%q)", req.Headers["content-type"])
		}
		if n := req.Headers["content-length"]; n != "" && n != strconv.Itoa(len(req.Body)) {
			t.Errorf("content-length %s, body has %d bytes", n, len(req.Body))
		}
	} else if route.Method == "POST" || route.Method == "PUT" {
		t.Errorf("%s request without a body", route.Method)
	}

	if key, ok := wantKey[route.Function]; ok {
		got, scheme := apiKey(req.Headers["authorization"])
		if got != key {
			t.Errorf("authorization %q carries key %q (%s), want %q", req.Headers["authorization"], got, scheme, key)
		}
	}
	if route.Function == "WebhooksFunction" && req.PathParameters["provider"] == "survey" {
		if err := verifyUptakeSignature(req.Headers["x-uptake-signature"], req.Body, demoWebhookSecret); err != nil {
			t.Errorf("x-uptake-signature: %v", err)
		}
	}
	return req
}

// matchRoute matches a path against an HTTP API route path ("{name}" is
// one segment, "{name+}" the rest) and returns the path parameters.
func matchRoute(pattern, path string) (map[string]string, bool) {
	var names []string
	var expr strings.Builder
	expr.WriteString("^")
	for _, seg := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		expr.WriteString("/")
		switch {
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "+}"):
			names = append(names, seg[1:len(seg)-2])
			expr.WriteString("(.+)")
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			names = append(names, seg[1:len(seg)-1])
			expr.WriteString("([^/]+)")
		default:
			expr.WriteString(regexp.QuoteMeta(seg))
		}
	}
	expr.WriteString("$")
	m := regexp.MustCompile(expr.String()).FindStringSubmatch(path)
	if m == nil {
		return nil, false
	}
	params := map[string]string{}
	for i, n := range names {
		params[n] = m[i+1]
	}
	return params, true
}

// apiKey extracts the key of "Basic base64(key:)" or "Bearer key".
func apiKey(authorization string) (key, scheme string) {
	scheme, cred, _ := strings.Cut(authorization, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return "", scheme
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || pass != "" {
			return "", scheme
		}
		return user, scheme
	case "bearer":
		return cred, scheme
	}
	return "", scheme
}

// verifyUptakeSignature checks "t=<unix>,v1=<hex>" where hex is the
// HMAC-SHA256 of "<unix>.<body>" under the secret.
func verifyUptakeSignature(header, body, secret string) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return fmt.Errorf("timestamp %q: %v", ts, err)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("v1 %q: %v", sig, err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + body))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("does not verify")
	}
	return nil
}

func checkScheduledEvent(t *testing.T, tpl *samtemplate.Template, data []byte) {
	t.Helper()
	var ev events.EventBridgeEvent
	if err := decodeStrict(data, &ev); err != nil {
		t.Fatalf("does not decode strictly into events.EventBridgeEvent: %v", err)
	}
	if ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
		t.Errorf("source %q, detail-type %q: want aws.events, Scheduled Event", ev.Source, ev.DetailType)
	}
	rule := regexp.MustCompile(`^arn:aws:events:[a-z0-9-]+:\d{12}:rule/\S+$`)
	if len(ev.Resources) != 1 || !rule.MatchString(ev.Resources[0]) {
		t.Errorf("resources %q, want one EventBridge rule ARN", ev.Resources)
	}
	if ev.ID == "" || ev.AccountID == "" || ev.Region == "" {
		t.Error("id, account or region is empty")
	}
	if string(bytes.TrimSpace(ev.Detail)) != "{}" {
		t.Errorf("detail %s, want {}", ev.Detail)
	}
	if want := time.Date(2026, 10, 2, 0, 15, 0, 0, time.UTC); !ev.Time.Equal(want) {
		t.Errorf("time %v, want %v", ev.Time, want)
	}
	if agg, ok := tpl.Function("AggregateFunction"); !ok || len(agg.Schedules) == 0 {
		t.Error("no scheduled AggregateFunction in the template for this event")
	}
}

// TestEventBodies checks the business content of the samples the brief
// fixes: the Segment batch and the signed generic survey webhook.
func TestEventBodies(t *testing.T) {
	read := func(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(eventsDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		var req events.APIGatewayV2HTTPRequest
		if err := decodeStrict(data, &req); err != nil {
			t.Fatal(err)
		}
		return req
	}

	t.Run("ingest-batch.json", func(t *testing.T) {
		var body struct {
			Batch []struct {
				Type       string         `json:"type"`
				Event      string         `json:"event"`
				MessageID  string         `json:"messageId"`
				Timestamp  time.Time      `json:"timestamp"`
				Properties map[string]any `json:"properties"`
			} `json:"batch"`
			SentAt time.Time `json:"sentAt"`
		}
		if err := json.Unmarshal([]byte(read(t, "ingest-batch.json").Body), &body); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		ids := map[string]bool{}
		for _, m := range body.Batch {
			kinds = append(kinds, strings.TrimSpace(m.Type+" "+m.Event))
			if m.MessageID == "" || ids[m.MessageID] {
				t.Errorf("message %q: messageId empty or repeated", m.Type+" "+m.Event)
			}
			ids[m.MessageID] = true
			if m.Timestamp.IsZero() || m.Timestamp.After(body.SentAt) {
				t.Errorf("message %q: timestamp %v not before sentAt %v", m.Type+" "+m.Event, m.Timestamp, body.SentAt)
			}
			if m.Event == "Survey Responded" {
				want := map[string]any{"survey_type": "nps", "score": 9.0, "survey_id": "q4-relationship"}
				if d := cmp.Diff(want, m.Properties); d != "" {
					t.Errorf("Survey Responded properties (-want +got):\n%s", d)
				}
			}
		}
		if d := cmp.Diff([]string{"page", "track Signed Up", "track Survey Responded"}, kinds); d != "" {
			t.Errorf("batch messages (-want +got):\n%s", d)
		}
	})

	t.Run("webhooks-survey.json", func(t *testing.T) {
		req := read(t, "webhooks-survey.json")
		want := map[string]any{
			"id": "resp_123", "survey_id": "q4-relationship", "type": "nps", "score": 9.0,
			"respondent": "user_42", "submitted_at": "2026-10-02T10:00:00Z", "channel": "email",
			"comment": "Great onboarding",
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(req.Body), &got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("survey body (-want +got):\n%s", d)
		}
		if d := cmp.Diff(map[string]string{"provider": "survey", "tenant": "demo"}, req.PathParameters); d != "" {
			t.Errorf("pathParameters (-want +got):\n%s", d)
		}
		if err := verifyUptakeSignature(req.Headers["x-uptake-signature"], req.Body, demoWebhookSecret); err != nil {
			t.Errorf("signature: %v", err)
		}
		if err := verifyUptakeSignature(req.Headers["x-uptake-signature"], req.Body+" ", demoWebhookSecret); err == nil {
			t.Error("the signature check accepts a modified body")
		}
	})
}
