package chaos

import (
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"slices"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/stacktest"
)

// TestThrottling injects DynamoDB throttling, 500s, 503s and connection
// resets (before a request, and after one was carried out) into 10% of
// the stack's AWS calls while batches are sent and the aggregation runs.
func TestThrottling(t *testing.T) {
	throttling(t, generate("small", 1, small), 20261005, 0.10)
}

// TestThrottlingLarge is TestThrottling with more traffic and a fifth of
// the calls failing. At that rate the standard retryer's three attempts
// and its retry quota fail a whole-range aggregation run nearly every
// time, so the clients here make five attempts without a quota (as a
// deployment expecting sustained throttling would configure them).
func TestThrottlingLarge(t *testing.T) {
	slow(t)
	throttlingWith(t, generate("large", 2, large), 20261006, 0.20, patientRetryer)
}

func throttling(t *testing.T, w workload, seed uint64, rate float64) {
	throttlingWith(t, w, seed, rate, quickRetryer)
}

func throttlingWith(t *testing.T, w workload, seed uint64, rate float64, retryer func() aws.Retryer) {
	want := undisturbed(t, w)
	began := time.Now()
	faults := newFaultTransport(seed, rate)
	c := newClient(stacktest.StartWith(t, stacktest.Options{Transport: faults, Retryer: retryer}))
	faults.mu.Lock()
	faults.burst = 12 // past any retryer's attempts: the first requests answer 5xx
	faults.mu.Unlock()
	faults.on.Store(true)
	// The first batch alone, so that the burst falls on its calls rather
	// than spread over concurrent requests, each of which the SDK's
	// retries would then carry through.
	first, rest := w, w
	first.batches, rest.batches = w.batches[:1], w.batches[1:]
	c.send(t, first, nil)
	c.send(t, rest, nil)
	sent := time.Now()
	c.aggregate(t, w.from, w.to)
	t.Logf("sent in %v, aggregated in %v", sent.Sub(began).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))
	got := take(t, c, w.from, w.to)
	faults.on.Store(false)
	took := time.Since(began)

	calls, retries, injected, ops := faults.figures()
	total := 0
	for _, n := range injected {
		total += n
	}
	t.Logf("%s: %d messages (%d distinct) in %d batches; AWS calls %v, sent again by the SDK %v", w.name, w.messages, w.distinct, len(w.batches), calls, retries)
	t.Logf("faults injected: %d (rate %.0f%%, seed %d)", total, 100*rate, seed)
	for _, k := range slices.Sorted(func(yield func(fault) bool) {
		for k := range injected {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Logf("  %-48s %d", k, injected[k])
	}
	t.Logf("faults by operation: %s", fmt.Sprint(ops))
	c.report(t, "throttled run", took)
	for _, k := range slices.Concat(faultsOf[dynamoDBService], faultsOf[s3Service]) {
		if injected[k] == 0 {
			t.Errorf("no %s injected: the case did not test it", k)
		}
	}
	if c.serverErrors.Load() == 0 {
		t.Errorf("no request answered 5xx: the SDK's retries absorbed every fault, so the senders' retries went untested")
	}
	compare(t, got, want)
}
