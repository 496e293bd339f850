package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/stacktest"
)

const (
	// clients is how many senders post batches at once.
	clients = 6
	// maxAttempts bounds the retries of one request: a stack that never
	// recovers fails the test instead of spinning until the timeout.
	maxAttempts = 400
	// requestTimeout is how long an answer may take before the request
	// counts as hung (a failure): far above any fault's duration.
	requestTimeout = 3 * time.Minute
)

// client calls a stack's HTTP API as a Segment sender would: it retries
// 5xx answers with backoff until they are 2xx, and fails the test on
// anything else (a 4xx, a dropped connection, a hang).
type client struct {
	st   *stacktest.Stack
	http *http.Client
	stats
}

// stats are a run's figures.
type stats struct {
	requests     atomic.Int64 // HTTP requests sent, retries included
	serverErrors atomic.Int64 // 5xx answers
	retries      atomic.Int64 // requests sent again after a 5xx
	aggRetries   atomic.Int64 // aggregation runs started again
}

func newClient(st *stacktest.Stack) *client {
	return &client{st: st, http: &http.Client{Timeout: requestTimeout}}
}

// errorBody is api.md's error shape.
type errorBody struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends one request until it is answered 2xx and returns the body. A
// 5xx must carry the JSON error body. It returns an error, after
// reporting it, for anything but a 2xx or a 5xx.
func (c *client) do(ctx context.Context, method, path, key string, body []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			return nil, fmt.Errorf("%s %s: still 5xx after %d attempts", method, path, maxAttempts)
		}
		if attempt > 0 {
			c.retries.Add(1)
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return nil, err
			}
		}
		status, resp, err := c.once(ctx, method, path, key, body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: no answer (want 2xx or 5xx): %w", method, path, err)
		}
		switch {
		case status/100 == 2:
			return resp, nil
		case status/100 == 5:
			c.serverErrors.Add(1)
			var e errorBody
			if err := json.Unmarshal(resp, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
				return nil, fmt.Errorf("%s %s: status %d with body %q, want the JSON error body", method, path, status, resp)
			}
		default:
			return nil, fmt.Errorf("%s %s: status %d, want 2xx or 5xx; body: %s", method, path, status, resp)
		}
	}
}

func (c *client) once(ctx context.Context, method, path, key string, body []byte) (int, []byte, error) {
	c.requests.Add(1)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.st.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(key, "")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// backoff is the pause before attempt: exponential from 20 ms to 1 s, with
// full jitter.
func backoff(attempt int) time.Duration {
	d := min(20*time.Millisecond<<min(attempt, 10), time.Second)
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// batchResponse is the answer of POST /v1/batch.
type batchResponse struct {
	Success    bool              `json:"success"`
	Accepted   int               `json:"accepted"`
	Duplicates int               `json:"duplicates"`
	Rejected   []json.RawMessage `json:"rejected"`
}

// send posts the workload's batches from several senders at once and
// returns when every batch is stored. progress, if not nil, is called
// after each stored batch with the number stored so far.
func (c *client) send(t *testing.T, w workload, progress func(stored int)) {
	t.Helper()
	ctx := t.Context()
	next := make(chan int)
	var (
		wg     sync.WaitGroup
		stored atomic.Int64
		mu     sync.Mutex
		errs   []error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for range clients {
		wg.Go(func() {
			for i := range next {
				if err := c.sendBatch(ctx, w.batches[i]); err != nil {
					fail(fmt.Errorf("batch %d: %w", i, err))
					continue
				}
				n := stored.Add(1)
				if progress != nil {
					progress(int(n))
				}
			}
		})
	}
	for i := range w.batches {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("sending %s: %v", w.name, err)
	}
}

func (c *client) sendBatch(ctx context.Context, batch []message) error {
	body, err := json.Marshal(map[string]any{"batch": batch})
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/batch", c.st.WriteKey, body)
	if err != nil {
		return err
	}
	var br batchResponse
	if err := json.Unmarshal(resp, &br); err != nil {
		return fmt.Errorf("POST /v1/batch: %w; body: %s", err, resp)
	}
	if !br.Success || len(br.Rejected) > 0 || br.Accepted+br.Duplicates != len(batch) {
		return fmt.Errorf("POST /v1/batch with %d messages: %s, want every message accepted or a duplicate", len(batch), resp)
	}
	return nil
}

// aggregate runs the aggregation of from..to, starting it again while it
// answers 5xx.
func (c *client) aggregate(t *testing.T, from, to string) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"from": from, "to": to})
	if err != nil {
		t.Fatal(err)
	}
	before := c.retries.Load()
	if _, err := c.do(t.Context(), http.MethodPost, "/v1/admin/aggregate", c.st.AdminKey, body); err != nil {
		t.Fatalf("aggregate: %v", err)
	}
	c.aggRetries.Add(c.retries.Load() - before)
}

// get reads a path with the read key, retrying 5xx.
func (c *client) get(t *testing.T, path string) []byte {
	t.Helper()
	b, err := c.do(t.Context(), http.MethodGet, path, c.st.ReadKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// report logs the run's figures.
func (c *client) report(t *testing.T, what string, took time.Duration) {
	t.Helper()
	t.Logf("%s: %d HTTP requests, %d answered 5xx, %d retried (%d of them aggregation runs), %v",
		what, c.requests.Load(), c.serverErrors.Load(), c.retries.Load(), c.aggRetries.Load(), took.Round(time.Millisecond))
}
