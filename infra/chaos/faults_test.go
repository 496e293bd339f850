package chaos

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// fault is one kind of failure the transport injects.
type fault string

const (
	throttled       fault = "400 ThrottlingException"
	throughput      fault = "400 ProvisionedThroughputExceededException"
	internalError   fault = "500 InternalServerError"
	unavailable     fault = "503 ServiceUnavailable"
	slowDown        fault = "503 SlowDown"
	s3Internal      fault = "500 InternalError"
	resetBefore     fault = "connection reset before the request"
	resetAfter      fault = "connection reset after the request was applied"
	dynamoDBService       = "DynamoDB"
	s3Service             = "S3"
)

// faultsOf are the faults of each service. A reset after the request
// loses the answer of a request the service carried out: the SDK sends
// it again.
var faultsOf = map[string][]fault{
	dynamoDBService: {throttled, throughput, internalError, unavailable, resetBefore, resetAfter},
	s3Service:       {slowDown, s3Internal, resetBefore, resetAfter},
}

// faultTransport passes the AWS SDK's requests to DynamoDB Local and the
// S3 server, failing a seeded share of them as AWS does when it throttles
// or has a bad moment.
type faultTransport struct {
	base http.RoundTripper
	rate float64
	on   atomic.Bool
	// rule, if set, picks the fault of a DynamoDB request by its
	// operation and body instead of the seeded rate.
	rule func(op string, body []byte, firstAttempt bool) fault

	mu sync.Mutex
	// burst is how many of the next calls fail whatever the rate (with a
	// retryable 5xx), so that one request surely exhausts the SDK's
	// attempts and is answered 5xx: the seeded draws alone depend on the
	// order of concurrent calls.
	burst    int
	rnd      *rand.Rand
	calls    map[string]int // requests per service
	retries  map[string]int // requests the SDK sent again
	injected map[fault]int  // faults per kind
	ops      map[string]int // faults per operation
}

func newFaultTransport(seed uint64, rate float64) *faultTransport {
	return &faultTransport{
		base: http.DefaultTransport.(*http.Transport).Clone(), rate: rate, rnd: rand.New(rand.NewPCG(seed, 11)),
		calls: map[string]int{}, retries: map[string]int{}, injected: map[fault]int{}, ops: map[string]int{},
	}
}

// operation names a request: DynamoDB's X-Amz-Target, or S3's method.
func operation(req *http.Request) (service, op string) {
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		_, op, _ := strings.Cut(target, ".")
		return dynamoDBService, op
	}
	return s3Service, req.Method
}

// retry reports whether the SDK sends req again.
func (f *faultTransport) retry(req *http.Request) bool {
	a := req.Header.Get("Amz-Sdk-Request")
	return a != "" && !strings.HasPrefix(a, "attempt=1;")
}

// pick decides the fate of a request: "" passes it on.
func (f *faultTransport) pick(req *http.Request) fault {
	service, op := operation(req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[service]++
	if f.retry(req) {
		f.retries[service]++
	}
	if !f.on.Load() {
		return ""
	}
	var k fault
	switch {
	case f.rule != nil:
		if service != dynamoDBService || req.Body == nil {
			return ""
		}
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return ""
		}
		if k = f.rule(op, body, !f.retry(req)); k == "" {
			return ""
		}
	case f.burst > 0:
		f.burst--
		k = unavailable
		if service == s3Service {
			k = s3Internal
		}
	case f.rnd.Float64() < f.rate:
		kinds := faultsOf[service]
		k = kinds[f.rnd.IntN(len(kinds))]
	default:
		return ""
	}
	f.injected[k]++
	f.ops[service+" "+op]++
	return k
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	k := f.pick(req)
	switch k {
	case "":
		return f.base.RoundTrip(req)
	case resetBefore:
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, reset(req)
	case resetAfter:
		resp, err := f.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, reset(req)
	}
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return errorResponse(req, k), nil
}

// reset is the error a read from a connection the peer reset returns.
func reset(req *http.Request) error {
	return &net.OpError{Op: "read", Net: "tcp", Addr: fakeAddr(req.URL.Host), Err: syscall.ECONNRESET}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// errorResponse is the answer AWS gives for fault k.
func errorResponse(req *http.Request, k fault) *http.Response {
	var status int
	var code, contentType, body string
	switch k {
	case throttled, throughput, internalError, unavailable:
		status, code = map[fault]int{throttled: 400, throughput: 400, internalError: 500, unavailable: 503}[k], strings.Fields(string(k))[1]
		contentType = "application/x-amz-json-1.0"
		body = fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected by the chaos tests"}`, code)
	default:
		status, code = map[fault]int{slowDown: 503, s3Internal: 500}[k], strings.Fields(string(k))[1]
		contentType = "application/xml"
		body = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the chaos tests</Message><RequestId>chaos</RequestId></Error>`, code)
	}
	if req.Method == http.MethodHead {
		body = ""
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {contentType}, "X-Amzn-Requestid": {"chaos"}, "X-Amz-Request-Id": {"chaos"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// figures returns the counts so far.
func (f *faultTransport) figures() (calls, retries map[string]int, injected map[fault]int, ops map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.calls), maps.Clone(f.retries), maps.Clone(f.injected), maps.Clone(f.ops)
}

// quickRetryer is the SDK's standard retryer (three attempts, a retry
// quota, throttling and transient errors retried) with its backoff scaled
// from seconds down to tens of milliseconds, so that a case with
// thousands of faults ends in seconds.
func quickRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = quickBackoff{} })
}

// patientRetryer is quickRetryer with five attempts and no retry quota.
func patientRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = quickBackoff{}
		o.MaxAttempts = 5
		o.RateLimiter = ratelimit.None
	})
}

// quickBackoff is the standard exponential backoff with full jitter, from
// 20 ms instead of a second.
type quickBackoff struct{}

func (quickBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := min(20*time.Millisecond<<min(attempt, 5), 500*time.Millisecond)
	return rand.N(d) + time.Millisecond, nil
}
