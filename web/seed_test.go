package web_test

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
	"strconv"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/stacktest"
)

// The seeded tenant's days: eight weeks ending two days ago (the page's
// default range looks back a year from today), so that each two-week range
// the browser test opens has a previous range with data too.
var (
	seedLast  = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	seedFirst = seedLast.AddDate(0, 0, -57)
	// atRiskFrom is when one account's users stop coming.
	atRiskFrom = seedLast.AddDate(0, 0, -34)
)

// api calls the local stack's public API, as the page does.
type api struct {
	st   *stacktest.Stack
	http *http.Client
}

func (a api) do(t *testing.T, method, path, key string, body any, header map[string]string) []byte {
	t.Helper()
	var r io.Reader
	var raw []byte
	if body != nil {
		var ok bool
		if raw, ok = body.([]byte); !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.st.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: status %d; body: %s", method, path, resp.StatusCode, out)
	}
	return out
}

// hook posts a generic survey or ticket webhook, signed as the tools do.
func (a api) hook(t *testing.T, provider string, payload any) {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(a.st.WebhookSecret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	a.do(t, http.MethodPost, "/v1/webhooks/"+provider+"/"+a.st.Tenant, "", body,
		map[string]string{"X-Uptake-Signature": "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))})
}

type msg = map[string]any

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// seed sends eight weeks of a small tenant through the public API (events,
// survey and ticket webhooks), configures its onboarding steps and
// aggregates every day. The data is fixed by the generator's seed; every
// panel of the page has something to show.
func seed(t *testing.T, a api) {
	t.Helper()
	rng := rand.New(rand.NewPCG(8, 2026))
	a.do(t, http.MethodPut, "/v1/config", a.st.AdminKey, msg{"onboarding_steps": []string{"Profile", "Invite", "Integrate"}}, nil)

	var batch []msg
	n := 0
	add := func(m msg) {
		n++
		m["messageId"] = fmt.Sprintf("m%05d", n)
		batch = append(batch, m)
	}
	days := int(seedLast.Sub(seedFirst).Hours()/24) + 1
	const users, accounts = 40, 8
	for k := range accounts {
		acct := fmt.Sprintf("acct-%d", k)
		owner := fmt.Sprintf("u%02d", k)
		add(msg{"type": "track", "event": "Subscription Started", "userId": owner, "timestamp": stamp(seedFirst.Add(time.Hour)),
			"context": msg{"groupId": acct}, "properties": msg{"plan": "team", "amount": 1000 * (k + 1)}})
	}
	for k, day := range map[int]int{6: 34, 7: 50, 5: 20} {
		add(msg{"type": "track", "event": "Subscription Cancelled", "userId": fmt.Sprintf("u%02d", k),
			"timestamp": stamp(seedFirst.AddDate(0, 0, day).Add(15 * time.Hour)), "context": msg{"groupId": fmt.Sprintf("acct-%d", k)}})
	}
	paths := []string{"/", "/app", "/reports", "/settings", "/billing"}
	after := []string{"/help", "/docs/integrations", "/pricing"}
	for i := range users {
		user := fmt.Sprintf("u%02d", i)
		anon := "a-" + user
		signup := seedFirst.AddDate(0, 0, i*(days-7)/users).Add(time.Duration(8+i%9) * time.Hour)
		plan := "free"
		if i%3 == 0 {
			plan = "pro"
		}
		add(msg{"type": "identify", "userId": user, "anonymousId": anon, "timestamp": stamp(signup.Add(-time.Minute)),
			"traits": msg{"plan": plan, "region": []string{"EMEA", "AMER", "APAC"}[i%3]}})
		add(msg{"type": "group", "userId": user, "groupId": fmt.Sprintf("acct-%d", i%accounts), "timestamp": stamp(signup.Add(-time.Minute)),
			"traits": msg{"company_size": []string{"1-10", "11-50", "51-200"}[i%3]}})
		add(msg{"type": "page", "anonymousId": anon, "timestamp": stamp(signup.Add(-5 * time.Minute)), "properties": msg{"path": "/pricing"}})
		add(msg{"type": "track", "event": "Signed Up", "userId": user, "anonymousId": anon, "timestamp": stamp(signup)})
		// Onboarding: each user gets through 0 to 3 steps, a day apart.
		steps := rng.IntN(4)
		last := signup
		for s, name := range []string{"Profile", "Invite", "Integrate"}[:steps] {
			last = signup.Add(time.Duration(s*20+1+rng.IntN(6)) * time.Hour)
			add(msg{"type": "track", "event": "Onboarding Step Completed", "userId": user, "timestamp": stamp(last), "properties": msg{"step": name}})
		}
		if steps < 3 {
			add(msg{"type": "page", "userId": user, "anonymousId": anon, "timestamp": stamp(last.Add(10 * time.Minute)),
				"properties": msg{"path": after[rng.IntN(len(after))]}})
		}
		if steps >= 2 {
			add(msg{"type": "track", "event": "First Value Reached", "userId": user,
				"timestamp": stamp(signup.Add(time.Duration(2+rng.IntN(90)) * time.Hour))})
		}
		// Activity: pro users come back more often.
		p := 0.3
		if plan == "pro" {
			p = 0.6
		}
		for d := signup.AddDate(0, 0, 1).Truncate(24 * time.Hour); !d.After(seedLast); d = d.AddDate(0, 0, 1) {
			// acct-3's users stop coming: its health falls (at risk).
			if rng.Float64() >= p || (i%accounts == 3 && d.After(atRiskFrom)) {
				continue
			}
			at := d.Add(time.Duration(7+rng.IntN(12))*time.Hour + time.Duration(rng.IntN(60))*time.Minute)
			for e := range 1 + rng.IntN(3) {
				add(msg{"type": "page", "userId": user, "anonymousId": anon, "timestamp": stamp(at.Add(time.Duration(e*4) * time.Minute)),
					"properties": msg{"path": paths[rng.IntN(len(paths))]}})
			}
		}
	}
	for len(batch) > 0 {
		k := min(len(batch), 200)
		a.do(t, http.MethodPost, "/v1/batch", a.st.WriteKey, msg{"batch": batch[:k]}, nil)
		batch = batch[k:]
	}

	// Surveys, through the generic survey webhook.
	channels := []string{"email", "chat", "in-app"}
	for i := range 120 {
		kind := []string{"nps", "csat", "ces"}[i%3]
		score := rng.IntN(11)
		if kind != "nps" {
			score = 1 + rng.IntN(5)
		}
		at := seedFirst.AddDate(0, 0, rng.IntN(days)).Add(time.Duration(9+rng.IntN(8)) * time.Hour)
		a.hook(t, "survey", msg{"id": fmt.Sprintf("r%03d", i), "survey_id": "q-" + kind, "type": kind, "score": score,
			"respondent": fmt.Sprintf("u%02d", rng.IntN(users)), "submitted_at": stamp(at), "updated_at": nil,
			"channel": channels[rng.IntN(len(channels))], "touchpoint": []string{"onboarding", "support"}[rng.IntN(2)]})
	}
	// Tickets, through the generic ticket webhook: most answered, some resolved.
	for i := range 60 {
		created := seedFirst.AddDate(0, 0, rng.IntN(days)).Add(time.Duration(8+rng.IntN(10)) * time.Hour)
		ticket := msg{"id": fmt.Sprintf("T-%d", 1000+i), "status": "open", "channel": []string{"email", "chat", "phone"}[rng.IntN(3)],
			"priority": []string{"low", "normal", "urgent"}[rng.IntN(3)], "tags": []string{"onboarding"},
			"requester": fmt.Sprintf("u%02d", rng.IntN(users)), "account": fmt.Sprintf("acct-%d", rng.IntN(accounts)),
			"created_at": stamp(created), "updated_at": stamp(created), "first_response_at": nil, "resolved_at": nil}
		if rng.IntN(6) > 0 {
			first := created.Add(time.Duration(5+rng.IntN(240)) * time.Minute)
			ticket["first_response_at"], ticket["updated_at"] = stamp(first), stamp(first)
			if rng.IntN(4) > 0 {
				done := first.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
				ticket["status"], ticket["resolved_at"], ticket["updated_at"] = "solved", stamp(done), stamp(done)
			}
		}
		a.hook(t, "ticket", ticket)
	}
	a.do(t, http.MethodPost, "/v1/admin/aggregate", a.st.AdminKey,
		msg{"from": seedFirst.Format(time.DateOnly), "to": seedLast.Format(time.DateOnly)}, nil)
}
