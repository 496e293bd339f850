package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// StatusError is an answer of the API that is not a success: its status
// and, when the body has the API's error shape, its code and message.
type StatusError struct {
	Status  int
	Code    string
	Message string
	Details json.RawMessage
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// retryable reports whether a status is worth sending again: throttling
// and server errors (a 5xx means nothing was stored).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// client sends requests to the API, with retries.
type client struct {
	base     string
	http     *http.Client
	backoff  func() backoff.BackOff
	retryFor time.Duration
	// retried is told of each retry, with the error and the wait.
	retried func(err error, wait time.Duration)
}

// post sends body to path, with the headers that sign(req) sets (called
// again for each attempt, so signatures are fresh), until it succeeds, a
// non-retryable answer comes, the retry time is used up or ctx ends. An
// attempt that takes longer than timeout is abandoned and retried.
func (c *client) post(ctx context.Context, path string, body []byte, timeout time.Duration, sign func(*http.Request)) ([]byte, error) {
	op := func() ([]byte, error) {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(actx, http.MethodPost, c.base+path, bytes.NewReader(body))
		if err != nil {
			return nil, backoff.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "uptake-import")
		sign(req)
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, backoff.Permanent(context.Cause(ctx))
			}
			return nil, fmt.Errorf("POST %s: %w", path, err) // network: retry
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		if err != nil {
			if ctx.Err() != nil {
				return nil, backoff.Permanent(context.Cause(ctx))
			}
			return nil, fmt.Errorf("POST %s: reading the answer: %w", path, err)
		}
		if resp.StatusCode/100 == 2 {
			return b, nil
		}
		se := &StatusError{Status: resp.StatusCode}
		var shape struct {
			Error struct {
				Code    string          `json:"code"`
				Message string          `json:"message"`
				Details json.RawMessage `json:"details"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &shape) == nil {
			se.Code, se.Message, se.Details = shape.Error.Code, shape.Error.Message, shape.Error.Details
		}
		if !retryable(resp.StatusCode) {
			return nil, backoff.Permanent(se)
		}
		if wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return nil, fmt.Errorf("POST %s: %w (%w)", path, se, &backoff.RetryAfterError{Duration: wait})
		}
		return nil, fmt.Errorf("POST %s: %w", path, se)
	}
	opts := []backoff.RetryOption{backoff.WithBackOff(c.backoff()), backoff.WithMaxElapsedTime(c.retryFor)}
	if c.retried != nil {
		opts = append(opts, backoff.WithNotify(c.retried))
	}
	return backoff.Retry(ctx, op, opts...)
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// defaultBackoff is exponential with jitter: 0.5 s growing ×2 up to 30 s,
// each wait drawn from ±50% of its value.
func defaultBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.Multiplier = 2
	b.MaxInterval = 30 * time.Second
	b.RandomizationFactor = 0.5
	return b
}

// isStatus reports whether err is an answer with that status.
func isStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}
