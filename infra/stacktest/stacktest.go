// Package stacktest starts a fresh local stack for a test: its own table
// and bucket on the test binary's DynamoDB Local and S3 server, the demo
// tenant, and the `make dev` router on an httptest server.
package stacktest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/logging"
)

// Stack is a running local stack.
type Stack struct {
	URL                         string
	Tenant                      string
	WriteKey, ReadKey, AdminKey string
	WebhookSecret               string
	// Where the stack keeps its data, for tests that inspect it.
	DynamoDBEndpoint, S3Endpoint string
	Table, Bucket                string
	*devstack.Stack
}

// Options tune Start.
type Options struct {
	// Now is the stack's clock; nil is the real one.
	Now func() time.Time
	// Logs, when set, receives the stack's logs (JSON lines, as in Lambda).
	Logs io.Writer
	// Metrics, when set, receives the stack's CloudWatch EMF records.
	Metrics io.Writer
	// DynamoDBEndpoint and S3Endpoint, when set, replace the test
	// binary's shared DynamoDB Local and the test's own S3 server.
	DynamoDBEndpoint, S3Endpoint string
	// Transport, when set, carries the stack's DynamoDB and S3 requests.
	Transport http.RoundTripper
	// Retryer, when set, makes the stack's DynamoDB and S3 retryers.
	Retryer func() aws.Retryer
}

// Start starts a stack for t and stops it when t ends. The test binary's
// TestMain must call localstacktest.Main.
func Start(t testing.TB) *Stack { return StartWith(t, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Stack {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.Logs != nil {
		log = logging.New(o.Logs, logging.JSON, slog.LevelDebug)
	} else if os.Getenv("UPTAKE_TEST_LOG") != "" {
		log = logging.New(os.Stderr, logging.Text, slog.LevelDebug)
	}
	opts := devstack.Options{
		DynamoDBEndpoint: o.DynamoDBEndpoint,
		S3Endpoint:       o.S3Endpoint,
		Table:            localstacktest.UniqueName("uptake"),
		Bucket:           localstacktest.UniqueName("uptake"),
		Now:              o.Now,
		Log:              log,
		SecretsKey:       localstacktest.UniqueName("key"),
		Transport:        o.Transport,
		Retryer:          o.Retryer,
		Metrics:          o.Metrics,
	}
	if opts.DynamoDBEndpoint == "" {
		opts.DynamoDBEndpoint = localstacktest.DynamoDBEndpoint(t)
	}
	if opts.S3Endpoint == "" {
		opts.S3Endpoint = localstacktest.S3Endpoint(t)
	}
	ds, err := devstack.New(ctx, opts)
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	demo := devstack.Demo()
	if err := ds.Provision(ctx, demo); err != nil {
		t.Fatalf("provision demo tenant: %v", err)
	}
	srv := httptest.NewServer(ds.Router)
	t.Cleanup(srv.Close)
	return &Stack{
		URL: srv.URL, Tenant: demo.ID, WriteKey: string(demo.WriteKey), ReadKey: string(demo.ReadKey),
		AdminKey: string(demo.AdminKey), WebhookSecret: string(demo.WebhookSecret), Stack: ds,
		DynamoDBEndpoint: opts.DynamoDBEndpoint, S3Endpoint: opts.S3Endpoint, Table: opts.Table, Bucket: opts.Bucket,
	}
}

// ToolSample reads a tool's sample delivery in the repository's events/
// folder (webhooks-<provider>.json, signed as the tool signs, with the
// local stack's secret): its headers, less content-length and host, and
// its body.
func ToolSample(tb testing.TB, provider string) (map[string]string, []byte) {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "events", "webhooks-"+provider+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	var ev struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		tb.Fatal(err)
	}
	h := map[string]string{}
	for k, v := range ev.Headers {
		if k != "content-length" && k != "host" {
			h[k] = v
		}
	}
	return h, []byte(ev.Body)
}
