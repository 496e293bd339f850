package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/infra/stacktest"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// sample writes the 30-day sample of October 2026 into dir.
func sample(t *testing.T, dir string, seed uint64) Sample {
	t.Helper()
	e, err := WriteSample(dir, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 40, seed)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// transport carries the importer's requests to the stack, and lets a test
// inject faults and see what was acknowledged.
type transport struct {
	mu sync.Mutex
	// fault, when set, may answer a request instead of the stack (n counts
	// the requests to that path so far, from 1); after is called with
	// the stack's answer and may replace it.
	fault func(req *http.Request, n int) (*http.Response, error)
	after func(req *http.Request, n int, resp *http.Response) (*http.Response, error)
	count map[string]int
	// acked are the messageIds of the batches the stack answered 200.
	acked []string
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	tr.mu.Lock()
	if tr.count == nil {
		tr.count = map[string]int{}
	}
	tr.count[req.URL.Path]++
	n := tr.count[req.URL.Path]
	tr.mu.Unlock()
	if tr.fault != nil {
		if resp, err := tr.fault(req, n); resp != nil || err != nil {
			return resp, err
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		tr.mu.Lock()
		tr.acked = append(tr.acked, messageIDs(body, req.URL.Path)...)
		tr.mu.Unlock()
	}
	if tr.after != nil {
		return tr.after(req, n, resp)
	}
	return resp, nil
}

func (tr *transport) requests() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, c := range tr.count {
		n += c
	}
	return n
}

// messageIDs reads the messageIds of a batch body, or the id of a webhook
// delivery.
func messageIDs(body []byte, path string) []string {
	if strings.HasPrefix(path, "/v1/webhooks/") {
		var d struct {
			ID        string `json:"id"`
			UpdatedAt string `json:"updated_at"`
		}
		json.Unmarshal(body, &d)
		return []string{path + ":" + d.ID + ":" + d.UpdatedAt}
	}
	if path != "/v1/batch" {
		return nil
	}
	var b struct {
		Batch []struct {
			MessageID string `json:"messageId"`
		} `json:"batch"`
	}
	json.Unmarshal(body, &b)
	var ids []string
	for _, m := range b.Batch {
		ids = append(ids, m.MessageID)
	}
	return ids
}

func answer(req *http.Request, status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body)), Request: req, ProtoMajor: 1, ProtoMinor: 1}
}

// options are a test's import options against stack s.
func options(s *stacktest.Stack, dir string, tr *transport) Options {
	return Options{
		URL: s.URL, WriteKey: s.WriteKey, AdminKey: s.AdminKey, Tenant: s.Tenant, WebhookSecret: s.WebhookSecret,
		Checkpoint: filepath.Join(dir, "checkpoint.json"),
		HTTP:       &http.Client{Transport: tr},
		Backoff:    func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) },
		BatchCount: 100,
		Now:        time.Now,
	}
}

// kpi reads a KPI's answer.
func kpi(t *testing.T, s *stacktest.Stack, id, from, to string) (value float64, details map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/kpis/%s?from=%s&to=%s", s.URL, id, from, to), nil)
	req.SetBasicAuth(s.ReadKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", req.URL, resp.StatusCode, b)
	}
	var a struct {
		Value    float64        `json:"value"`
		Details  map[string]any `json:"details"`
		Complete bool           `json:"complete"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if !a.Complete {
		t.Errorf("GET %s: complete is false after the import's aggregation", req.URL)
	}
	return a.Value, a.Details
}

// checkKPIs compares the stack's DAU, NPS, first response time and
// ticket volume with the values computed from the generated export.
func checkKPIs(t *testing.T, s *stacktest.Stack, e Sample) {
	t.Helper()
	for _, d := range []int{0, 9, 17, 29} {
		if got, _ := kpi(t, s, "dau", e.day(d), e.day(d)); got != float64(len(e.active[d])) {
			t.Errorf("dau on %s = %v, want %d", e.day(d), got, len(e.active[d]))
		}
	}
	first, last := e.day(0), e.day(e.Days-1)
	n := e.promoters + e.passives + e.detractors
	wantNPS := float64(e.promoters-e.detractors) * 100 / float64(n)
	got, details := kpi(t, s, "nps", first, last)
	if math.Abs(got-wantNPS) > 1e-9 {
		t.Errorf("nps = %v, want %v", got, wantNPS)
	}
	if details["promoters"] != float64(e.promoters) || details["detractors"] != float64(e.detractors) {
		t.Errorf("nps details = %v, want %d promoters and %d detractors", details, e.promoters, e.detractors)
	}
	sum := 0.0
	for _, m := range e.firstReply {
		sum += m
	}
	got, details = kpi(t, s, "first_response_time", first, last)
	if want := sum / float64(len(e.firstReply)); math.Abs(got-want) > 1e-9 {
		t.Errorf("first_response_time = %v minutes, want %v", got, want)
	}
	sorted := slices.Sorted(slices.Values(e.firstReply))
	if want := sorted[len(sorted)/2]; len(sorted)%2 == 1 && details["median_minutes"] != want {
		t.Errorf("first_response_time median = %v, want %v", details["median_minutes"], want)
	}
	if got, _ := kpi(t, s, "ticket_volume", first, last); got != 25 {
		t.Errorf("ticket_volume = %v, want 25", got)
	}
}

// TestImport30Days back-fills a generated 30-day export through the
// `make dev` router, then reads DAU, NPS, first response time and ticket
// volume and compares them with the values computed from the generated
// data; running it again sends nothing.
func TestImport30Days(t *testing.T) {
	for _, via := range []string{ViaBatch, ViaWebhook} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			e := sample(t, dir, 1)
			s := stacktest.Start(t)
			tr := &transport{}
			o := options(s, dir, tr)
			o.Via = via
			var progress bytes.Buffer
			o.Progress = &Lines{W: &progress, Every: 0, Now: time.Now}
			rep, err := Run(context.Background(), e.Inputs(), o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Fatalf("problems: %v", rep.Problems)
			}
			if rep.Valid != e.messages || rep.Sent != e.messages || rep.Accepted != e.messages {
				t.Errorf("valid %d, sent %d, accepted %d; want %d each", rep.Valid, rep.Sent, rep.Accepted, e.messages)
			}
			if rep.GeneratedIDs != e.noID {
				t.Errorf("generated messageIds = %d, want %d", rep.GeneratedIDs, e.noID)
			}
			if rep.From != e.day(0) || rep.To > e.day(e.Days) {
				t.Errorf("days %s to %s, want from %s", rep.From, rep.To, e.day(0))
			}
			if len(rep.Aggregations) == 0 {
				t.Error("no aggregation ran")
			}
			if !strings.Contains(progress.String(), "ETA") || !strings.Contains(progress.String(), fmt.Sprintf("%d sent", e.messages)) {
				t.Errorf("progress lines:\n%s", progress.String())
			}
			checkKPIs(t, s, e)

			// Again: the checkpoint says it is all done; only the
			// aggregation runs again.
			sends := func() int { return tr.requests() - tr.count["/v1/admin/aggregate"] }
			before := sends()
			rep, err = Run(context.Background(), e.Inputs(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Resumed || rep.Sent != 0 || sends() != before {
				t.Errorf("second run: resumed %v, sent %d in %d requests; want resumed, nothing sent", rep.Resumed, rep.Sent, sends()-before)
			}
		})
	}
}

// TestResumeAfterInterruption stops an import (its context cancelled as
// its fourth batch starts), runs it again from the checkpoint, and checks
// that the two runs together sent every message once and the KPIs are
// those of the export.
func TestResumeAfterInterruption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := sample(t, dir, 2)
	s := stacktest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &transport{fault: func(req *http.Request, n int) (*http.Response, error) {
		if req.URL.Path == "/v1/batch" && n == 4 {
			cancel() // as if killed: this batch is never answered
			return nil, context.Canceled
		}
		return nil, nil
	}}
	o := options(s, dir, tr)
	rep, err := Run(ctx, e.Inputs(), o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want context.Canceled", err)
	}
	first := len(tr.acked)
	if first != 3*o.BatchCount || rep.Sent != 4*o.BatchCount {
		t.Fatalf("first run acknowledged %d messages (sent %d), want 3 batches of %d", first, rep.Sent, o.BatchCount)
	}

	tr.fault = nil
	rep, err = Run(context.Background(), e.Inputs(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Resumed || rep.Skipped < first {
		t.Errorf("second run: resumed %v, skipped %d, want at least %d", rep.Resumed, rep.Skipped, first)
	}
	seen := map[string]int{}
	for _, id := range tr.acked {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("messageId %s sent %d times", id, n)
		}
	}
	if len(tr.acked) != e.messages {
		t.Errorf("the two runs sent %d messages, want %d", len(tr.acked), e.messages)
	}
	for _, id := range e.ids {
		if seen[id] == 0 {
			t.Errorf("messageId %s never sent", id)
		}
	}
	checkKPIs(t, s, e)
}

// TestRetries injects a 503, a 429 with Retry-After and a lost answer (the
// stack stored the batch, the importer never heard) and checks that the
// import retries through them without counting anything twice.
func TestRetries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := sample(t, dir, 3)
	s := stacktest.Start(t)
	tr := &transport{}
	tr.fault = func(req *http.Request, n int) (*http.Response, error) {
		switch {
		case req.URL.Path == "/v1/batch" && n == 1:
			return answer(req, http.StatusServiceUnavailable, nil, `{"error":{"code":"unavailable","message":"injected"}}`), nil
		case req.URL.Path == "/v1/batch" && n == 3:
			return answer(req, http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}}, ""), nil
		case req.URL.Path == "/v1/admin/aggregate" && n == 1:
			return answer(req, http.StatusBadGateway, nil, ""), nil
		}
		return nil, nil
	}
	tr.after = func(req *http.Request, n int, resp *http.Response) (*http.Response, error) {
		if req.URL.Path == "/v1/batch" && n == 5 {
			resp.Body.Close()
			return nil, errors.New("injected: connection reset after the stack answered")
		}
		return resp, nil
	}
	var log bytes.Buffer
	o := options(s, dir, tr)
	o.Log = &log
	rep, err := Run(context.Background(), e.Inputs(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Retries != 4 {
		t.Errorf("retries = %d, want 4; log:\n%s", rep.Retries, log.String())
	}
	// The lost answer's batch went twice: the stack saw it as new both
	// times (de-duplication is the aggregation's), the KPIs count it once.
	if rep.Accepted != e.messages {
		t.Errorf("accepted %d, want %d", rep.Accepted, e.messages)
	}
	checkKPIs(t, s, e)
}

// TestDryRun checks everything and sends nothing.
func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	e := sample(t, dir, 4)
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte(`{"type":"track","event":"x","userId":"u1","timestamp":"2026-10-01T10:00:00Z"}`+"\n"+`{"type":"track","userId":"u1","timestamp":"2026-10-01T10:00:00Z"}`+"\n"), 0o644)
	tr := &transport{}
	o := Options{URL: "http://127.0.0.1:1", DryRun: true, HTTP: &http.Client{Transport: tr}, Now: time.Now, RetryFor: time.Second,
		Backoff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }}
	rep, err := Run(context.Background(), append(e.Inputs(), Input{Path: bad}), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := tr.requests(); n != 0 {
		t.Errorf("dry run sent %d requests", n)
	}
	if rep.Valid != e.messages+1 || rep.Sent != 0 {
		t.Errorf("dry run: valid %d, sent %d; want %d valid, none sent", rep.Valid, rep.Sent, e.messages+1)
	}
	want := []Problem{{File: bad, Line: 2, Reason: "event is required for track calls"}}
	if diff := cmp.Diff(rep.Problems, want); diff != "" {
		t.Errorf("problems (-got +want):\n%s", diff)
	}
	if rep.From != e.day(0) {
		t.Errorf("from %s, want %s", rep.From, e.day(0))
	}
}

// TestBadLines imports files with bad lines and rows: each is reported
// with its file and line, and every good one is imported.
func TestBadLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	events := write("events.jsonl", strings.Join([]string{
		`{"type":"track","event":"Feature Used","userId":"u1","messageId":"g1","timestamp":"2026-10-01T10:00:00Z"}`,
		`{"type":"track","event":"Feature Used","userId":"u1",`,
		`{"type":"page","messageId":"b2","timestamp":"2026-10-01T10:00:00Z"}`,
		`{"type":"page","userId":"u2","messageId":"b3"}`,
		`{"type":"page","userId":"u2","messageId":"b4","timestamp":"2126-10-01T10:00:00Z"}`,
		`{"type":"page","userId":"u2","messageId":"g2","timestamp":"2026-10-02T10:00:00Z"}`,
	}, "\n"))
	surveys := write("typeform.csv", "#,user_id,How likely are you to recommend us?,Score,Submit Date (UTC)\n"+
		"r1,u1,,9,2026-10-01 10:00:00\n"+
		"r2,u2,,11,2026-10-01 10:00:00\n"+
		"r3,,,7,2026-10-01 10:00:00\n"+
		"r4,u4,,nine,2026-10-01 10:00:00\n"+
		"r5,u5,,3,yesterday\n"+
		"r6,u6,,0,2026-10-02T11:00:00Z\n")
	tickets := write("freshdesk.csv", "Ticket ID,Status,Priority,Source,Created time,Resolved time,Contact ID\n"+
		"1,Open,Low,Email,2026-10-01 09:00:00,,u1\n"+
		"2,Escalated,Low,Email,2026-10-01 09:00:00,,u1\n"+
		"3,Resolved,High,Phone,,2026-10-01 12:00:00,u2\n"+
		"4,Closed,High,Phone,2026-10-01 09:00:00,2026-10-01 12:00:00,u3\n")
	s := stacktest.Start(t)
	o := options(s, dir, &transport{})
	rep, err := Run(context.Background(), []Input{{Path: events}, {Path: surveys}, {Path: tickets}}, o)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		File string
		Line int
	}
	var got []line
	for _, p := range rep.Problems {
		got = append(got, line{filepath.Base(p.File), p.Line})
		if p.Reason == "" {
			t.Errorf("%s: no reason", p)
		}
	}
	want := []line{{"events.jsonl", 2}, {"events.jsonl", 3}, {"events.jsonl", 4}, {"events.jsonl", 5},
		{"typeform.csv", 3}, {"typeform.csv", 4}, {"typeform.csv", 5}, {"typeform.csv", 6},
		{"freshdesk.csv", 3}, {"freshdesk.csv", 4}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("rejected lines (-got +want):\n%s\n%v", diff, rep.Problems)
	}
	for _, p := range rep.Problems {
		t.Log(p)
	}
	if rep.Accepted != 6 || rep.Valid != 6 {
		t.Errorf("valid %d, accepted %d, want 6 and 6", rep.Valid, rep.Accepted)
	}
	if v, _ := kpi(t, s, "ticket_volume", "2026-10-01", "2026-10-02"); v != 2 {
		t.Errorf("ticket_volume = %v, want 2", v)
	}
	if v, _ := kpi(t, s, "nps", "2026-10-01", "2026-10-02"); v != 0 {
		t.Errorf("nps = %v, want 0 (one promoter, one detractor)", v)
	}

	// A survey export without a score column is refused at its header.
	noScore := write("no-score.csv", "Response ID,Customer ID,Submit Date (UTC)\nr1,u1,2026-10-01 10:00:00\n")
	_, err = Run(context.Background(), []Input{{Path: noScore, Kind: Surveys}}, Options{URL: s.URL, DryRun: true, Now: time.Now})
	if err == nil || !strings.Contains(err.Error(), "no-score.csv:1:") || !strings.Contains(err.Error(), "score") {
		t.Errorf("export without a score column: err = %v", err)
	}
}

// TestCheckpointOfOtherFiles refuses to resume a checkpoint written for
// other files, and -restart starts over; a 401 stops the import at once.
func TestCheckpointOfOtherFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.ndjson")
	os.WriteFile(a, []byte(`{"type":"page","userId":"u1","messageId":"m1","timestamp":"2026-10-01T10:00:00Z"}`+"\n"), 0o644)
	cp := filepath.Join(dir, "cp.json")
	Checkpoint{Files: []FileState{{Path: a, Size: 1, Head: "x", Records: 1}}}.save(cp)
	// The (fake) API refuses the key once: a 401 is not retried.
	tr := &transport{fault: func(req *http.Request, n int) (*http.Response, error) {
		if n == 1 {
			return answer(req, http.StatusUnauthorized, nil, `{"error":{"code":"unauthorized","message":"wrong key"}}`), nil
		}
		return answer(req, http.StatusOK, nil, `{"success":true,"accepted":1,"duplicates":0,"rejected":[]}`), nil
	}}
	o := Options{URL: "http://127.0.0.1:1", Checkpoint: cp, Now: time.Now, HTTP: &http.Client{Transport: tr},
		Backoff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }}
	_, err := Run(context.Background(), []Input{{Path: a}}, o)
	if err == nil || !strings.Contains(err.Error(), "other files") {
		t.Fatalf("err = %v, want a refusal of the checkpoint", err)
	}
	o.Restart = true
	_, err = Run(context.Background(), []Input{{Path: a}}, o)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || tr.requests() != 1 {
		t.Fatalf("with restart: err = %v after %d requests, want the 401 of the (fake) API, not retried", err, tr.requests())
	}
}

// TestRejectedByTheAPI reports the lines that pass the importer's checks
// but the API rejects (here: the importer's clock runs two days ahead of
// the stack's, so an event a day and a half ahead passes here only), in a
// batch with valid messages (200 with rejections) and alone (400).
func TestRejectedByTheAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ahead := time.Now().Add(36 * time.Hour).UTC().Format(time.RFC3339)
	mixed := filepath.Join(dir, "mixed.ndjson")
	os.WriteFile(mixed, []byte(`{"type":"page","userId":"u1","messageId":"ok1","timestamp":"2026-10-01T10:00:00Z"}`+"\n"+
		`{"type":"page","userId":"u1","messageId":"late1","timestamp":"`+ahead+`"}`+"\n"), 0o644)
	alone := filepath.Join(dir, "alone.ndjson")
	os.WriteFile(alone, []byte(`{"type":"page","userId":"u1","messageId":"late2","timestamp":"`+ahead+`"}`+"\n"), 0o644)
	s := stacktest.Start(t)
	o := options(s, dir, &transport{})
	o.Now = func() time.Time { return time.Now().Add(48 * time.Hour) }
	rep, err := Run(context.Background(), []Input{{Path: mixed}, {Path: alone}}, o)
	if err != nil {
		t.Fatal(err)
	}
	reason := "rejected by the API: timestamp " + ahead + " is more than 24 hours in the future"
	want := []Problem{{File: mixed, Line: 2, Reason: reason}, {File: alone, Line: 1, Reason: reason}}
	if diff := cmp.Diff(rep.Problems, want); diff != "" {
		t.Errorf("problems (-got +want):\n%s", diff)
	}
	if rep.Accepted != 1 || rep.Rejected != 2 {
		t.Errorf("accepted %d, rejected %d; want 1 and 2", rep.Accepted, rep.Rejected)
	}
}
