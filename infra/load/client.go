package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// Retries of 5xx answers and broken connections.
const (
	maxAttempts = 8
	backoffBase = 100 * time.Millisecond
	backoffMax  = 5 * time.Second
	// attemptTimeout bounds one attempt of a traffic request.
	attemptTimeout = time.Minute
)

// client calls the stack's API.
type client struct {
	t       Target
	traffic *http.Client
	admin   *http.Client // aggregation runs take as long as they take
}

func newClient(t Target, workers int) *client {
	tr := &http.Transport{MaxIdleConns: 2 * workers, MaxIdleConnsPerHost: 2 * workers, IdleConnTimeout: 90 * time.Second}
	return &client{t: t, traffic: &http.Client{Transport: tr, Timeout: attemptTimeout}, admin: &http.Client{Transport: tr}}
}

// do sends a traffic request, retrying 5xx answers, 429 and broken
// connections with exponential backoff and jitter, and checks the answer.
func (c *client) do(ctx context.Context, req *request) outcome {
	var o outcome
	for attempt := 0; ; attempt++ {
		status, body, err := c.attempt(ctx, req)
		if err == nil && status < 500 && status != http.StatusTooManyRequests {
			o.status = status
			switch {
			case status >= 400:
				o.err = fmt.Sprintf("%.300s", body)
			case status >= 300:
				o.wrong = fmt.Sprintf("status %d", status)
			default:
				if err := req.ack(body); err != nil {
					o.wrong = fmt.Sprintf("%.300s", err.Error())
				}
			}
			return o
		}
		if err == nil {
			err = fmt.Errorf("status %d: %.200s", status, body)
		}
		if attempt+1 == maxAttempts || ctx.Err() != nil {
			o.status, o.failed, o.err = status, true, err.Error()
			return o
		}
		o.retries++
		wait := min(backoffMax, backoffBase<<attempt)
		wait = wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func (c *client) attempt(ctx context.Context, req *request) (int, []byte, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, c.t.URL+req.path, body)
	if err != nil {
		return 0, nil, err
	}
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.key != "" {
		hr.Header.Set("Authorization", "Bearer "+req.key)
	}
	if req.signed {
		hr.Header.Set(webhook.SignatureHeader, webhook.Sign(tenant.Secret(c.t.WebhookSecret), req.body, time.Now()))
	}
	resp, err := c.traffic.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read the answer: %w", err)
	}
	return resp.StatusCode, b, nil
}

// call sends an admin or query request and decodes a 200 answer into out.
func (c *client) call(ctx context.Context, method, path, key string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.t.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.admin.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// config reads the tenant's KPI configuration.
func (c *client) config(ctx context.Context) (kpi.Config, error) {
	var cfg kpi.Config
	err := c.call(ctx, http.MethodGet, "/v1/config", c.t.AdminKey, nil, &cfg)
	return cfg, err
}

// aggregate runs the aggregation over from..to.
func (c *client) aggregate(ctx context.Context, from, to kpi.Day) error {
	var rep struct {
		Days []string `json:"days"`
	}
	return c.call(ctx, http.MethodPost, "/v1/admin/aggregate", c.t.AdminKey, map[string]string{"from": from.String(), "to": to.String()}, &rep)
}

// kpiAnswer is the part of a KPI answer that the check reads.
type kpiAnswer struct {
	Complete bool `json:"complete"`
	Series   []struct {
		Period    string         `json:"period"`
		Numerator float64        `json:"numerator"`
		Details   map[string]any `json:"details"`
	} `json:"series"`
}

// observe reads the checked figures of each day of from..to from the
// KPIs' daily series; it also returns the KPIs that answered complete =
// false.
func (c *client) observe(ctx context.Context, from, to kpi.Day) (map[kpi.Day]Counts, []string, error) {
	out := map[kpi.Day]Counts{}
	var incomplete []string
	for _, q := range []struct {
		kpi  string
		read func(c *Counts, num float64, details map[string]any)
	}{
		{"dau", func(c *Counts, n float64, _ map[string]any) { c.DAU = n }},
		{"sessions", func(c *Counts, n float64, _ map[string]any) { c.Sessions = n }},
		{"nps", func(c *Counts, _ float64, d map[string]any) {
			c.Promoters, c.Passives, c.Detractors = number(d, "promoters"), number(d, "passives"), number(d, "detractors")
		}},
		{"csat", func(c *Counts, _ float64, d map[string]any) {
			c.CSATResponses, c.CSATPositive = number(d, "responses"), number(d, "positive")
		}},
		{"ticket_volume", func(c *Counts, n float64, _ map[string]any) { c.Tickets = n }},
	} {
		v := url.Values{"from": {from.String()}, "to": {to.String()}, "interval": {"day"}}
		var a kpiAnswer
		if err := c.call(ctx, http.MethodGet, "/v1/kpis/"+q.kpi+"?"+v.Encode(), c.t.ReadKey, nil, &a); err != nil {
			return nil, nil, err
		}
		if !a.Complete {
			incomplete = append(incomplete, q.kpi)
		}
		if len(a.Series) != from.DaysUntil(to)+1 {
			return nil, nil, fmt.Errorf("GET /v1/kpis/%s: %d periods in the daily series, want %d", q.kpi, len(a.Series), from.DaysUntil(to)+1)
		}
		for _, p := range a.Series {
			d, err := kpi.ParseDay(p.Period)
			if err != nil {
				return nil, nil, fmt.Errorf("GET /v1/kpis/%s: period %q: %w", q.kpi, p.Period, err)
			}
			cs := out[d]
			q.read(&cs, p.Numerator, p.Details)
			out[d] = cs
		}
	}
	return out, incomplete, nil
}

// number reads a count of details; a missing count reads as NaN, which
// differs from every expected figure.
func number(details map[string]any, key string) float64 {
	if x, ok := details[key].(float64); ok {
		return x
	}
	return math.NaN()
}
