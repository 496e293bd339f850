package nightly

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/shared/ingest"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
	"github.com/uptakehq/uptake/shared/webhook"
)

// TestWebhooksRedelivered: every webhook delivered three times, out of
// order, gives the same state as one delivery in order. Stack A gets
// each delivery of the webhook workload once, by time; stack B gets
// every delivery three times, shuffled across tickets, respondents and
// updates, the retries interleaved (each attempt signed anew). After a
// nightly run on each, every KPI answer and the stored table of B must be
// A's.
func TestWebhooksRedelivered(t *testing.T) {
	start := time.Now()
	e := newEnv(t)
	w := generateHooks(seed)
	inOrder := w.inOrder()
	retried, reversed := w.redelivered(3, seed)

	// Each stack in its own subtest, at the same time: configured, sent
	// its deliveries one at a time, run, read.
	var want, got snapshot
	var linesA, linesB int
	t.Run("stacks", func(t *testing.T) {
		for _, run := range []struct {
			name     string
			attempts []attempt
			snap     *snapshot
			lines    *int
		}{{"A once in order", once(inOrder), &want, &linesA}, {"B three times shuffled", retried, &got, &linesB}} {
			t.Run(run.name, func(t *testing.T) {
				t.Parallel()
				s := newStack(t, e, nil)
				s.configureHooks(t)
				s.ingest(t, hookIdentities())
				for _, try := range run.attempts {
					if err := s.deliver(try); err != nil {
						t.Fatal(err)
					}
				}
				nightly(t, s.aggregator(nil, nil))
				*run.snap = s.snapshot(t)
				*run.lines = s.rawLines(t)
			})
		}
	})
	if t.Failed() {
		return
	}
	checkHookReference(t, want.answers, w)
	n := compare(t, "every webhook delivered three times, out of order", got, want)
	if linesB <= linesA {
		t.Errorf("stack B's raw store has %d lines, stack A's %d: the retries never reached the raw store, so nothing was de-duplicated", linesB, linesA)
	}
	t.Logf("%d deliveries (%s) of %d tickets and %d survey answers (%d replaced by a later one); A: once in time order; B: %d deliveries "+
		"(%d redeliveries; %d of %d steps back in time; %d changes told by several events first arrive by another event); "+
		"raw lines A %d, B %d; %d comparisons; %v",
		len(inOrder), byProvider(inOrder), w.tickets, w.answers, w.replaced, len(retried), len(retried)-len(inOrder), backwards(retried), len(retried)-1,
		reversed, linesA, linesB, n, time.Since(start).Round(time.Millisecond))
}

// once is each delivery's first attempt.
func once(ds []delivery) []attempt {
	out := make([]attempt, len(ds))
	for i, d := range ds {
		out[i] = attempt{d, 0}
	}
	return out
}

// hookIdentities are the workload's users with their plans, so that the
// breakdowns by plan have rows.
func hookIdentities() []json.RawMessage {
	var out []json.RawMessage
	for i := range hookUsers {
		b, err := json.Marshal(map[string]any{"type": "identify", "userId": hookUser(i), "messageId": "id-" + hookUser(i),
			"timestamp": rfc(day0.Add(7 * time.Hour)), "traits": map[string]any{"plan": []string{"starter", "pro"}[i%2]}})
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// configureHooks sets every provider's secret and mapping with PUT
// /v1/admin/webhooks/{provider}.
func (s *stack) configureHooks(t *testing.T) {
	t.Helper()
	for provider, m := range hookMappings() {
		secret := string(hookSecrets[provider])
		body, err := json.Marshal(webhook.Configuration{Secret: &secret, Mapping: m})
		if err != nil {
			t.Fatal(err)
		}
		status, resp, err := s.do(http.MethodPut, "/v1/admin/webhooks/"+provider, body, map[string]string{
			"Authorization": "Bearer " + string(devstack.Demo().AdminKey), "Content-Type": "application/json"})
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK {
			t.Fatalf("PUT /v1/admin/webhooks/%s: status %d, want 200; body %s", provider, status, resp)
		}
	}
}

// deliver posts attempt k of a delivery, signed, and wants 200: nothing
// of the workload is to be kept for later (202).
func (s *stack) deliver(try attempt) error {
	path := "/v1/webhooks/" + try.provider + "/" + tenantID
	status, resp, err := s.do(http.MethodPost, path, try.body, try.sign(try.k))
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s (attempt %d): POST %s: status %d, want 200; body %s", try.what, try.k+1, path, status, resp)
	}
	return nil
}

func (s *stack) do(method, path string, body []byte, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// rawLines counts the lines of the stack's raw files of the week.
func (s *stack) rawLines(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	raw := rawstore.New(localstack.NewS3Client(s.env.s3), s.bucket)
	n := 0
	for d := range nDays {
		keys, err := raw.Keys(ctx, ingest.RawKind, tenantID, kpi.DayOf(day0.AddDate(0, 0, d), time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := raw.Lines(ctx, k, func([]byte) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	return n
}

// checkHookReference checks that the in-order stack's answers count what
// the workload holds: every ticket, every first response, the solved
// tickets, and each respondent's latest answer only. Equal answers from
// a stack that lost deliveries would prove nothing.
func checkHookReference(t *testing.T, answers map[string]any, w *hookWorkload) {
	t.Helper()
	rng := "?from=" + dayStr(0) + "&to=" + dayStr(nDays-1)
	detail := func(kpi, name string) float64 {
		ans, _ := answers["/v1/kpis/"+kpi+rng].(map[string]any)
		details, _ := ans["details"].(map[string]any)
		v, ok := details[name].(float64)
		if !ok {
			t.Fatalf("GET /v1/kpis/%s%s has no details.%s: %s", kpi, rng, name, short(ans))
		}
		return v
	}
	answered := detail("nps", "responses")
	for _, k := range []string{"csat", "ces"} {
		answered += detail(k, "responses") + detail(k, "out_of_scale")
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"tickets (resolution_rate created)", detail("resolution_rate", "created"), float64(w.tickets)},
		{"tickets with a first response (first_response_time tickets)", detail("first_response_time", "tickets"), float64(w.tickets)},
		{"solved tickets (resolution_rate resolved)", detail("resolution_rate", "resolved"), float64(w.resolved)},
		{"survey answers counted (nps, csat and ces responses)", answered, float64(w.answers - w.replaced)},
	} {
		if c.got != c.want {
			t.Errorf("in-order stack: %s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

// byProvider counts deliveries by provider.
func byProvider(ds []delivery) string {
	n := map[string]int{}
	var order []string
	for _, d := range ds {
		if n[d.provider] == 0 {
			order = append(order, d.provider)
		}
		n[d.provider]++
	}
	var parts []string
	for _, p := range order {
		parts = append(parts, fmt.Sprintf("%s %d", p, n[p]))
	}
	return strings.Join(parts, ", ")
}

// backwards counts the attempts that change something earlier than the
// attempt before them did.
func backwards(as []attempt) int {
	n := 0
	for i := 1; i < len(as); i++ {
		if as[i].at.Before(as[i-1].at) {
			n++
		}
	}
	return n
}
