package openapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/openapi"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// contract sends requests through the local stack's router (the one `make
// dev` serves, on DynamoDB Local and a real S3 server) and validates each
// request and its real response against openapi.json with kin-openapi's
// openapi3filter, in its OpenAPI 3.1 mode (JSON Schema 2020-12).
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	base   string
	// seen[operation][status] counts the validated exchanges.
	seen map[string]map[int]int
}

// loadDocument loads openapi.json with kin-openapi and validates it as an
// OpenAPI 3.1 document, examples included.
func loadDocument(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		t.Fatalf("kin-openapi cannot load openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaFormatValidation(), openapi3.EnableSchemaPatternValidation()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	return doc
}

func newContract(t *testing.T, base string) *contract {
	doc := loadDocument(t)
	// The document's servers are the local stack's usual port and API
	// Gateway; the test's stack listens on a port of its own.
	doc.Servers = openapi3.Servers{{URL: base}}
	closeResponses(doc)
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route openapi.json: %v", err)
	}
	return &contract{t: t, doc: doc, router: r, base: base, seen: map[string]map[int]int{}}
}

// closeResponses makes every object schema of a response refuse the
// properties it does not name (additionalProperties: false), unless the
// schema says otherwise: a real answer with a field that openapi.json does
// not describe then fails. The document itself stays open, so that a new
// field is no breaking change for its readers.
func closeResponses(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if s.Type.Is("object") && len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil &&
			len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) == 0 {
			s.AdditionalProperties.Has = openapi3.Ptr(false)
		}
		for _, p := range s.Properties {
			walk(p)
		}
		for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
			for _, x := range list {
				walk(x)
			}
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				for _, mt := range resp.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

// authenticate checks that a request carries the key as the security
// scheme of the document says: HTTP Basic with the key as user name and
// an empty password, or a bearer token. Whether the key is known is the
// API's to say (401), not the document's.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	switch want := in.SecurityScheme.Scheme; {
	case in.SecurityScheme.Type != "http":
		return fmt.Errorf("security scheme %s: type %q is not http", in.SecuritySchemeName, in.SecurityScheme.Type)
	case !strings.EqualFold(scheme, want):
		return fmt.Errorf("no %s credentials", want)
	case strings.EqualFold(want, "basic"):
		b, err := base64.StdEncoding.DecodeString(cred)
		user, pass, ok := strings.Cut(string(b), ":")
		if err != nil || !ok || user == "" || pass != "" {
			return errors.New("basic credentials must be the key and an empty password")
		}
	case cred == "":
		return errors.New("empty bearer token")
	}
	return nil
}

// exchange is one request and the status its answer must have.
type exchange struct {
	name         string
	method, path string // path with its query string
	header       map[string]string
	body         []byte
	status       int
	// invalid marks a request that breaks the document on purpose (no
	// key, malformed JSON, a media type it does not take): the document
	// must refuse it as the API does. Its answer is validated all the same.
	invalid bool
}

// do sends ex, checks its status, and validates the request and the
// response against the document. It returns the response body.
func (c *contract) do(ex exchange) []byte {
	t := c.t
	t.Helper()
	newReq := func() *http.Request {
		req, err := http.NewRequest(ex.method, c.base+ex.path, bytes.NewReader(ex.body))
		if err != nil {
			t.Fatalf("%s: %v", ex.name, err)
		}
		for k, v := range ex.header {
			req.Header.Set(k, v)
		}
		return req
	}
	req := newReq()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: %s %s: no operation of openapi.json: %v", ex.name, ex.method, ex.path, err)
		return nil
	}
	op := strings.ToUpper(ex.method) + " " + route.Path
	opts := &openapi3filter.Options{AuthenticationFunc: authenticate, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr == nil {
		// openapi3filter lets query parameters that the operation does
		// not declare through; the document must declare every one.
		reqErr = undeclaredQuery(route, req.URL.Query())
	}
	switch {
	case reqErr != nil && !ex.invalid:
		t.Errorf("%s: %s %s: the request does not match openapi.json: %v", ex.name, ex.method, ex.path, reqErr)
	case reqErr == nil && ex.invalid:
		t.Errorf("%s: %s %s: openapi.json accepts a request that is invalid on purpose", ex.name, ex.method, ex.path)
	}

	resp, err := http.DefaultClient.Do(newReq())
	if err != nil {
		t.Fatalf("%s: %v", ex.name, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read answer: %v", ex.name, err)
	}
	if resp.StatusCode != ex.status {
		t.Errorf("%s: %s %s: status %d, want %d: %s", ex.name, ex.method, ex.path, resp.StatusCode, ex.status, clip(body))
	}

	// ValidateResponse skips HEAD requests, and a response that the
	// document gives no content: check those here.
	doc := route.Operation.Responses.Status(resp.StatusCode)
	if doc == nil {
		doc = route.Operation.Responses.Default()
	}
	switch {
	case doc == nil:
		t.Errorf("%s: %s: status %d is not in openapi.json: %s", ex.name, op, resp.StatusCode, clip(body))
	case len(body) > 0 && len(doc.Value.Content) == 0:
		t.Errorf("%s: %s: status %d has a body (%s) but openapi.json gives it no content", ex.name, op, resp.StatusCode, resp.Header.Get("Content-Type"))
	case len(body) == 0 && len(doc.Value.Content) > 0 && ex.method != http.MethodHead:
		t.Errorf("%s: %s: status %d has no body but openapi.json gives it content", ex.name, op, resp.StatusCode)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: %s %s: the %d response does not match openapi.json: %v\nbody: %s", ex.name, ex.method, ex.path, resp.StatusCode, err, clip(body))
	}
	if c.seen[op] == nil {
		c.seen[op] = map[int]int{}
	}
	c.seen[op][resp.StatusCode]++
	return body
}

// undeclaredQuery names a query parameter that the operation (or its path
// item) does not declare.
func undeclaredQuery(route *routers.Route, q url.Values) error {
	declared := map[string]bool{}
	for _, list := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, p := range list {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				declared[p.Value.Name] = true
			}
		}
	}
	for name := range q {
		if !declared[name] {
			return fmt.Errorf("query parameter %q is not declared", name)
		}
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

func key(k string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + k, "Content-Type": "application/json"}
}

func basic(k string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(k+":")), "Content-Type": "application/json"}
}

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range h {
		out[a] = b
	}
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contractNow is the stack's clock: the tools' sample deliveries in
// events/ were signed at that time.
var contractNow = time.Date(2026, 10, 2, 10, 0, 4, 0, time.UTC)

// contractEvents is a small history that every KPI has something to read
// in: signups, onboarding steps, value, features, training, surveys,
// subscriptions, orders, guides, pages with campaigns and referrers. u3's
// plan is a spreadsheet formula, as a user's trait may be.
func contractEvents() []map[string]any {
	var ms []map[string]any
	n := 0
	add := func(m map[string]any) {
		n++
		m["messageId"] = fmt.Sprintf("c%03d", n)
		ms = append(ms, m)
	}
	at := func(day, hour int) string {
		return time.Date(2026, 9, day, hour, 0, 0, 0, time.UTC).Format(time.RFC3339)
	}
	track := func(user string, day, hour int, event string, props map[string]any) {
		add(map[string]any{"type": "track", "userId": user, "anonymousId": "a-" + user, "event": event, "timestamp": at(day, hour), "properties": props})
	}
	plans := map[string]string{"u1": "pro", "u2": "free", "u3": "=HYPERLINK(\"http://x.example\",\"pro\")", "u4": "pro"}
	for i, u := range []string{"u1", "u2", "u3", "u4"} {
		d := 1 + i
		add(map[string]any{"type": "identify", "userId": u, "timestamp": at(d, 8), "traits": map[string]any{"plan": plans[u], "created_at": at(d, 8)}})
		add(map[string]any{"type": "group", "userId": u, "groupId": "acct-" + u, "timestamp": at(d, 8), "traits": map[string]any{"company_size": "11-50"}})
		add(map[string]any{"type": "page", "anonymousId": "a-" + u, "timestamp": at(d, 9), "properties": map[string]any{"path": "/"},
			"context": map[string]any{"page": map[string]any{"path": "/", "referrer": "https://www.google.com/"}, "campaign": map[string]any{"source": "newsletter", "medium": "email"}}})
		track(u, d, 10, "Signed Up", nil)
		track(u, d, 11, "Trial Started", nil)
		for s, step := range []string{"Profile", "Invite", "Integrate"} {
			if s <= i {
				track(u, d+1, 9+s, "Onboarding Step Completed", map[string]any{"step": step})
			}
		}
		if i >= 2 {
			track(u, d+2, 9, "Onboarding Completed", nil)
			track(u, d+2, 10, "First Value Reached", nil)
		}
		track(u, d+3, 9, "Feature Used", map[string]any{"feature": "Export CSV"})
		track(u, d+3, 10, "Training Started", map[string]any{"course": "basics"})
		if i%2 == 0 {
			track(u, d+4, 10, "Training Completed", map[string]any{"course": "basics"})
		}
		track(u, d+4, 11, "Guide Played", map[string]any{"guide": "setup"})
		track(u, d+5, 9, "Subscription Started", map[string]any{"plan": "pro", "amount": 1200})
		track(u, d+5, 10, "Order Completed", map[string]any{"revenue": 100 + 10*i})
		track(u, d+6, 10, "Order Completed", map[string]any{"revenue": 50})
		track(u, d+6, 11, "Survey Responded", map[string]any{"survey_type": "nps", "survey_id": "q4", "score": 3 * i, "channel": "email", "comment": "=1+1 is how I rate you"})
		track(u, d+6, 12, "Survey Responded", map[string]any{"survey_type": "csat", "survey_id": "s1", "score": 1 + i})
		track(u, d+6, 13, "Survey Responded", map[string]any{"survey_type": "ces", "survey_id": "c1", "score": 2 + i%3})
		if i == 1 {
			track(u, d+7, 9, "Subscription Cancelled", nil)
		}
		if i == 3 {
			track(u, d+7, 9, "Subscription Renewed", map[string]any{"amount": 1200})
		}
		for day := d; day <= 20; day += 2 {
			add(map[string]any{"type": "page", "userId": u, "anonymousId": "a-" + u, "timestamp": at(day, 14), "properties": map[string]any{"path": "/app"},
				"context": map[string]any{"page": map[string]any{"path": "/app"}}})
			add(map[string]any{"type": "screen", "userId": u, "name": "Home", "timestamp": at(day, 15)})
		}
	}
	return ms
}

// TestResponsesMatchDocument sends real requests over every route of
// template.yaml through the local stack's router, with data in DynamoDB
// Local and S3, and validates every request and response (status, content
// type, body, and the security requirement) against openapi.json with
// kin-openapi. Every route must be an operation of the document and every
// operation a route; every operation must be seen answering; every status
// the document gives an operation must be seen in a real answer, but the
// server faults, which need a broken store: TestFaultAnswersMatchDocument.
func TestResponsesMatchDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack")
	}
	st := stacktest.StartWith(t, stacktest.Options{Now: func() time.Time { return contractNow }})
	c := newContract(t, st.URL)
	W, R, A := key(st.WriteKey), key(st.ReadKey), key(st.AdminKey)
	noKey := map[string]string{"Content-Type": "application/json"}

	// SurveyMonkey's callbacks carry ids only: the stack fetches the
	// answers from SurveyMonkey's API, which a local server of its sample
	// answers stands in for (there is no network here).
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile("../webhook/testdata/surveymonkey/details_1001.json")
		if err != nil || r.URL.Path != "/surveys/500100/responses/1001/details" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(sm.Close)
	st.App.Webhooks.Adapters["surveymonkey"] = webhook.NewSurveyMonkey(sm.Client(), sm.URL)

	// --- configuration ---
	cfg := map[string]any{"timezone": "UTC", "onboarding_steps": []string{"Profile", "Invite", "Integrate"}, "value_events": []string{"First Value Reached"},
		"escalation_tag": "escalated", "business_hours": map[string]any{"timezone": "Europe/Lisbon", "week": map[string]any{"mon": []string{"09:00", "17:00"}}}}
	c.do(exchange{name: "put config", method: "PUT", path: "/v1/config", header: A, body: mustJSON(t, cfg), status: 200})
	c.do(exchange{name: "put config basic", method: "PUT", path: "/v1/config", header: basic(st.AdminKey), body: mustJSON(t, cfg), status: 200})
	c.do(exchange{name: "get config", method: "GET", path: "/v1/config", header: A, status: 200})
	c.do(exchange{name: "put config invalid", method: "PUT", path: "/v1/config", header: A, body: []byte(`{"session_timeout_minutes":-5}`), status: 400, invalid: true})
	c.do(exchange{name: "put config not JSON", method: "PUT", path: "/v1/config", header: A, body: []byte(`{"timezone":`), status: 400, invalid: true})
	c.do(exchange{name: "get config read key", method: "GET", path: "/v1/config", header: R, status: 403})
	c.do(exchange{name: "get config no key", method: "GET", path: "/v1/config", header: noKey, status: 401, invalid: true})
	c.do(exchange{name: "put config unknown key", method: "PUT", path: "/v1/config", header: key("nope"), body: mustJSON(t, cfg), status: 401})
	c.do(exchange{name: "put config write key", method: "PUT", path: "/v1/config", header: W, body: mustJSON(t, cfg), status: 403})

	// --- ingest: a batch, then each single-message route ---
	batch := mustJSON(t, map[string]any{"batch": contractEvents(), "sentAt": contractNow.Format(time.RFC3339)})
	c.do(exchange{name: "batch", method: "POST", path: "/v1/batch", header: W, body: batch, status: 200})
	c.do(exchange{name: "batch resent", method: "POST", path: "/v1/batch", header: basic(st.WriteKey), body: batch, status: 200})
	mixed := `{"batch":[{"type":"track","event":"E","userId":"u9","messageId":"m-ok","timestamp":"2026-09-30T10:00:00Z"},{"type":"track","userId":"u9","messageId":"m-bad"}]}`
	// The document refuses the message without its event; the API keeps
	// the valid one and reports the other rejected.
	c.do(exchange{name: "batch with a rejected message", method: "POST", path: "/v1/batch", header: W, body: []byte(mixed), status: 200, invalid: true})
	singles := map[string]string{
		"track":    `{"userId":"u1","event":"Feature Used","properties":{"feature":"Dashboards"},"messageId":"s-track","timestamp":"2026-09-21T10:00:00Z"}`,
		"identify": `{"userId":"u5","traits":{"plan":"pro","email":"u5@example.com"},"messageId":"s-identify","timestamp":"2026-09-21T10:00:00Z"}`,
		"group":    `{"userId":"u5","groupId":"acct-u5","traits":{"industry":"retail"},"messageId":"s-group","timestamp":"2026-09-21T10:00:00Z"}`,
		"page":     `{"anonymousId":"a-u5","name":"Pricing","properties":{"path":"/pricing"},"messageId":"s-page","timestamp":"2026-09-21T10:00:00Z"}`,
		"screen":   `{"userId":"u5","name":"Home","messageId":"s-screen","timestamp":"2026-09-21T10:00:00Z"}`,
		"alias":    `{"userId":"u5","previousId":"a-u5","messageId":"s-alias","timestamp":"2026-09-21T10:00:00Z"}`,
	}
	pad := strings.Repeat("x", 33*1024)
	var huge strings.Builder // over 500 KB of messages of under 32 KB
	huge.WriteString(`{"batch":[`)
	for i := range 40 {
		if i > 0 {
			huge.WriteString(",")
		}
		fmt.Fprintf(&huge, `{"type":"track","event":"E","userId":"u","messageId":"h%d","properties":{"pad":"%s"}}`, i, strings.Repeat("y", 13000))
	}
	huge.WriteString(`]}`)
	for _, typ := range []string{"batch", "track", "identify", "group", "page", "screen", "alias"} {
		p := "/v1/" + typ
		good := singles[typ]
		big := `{"userId":"u","messageId":"big","event":"E","previousId":"p","groupId":"g","properties":{"p":"` + pad + `"}}`
		if typ == "batch" {
			good = `{"batch":[{"type":"track",` + strings.TrimPrefix(singles["track"], "{") + `]}`
			big = huge.String()
		} else {
			c.do(exchange{name: typ, method: "POST", path: p, header: W, body: []byte(good), status: 200})
			c.do(exchange{name: typ + " as text/plain", method: "POST", path: p, header: with(W, "Content-Type", "text/plain"), body: []byte(good), status: 200})
		}
		c.do(exchange{name: typ + " malformed JSON", method: "POST", path: p, header: W, body: []byte(`{"userId":`), status: 400, invalid: true})
		c.do(exchange{name: typ + " not a message", method: "POST", path: p, header: W, body: []byte(`[1,2]`), status: 400, invalid: true})
		c.do(exchange{name: typ + " over the size limit", method: "POST", path: p, header: W, body: []byte(big), status: 413})
		c.do(exchange{name: typ + " as XML", method: "POST", path: p, header: with(W, "Content-Type", "application/xml"), body: []byte(good), status: 415, invalid: true})
		c.do(exchange{name: typ + " no key", method: "POST", path: p, header: noKey, body: []byte(good), status: 401, invalid: true})
		c.do(exchange{name: typ + " unknown key", method: "POST", path: p, header: basic("nope"), body: []byte(good), status: 401})
		c.do(exchange{name: typ + " read key", method: "POST", path: p, header: R, body: []byte(good), status: 403})
	}

	// --- webhooks: every tool's sample, as it signs it ---
	c.do(exchange{name: "surveymonkey secret", method: "PUT", path: "/v1/admin/webhooks/surveymonkey", header: A,
		body: []byte(`{"secret":"demo-client-id&demo-webhook-secret","mapping":{}}`), status: 200})
	h, b := stacktest.ToolSample(t, "surveymonkey")
	c.do(exchange{name: "surveymonkey before its mapping (kept)", method: "POST", path: "/v1/webhooks/surveymonkey/demo", header: h, body: b, status: 202})
	c.do(exchange{name: "surveymonkey mapping", method: "PUT", path: "/v1/admin/webhooks/surveymonkey", header: A,
		body: []byte(`{"mapping":{"api_token":"sm-token","questions":{"q_nps":{"type":"nps"},"q_csat":{"type":"csat","scale_min":1,"scale_max":5}}}}`), status: 200})
	c.do(exchange{name: "surveymonkey settings", method: "GET", path: "/v1/admin/webhooks/surveymonkey", header: A, status: 200})
	c.do(exchange{name: "surveymonkey reprocess", method: "POST", path: "/v1/admin/webhooks/surveymonkey/reprocess", header: A, status: 200})
	c.do(exchange{name: "surveymonkey", method: "POST", path: "/v1/webhooks/surveymonkey/demo", header: h, body: b, status: 200})
	for _, p := range []string{"typeform", "delighted", "zendesk", "freshdesk", "intercom", "helpscout", "survey"} {
		h, b := stacktest.ToolSample(t, p)
		c.do(exchange{name: p, method: "POST", path: "/v1/webhooks/" + p + "/demo", header: h, body: b, status: 200})
		c.do(exchange{name: p + " redelivered", method: "POST", path: "/v1/webhooks/" + p + "/demo", header: h, body: b, status: 200})
		c.do(exchange{name: p + " settings", method: "GET", path: "/v1/admin/webhooks/" + p, header: A, status: 200})
		c.do(exchange{name: p + " HEAD", method: "HEAD", path: "/v1/webhooks/" + p + "/demo", status: 200})
		if p != "freshdesk" { // a token in a header, not a signature of the body
			c.do(exchange{name: p + " body changed", method: "POST", path: "/v1/webhooks/" + p + "/demo", header: h, body: append(b, ' '), status: 401})
		}
	}
	ticket := []byte(`{"id":"T-1001","status":"solved","channel":"email","priority":"urgent","tags":["onboarding","escalated"],"requester":"u1","account":"acct-u1",` +
		`"created_at":"2026-09-10T09:00:00Z","updated_at":"2026-09-10T12:00:00Z","first_response_at":"2026-09-10T09:30:00Z","resolved_at":null}`)
	sig := func(b []byte) map[string]string {
		return map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(st.WebhookSecret), b, contractNow), "Content-Type": "application/json"}
	}
	c.do(exchange{name: "ticket", method: "POST", path: "/v1/webhooks/ticket/demo", header: sig(ticket), body: ticket, status: 200})
	survey := []byte(`{"id":"r-9","survey_id":"q4","type":"nps","score":2,"respondent":"u2","submitted_at":"2026-09-12T10:00:00Z","comment":"@SUM(A1:A9) too slow"}`)
	c.do(exchange{name: "survey detractor", method: "POST", path: "/v1/webhooks/survey/demo", header: sig(survey), body: survey, status: 200})
	badScore := []byte(`{"id":"r-10","survey_id":"q4","type":"nps","score":11,"respondent":"u2","submitted_at":"2026-09-12T10:00:00Z"}`)
	c.do(exchange{name: "survey score out of range", method: "POST", path: "/v1/webhooks/survey/demo", header: sig(badScore), body: badScore, status: 400})
	c.do(exchange{name: "survey not JSON", method: "POST", path: "/v1/webhooks/survey/demo", header: sig([]byte(`{"id":`)), body: []byte(`{"id":`), status: 400, invalid: true})
	c.do(exchange{name: "survey no signature", method: "POST", path: "/v1/webhooks/survey/demo", header: noKey, body: survey, status: 401})
	bigSurvey := []byte(`{"id":"r-11","comment":"` + pad + `"}`)
	c.do(exchange{name: "survey over 32 KB", method: "POST", path: "/v1/webhooks/survey/demo", header: sig(bigSurvey), body: bigSurvey, status: 413})
	th, tb := stacktest.ToolSample(t, "typeform")
	c.do(exchange{name: "unknown provider", method: "POST", path: "/v1/webhooks/acme/demo", header: th, body: tb, status: 404, invalid: true})
	c.do(exchange{name: "unknown provider HEAD", method: "HEAD", path: "/v1/webhooks/acme/demo", status: 404, invalid: true})
	unknownEvent, err := os.ReadFile("../webhook/testdata/typeform/unknown_event.json")
	if err != nil {
		t.Fatal(err)
	}
	c.do(exchange{name: "typeform unknown event (kept)", method: "POST", path: "/v1/webhooks/typeform/demo", header: typeformSign(st.WebhookSecret, unknownEvent), body: unknownEvent, status: 202})
	// Freshdesk may send its token as ?token= (no header): a delivery kept
	// with it is listed without its query, which would show the token.
	custom, err := os.ReadFile("../webhook/testdata/freshdesk/custom_status.json")
	if err != nil {
		t.Fatal(err)
	}
	c.do(exchange{name: "freshdesk token in the query (kept)", method: "POST", path: "/v1/webhooks/freshdesk/demo?token=" + st.WebhookSecret,
		header: map[string]string{"Content-Type": "application/json"}, body: custom, status: 202})
	c.do(exchange{name: "freshdesk wrong token in the query", method: "POST", path: "/v1/webhooks/freshdesk/demo?token=nope",
		header: map[string]string{"Content-Type": "application/json"}, body: custom, status: 401})
	if b := c.do(exchange{name: "freshdesk kept", method: "GET", path: "/v1/admin/webhooks/freshdesk", header: A, status: 200}); bytes.Contains(b, []byte(st.WebhookSecret)) {
		t.Errorf("the freshdesk settings show the token of a kept delivery: %s", b)
	}
	c.do(exchange{name: "typeform reprocess", method: "POST", path: "/v1/admin/webhooks/typeform/reprocess", header: basic(st.AdminKey), status: 200})

	// --- webhook settings: errors ---
	c.do(exchange{name: "settings unknown provider", method: "GET", path: "/v1/admin/webhooks/acme", header: A, status: 404, invalid: true})
	c.do(exchange{name: "put settings unknown provider", method: "PUT", path: "/v1/admin/webhooks/acme", header: A, body: []byte(`{"mapping":{}}`), status: 404, invalid: true})
	c.do(exchange{name: "reprocess unknown provider", method: "POST", path: "/v1/admin/webhooks/acme/reprocess", header: A, status: 404, invalid: true})
	c.do(exchange{name: "put settings bad mapping", method: "PUT", path: "/v1/admin/webhooks/typeform", header: A, body: []byte(`{"mapping":{"questions":{"x":{"type":"mood"}}}}`), status: 400, invalid: true})
	for _, ro := range []struct{ method, path string }{{"GET", "/v1/admin/webhooks/typeform"}, {"PUT", "/v1/admin/webhooks/typeform"}, {"POST", "/v1/admin/webhooks/typeform/reprocess"}} {
		body := []byte(nil)
		if ro.method == "PUT" {
			body = []byte(`{"mapping":{}}`)
		}
		c.do(exchange{name: ro.path + " no key", method: ro.method, path: ro.path, header: noKey, body: body, status: 401, invalid: true})
		c.do(exchange{name: ro.path + " read key", method: ro.method, path: ro.path, header: R, body: body, status: 403})
	}

	// --- aggregation ---
	c.do(exchange{name: "aggregate", method: "POST", path: "/v1/admin/aggregate", header: A, body: []byte(`{"from":"2026-09-01","to":"2026-10-02"}`), status: 200})
	c.do(exchange{name: "aggregate from after to", method: "POST", path: "/v1/admin/aggregate", header: A, body: []byte(`{"from":"2026-10-02","to":"2026-09-01"}`), status: 400})
	c.do(exchange{name: "aggregate not a date", method: "POST", path: "/v1/admin/aggregate", header: A, body: []byte(`{"from":"yesterday","to":"2026-09-01"}`), status: 400, invalid: true})
	c.do(exchange{name: "aggregate no key", method: "POST", path: "/v1/admin/aggregate", header: noKey, body: []byte(`{"from":"2026-09-01","to":"2026-09-01"}`), status: 401, invalid: true})
	c.do(exchange{name: "aggregate read key", method: "POST", path: "/v1/admin/aggregate", header: R, body: []byte(`{"from":"2026-09-01","to":"2026-09-01"}`), status: 403})

	// --- queries: every KPI, as JSON and CSV, with a series, a breakdown ---
	rng := "from=2026-09-01&to=2026-10-02"
	params := map[string]string{
		"roi_projection":   "&new_customers=1000&completion_now=60&completion_target=85&renewal_completed=90&renewal_not_completed=60&contract_value=5000",
		"flow_comparison":  "&change_date=2026-09-10",
		"guidance_impact":  "&change_date=2026-09-10&saving_minutes=10&hourly_wage=30&attribution_pct=50",
		"feature_adoption": "&feature=Export%20CSV",
	}
	for _, id := range kpi.Defined() {
		q := rng + params[id]
		c.do(exchange{name: id, method: "GET", path: "/v1/kpis/" + id + "?" + q, header: R, status: 200})
		series := c.do(exchange{name: id + " by day", method: "GET", path: "/v1/kpis/" + id + "?" + q + "&interval=day", header: basic(st.ReadKey), status: 200})
		if id != "retention_cohorts" { // its interval is the cohort size
			checkSeries(t, id, series, 32)
		}
		for _, shape := range []string{"&interval=week", "", "&interval=day"} {
			b := c.do(exchange{name: id + " CSV" + shape, method: "GET", path: "/v1/kpis/" + id + ".csv?" + q + shape, header: R, status: 200})
			checkCSV(t, id+".csv"+shape, b)
		}
	}
	for _, q := range []string{
		"dau?" + rng + "&breakdown=plan",
		"dau.csv?" + rng + "&breakdown=plan",
		"nps?" + rng + "&interval=month&breakdown=survey_id",
		"conversion_rate?" + rng + "&breakdown=channel&filter=plan:pro",
		"ticket_volume?" + rng + "&breakdown=channel&filter=priority:urgent",
		"sessions.csv?" + rng + "&breakdown=source",
		"retention_cohorts?" + rng + "&interval=week",
	} {
		b := c.do(exchange{name: q, method: "GET", path: "/v1/kpis/" + q, header: R, status: 200})
		if strings.Contains(q, ".csv") {
			checkCSV(t, q, b)
		}
	}
	// u3's plan is a spreadsheet formula: its breakdown key is defused.
	plans := checkCSV(t, "dau.csv by plan", c.do(exchange{name: "dau.csv by plan", method: "GET", path: "/v1/kpis/dau.csv?" + rng + "&breakdown=plan", header: R, status: 200}))
	var keys []string
	for _, row := range plans {
		keys = append(keys, row["key"])
	}
	if !slices.Contains(keys, `'=HYPERLINK("http://x.example","pro")`) || !slices.Contains(keys, "pro") {
		t.Errorf("dau.csv by plan: keys %q, want pro, free and the formula plan behind a quote", keys)
	}
	c.do(exchange{name: "every KPI", method: "GET", path: "/v1/kpis?" + rng, header: R, status: 200})
	c.do(exchange{name: "every KPI, basic", method: "GET", path: "/v1/kpis?" + rng, header: basic(st.ReadKey), status: 200})
	c.do(exchange{name: "every KPI from after to", method: "GET", path: "/v1/kpis?from=2026-10-02&to=2026-09-01", header: R, status: 400})
	c.do(exchange{name: "every KPI no key", method: "GET", path: "/v1/kpis?" + rng, status: 401, invalid: true})
	c.do(exchange{name: "every KPI write key", method: "GET", path: "/v1/kpis?" + rng, header: W, status: 403})
	c.do(exchange{name: "unknown KPI", method: "GET", path: "/v1/kpis/nope?" + rng, header: R, status: 400})
	c.do(exchange{name: "KPI from after to", method: "GET", path: "/v1/kpis/dau?from=2026-10-02&to=2026-09-01", header: R, status: 400})
	c.do(exchange{name: "KPI bad date", method: "GET", path: "/v1/kpis/dau?from=2026-02-30&to=2026-10-01", header: R, status: 400, invalid: true})
	c.do(exchange{name: "KPI unknown parameter", method: "GET", path: "/v1/kpis/dau?" + rng + "&x=1", header: R, status: 400, invalid: true})
	c.do(exchange{name: "KPI breakdown not offered", method: "GET", path: "/v1/kpis/sessions?" + rng + "&breakdown=plan", header: R, status: 400})
	c.do(exchange{name: "KPI no key", method: "GET", path: "/v1/kpis/dau?" + rng, status: 401, invalid: true})
	c.do(exchange{name: "KPI unknown key", method: "GET", path: "/v1/kpis/dau?" + rng, header: key("nope"), status: 401})
	c.do(exchange{name: "KPI write key", method: "GET", path: "/v1/kpis/dau.csv?" + rng, header: W, status: 403})
	c.do(exchange{name: "openapi.json", method: "GET", path: "/v1/openapi.json", status: 200})
	c.do(exchange{name: "dashboard page", method: "GET", path: "/", status: 200})
	c.do(exchange{name: "dashboard script", method: "GET", path: "/assets/app.js", status: 200})
	c.do(exchange{name: "dashboard style sheet", method: "GET", path: "/assets/app.css", status: 200})
	c.do(exchange{name: "dashboard no such file", method: "GET", path: "/assets/nope.js", status: 404})

	// --- erasure ---
	c.do(exchange{name: "erase a user", method: "DELETE", path: "/v1/users/u4", header: A, status: 200})
	c.do(exchange{name: "erase again", method: "DELETE", path: "/v1/users/u4", header: basic(st.AdminKey), status: 200})
	c.do(exchange{name: "erase a bad id", method: "DELETE", path: "/v1/users/" + strings.Repeat("u", 1100), header: A, status: 400, invalid: true})
	c.do(exchange{name: "erase no key", method: "DELETE", path: "/v1/users/u4", status: 401, invalid: true})
	c.do(exchange{name: "erase write key", method: "DELETE", path: "/v1/users/u4", header: W, status: 403})
	c.do(exchange{name: "erasures", method: "GET", path: "/v1/admin/erasures", header: A, status: 200})
	c.do(exchange{name: "erasures no key", method: "GET", path: "/v1/admin/erasures", status: 401, invalid: true})
	c.do(exchange{name: "erasures read key", method: "GET", path: "/v1/admin/erasures", header: R, status: 403})

	c.checkCoverage()
}

// checkSeries checks what a Grafana Infinity panel reads of a JSON
// answer with interval=day (root selector `series`, columns `period` as
// time YYYY-MM-DD and `value` as number): one point a day, in order.
func checkSeries(t *testing.T, what string, body []byte, days int) {
	t.Helper()
	var a struct {
		Series []struct {
			Period string   `json:"period"`
			Value  *float64 `json:"value"`
		} `json:"series"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if len(a.Series) != days {
		t.Errorf("%s: %d points, want %d", what, len(a.Series), days)
		return
	}
	var prev time.Time
	for i, p := range a.Series {
		d, err := time.Parse(time.DateOnly, p.Period)
		if err != nil || (i > 0 && !d.Equal(prev.AddDate(0, 0, 1))) {
			t.Errorf("%s: point %d: period %q does not follow %s", what, i, p.Period, prev.Format(time.DateOnly))
		}
		prev = d
	}
}

// checkCSV reads a CSV answer as a spreadsheet or Grafana's Infinity data
// source would: UTF-8 without a byte-order mark, no comment lines, RFC 4180
// records as long as the header row, an ISO 8601 date as period, numbers
// (or nothing) as value, numerator and denominator, and no cell that a
// spreadsheet would run as a formula.
func checkCSV(t *testing.T, what string, body []byte) []map[string]string {
	t.Helper()
	if !utf8.Valid(body) || bytes.HasPrefix(body, []byte("\ufeff")) {
		t.Errorf("%s: not UTF-8 without a byte-order mark", what)
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = 0
	recs, err := r.ReadAll()
	if err != nil || len(recs) < 2 {
		t.Errorf("%s: %d records, %v:\n%s", what, len(recs), err, body)
		return nil
	}
	header := recs[0]
	if !slices.Equal(header[:6], []string{"kpi", "period", "key", "value", "numerator", "denominator"}) {
		t.Errorf("%s: header %q", what, header)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range header {
			row[h] = rec[i]
			if c := rec[i]; c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				if _, err := strconv.ParseFloat(c, 64); err != nil {
					t.Errorf("%s: column %s: cell %q would run as a formula", what, h, c)
				}
			}
		}
		if _, err := time.Parse(time.DateOnly, row["period"]); err != nil {
			t.Errorf("%s: period %q is not an ISO 8601 date", what, row["period"])
		}
		for _, col := range []string{"value", "numerator", "denominator"} {
			if _, err := strconv.ParseFloat(row[col], 64); err != nil && row[col] != "" {
				t.Errorf("%s: %s %q is not a number", what, col, row[col])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// typeformSign signs a body as Typeform does.
func typeformSign(secret string, body []byte) map[string]string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return map[string]string{webhook.TypeformSignatureHeader: "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil)), "Content-Type": "application/json"}
}

// checkCoverage checks that the document's operations are exactly
// template.yaml's routes, and that every operation answered every status
// the document gives it, but the server faults.
func (c *contract) checkCoverage() {
	t := c.t
	t.Helper()
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, r := range tpl.Routes() {
		routes[strings.ToUpper(r.Method)+" "+r.Path] = true
	}
	ops := map[string]*openapi3.Operation{}
	for p, item := range c.doc.Paths.Map() {
		for m, op := range item.Operations() {
			ops[strings.ToUpper(m)+" "+p] = op
		}
	}
	for r := range routes {
		if ops[r] == nil {
			t.Errorf("route %s of template.yaml is no operation of openapi.json", r)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ops)) {
		if !routes[k] {
			t.Errorf("operation %s of openapi.json is no route of template.yaml", k)
			continue
		}
		seen := c.seen[k]
		if len(seen) == 0 {
			t.Errorf("%s: no request was validated", k)
			continue
		}
		for code := range ops[k].Responses.Map() {
			var status int
			if _, err := fmt.Sscan(code, &status); err != nil {
				t.Errorf("%s: response %q is not a status code", k, code)
				continue
			}
			if status >= 500 {
				continue // a server fault: no healthy stack answers it
			}
			if seen[status] == 0 {
				t.Errorf("%s: no real answer had status %d, which openapi.json documents", k, status)
			}
		}
		t.Logf("%s: %v", k, seen)
	}
}

// storageFault fails the stack's requests to the S3 server, or to S3 and
// DynamoDB Local, once switched on: the only way to see the server faults.
type storageFault struct {
	mu       sync.Mutex
	s3Host   string
	s3, all  bool
	injected int
}

func (f *storageFault) set(s3, all bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s3, f.all = s3, all
}

func (f *storageFault) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := f.all || (f.s3 && req.URL.Host == f.s3Host)
	if fail {
		f.injected++
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("injected fault: storage unreachable")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestFaultAnswersMatchDocument validates, as TestResponsesMatchDocument
// does, the answers of every route when storage fails: S3 down (ingest
// stores nothing and says 503), then DynamoDB Local too (500). Keys are
// looked up before the fault, as a warm function has them cached. Every
// 500 and 503 that the document gives a route that touches storage must
// be seen.
func TestFaultAnswersMatchDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack")
	}
	s3 := localstacktest.S3Endpoint(t)
	u, err := url.Parse(s3)
	if err != nil {
		t.Fatal(err)
	}
	fault := &storageFault{s3Host: u.Host}
	st := stacktest.StartWith(t, stacktest.Options{Now: func() time.Time { return contractNow }, S3Endpoint: s3, Transport: fault,
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }})
	c := newContract(t, st.URL)
	W, R, A := key(st.WriteKey), key(st.ReadKey), key(st.AdminKey)
	rng := "from=2026-09-01&to=2026-10-02"
	msg := `{"userId":"u1","event":"E","previousId":"p","groupId":"g","messageId":"f1","timestamp":"2026-09-21T10:00:00Z"}`
	ingest := []string{"batch", "track", "identify", "group", "page", "screen", "alias"}
	body := func(typ string) []byte {
		if typ == "batch" {
			return []byte(`{"batch":[{"type":"track",` + strings.TrimPrefix(msg, "{") + `]}`)
		}
		return []byte(msg)
	}
	// Warm the key cache, healthy.
	c.do(exchange{name: "warm write key", method: "POST", path: "/v1/track", header: W, body: body("track"), status: 200})
	c.do(exchange{name: "warm read key", method: "GET", path: "/v1/kpis/dau?" + rng, header: R, status: 200})
	c.do(exchange{name: "warm admin key", method: "GET", path: "/v1/config", header: A, status: 200})

	fault.set(true, false)
	for _, typ := range ingest {
		c.do(exchange{name: typ + " with S3 down", method: "POST", path: "/v1/" + typ, header: W, body: body(typ), status: 503})
	}
	survey := []byte(`{"id":"r-f","survey_id":"q4","type":"nps","score":9,"respondent":"u1","submitted_at":"2026-09-12T10:00:00Z"}`)
	sig := map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(st.WebhookSecret), survey, contractNow), "Content-Type": "application/json"}
	c.do(exchange{name: "survey with S3 down", method: "POST", path: "/v1/webhooks/survey/demo", header: sig, body: survey, status: 503})

	fault.set(true, true)
	for _, typ := range ingest {
		// A key not in the cache cannot be looked up.
		c.do(exchange{name: typ + " with storage down", method: "POST", path: "/v1/" + typ, header: key("uncached-key"), body: body(typ), status: 500})
	}
	c.do(exchange{name: "survey with storage down", method: "POST", path: "/v1/webhooks/survey/demo", header: sig, body: survey, status: 500})
	c.do(exchange{name: "KPIs with storage down", method: "GET", path: "/v1/kpis?" + rng, header: R, status: 500})
	c.do(exchange{name: "KPI with storage down", method: "GET", path: "/v1/kpis/nps?" + rng, header: R, status: 500})
	c.do(exchange{name: "KPI CSV with storage down", method: "GET", path: "/v1/kpis/nps.csv?" + rng, header: R, status: 500})
	c.do(exchange{name: "config with storage down", method: "GET", path: "/v1/config", header: A, status: 500})
	c.do(exchange{name: "put config with storage down", method: "PUT", path: "/v1/config", header: A, body: []byte(`{"timezone":"UTC"}`), status: 500})
	c.do(exchange{name: "aggregate with storage down", method: "POST", path: "/v1/admin/aggregate", header: A, body: []byte(`{"from":"2026-09-01","to":"2026-09-02"}`), status: 500})
	c.do(exchange{name: "settings with storage down", method: "GET", path: "/v1/admin/webhooks/typeform", header: A, status: 500})
	c.do(exchange{name: "put settings with storage down", method: "PUT", path: "/v1/admin/webhooks/typeform", header: A, body: []byte(`{"mapping":{}}`), status: 500})
	c.do(exchange{name: "reprocess with storage down", method: "POST", path: "/v1/admin/webhooks/typeform/reprocess", header: A, status: 500})
	c.do(exchange{name: "erase with storage down", method: "DELETE", path: "/v1/users/u1", header: A, status: 500})
	c.do(exchange{name: "erasures with storage down", method: "GET", path: "/v1/admin/erasures", header: A, status: 500})
	if fault.injected == 0 {
		t.Fatal("no fault was injected")
	}

	// Every storage fault the document gives a route was seen, but those
	// no storage fault causes: openapi.json is in the binary, and no
	// defined KPI is left uncomputed (501).
	for op, item := range c.doc.Paths.Map() {
		for m, o := range item.Operations() {
			k := strings.ToUpper(m) + " " + op
			for _, status := range []int{500, 503} {
				if o.Responses.Status(status) == nil || k == "GET /v1/openapi.json" {
					continue
				}
				if c.seen[k][status] == 0 {
					t.Errorf("%s: no real answer had status %d, which openapi.json documents", k, status)
				}
			}
		}
	}
}
