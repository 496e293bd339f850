package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/stacktest"
)

// TestSurveysTicketsSubscriptions puts the tenant's configuration (28-day
// renewal term, business hours), sends 60 days of a B2B tenant's
// messages (subscriptions, orders, onboarding, survey answers) through
// /v1/batch, survey answers and ticket updates through the signed
// webhooks (out of order, some retried), aggregates the 60 days in one
// run and compares the survey, ticket, subscription, revenue, renewal and
// ROI readings with the reference of part2_expect_test.go.
func TestSurveysTicketsSubscriptions(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := p2Generate(p2Seed)
	ref := newP2Ref(d)
	t.Log(p2Describe(d, ref))
	p2CheckData(t, ref)

	c := newClient(stacktest.Start(t))
	c.http.Timeout = 10 * time.Minute
	status, body := c.do(t, http.MethodPut, "/v1/config", c.st.AdminKey, []byte(p2ConfigJSON))
	if status != http.StatusOK {
		t.Fatalf("PUT /v1/config %s: status %d, want 200; body: %s", p2ConfigJSON, status, body)
	}

	c.send(t, usagePlan(rand.New(rand.NewPCG(p2Seed, 1)), d.msgs), nil)
	hookStart := time.Now()
	p2SendHooks(t, c, "survey", d.surveyHooks)
	p2SendHooks(t, c, "ticket", d.ticketHooks)
	t.Logf("sent %d survey and %d ticket webhooks in %v", len(d.surveyHooks), len(d.ticketHooks), time.Since(hookStart).Round(time.Millisecond))
	c.aggregate(t, p2DayStr(0), p2DayStr(p2Days-1))

	qs := p2Queries()
	qStart := time.Now()
	summary := compareAll(t, qs, func(q p2Query) string { return q.kpi }, p2Query.path, func(q p2Query) []string { return p2Check(t, c, ref, q) })
	t.Logf("%d queries in %v; agreeing with the reference: %s", len(qs), time.Since(qStart).Round(time.Millisecond), summary)
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// p2SendHooks posts the webhook bodies, signed, four at a time; every
// one (a retried delivery too) must be answered 200.
func p2SendHooks(t *testing.T, c *client, provider string, bodies [][]byte) {
	t.Helper()
	path := "/v1/webhooks/" + provider + "/" + url.PathEscape(c.st.Tenant)
	var (
		mu   sync.Mutex
		errs []string
		wg   sync.WaitGroup
	)
	work := make(chan []byte)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				if err := p2PostHook(t, c, path, body); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	for _, b := range bodies {
		work <- b
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d %s webhooks failed; first: %s", len(errs), len(bodies), provider, errs[0])
	}
}

func p2PostHook(t *testing.T, c *client, path string, body []byte) error {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(c.st.WebhookSecret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.st.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Uptake-Signature", "t="+ts+",v1="+hex.EncodeToString(m.Sum(nil)))
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s %s: status %d, want 200; body: %s", path, body, resp.StatusCode, b)
	}
	return nil
}

// p2Check asks q and returns the differences from the reference.
func p2Check(t *testing.T, c *client, ref *p2Ref, q p2Query) []string {
	t.Helper()
	status, body := c.do(t, http.MethodGet, q.path(), c.st.ReadKey, nil)
	if status != http.StatusOK {
		return []string{fmt.Sprintf("status %d, want 200; body: %s", status, body)}
	}
	got, err := flattenAnswer(body)
	if err != nil {
		return []string{fmt.Sprintf("%v; body: %s", err, body)}
	}
	var diffs []string
	var head struct {
		Complete *bool `json:"complete"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.Complete == nil || !*head.Complete {
		diffs = append(diffs, fmt.Sprintf("complete = %v, want true: the range was aggregated", fmtBool(head.Complete)))
	}
	return append(diffs, diffFlat(got, ref.answer(q))...)
}

// p2Queries are the questions: each KPI over the whole period (from its
// second day where the day before the range matters), September, a week
// that starts on a holiday, and August, with breakdowns and filters.
func p2Queries() []p2Query {
	type rng struct{ from, to string }
	var (
		whole  = rng{p2DayStr(0), p2DayStr(59)}  // 08-03..10-01
		whole1 = rng{p2DayStr(1), p2DayStr(59)}  // the day before is aggregated
		sep    = rng{p2DayStr(29), p2DayStr(58)} // September
		week   = rng{p2DayStr(28), p2DayStr(34)} // Mon 08-31 (a holiday)..Sun 09-06
		aug    = rng{p2DayStr(1), p2DayStr(28)}
	)
	var qs []p2Query
	add := func(kpi string, r rng, opts ...string) {
		q := p2Query{kpi: kpi, from: r.from, to: r.to}
		for _, o := range opts {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "breakdown":
				q.breakdown = v
			case "filter":
				q.filter = v
			default:
				q.params = o
			}
		}
		qs = append(qs, q)
	}
	for _, kpi := range []string{"nps", "csat", "ces", "detractor_followups"} {
		for _, r := range []rng{whole, sep, week, aug} {
			add(kpi, r)
		}
	}
	for _, r := range []rng{whole, sep, week} {
		add("nps", r, "breakdown=channel")
		add("nps", r, "filter=survey_id:nps-onboarding")
		add("csat", r, "breakdown=channel")
		add("ces", r, "breakdown=touchpoint")
	}
	add("nps", whole, "filter=survey_id:nps-relationship")
	add("detractor_followups", whole, "filter=survey_id:csat-billing")
	for _, kpi := range []string{"ticket_volume", "first_response_time", "resolution_time", "resolution_rate", "escalation_response_time", "repeat_contact_rate"} {
		for _, r := range []rng{whole, sep, week, aug} {
			add(kpi, r)
		}
	}
	for _, r := range []rng{whole, sep, week} {
		add("ticket_volume", r, "breakdown=channel")
		add("ticket_volume", r, "breakdown=tag")
	}
	add("first_response_time", whole, "breakdown=channel")
	for _, kpi := range []string{"churn_rate", "customer_retention_rate", "free_to_paid_conversion", "renewal_rate", "renewal_by_onboarding", "avg_purchase_value", "repeat_purchase_rate"} {
		for _, r := range []rng{whole1, sep, week, aug} {
			add(kpi, r)
		}
	}
	add("roi_projection", whole1, "new_customers=1000&completion_now=60&completion_target=85&renewal_completed=90&renewal_not_completed=60&contract_value=5000")
	return qs
}

// p2CheckData checks that the data have what the readings need.
func p2CheckData(t *testing.T, ref *p2Ref) {
	t.Helper()
	r := ref.renewal("renewal_by_onboarding", 1, 59)
	for _, k := range []string{"completed.due", "not_completed.due", "completed.renewed", "not_completed.renewed"} {
		if v := r[k].(*float64); v == nil || *v == 0 {
			t.Errorf("the data have no %s renewals over the period", k)
		}
	}
	c := ref.churn(29, 58)
	if v := c["numerator"].(*float64); *v == 0 {
		t.Errorf("the data have no churn in September")
	}
}

// p2Describe summarises the data, for the log.
func p2Describe(d *p2Data, ref *p2Ref) string {
	kinds := map[string]int{}
	for _, s := range d.subs {
		kinds[s.kind]++
	}
	return fmt.Sprintf("%d accounts, %d users, %d batch messages; subscription events %v, %d orders; %d survey answers sent (%d counted), %d survey webhooks; %d ticket updates of %d tickets, %d ticket webhooks",
		len(d.accounts), d.users, len(d.msgs), kinds, len(d.orders), len(d.resps), len(ref.resps), len(d.surveyHooks), len(d.updates), len(ref.tickets), len(d.ticketHooks))
}
