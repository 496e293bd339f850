package chaos

import (
	"context"
	"net/url"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/stacktest"
)

// TestDynamoDBKilled kills DynamoDB Local (SIGKILL, no warning) in the
// middle of an ingest load and again during the aggregation, and starts it
// again on the same port and data directory each time. It runs a DynamoDB
// Local of its own: the test binary's shared one stays up.
func TestDynamoDBKilled(t *testing.T) {
	slow(t)
	w := generate("large", 2, large)
	want := undisturbed(t, w)
	began := time.Now()
	dir := filepath.Join(t.TempDir(), "dynamodb")
	opts := localstack.DynamoDBOptions{DataDir: dir, JVMArgs: []string{"-XX:TieredStopAtLevel=1"}}
	db, err := localstack.StartDynamoDB(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(db.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Stop() })
	c := newClient(stacktest.StartWith(t, stacktest.Options{DynamoDBEndpoint: db.Endpoint()}))
	kills := 0
	var restartTook time.Duration
	kill := outage{
		what: "DynamoDB Local killed",
		down: func(t *testing.T) {
			if err := syscall.Kill(-db.PID(), syscall.SIGKILL); err != nil {
				t.Errorf("kill DynamoDB Local: %v", err)
			}
			_ = db.Stop() // waits for the process to be gone
			kills++
		},
		up: func(t *testing.T) {
			began := time.Now()
			var err error
			if db, err = localstack.StartDynamoDB(context.Background(), opts); err != nil {
				t.Errorf("restart DynamoDB Local on port %d: %v", opts.Port, err)
				return
			}
			restartTook += time.Since(began)
		},
	}
	sendThrough(t, c, w, kill, 30)
	aggregateThrough(t, c, w, kill)
	got := take(t, c, w.from, w.to)
	c.report(t, "DynamoDB kill run", time.Since(began))
	t.Logf("DynamoDB Local killed %d times, restarts took %v in all", kills, restartTook.Round(time.Millisecond))
	compare(t, got, want)
}
