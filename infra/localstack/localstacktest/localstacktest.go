// Package localstacktest gives tests a DynamoDB Local and an S3-compatible
// server (see package localstack).
//
// A test package that uses DynamoDBEndpoint must stop the shared DynamoDB
// Local when its test binary exits, by calling Main from TestMain:
//
//	func TestMain(m *testing.M) { localstacktest.Main(m) }
//
// Tests then call DynamoDBEndpoint and S3Endpoint, and give their tables and
// buckets names from UniqueName so that they can run in parallel, and share
// a server with other test binaries:
//
//	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
//	table := localstacktest.UniqueName("events")
//
// Environment variables:
//
//   - UPTAKE_DYNAMODB_ENDPOINT: use this DynamoDB (Local) endpoint, such as
//     http://127.0.0.1:8000, instead of starting one per test binary.
//   - UPTAKE_S3_ENDPOINT: use this S3-compatible endpoint instead of
//     starting one per test.
//   - UPTAKE_DYNAMODB_LOCAL_DIR: where DynamoDB Local is installed (see
//     localstack.FindDynamoDBLocal).
//
// If DynamoDB Local cannot be started, the tests that need it fail with the
// reason; they are never skipped.
package localstacktest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uptakehq/uptake/infra/localstack"
)

// Environment variables naming servers that are already running.
const (
	EnvDynamoDBEndpoint = "UPTAKE_DYNAMODB_ENDPOINT"
	EnvS3Endpoint       = "UPTAKE_S3_ENDPOINT"
)

// fastStartJVMArgs are the JVM options DynamoDBEndpoint gives DynamoDB
// Local: compiling with C1 only cuts the CPU time of a start by about 40%,
// which matters when several test binaries start one at the same time.
var fastStartJVMArgs = []string{"-XX:TieredStopAtLevel=1"}

// checkTimeout bounds the check that an external DynamoDB endpoint answers.
const checkTimeout = 10 * time.Second

var (
	// inMain is set by Main: DynamoDBEndpoint refuses to start a process
	// that nothing would stop.
	inMain atomic.Bool

	// shared is the test binary's DynamoDB Local.
	shared struct {
		mu       sync.Mutex
		done     bool // the first DynamoDBEndpoint call has set endpoint or err
		stopped  bool // Main has stopped db
		db       *localstack.DynamoDB
		endpoint string
		err      error
	}
)

// Main runs the tests, stops the DynamoDB Local that DynamoDBEndpoint may
// have started, and exits with the tests' exit code (1 if they passed but
// DynamoDB Local did not stop cleanly). Call it from TestMain:
//
//	func TestMain(m *testing.M) { localstacktest.Main(m) }
//
// If the test binary dies instead (a panic, a -timeout), on Linux the kernel
// kills DynamoDB Local with it.
func Main(m *testing.M) {
	inMain.Store(true)
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "localstacktest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// stopShared stops the shared DynamoDB Local, if it was started.
func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopped = true
	if shared.db == nil {
		return nil
	}
	return shared.db.Stop()
}

// DynamoDBEndpoint returns the endpoint of the DynamoDB Local shared by the
// whole test binary: the value of UPTAKE_DYNAMODB_ENDPOINT if it is set
// (checked once with a ListTables call), otherwise an in-memory DynamoDB
// Local started on first use and stopped by Main. It fails the test if
// DynamoDB Local cannot be started or reached, or if TestMain does not call
// Main.
//
// Tables are shared with the other tests: name them with UniqueName.
func DynamoDBEndpoint(tb testing.TB) string {
	tb.Helper()
	if !inMain.Load() {
		tb.Fatal("localstacktest: DynamoDBEndpoint needs TestMain to call localstacktest.Main(m), which stops DynamoDB Local when the tests end")
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stopped {
		tb.Fatal("localstacktest: DynamoDBEndpoint called after the tests ended")
	}
	if !shared.done {
		shared.endpoint, shared.db, shared.err = startShared()
		shared.done = true
	}
	if shared.err != nil {
		tb.Fatalf("localstacktest: %v", shared.err)
	}
	return shared.endpoint
}

// startShared returns the endpoint given by the environment, or starts an
// in-memory DynamoDB Local.
func startShared() (string, *localstack.DynamoDB, error) {
	ctx := context.Background()
	if endpoint := os.Getenv(EnvDynamoDBEndpoint); endpoint != "" {
		ctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		client := localstack.NewDynamoDBClient(endpoint)
		if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
			return "", nil, fmt.Errorf("%s=%s does not answer: %w", EnvDynamoDBEndpoint, endpoint, err)
		}
		return endpoint, nil, nil
	}
	db, err := localstack.StartDynamoDB(ctx, localstack.DynamoDBOptions{JVMArgs: fastStartJVMArgs})
	if err != nil {
		return "", nil, err
	}
	return db.Endpoint(), db, nil
}

// S3Endpoint returns the endpoint of an S3-compatible server: the value of
// UPTAKE_S3_ENDPOINT if it is set, otherwise a new in-memory gofakes3
// server for this test alone, stopped by tb.Cleanup. Starting one takes
// well under a millisecond, so each test gets an empty S3. It fails the
// test if the server cannot be started.
func S3Endpoint(tb testing.TB) string {
	tb.Helper()
	if endpoint := os.Getenv(EnvS3Endpoint); endpoint != "" {
		return endpoint
	}
	s3, err := localstack.StartS3(localstack.S3Options{})
	if err != nil {
		tb.Fatalf("localstacktest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s3.Stop(); err != nil {
			tb.Errorf("localstacktest: %v", err)
		}
	})
	return s3.Endpoint()
}

// maxPrefixLen leaves room in a 63-character S3 bucket name for
// UniqueName's suffix: "-" and 16 hexadecimal digits.
const maxPrefixLen = 63 - 17

// UniqueName returns prefix followed by a random suffix, unique across tests
// and test binaries, valid both as a DynamoDB table name and as an S3
// bucket name: lowercase letters, digits and single hyphens, starting with
// a letter or digit, at most 63 characters. Runs of other characters in
// prefix become one hyphen, and a long prefix is shortened.
func UniqueName(prefix string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(prefix) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	p := b.String()
	if p == "" || strings.HasPrefix(p, "sthree-") || strings.HasPrefix(p, "amzn-s3-demo-") {
		p = "t-" + p // empty, or a prefix S3 reserves
	}
	p = strings.TrimRight(p[:min(len(p), maxPrefixLen)], "-")
	return fmt.Sprintf("%s-%016x", p, rand.Uint64())
}
