package chaos

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/stacktest"
)

// TestS3Outage cuts the stack off its S3 server (open connections reset,
// new ones refused) in the middle of an ingest load and again during the
// aggregation.
func TestS3Outage(t *testing.T) {
	w := generate("small", 1, small)
	want := undisturbed(t, w)
	began := time.Now()
	s3, err := localstack.StartS3(localstack.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3.Stop() })
	p := startProxy(t, strings.TrimPrefix(s3.Endpoint(), "http://"))
	c := newClient(stacktest.StartWith(t, stacktest.Options{S3Endpoint: p.URL()}))
	cut := outage{what: "S3 cut off", down: func(*testing.T) { p.cut() }, up: func(*testing.T) { p.restore() }}

	sendThrough(t, c, w, cut, 6)
	aggregateThrough(t, c, w, cut)
	got := take(t, c, w.from, w.to)
	c.report(t, "S3 outage run", time.Since(began))
	compare(t, got, want)
}

// TestS3Restarted stops the S3 server (a graceful shutdown: requests in
// flight finish, then the connections close) during a larger ingest load
// and during the aggregation, and starts it again on the same address and
// data directory each time.
func TestS3Restarted(t *testing.T) {
	slow(t)
	w := generate("large", 2, large)
	want := undisturbed(t, w)
	began := time.Now()
	dir := filepath.Join(t.TempDir(), "s3")
	s3, err := localstack.StartS3(localstack.S3Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(s3.Endpoint(), "http://")
	t.Cleanup(func() { _ = s3.Stop() })
	c := newClient(stacktest.StartWith(t, stacktest.Options{S3Endpoint: s3.Endpoint()}))
	restarts := 0
	restart := outage{
		what: "S3 server stopped",
		down: func(t *testing.T) {
			if err := s3.Stop(); err != nil {
				t.Errorf("stop S3: %v", err)
			}
		},
		up: func(t *testing.T) {
			var err error
			if s3, err = localstack.StartS3(localstack.S3Options{Addr: addr, DataDir: dir}); err != nil {
				t.Errorf("restart S3 on %s: %v", addr, err)
				return
			}
			restarts++
		},
	}
	sendThrough(t, c, w, restart, 30)
	aggregateThrough(t, c, w, restart)
	got := take(t, c, w.from, w.to)
	c.report(t, "S3 restart run", time.Since(began))
	t.Logf("S3 server restarted %d times", restarts)
	compare(t, got, want)
}
