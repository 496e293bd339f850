package backfill

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// TestRetryAfter checks that a 429's Retry-After replaces the backoff:
// the backoff here waits an hour, more than the retry time allowed, so
// only a retry after Retry-After's wait can succeed.
func TestRetryAfter(t *testing.T) {
	for _, ra := range []string{"0", time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)} {
		tr := &transport{fault: func(req *http.Request, n int) (*http.Response, error) {
			if n == 1 {
				return answer(req, http.StatusTooManyRequests, http.Header{"Retry-After": {ra}}, ""), nil
			}
			return answer(req, http.StatusOK, nil, `{}`), nil
		}}
		c := client{base: "http://127.0.0.1:1", http: &http.Client{Transport: tr}, retryFor: time.Minute,
			backoff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }}
		if _, err := c.post(context.Background(), "/v1/batch", []byte(`{}`), time.Minute, func(*http.Request) {}); err != nil {
			t.Errorf("Retry-After %q: %v", ra, err)
		}
		if n := tr.requests(); n != 2 {
			t.Errorf("Retry-After %q: %d requests, want 2", ra, n)
		}
	}
}

// TestLines checks the plain progress lines: bytes, percentage, messages
// sent, rate and the time left at the rate so far.
func TestLines(t *testing.T) {
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var out stringsBuilder
	l := &Lines{W: &out, Every: 10 * time.Second, Now: func() time.Time { return now }}
	l.Start(4_000_000)
	now = now.Add(5 * time.Second)
	l.Set(1_000_000, 500) // under 10 s since the start: no line
	now = now.Add(5 * time.Second)
	l.Set(1_000_000, 1000)
	l.Finish()
	want := "import: 1.0 MB of 4.0 MB (25%), 1000 sent, 100/s, ETA 30s, elapsed 10s\n" +
		"import: 1.0 MB of 4.0 MB (25%), 1000 sent, 100/s, ETA 30s, elapsed 10s\n"
	if out.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", out.String(), want)
	}
}

type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *stringsBuilder) String() string              { return string(s.b) }
