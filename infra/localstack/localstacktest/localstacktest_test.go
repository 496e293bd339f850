package localstacktest_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// helperEnv selects what TestHelperProcess does when this test binary is
// run again as a child process; helperOutEnv names the file where it writes
// the DynamoDB endpoint it got.
const (
	helperEnv    = "LOCALSTACKTEST_HELPER"
	helperOutEnv = "LOCALSTACKTEST_HELPER_OUT"
)

// TestHelperProcess is not a real test: run as a child process by the tests
// below, it gets a DynamoDB endpoint and then ends as they ask.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return // not run as a helper
	}
	endpoint := localstacktest.DynamoDBEndpoint(t)
	if err := os.WriteFile(os.Getenv(helperOutEnv), []byte(endpoint), 0o644); err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "fail":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	}
}

// runHelper runs TestHelperProcess in a child process with env added to a
// copy of this process's environment without the localstacktest variables.
// It returns the child's output, whether it succeeded, and the endpoint it
// wrote.
func runHelper(t *testing.T, mode string, env ...string) (output string, ok bool, endpoint string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "endpoint")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UPTAKE_") && !strings.HasPrefix(kv, "LOCALSTACKTEST_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, helperEnv+"="+mode, helperOutEnv+"="+out)
	cmd.Env = append(cmd.Env, env...)
	b, err := cmd.CombinedOutput()
	written, _ := os.ReadFile(out)
	return string(b), err == nil, string(written)
}

// checkNotListening fails the test if anything still accepts connections
// at endpoint, after a short grace period.
func checkNotListening(t *testing.T, endpoint string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Errorf("DynamoDB Local still listens on %s after its test binary exited", endpoint)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMainStopsDynamoDBWhenTestsFail and the next test run a test binary
// that starts DynamoDB Local and then fails, and check nothing is left
// listening. They are not parallel: JVMs starting side by side are slow.
func TestMainStopsDynamoDBWhenTestsFail(t *testing.T) {
	output, ok, endpoint := runHelper(t, "fail")
	if ok || !strings.Contains(output, "failing on purpose") {
		t.Fatalf("helper did not fail as asked:\n%s", output)
	}
	if endpoint == "" {
		t.Fatalf("helper wrote no endpoint:\n%s", output)
	}
	checkNotListening(t, endpoint)
}

func TestDynamoDBDiesWithPanickingTestBinary(t *testing.T) {
	output, ok, endpoint := runHelper(t, "panic")
	if ok || !strings.Contains(output, "panicking on purpose") {
		t.Fatalf("helper did not panic as asked:\n%s", output)
	}
	if endpoint == "" {
		t.Fatalf("helper wrote no endpoint:\n%s", output)
	}
	checkNotListening(t, endpoint)
}

func TestDynamoDBEndpointFailsWithReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, env, want string
	}{
		{"not installed", localstack.EnvDynamoDBLocalDir + "=" + t.TempDir(), "npm ci --prefix infra"},
		{"unreachable endpoint", localstacktest.EnvDynamoDBEndpoint + "=http://127.0.0.1:1", "does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			output, ok, _ := runHelper(t, "pass", tc.env)
			if ok || !strings.Contains(output, "--- FAIL: TestHelperProcess") || strings.Contains(output, "--- SKIP") {
				t.Errorf("helper did not fail:\n%s", output)
			}
			if !strings.Contains(output, tc.want) {
				t.Errorf("helper output does not contain %q:\n%s", tc.want, output)
			}
		})
	}
}

func TestDynamoDBEndpointShared(t *testing.T) {
	t.Parallel()
	endpoint := localstacktest.DynamoDBEndpoint(t)
	if again := localstacktest.DynamoDBEndpoint(t); again != endpoint {
		t.Errorf("second DynamoDBEndpoint = %s, first %s", again, endpoint)
	}
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Errorf("endpoint %s is not on 127.0.0.1", endpoint)
	}
	db := localstack.NewDynamoDBClient(endpoint)
	if _, err := db.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}

	// A child test binary given this endpoint uses it rather than starting
	// its own DynamoDB Local.
	output, ok, got := runHelper(t, "pass", localstacktest.EnvDynamoDBEndpoint+"="+endpoint)
	if !ok || got != endpoint {
		t.Errorf("helper with %s=%s got endpoint %q:\n%s", localstacktest.EnvDynamoDBEndpoint, endpoint, got, output)
	}
}

func TestS3EndpointPerTest(t *testing.T) {
	t.Parallel()
	var endpoints []string
	for i := range 2 {
		t.Run("", func(t *testing.T) {
			endpoint := localstacktest.S3Endpoint(t)
			endpoints = append(endpoints, endpoint)
			client := localstack.NewS3Client(endpoint)
			out, err := client.ListBuckets(t.Context(), &s3.ListBucketsInput{})
			if err != nil {
				t.Fatalf("ListBuckets: %v", err)
			}
			if len(out.Buckets) != 0 {
				t.Errorf("test %d: a new S3 has buckets %v", i, out.Buckets)
			}
			if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(localstacktest.UniqueName("b"))}); err != nil {
				t.Fatalf("CreateBucket: %v", err)
			}
		})
	}
	for _, endpoint := range endpoints {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := localstack.NewS3Client(endpoint).ListBuckets(ctx, &s3.ListBucketsInput{})
		cancel()
		if err == nil {
			t.Errorf("S3 at %s still answers after its test ended", endpoint)
		}
	}
}

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func TestUniqueName(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{
		"events", "Raw_Events", "", "-", "--a--b--", "ÉvÉnements", "sthree-x", "amzn-s3-demo-x",
		"2026.01.01", strings.Repeat("x", 100), strings.Repeat("ab-", 30), "a..b", "192.168.0.1",
	} {
		name := localstacktest.UniqueName(prefix)
		if !validName.MatchString(name) || strings.Contains(name, "--") || len(name) < 3 || len(name) > 63 ||
			strings.HasPrefix(name, "sthree-") || strings.HasPrefix(name, "amzn-s3-demo-") {
			t.Errorf("UniqueName(%q) = %q, not a valid bucket and table name", prefix, name)
		}
	}
	if name := localstacktest.UniqueName("Raw_Events"); !strings.HasPrefix(name, "raw-events-") {
		t.Errorf("UniqueName(Raw_Events) = %q, want prefix raw-events-", name)
	}
	seen := make(map[string]bool)
	for range 10000 {
		name := localstacktest.UniqueName("t")
		if seen[name] {
			t.Fatalf("UniqueName repeated %q", name)
		}
		seen[name] = true
	}
}
