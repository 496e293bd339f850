package devstack_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/infra/router"
	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/rawstore"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

type reply struct {
	status int
	body   []byte
}

func (r reply) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d: body is not the error shape {\"error\":{\"code\",\"message\"}}: %s", r.status, r.body)
	}
	return e.Error.Code
}

func do(t *testing.T, method, url string, headers map[string]string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b}
}

func bearer(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
}

// snapshot is everything the stack has stored: every table item and every
// object with its content.
func snapshot(t *testing.T, st *stacktest.Stack) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	db := localstack.NewDynamoDBClient(st.DynamoDBEndpoint)
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(st.Table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(m)
			out[fmt.Sprintf("item %v %v", m["pk"], m["sk"])] = string(b)
		}
	}
	s3c := localstack.NewS3Client(st.S3Endpoint)
	objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(st.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.Contents {
		got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		out["object "+aws.ToString(o.Key)] = string(b)
	}
	return out
}

// TestTemplateRoutesServed checks that the local stack serves every route
// of template.yaml and nothing else: the router refuses to start when they
// disagree, and each route reaches a handler rather than the router's 404.
func TestTemplateRoutesServed(t *testing.T) {
	st := stacktest.Start(t)
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.Routes()) == 0 {
		t.Fatal("template has no routes")
	}
	for _, rt := range tmpl.Routes() {
		p := strings.NewReplacer("{id}", "dau", "{provider}", "survey", "{tenant}", "demo").Replace(rt.Path)
		r := do(t, rt.Method, st.URL+p, nil, nil)
		if r.status == http.StatusNotFound && string(r.body) == `{"message":"Not Found"}` {
			t.Errorf("%s %s: not served by the local stack", rt.Method, rt.Path)
		}
	}
	if r := do(t, http.MethodGet, st.URL+"/v1/nope", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET /v1/nope: status %d, want 404", r.status)
	}
	if r := do(t, http.MethodDelete, st.URL+"/v1/batch", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("DELETE /v1/batch: status %d, want 404 (no such route)", r.status)
	}

	// A handler the template does not route, or a route with no handler,
	// stops the router from starting.
	handlers := st.App.HTTPHandlers()
	handlers["ExtraFunction"] = handlers["QueryFunction"]
	if _, err := router.New(tmpl.Routes(), handlers, st.App.Log); err == nil || !strings.Contains(err.Error(), "ExtraFunction") {
		t.Errorf("router.New with an unrouted handler: err = %v, want one naming ExtraFunction", err)
	}
	delete(handlers, "ExtraFunction")
	delete(handlers, "QueryFunction")
	if _, err := router.New(tmpl.Routes(), handlers, st.App.Log); err == nil || !strings.Contains(err.Error(), "QueryFunction") {
		t.Errorf("router.New with a route lacking its handler: err = %v, want one naming QueryFunction", err)
	}
}

func msg(fields string) string {
	return `{"type":"track","event":"Clicked","userId":"u1","messageId":"m-` + fields + `","timestamp":"2026-10-01T10:00:00Z"}`
}

// TestIngestRejectsBadInput sends broken requests; each gets a clear 4xx
// with the error shape of api.md, and the stored data does not change.
func TestIngestRejectsBadInput(t *testing.T) {
	st := stacktest.Start(t)
	// Something already accepted, which no bad request may disturb.
	if r := do(t, http.MethodPost, st.URL+"/v1/batch", bearer(st.WriteKey), []byte(`{"batch":[`+msg("ok")+`]}`)); r.status != 200 {
		t.Fatalf("seed batch: %d %s", r.status, r.body)
	}
	before := snapshot(t, st)
	future := time.Now().Add(25 * time.Hour).UTC().Format(time.RFC3339)
	big := strings.Repeat("x", 33*1024)
	var hugeBatch strings.Builder
	hugeBatch.WriteString(`{"batch":[`)
	for i := range 40 {
		if i > 0 {
			hugeBatch.WriteString(",")
		}
		fmt.Fprintf(&hugeBatch, `{"type":"track","event":"E","userId":"u","messageId":"h%d","properties":{"pad":"%s"}}`, i, strings.Repeat("y", 15000))
	}
	hugeBatch.WriteString(`]}`)
	basic := func(user string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"))}
	}
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		body    string
		status  int
		code    string
	}{
		{"malformed JSON", "/v1/batch", bearer(st.WriteKey), `{"batch":[`, 400, "invalid_json"},
		{"not a batch", "/v1/batch", bearer(st.WriteKey), `[1,2,3]`, 400, "invalid_request"},
		{"batch not an array", "/v1/batch", bearer(st.WriteKey), `{"batch":{}}`, 400, "invalid_request"},
		{"empty batch", "/v1/batch", bearer(st.WriteKey), `{"batch":[]}`, 400, "invalid_request"},
		{"empty body", "/v1/batch", bearer(st.WriteKey), ``, 400, "invalid_json"},
		{"no key", "/v1/batch", nil, `{"batch":[` + msg("a") + `]}`, 401, "unauthorized"},
		{"wrong key", "/v1/batch", bearer("nope"), `{"batch":[` + msg("a") + `]}`, 401, "unauthorized"},
		{"wrong basic key", "/v1/batch", basic("nope"), `{"batch":[` + msg("a") + `]}`, 401, "unauthorized"},
		{"read key writes", "/v1/batch", bearer(st.ReadKey), `{"batch":[` + msg("a") + `]}`, 403, "forbidden"},
		{"admin key writes", "/v1/track", bearer(st.AdminKey), msg("a"), 403, "forbidden"},
		{"oversized batch", "/v1/batch", bearer(st.WriteKey), hugeBatch.String(), 413, "payload_too_large"},
		{"oversized message in batch", "/v1/batch", bearer(st.WriteKey), `{"batch":[{"type":"track","event":"E","userId":"u","messageId":"big","properties":{"p":"` + big + `"}}]}`, 413, "payload_too_large"},
		{"oversized single message", "/v1/track", bearer(st.WriteKey), `{"event":"E","userId":"u","messageId":"big","properties":{"p":"` + big + `"}}`, 413, "payload_too_large"},
		{"future timestamp", "/v1/track", bearer(st.WriteKey), `{"event":"E","userId":"u","messageId":"f1","timestamp":"` + future + `"}`, 400, "invalid_request"},
		{"zero date", "/v1/track", bearer(st.WriteKey), `{"event":"E","userId":"u","messageId":"f2","timestamp":"0000-00-00"}`, 400, "invalid_request"},
		{"missing messageId", "/v1/track", bearer(st.WriteKey), `{"event":"E","userId":"u"}`, 400, "invalid_request"},
		{"missing user and anonymous ids", "/v1/track", bearer(st.WriteKey), `{"event":"E","messageId":"x"}`, 400, "invalid_request"},
		{"track without event", "/v1/track", bearer(st.WriteKey), `{"userId":"u","messageId":"x"}`, 400, "invalid_request"},
		{"type does not match route", "/v1/page", bearer(st.WriteKey), `{"type":"track","event":"E","userId":"u","messageId":"x"}`, 400, "invalid_request"},
		{"unknown type in batch", "/v1/batch", bearer(st.WriteKey), `{"batch":[{"type":"click","userId":"u","messageId":"x"}]}`, 400, "invalid_request"},
		{"userId of wrong type", "/v1/batch", bearer(st.WriteKey), `{"batch":[{"type":"track","event":"E","userId":{"a":1},"messageId":"x"}]}`, 400, "invalid_request"},
		{"NPS score out of scale", "/v1/track", bearer(st.WriteKey), `{"event":"Survey Responded","userId":"u","messageId":"x","properties":{"survey_type":"nps","score":11}}`, 400, "invalid_request"},
		{"NPS score not a number", "/v1/track", bearer(st.WriteKey), `{"event":"Survey Responded","userId":"u","messageId":"x","properties":{"survey_type":"nps","score":"NaN"}}`, 400, "invalid_request"},
		{"group without groupId", "/v1/group", bearer(st.WriteKey), `{"userId":"u","messageId":"x"}`, 400, "invalid_request"},
		{"alias without previousId", "/v1/alias", bearer(st.WriteKey), `{"userId":"u","messageId":"x"}`, 400, "invalid_request"},
		{"wrong content type", "/v1/batch", map[string]string{"Authorization": "Bearer " + st.WriteKey, "Content-Type": "application/xml"}, `{"batch":[` + msg("a") + `]}`, 415, "unsupported_media_type"},
		{"invalid UTF-8", "/v1/track", bearer(st.WriteKey), "{\"event\":\"E\xff\",\"userId\":\"u\",\"messageId\":\"x\"}", 400, "invalid_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, http.MethodPost, st.URL+tc.path, tc.headers, []byte(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.errorCode(t); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
	if diff := cmp.Diff(snapshot(t, st), before); diff != "" {
		t.Errorf("bad requests changed stored data (-after +before):\n%s", diff)
	}
}

// TestIngestBatch checks the answer of a batch with good, bad and repeated
// messages: the good ones are kept, the others reported.
func TestIngestBatch(t *testing.T) {
	st := stacktest.Start(t)
	body := `{"batch":[` + msg("1") + `,` + msg("1") + `,{"type":"track","userId":"u"},` +
		`{"type":"page","anonymousId":"a1","messageId":"p1","timestamp":"2026-09-30T23:59:59Z"},` +
		`{"type":"identify","userId":7,"messageId":"i1","originalTimestamp":"2026-10-01T10:00:00Z","traits":{"plan":"pro"}}]}`
	r := do(t, http.MethodPost, st.URL+"/v1/batch", bearer(st.WriteKey), []byte(body))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got struct {
		Success    bool `json:"success"`
		Accepted   int  `json:"accepted"`
		Duplicates int  `json:"duplicates"`
		Rejected   []struct {
			Index  int    `json:"index"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Success || got.Accepted != 3 || got.Duplicates != 1 || len(got.Rejected) != 1 || got.Rejected[0].Index != 2 || !strings.Contains(got.Rejected[0].Reason, "messageId") {
		t.Fatalf("answer = %s, want 3 accepted, 1 duplicate, message 2 rejected for its messageId", r.body)
	}
	snap := snapshot(t, st)
	var objects []string
	for k := range snap {
		if strings.HasPrefix(k, "object raw/tenant=demo/") {
			objects = append(objects, k)
		}
	}
	slices.Sort(objects)
	if len(objects) != 2 || !strings.Contains(objects[0], "dt=2026-09-30/") || !strings.Contains(objects[1], "dt=2026-10-01/") {
		t.Fatalf("raw objects = %v, want one file for 2026-09-30 and one for 2026-10-01", objects)
	}
	// Each object's name says its latest event time (rawstore.Latest).
	for i, want := range []string{"2026-09-30T23:59:59Z", "2026-10-01T10:00:00Z"} {
		at, ok := rawstore.Latest(strings.TrimPrefix(objects[i], "object "))
		if !ok || at.Format(time.RFC3339) != want {
			t.Errorf("latest event of %s = %v, %v; want %s", objects[i], at, ok, want)
		}
	}
}

// TestWebhookSurvey sends a signed generic survey answer and reads it back
// as NPS; bad signatures are refused and store nothing.
func TestWebhookSurvey(t *testing.T) {
	st := stacktest.Start(t)
	url := st.URL + "/v1/webhooks/survey/demo"
	payload := []byte(`{"id":"r1","survey_id":"q4","type":"nps","score":9,"respondent":"u1","submitted_at":"2026-10-02T10:00:00Z","channel":"email"}`)
	sign := func(secret string, at time.Time) map[string]string {
		return map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(secret), payload, at), "Content-Type": "application/json"}
	}
	before := snapshot(t, st)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		url     string
	}{
		{"wrong secret", sign("other", time.Now()), url},
		{"stale timestamp", sign(st.WebhookSecret, time.Now().Add(-6*time.Minute)), url},
		{"no signature", nil, url},
		{"unknown tenant", sign(st.WebhookSecret, time.Now()), st.URL + "/v1/webhooks/survey/nobody"},
	} {
		if r := do(t, http.MethodPost, tc.url, tc.headers, payload); r.status != 401 || r.errorCode(t) != "unauthorized" {
			t.Errorf("%s: status %d %s, want 401", tc.name, r.status, r.body)
		}
	}
	if diff := cmp.Diff(snapshot(t, st), before); diff != "" {
		t.Errorf("refused webhooks changed stored data:\n%s", diff)
	}
	for range 2 { // a retried delivery counts once
		if r := do(t, http.MethodPost, url, sign(st.WebhookSecret, time.Now()), payload); r.status != 200 {
			t.Fatalf("signed webhook: %d %s", r.status, r.body)
		}
	}
	if r := do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2026-10-02","to":"2026-10-02"}`)); r.status != 200 {
		t.Fatalf("aggregate: %d %s", r.status, r.body)
	}
	r := do(t, http.MethodGet, st.URL+"/v1/kpis/nps?from=2026-10-02&to=2026-10-02", bearer(st.ReadKey), nil)
	var a struct {
		Value       *float64 `json:"value"`
		Denominator float64  `json:"denominator"`
	}
	if err := json.Unmarshal(r.body, &a); err != nil || a.Value == nil || *a.Value != 100 || a.Denominator != 1 {
		t.Fatalf("nps after one promoter answer sent twice = %s, want value 100 over 1 response", r.body)
	}
}

// TestConfig checks that the configuration round-trips and that an
// invalid one is refused and leaves the old one in place.
func TestConfig(t *testing.T) {
	st := stacktest.Start(t)
	r := do(t, http.MethodGet, st.URL+"/v1/config", bearer(st.AdminKey), nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"timezone":"UTC"`) {
		t.Fatalf("default config: %d %s", r.status, r.body)
	}
	good := `{"timezone":"Europe/Lisbon","session_timeout_minutes":45,"conversion_event":"Trial Started"}`
	if r := do(t, http.MethodPut, st.URL+"/v1/config", bearer(st.AdminKey), []byte(good)); r.status != 200 {
		t.Fatalf("put config: %d %s", r.status, r.body)
	}
	for _, bad := range []string{
		`{"timezone":"Mars/Olympus"}`, `{"session_timeout_minutes":0}`, `{"conversion_event":""}`,
		`{"unknown":1}`, `{"timezone":`, `[]`, ``,
	} {
		if r := do(t, http.MethodPut, st.URL+"/v1/config", bearer(st.AdminKey), []byte(bad)); r.status != 400 {
			t.Errorf("put %s: status %d, want 400: %s", bad, r.status, r.body)
		}
	}
	if r := do(t, http.MethodPut, st.URL+"/v1/config", bearer(st.ReadKey), []byte(good)); r.status != 403 {
		t.Errorf("read key puts config: status %d, want 403", r.status)
	}
	r = do(t, http.MethodGet, st.URL+"/v1/config", bearer(st.AdminKey), nil)
	if !strings.Contains(string(r.body), `"timezone":"Europe/Lisbon"`) || !strings.Contains(string(r.body), `"session_timeout_minutes":45`) {
		t.Fatalf("config after invalid puts = %s, want the last valid one", r.body)
	}
}

// TestQueryErrors checks the query routes' error answers.
func TestQueryErrors(t *testing.T) {
	st := stacktest.Start(t)
	for _, tc := range []struct {
		path   string
		key    string
		status int
		code   string
	}{
		{"/v1/kpis/nope?from=2026-10-01&to=2026-10-02", st.ReadKey, 400, "unknown_kpi"},
		{"/v1/kpis/dau?from=2026-10-02&to=2026-10-01", st.ReadKey, 400, "invalid_date"},
		{"/v1/kpis/dau?from=2026-13-01&to=2026-10-01", st.ReadKey, 400, "invalid_date"},
		{"/v1/kpis/dau?to=2026-10-01", st.ReadKey, 400, "invalid_date"},
		{"/v1/kpis/dau?from=1926-10-01&to=2026-10-01", st.ReadKey, 400, "invalid_date"},
		{"/v1/kpis/dau?from=2026-10-01&to=2026-10-01&interval=hour", st.ReadKey, 400, "invalid_request"},
		{"/v1/kpis/dau?from=2026-10-01&to=2026-10-01", st.WriteKey, 403, "forbidden"},
		{"/v1/kpis/dau?from=2026-10-01&to=2026-10-01", "", 401, "unauthorized"},
		{"/v1/kpis?from=2026-10-01", st.ReadKey, 400, "invalid_date"},
		{"/v1/kpis/..%2F..%2Fetc?from=2026-10-01&to=2026-10-01", st.ReadKey, 400, "unknown_kpi"},
	} {
		h := map[string]string{}
		if tc.key != "" {
			h = bearer(tc.key)
		}
		r := do(t, http.MethodGet, st.URL+tc.path, h, nil)
		if r.status != tc.status || r.errorCode(t) != tc.code {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, r.status, r.body, tc.status, tc.code)
		}
	}
	r := do(t, http.MethodGet, st.URL+"/v1/kpis/dau.csv?from=2026-10-01&to=2026-10-02&interval=day", bearer(st.ReadKey), nil)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "kpi,period,key,value") || strings.Count(string(r.body), "\n") != 3 {
		t.Errorf("CSV: %d %q, want a header and two rows", r.status, r.body)
	}
	r = do(t, http.MethodGet, st.URL+"/v1/kpis?from=2026-10-01&to=2026-10-02", bearer(st.ReadKey), nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"kpi":"dau"`) || !strings.Contains(string(r.body), `"complete":false`) {
		t.Errorf("overview: %d %s", r.status, r.body)
	}
	_ = httpapi.Key
}

// TestOpenAPI checks the description is served without a key on its own
// route only.
func TestOpenAPI(t *testing.T) {
	st := stacktest.Start(t)
	r := do(t, http.MethodGet, st.URL+"/v1/openapi.json", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"openapi": "3.1.0"`) {
		t.Fatalf("GET /v1/openapi.json: %d %.200s", r.status, r.body)
	}
	if r := do(t, http.MethodGet, st.URL+"/v1/kpis/openapi.json", nil, nil); r.status != 401 {
		t.Errorf("GET /v1/kpis/openapi.json without a key: %d, want 401", r.status)
	}
}

// TestBreakdownsAndFilters runs the query parameters through the router:
// trait and session dimensions, repeated filters, and refusals.
func TestBreakdownsAndFilters(t *testing.T) {
	st := stacktest.Start(t)
	batch := `{"batch":[
{"type":"identify","messageId":"i1","userId":"u1","timestamp":"2026-10-01T08:00:00Z","traits":{"plan":"pro","region":"EMEA"}},
{"type":"identify","messageId":"i2","userId":"u2","timestamp":"2026-10-01T08:00:00Z","traits":{"plan":"free","region":"EMEA"}},
{"type":"page","messageId":"p1","userId":"u1","anonymousId":"a1","timestamp":"2026-10-01T09:00:00Z","context":{"page":{"path":"/","referrer":"https://www.google.com/"}}},
{"type":"page","messageId":"p2","userId":"u2","anonymousId":"a2","timestamp":"2026-10-01T09:00:00Z","context":{"page":{"path":"/docs"}}}
]}`
	if r := do(t, http.MethodPost, st.URL+"/v1/batch", bearer(st.WriteKey), []byte(batch)); r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if r := do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2026-10-01","to":"2026-10-01"}`)); r.status != 200 {
		t.Fatalf("aggregate: %d %s", r.status, r.body)
	}
	type answer struct {
		Value     *float64 `json:"value"`
		Breakdown []struct {
			Key   string   `json:"key"`
			Value *float64 `json:"value"`
		} `json:"breakdown"`
	}
	get := func(query string) (int, answer) {
		r := do(t, http.MethodGet, st.URL+"/v1/kpis/"+query, bearer(st.ReadKey), nil)
		var a answer
		json.Unmarshal(r.body, &a)
		return r.status, a
	}
	val := func(a answer) float64 {
		if a.Value == nil {
			return -1
		}
		return *a.Value
	}
	for _, tc := range []struct {
		query string
		want  float64
	}{
		{"dau?from=2026-10-01&to=2026-10-01", 2},
		{"dau?from=2026-10-01&to=2026-10-01&filter=plan:pro", 1},
		{"dau?from=2026-10-01&to=2026-10-01&filter=plan:pro&filter=region:EMEA", 1},
		{"dau?from=2026-10-01&to=2026-10-01&filter=plan:pro&filter=region:AMER", 0},
		{"sessions?from=2026-10-01&to=2026-10-01&filter=source:organic", 1},
		{"pages_per_session?from=2026-10-01&to=2026-10-01&filter=landing_page:/docs", 1},
		{"roi_projection?from=2026-10-01&to=2026-10-01&new_customers=1000&completion_now=60&completion_target=85&renewal_completed=90&renewal_not_completed=60&contract_value=5000", 780},
	} {
		if status, a := get(tc.query); status != 200 || val(a) != tc.want {
			t.Errorf("%s: %d value %v, want %v", tc.query, status, val(a), tc.want)
		}
	}
	status, a := get("dau?from=2026-10-01&to=2026-10-01&breakdown=plan")
	if status != 200 || len(a.Breakdown) != 2 {
		t.Errorf("dau by plan: %d %+v, want two rows", status, a.Breakdown)
	}
	for _, bad := range []string{
		"sessions?from=2026-10-01&to=2026-10-01&breakdown=plan",
		"onboarding_funnel?from=2026-10-01&to=2026-10-01&filter=plan:pro",
		"sessions?from=2026-10-01&to=2026-10-01&filter=source",
		"sessions?from=2026-10-01&to=2026-10-01&filter=source:organic&filter=device:mobile",
		"dau?from=2026-10-01&to=2026-10-01&feature=x",
		"roi_projection?from=2026-10-01&to=2026-10-01&completion_now=150",
		"roi_projection?from=2026-10-01&to=2026-10-01&new_customers=-1",
		"roi_projection?from=2026-10-01&to=2026-10-01&contract_value=NaN",
	} {
		if r := do(t, http.MethodGet, st.URL+"/v1/kpis/"+bad, bearer(st.ReadKey), nil); r.status != 400 || r.errorCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s, want 400 invalid_request", bad, r.status, r.body)
		}
	}
}

// TestWebhookTicket sends a ticket's updates through the signed generic
// ticket webhook, the latest first, and reads the ticket KPIs back.
func TestWebhookTicket(t *testing.T) {
	st := stacktest.Start(t)
	url := st.URL + "/v1/webhooks/ticket/demo"
	send := func(body string) reply {
		h := map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(st.WebhookSecret), []byte(body), time.Now()), "Content-Type": "application/json"}
		return do(t, http.MethodPost, url, h, []byte(body))
	}
	updates := []string{
		`{"id":"T1","status":"solved","channel":"email","requester":"u1","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T15:00:00Z","first_response_at":"2026-10-01T09:30:00Z"}`,
		`{"id":"T1","status":"open","channel":"email","requester":"u1","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:30:00Z","first_response_at":"2026-10-01T09:30:00Z"}`,
		`{"id":"T1","status":"new","channel":"email","requester":"u1","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:00:00Z"}`,
	}
	for _, u := range append(updates, updates[0]) { // the last is a retried delivery
		if r := send(u); r.status != 200 {
			t.Fatalf("ticket webhook: %d %s", r.status, r.body)
		}
	}
	for _, bad := range []string{
		`{"id":"T2","status":"lost","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:00:00Z"}`,
		`{"id":"T2","status":"open","updated_at":"2026-10-01T09:00:00Z"}`,
		`{"id":"T2","status":"open","created_at":"2026-10-02T09:00:00Z","updated_at":"2026-10-01T09:00:00Z"}`,
		`{"id":"T2","status":"open","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:00:00Z","extra":1}`,
	} {
		if r := send(bad); r.status != 400 {
			t.Errorf("bad ticket %s: %d %s, want 400", bad, r.status, r.body)
		}
	}
	if r := do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2026-10-01","to":"2026-10-01"}`)); r.status != 200 {
		t.Fatalf("aggregate: %d %s", r.status, r.body)
	}
	for kpiID, want := range map[string]float64{"ticket_volume": 1, "first_response_time": 30, "resolution_time": 6, "resolution_rate": 100} {
		r := do(t, http.MethodGet, st.URL+"/v1/kpis/"+kpiID+"?from=2026-10-01&to=2026-10-01", bearer(st.ReadKey), nil)
		var a struct {
			Value *float64 `json:"value"`
		}
		if err := json.Unmarshal(r.body, &a); err != nil || a.Value == nil || *a.Value != want {
			t.Errorf("%s = %s, want %v", kpiID, r.body, want)
		}
	}
}

// TestToolWebhookKeptAndReprocessed sends Typeform deliveries signed as
// Typeform signs them: one moves NPS at once; one with an unmapped
// question is kept (202) until the tenant maps the question, then
// reprocessed into CSAT. Secrets and mappings go through the admin API.
func TestToolWebhookKeptAndReprocessed(t *testing.T) {
	st := stacktest.Start(t)
	const secret = "typeform-secret-1"
	put := do(t, http.MethodPut, st.URL+"/v1/admin/webhooks/typeform", bearer(st.AdminKey), []byte(`{"secret":"`+secret+`","mapping":{}}`))
	if put.status != 200 {
		t.Fatalf("configure typeform: %d %s", put.status, put.body)
	}
	send := func(file, key string) reply {
		body, err := os.ReadFile("../../shared/webhook/testdata/typeform/" + file)
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		h := map[string]string{"Typeform-Signature": "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil)), "Content-Type": "application/json"}
		return do(t, http.MethodPost, st.URL+"/v1/webhooks/typeform/demo", h, body)
	}
	if r := send("nps_10_comment.json", "wrong-secret"); r.status != 401 {
		t.Fatalf("wrong signature: %d %s, want 401", r.status, r.body)
	}
	if r := send("nps_10_comment.json", secret); r.status != 200 {
		t.Fatalf("nps response: %d %s", r.status, r.body)
	}
	if r := send("no_score.json", secret); r.status != 202 || !strings.Contains(string(r.body), `"kept"`) {
		t.Fatalf("unmapped question: %d %s, want 202 and kept", r.status, r.body)
	}
	got := do(t, http.MethodGet, st.URL+"/v1/admin/webhooks/typeform", bearer(st.AdminKey), nil)
	if got.status != 200 || strings.Count(string(got.body), `"reason"`) != 1 || strings.Contains(string(got.body), secret) {
		t.Fatalf("settings: %d %s, want one kept delivery and no secret shown", got.status, got.body)
	}
	if r := do(t, http.MethodPut, st.URL+"/v1/admin/webhooks/typeform", bearer(st.AdminKey), []byte(`{"mapping":{"questions":{"rate1":{"type":"csat","scale_min":1,"scale_max":5}}}}`)); r.status != 200 {
		t.Fatalf("map question: %d %s", r.status, r.body)
	}
	r := do(t, http.MethodPost, st.URL+"/v1/admin/webhooks/typeform/reprocess", bearer(st.AdminKey), nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"processed":1`) || !strings.Contains(string(r.body), `"still_kept":0`) {
		t.Fatalf("reprocess: %d %s", r.status, r.body)
	}
	if r := send("nps_10_comment.json", secret); r.status != 200 { // the secret survived the mapping update
		t.Fatalf("after remapping: %d %s", r.status, r.body)
	}
	if r := do(t, http.MethodPut, st.URL+"/v1/admin/webhooks/typeform", bearer(st.AdminKey), []byte(`{"mapping":{"questions":{"x":{"type":"mood"}}}}`)); r.status != 400 {
		t.Errorf("bad mapping: %d, want 400", r.status)
	}
	if r := do(t, http.MethodPut, st.URL+"/v1/admin/webhooks/acme", bearer(st.AdminKey), []byte(`{"mapping":{}}`)); r.status != 404 {
		t.Errorf("unknown provider: %d, want 404", r.status)
	}
}

// TestToolSamplesRoundTrip sends every tool's sample delivery (events/,
// signed as the tool signs with the local secret) through the router and
// reads what they move: answers and tickets.
func TestToolSamplesRoundTrip(t *testing.T) {
	st := stacktest.StartWith(t, stacktest.Options{Now: func() time.Time { return time.Date(2026, 10, 2, 10, 0, 4, 0, time.UTC) }})
	for _, provider := range []string{"typeform", "delighted", "intercom", "helpscout", "freshdesk", "zendesk"} {
		h, body := stacktest.ToolSample(t, provider)
		r := do(t, http.MethodPost, st.URL+"/v1/webhooks/"+provider+"/demo", h, body)
		if r.status != 200 || !strings.Contains(string(r.body), `"accepted":1`) {
			t.Errorf("%s: %d %s, want 200 with one accepted", provider, r.status, r.body)
		}
		// A replay is accepted again but never counts twice (same messageId).
		if r := do(t, http.MethodPost, st.URL+"/v1/webhooks/"+provider+"/demo", h, body); r.status != 200 {
			t.Errorf("%s replay: %d %s", provider, r.status, r.body)
		}
		if r := do(t, http.MethodPost, st.URL+"/v1/webhooks/"+provider+"/demo", h, append(slices.Clone(body), ' ')); provider != "freshdesk" && r.status != 401 {
			t.Errorf("%s with a changed body: %d, want 401", provider, r.status)
		}
		if r := do(t, http.MethodHead, st.URL+"/v1/webhooks/"+provider+"/demo", nil, nil); r.status != 200 {
			t.Errorf("%s HEAD: %d, want 200", provider, r.status)
		}
	}
	if r := do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2024-01-01","to":"2026-10-02"}`)); r.status != 200 {
		t.Fatalf("aggregate: %d %s", r.status, r.body)
	}
	for _, q := range []string{"nps", "ticket_volume"} {
		r := do(t, http.MethodGet, st.URL+"/v1/kpis/"+q+"?from=2024-01-01&to=2026-10-02", bearer(st.ReadKey), nil)
		var a struct {
			Numerator   float64 `json:"numerator"`
			Denominator float64 `json:"denominator"`
			Value       *float64
		}
		json.Unmarshal(r.body, &a)
		if r.status != 200 || a.Value == nil || (q == "ticket_volume" && *a.Value < 3) || (q != "ticket_volume" && a.Denominator < 1) {
			t.Errorf("%s after the tools' deliveries: %d %s", q, r.status, r.body)
		}
	}
}

// TestAlerts: a detractor arriving through a webhook is posted to the
// tenant's alert URL (Slack's shape), retried when the URL fails, never
// failing the inbound delivery; a promoter sends nothing.
func TestAlerts(t *testing.T) {
	var mu sync.Mutex
	var got []string
	fail := 1
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got = append(got, string(b))
	}))
	defer receiver.Close()
	now := time.Date(2026, 10, 2, 10, 0, 4, 0, time.UTC)
	clock := func() time.Time { return now }
	st := stacktest.StartWith(t, stacktest.Options{Now: func() time.Time { return clock() }})
	cfg := `{"alert_url":"` + receiver.URL + `/hook"}`
	if r := do(t, http.MethodPut, st.URL+"/v1/config", bearer(st.AdminKey), []byte(cfg)); r.status != 200 {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	sendSurvey := func(id string, score int) {
		body := []byte(fmt.Sprintf(`{"id":%q,"survey_id":"q4","type":"nps","score":%d,"respondent":"u1","submitted_at":"2026-10-02T10:00:00Z","comment":"slow"}`, id, score))
		h := map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(st.WebhookSecret), body, now), "Content-Type": "application/json"}
		if r := do(t, http.MethodPost, st.URL+"/v1/webhooks/survey/demo", h, body); r.status != 200 {
			t.Fatalf("survey %s: %d %s", id, r.status, r.body)
		}
	}
	sendSurvey("r-detractor", 3)
	sendSurvey("r-promoter", 10)
	sendSurvey("r-detractor", 3) // a retried delivery alerts once
	ctx := context.Background()
	if sent, failed, err := st.App.Alerts.Send(ctx); err != nil || sent != 0 || failed != 1 {
		t.Fatalf("first send = %d sent, %d failed, %v; want the one alert failed (the URL answers 503)", sent, failed, err)
	}
	if sent, _, _ := st.App.Alerts.Send(ctx); sent != 0 {
		t.Fatal("a failed alert was retried before its backoff")
	}
	now = now.Add(2 * time.Minute)
	if sent, failed, err := st.App.Alerts.Send(ctx); err != nil || sent != 1 || failed != 0 {
		t.Fatalf("retry = %d sent, %d failed, %v; want it delivered", sent, failed, err)
	}
	if sent, _, _ := st.App.Alerts.Send(ctx); sent != 0 {
		t.Error("a delivered alert was sent again")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], `"text":"NPS detractor: u1 scored 3 on q4: \"slow\""`) {
		t.Errorf("receiver got %q, want one Slack-shaped detractor alert", got)
	}
	if r := do(t, http.MethodPut, st.URL+"/v1/config", bearer(st.AdminKey), []byte(`{"alert_url":"ftp://example.com"}`)); r.status != 400 {
		t.Errorf("a non-https alert URL: %d, want 400", r.status)
	}
}

// TestSecretRotation: after a rotation the previous secret stays valid, so
// deliveries signed during the switch are not refused; a second rotation
// retires it.
func TestSecretRotation(t *testing.T) {
	st := stacktest.Start(t)
	body := []byte(`{"id":"r1","type":"nps","score":9,"respondent":"u1","submitted_at":"2026-10-01T10:00:00Z"}`)
	send := func(secret string) int {
		h := map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(secret), body, time.Now())}
		return do(t, http.MethodPost, st.URL+"/v1/webhooks/survey/demo", h, body).status
	}
	rotate := func(secret string) {
		if r := do(t, http.MethodPut, st.URL+"/v1/admin/webhooks/survey", bearer(st.AdminKey), []byte(`{"secret":"`+secret+`","mapping":{}}`)); r.status != 200 {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
	}
	rotate("second-secret")
	if got := send(st.WebhookSecret); got != 200 {
		t.Errorf("the previous secret after one rotation: %d, want 200", got)
	}
	if got := send("second-secret"); got != 200 {
		t.Errorf("the new secret: %d, want 200", got)
	}
	rotate("third-secret")
	if got := send(st.WebhookSecret); got != 401 {
		t.Errorf("a secret two rotations old: %d, want 401", got)
	}
	if got := send("second-secret"); got != 200 {
		t.Errorf("the previous secret: %d, want 200", got)
	}
}
