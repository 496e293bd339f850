package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/infra/stacktest"
)

// seed makes the data of the acceptance tests; any seed must pass.
const seed = 20260907

func TestMain(m *testing.M) { localstacktest.Main(m) }

// TestEndToEnd sends five weeks of a tenant's messages, shuffled and partly
// sent twice, aggregates them, and compares every KPI answer with the
// reference.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ds := generate(defaultConfig(seed))
	msgs := ds.messages(all)
	ref, err := newReference(msgs)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	c := newClient(stacktest.Start(t))

	c.send(t, deliveryPlan(rand.New(rand.NewPCG(seed, 1)), msgs, ds.precede), ds.precede)

	whole := query{"dau", ds.day(0), ds.lastDay(), ""}
	if a := c.kpi(t, whole); a.Complete == nil || *a.Complete {
		t.Errorf("GET %s before any aggregation: complete = %v, want false", whole.path(), fmtBool(a.Complete))
	}

	c.aggregate(t, ds.day(0), ds.lastDay())
	c.checkAnswers(t, ref, queries(ds))

	t.Run("errors", func(t *testing.T) { c.checkErrors(t, ds) })
}

// TestLateEventsAndRerun sends weeks 1–3 and aggregates them; then sends
// weeks 4–5, late events for week 2 and messages sent before, aggregates
// everything again and compares with the reference over all messages; then
// aggregates week 2 once more and checks that no answer changes.
func TestLateEventsAndRerun(t *testing.T) {
	t.Parallel()
	ds := generate(defaultConfig(seed))
	cut := ds.start.AddDate(0, 0, 21)
	first := ds.messages(func(e genEvent) bool { return e.at.Before(cut) && !e.late })
	second := ds.messages(func(e genEvent) bool { return !e.at.Before(cut) || e.late })
	r := rand.New(rand.NewPCG(seed, 2))
	for _, i := range r.Perm(len(first))[:len(first)*3/100] {
		second = append(second, first[i]) // sent again, long after
	}
	ref1, err := newReference(first)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	refAll, err := newReference(ds.messages(all))
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	c := newClient(stacktest.Start(t))

	c.send(t, deliveryPlan(r, first, ds.precede), ds.precede)
	c.aggregate(t, ds.day(0), ds.day(20))
	c.checkAnswers(t, ref1, weeks1to3Queries(ds))
	whole := query{"dau", ds.day(0), ds.lastDay(), ""}
	if a := c.kpi(t, whole); a.Complete == nil || *a.Complete {
		t.Errorf("GET %s with only weeks 1–3 aggregated: complete = %v, want false", whole.path(), fmtBool(a.Complete))
	}

	c.send(t, deliveryPlan(r, second, ds.precede), ds.precede)
	c.aggregate(t, ds.day(0), ds.lastDay())
	qs := append(queries(ds), weeks1to3Queries(ds)...)
	before := c.checkAnswers(t, refAll, qs)

	c.aggregate(t, ds.day(7), ds.day(13))
	after := c.checkAnswers(t, refAll, qs)
	for _, q := range qs {
		if diff := cmp.Diff(after[q], before[q], approx); diff != "" {
			t.Errorf("GET %s changed when week 2 was aggregated again (-after +before):\n%s", q.path(), diff)
		}
	}
}

// kpiIDs are the KPIs the acceptance tests check.
var kpiIDs = []string{"dau", "nps", "pages_per_session", "conversion_rate"}

// queries returns every KPI over: the whole period (each interval); a single
// day; a range from a Wednesday to a Saturday three weeks later, across
// the end of a month; a day whose sessions cross midnight, alone and with
// the next day; a day without NPS answers; the last day of a month; week 2.
func queries(ds *dataset) []query {
	return forEachKPI([]query{
		{"", ds.day(0), ds.lastDay(), ""},
		{"", ds.day(0), ds.lastDay(), "day"},
		{"", ds.day(0), ds.lastDay(), "week"},
		{"", ds.day(0), ds.lastDay(), "month"},
		{"", ds.day(dayExactGap), ds.day(dayExactGap), ""},
		{"", ds.day(9), ds.day(26), ""},
		{"", ds.day(9), ds.day(26), "week"},
		{"", ds.day(9), ds.day(26), "month"},
		{"", ds.day(dayMidnight), ds.day(dayMidnight), ""},
		{"", ds.day(dayMidnight), ds.day(dayMidnight + 1), "day"},
		{"", ds.day(dayNoNPS), ds.day(dayNoNPS), ""},
		{"", ds.day(dayMonthEnd), ds.day(dayMonthEnd), ""},
		{"", ds.day(7), ds.day(13), "day"},
	})
}

// weeks1to3Queries returns every KPI over ranges inside the first three
// weeks, where the late events land.
func weeks1to3Queries(ds *dataset) []query {
	return forEachKPI([]query{
		{"", ds.day(0), ds.day(20), ""},
		{"", ds.day(0), ds.day(20), "day"},
		{"", ds.day(0), ds.day(20), "week"},
		{"", ds.day(9), ds.day(20), "week"},
		{"", ds.day(15), ds.day(15), ""},
		{"", ds.day(dayLateSignup), ds.day(dayLateSignup), ""},
	})
}

func forEachKPI(ranges []query) []query {
	var out []query
	for _, id := range kpiIDs {
		for _, q := range ranges {
			q.kpi = id
			out = append(out, q)
		}
	}
	return out
}

func (q query) path() string {
	v := url.Values{"from": {q.from}, "to": {q.to}}
	if q.interval != "" {
		v.Set("interval", q.interval)
	}
	return "/v1/kpis/" + q.kpi + "?" + v.Encode()
}

// approx compares floats with a relative tolerance of 1e-9.
var approx = cmp.Comparer(func(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
})

// client calls the stack's HTTP API.
type client struct {
	st   *stacktest.Stack
	http *http.Client
}

func newClient(st *stacktest.Stack) *client {
	return &client{st: st, http: &http.Client{Timeout: 2 * time.Minute}}
}

// do sends a request with the key as a bearer token (none if empty) and
// returns the status and the body.
func (c *client) do(t *testing.T, method, path, key string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.st.URL+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// batchResponse is the answer of POST /v1/batch.
type batchResponse struct {
	Success    bool `json:"success"`
	Accepted   int  `json:"accepted"`
	Duplicates int  `json:"duplicates"`
	Rejected   []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// send posts the batches in order, checking that each is accepted whole:
// 200, nothing rejected, accepted + duplicates = messages sent, and at
// least the repeats within a request reported as duplicates.
func (c *client) send(t *testing.T, batches [][]message, precede [][2]string) {
	t.Helper()
	if err := checkOrder(batches, precede); err != nil {
		t.Fatalf("delivery plan: %v", err)
	}
	start := time.Now()
	var sent, accepted, duplicates int
	for i, batch := range batches {
		body, err := json.Marshal(map[string]any{
			"batch":  batch,
			"sentAt": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) > maxBatch || len(body) >= 500*1024 {
			t.Fatalf("delivery plan: request %d has %d messages, %d bytes", i, len(batch), len(body))
		}
		status, resp := c.do(t, http.MethodPost, "/v1/batch", c.st.WriteKey, body)
		if status != http.StatusOK {
			t.Fatalf("request %d of %d: POST /v1/batch with %d messages: status %d, want 200; body: %s", i+1, len(batches), len(batch), status, resp)
		}
		var br batchResponse
		if err := json.Unmarshal(resp, &br); err != nil {
			t.Fatalf("request %d: POST /v1/batch: %v; body: %s", i+1, err, resp)
		}
		var problems []string
		for _, rej := range br.Rejected {
			m := "?"
			if rej.Index >= 0 && rej.Index < len(batch) {
				raw, _ := json.Marshal(batch[rej.Index])
				m = string(raw)
			}
			problems = append(problems, fmt.Sprintf("message %d rejected: %s; message: %s", rej.Index, rej.Reason, m))
		}
		if !br.Success {
			problems = append(problems, "success = false")
		}
		if got := br.Accepted + br.Duplicates; got != len(batch) {
			problems = append(problems, fmt.Sprintf("accepted %d + duplicates %d = %d, want the %d messages sent", br.Accepted, br.Duplicates, got, len(batch)))
		}
		if n := repeatsWithin(batch); br.Duplicates < n {
			problems = append(problems, fmt.Sprintf("duplicates = %d, want at least the %d messages repeated within the request", br.Duplicates, n))
		}
		if len(problems) > 0 {
			t.Fatalf("request %d of %d: POST /v1/batch with %d messages:\n%s\nbody: %s", i+1, len(batches), len(batch), strings.Join(problems, "\n"), resp)
		}
		sent += len(batch)
		accepted += br.Accepted
		duplicates += br.Duplicates
	}
	if accepted+duplicates != sent {
		t.Fatalf("accepted %d + duplicates %d = %d, want the %d messages sent", accepted, duplicates, accepted+duplicates, sent)
	}
	t.Logf("sent %d messages in %d requests in %v: %d accepted, %d duplicates", sent, len(batches), time.Since(start).Round(time.Millisecond), accepted, duplicates)
}

// repeatsWithin counts the messages whose messageId came earlier in the
// same batch.
func repeatsWithin(batch []message) int {
	seen := map[string]bool{}
	n := 0
	for _, m := range batch {
		if seen[m.MessageID] {
			n++
		}
		seen[m.MessageID] = true
	}
	return n
}

// aggregate runs the aggregation over from..to.
func (c *client) aggregate(t *testing.T, from, to string) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"from": from, "to": to})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	status, resp := c.do(t, http.MethodPost, "/v1/admin/aggregate", c.st.AdminKey, body)
	if status/100 != 2 {
		t.Fatalf("POST /v1/admin/aggregate %s: status %d, want 200; body: %s", body, status, resp)
	}
	t.Logf("aggregated %s..%s in %v", from, to, time.Since(start).Round(time.Millisecond))
}

// kpiAnswer is the answer of GET /v1/kpis/{id}.
type kpiAnswer struct {
	KPI         string         `json:"kpi"`
	From        string         `json:"from"`
	To          string         `json:"to"`
	Value       *float64       `json:"value"`
	Numerator   *float64       `json:"numerator"`
	Denominator *float64       `json:"denominator"`
	Details     map[string]any `json:"details"`
	Series      []seriesEntry  `json:"series"`
	Complete    *bool          `json:"complete"`
}

type seriesEntry struct {
	Period      string         `json:"period"`
	Value       *float64       `json:"value"`
	Numerator   *float64       `json:"numerator"`
	Denominator *float64       `json:"denominator"`
	Details     map[string]any `json:"details"`
}

// kpi asks q; it fails the test unless the answer is a 200 with the fields
// of api.md (a null value is written as null, not left out).
func (c *client) kpi(t *testing.T, q query) kpiAnswer {
	t.Helper()
	status, body := c.do(t, http.MethodGet, q.path(), c.st.ReadKey, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body: %s", q.path(), status, body)
	}
	var a kpiAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("GET %s: %v; body: %s", q.path(), err, body)
	}
	var fields struct {
		Top    map[string]json.RawMessage
		Series []map[string]json.RawMessage `json:"series"`
	}
	_ = json.Unmarshal(body, &fields.Top)
	_ = json.Unmarshal(body, &fields)
	var missing []string
	for _, k := range []string{"kpi", "from", "to", "value", "numerator", "denominator", "details", "complete"} {
		if _, ok := fields.Top[k]; !ok {
			missing = append(missing, k)
		}
	}
	for i, s := range fields.Series {
		for _, k := range []string{"period", "value"} {
			if _, ok := s[k]; !ok {
				missing = append(missing, fmt.Sprintf("series[%d].%s", i, k))
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("GET %s: the answer has no %s; body: %s", q.path(), strings.Join(missing, ", "), body)
	}
	return a
}

// checkAnswers asks every query and compares the answer with the
// reference; it returns the answers.
func (c *client) checkAnswers(t *testing.T, ref *reference, qs []query) map[query]kpiAnswer {
	t.Helper()
	answers := map[query]kpiAnswer{}
	for _, q := range qs {
		if _, done := answers[q]; done {
			continue
		}
		got := c.kpi(t, q)
		answers[q] = got
		if got.KPI != q.kpi || got.From != q.from || got.To != q.to {
			t.Errorf("GET %s: kpi, from, to = %q, %q, %q, want %q, %q, %q", q.path(), got.KPI, got.From, got.To, q.kpi, q.from, q.to)
		}
		if got.Complete == nil || !*got.Complete {
			t.Errorf("GET %s: complete = %v, want true: the range was aggregated", q.path(), fmtBool(got.Complete))
		}
		if diff := compareAnswer(got, ref.answer(q)); diff != "" {
			t.Errorf("GET %s: the answer differs from the reference (-got +want):\n%s", q.path(), diff)
		}
	}
	return answers
}

// compareAnswer returns the differences between the answer and the
// reference, over the fields the reference has: the details it names, and
// a series entry's numerator and denominator only if the answer has them.
func compareAnswer(got kpiAnswer, want kpiView) string {
	g := kpiView{
		Value:       got.Value,
		Numerator:   got.Numerator,
		Denominator: got.Denominator,
		Details:     pickDetails(got.Details, want.Details),
	}
	want.Series = append([]periodView(nil), want.Series...)
	for i, s := range got.Series {
		p := periodView{Period: s.Period, Value: s.Value, Numerator: s.Numerator, Denominator: s.Denominator}
		if i < len(want.Series) {
			p.Details = pickDetails(s.Details, want.Series[i].Details)
			if s.Numerator == nil {
				want.Series[i].Numerator = nil
			}
			if s.Denominator == nil {
				want.Series[i].Denominator = nil
			}
		}
		g.Series = append(g.Series, p)
	}
	return cmp.Diff(g, want, approx)
}

// pickDetails returns the numbers of details under the keys of want; nil
// for a key that is missing or not a number.
func pickDetails(details map[string]any, want map[string]*float64) map[string]*float64 {
	out := map[string]*float64{}
	for k := range want {
		if x, ok := details[k].(float64); ok {
			out[k] = &x
		} else {
			out[k] = nil
		}
	}
	return out
}

func fmtBool(b *bool) string {
	if b == nil {
		return "missing"
	}
	return fmt.Sprint(*b)
}

// checkErrors checks the error contract of api.md on a few requests.
func (c *client) checkErrors(t *testing.T, ds *dataset) {
	from, to := ds.day(0), ds.day(6)
	ok := query{"dau", from, to, ""}.path()
	stray, err := json.Marshal(map[string]any{"batch": []message{{
		Type: "track", Event: "Report Viewed", UserID: "usr_stray", MessageID: "stray-message-1",
		Timestamp: ds.start.Add(12 * time.Hour).Format(time.RFC3339),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, key string
		body                    []byte
		status                  int
		errorBody               bool // the body must be {"error": {"code", "message"}}
	}{
		{"unknown KPI", http.MethodGet, query{"no_such_kpi", from, to, ""}.path(), c.st.ReadKey, nil, http.StatusBadRequest, true},
		{"from after to", http.MethodGet, query{"dau", to, from, ""}.path(), c.st.ReadKey, nil, http.StatusBadRequest, true},
		{"bad date", http.MethodGet, query{"dau", "2026-02-30", to, ""}.path(), c.st.ReadKey, nil, http.StatusBadRequest, true},
		{"no key", http.MethodGet, ok, "", nil, http.StatusUnauthorized, false},
		{"wrong key", http.MethodGet, ok, "not-a-key-of-this-tenant", nil, http.StatusUnauthorized, false},
		{"write key on a query", http.MethodGet, ok, c.st.WriteKey, nil, http.StatusForbidden, false},
		{"read key on ingest", http.MethodPost, "/v1/batch", c.st.ReadKey, stray, http.StatusForbidden, false},
	} {
		status, body := c.do(t, tc.method, tc.path, tc.key, tc.body)
		if status != tc.status {
			t.Errorf("%s: %s %s: status %d, want %d; body: %s", tc.name, tc.method, tc.path, status, tc.status, body)
			continue
		}
		if !tc.errorBody {
			continue
		}
		var e struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf(`%s: %s %s: body %s, want {"error": {"code": "...", "message": "..."}}`, tc.name, tc.method, tc.path, body)
		}
	}
}
