package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

const (
	// startTimeout bounds how long StartDynamoDB waits for DynamoDB Local
	// to answer. A start takes 2 to 5 seconds on a 2-core machine.
	startTimeout = 30 * time.Second
	// pollInterval is the pause between two readiness probes.
	pollInterval = 100 * time.Millisecond
	// probeTimeout bounds one readiness probe.
	probeTimeout = 2 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
	// outputTail is how much of the process's output errors quote.
	outputTail = 8 << 10
	// portAttempts is how many ports StartDynamoDB tries when it picks the
	// port itself and another process takes it first.
	portAttempts = 3
)

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port already in use")

// DynamoDBOptions configures [StartDynamoDB]. The zero value runs an
// in-memory DynamoDB Local on a free port with "java" from PATH.
type DynamoDBOptions struct {
	// Port is the TCP port to listen on; 0 picks a free one.
	Port int
	// DataDir, if set, is the directory (created if needed) where DynamoDB
	// Local keeps its single database file, so that tables survive
	// restarts. Empty keeps everything in memory.
	DataDir string
	// Java is the java executable (Java 17 or later); empty means "java"
	// from PATH.
	Java string
	// JVMArgs are extra options for the JVM, placed before -jar, such as
	// "-Xmx512m", or "-XX:TieredStopAtLevel=1", which cuts the CPU time of
	// a start by about 40% (good for tests, at some cost in throughput).
	JVMArgs []string
	// Stdout and Stderr, if set, receive the process's output.
	Stdout, Stderr io.Writer
}

// DynamoDB is a running DynamoDB Local process. Stop it with [DynamoDB.Stop].
type DynamoDB struct {
	cmd      *exec.Cmd
	endpoint string
	output   *tailBuffer

	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // cmd.Wait's result; read only after exited is closed

	stopOnce sync.Once
	stopErr  error
}

// StartDynamoDB starts DynamoDB Local (found by [FindDynamoDBLocal]) and
// waits until it answers a ListTables call, for at most 30 seconds. If the
// process exits before then, StartDynamoDB returns at once with its output
// in the error.
//
// ctx bounds the start only: if it is cancelled before DynamoDB Local
// answers, the process is killed and ctx's error returned. Once started,
// the process runs until [DynamoDB.Stop]. It runs in its own process group;
// on Linux the kernel also kills it if the calling process dies.
//
// DynamoDB Local listens on every interface (it has no bind option); use
// the loopback endpoint returned by [DynamoDB.Endpoint].
func StartDynamoDB(ctx context.Context, opts DynamoDBOptions) (*DynamoDB, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localstack: starting DynamoDB Local: %w", context.Cause(ctx))
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("localstack: invalid DynamoDB Local port %d", opts.Port)
	}
	dir, err := FindDynamoDBLocal()
	if err != nil {
		return nil, err
	}
	dataDir := ""
	if opts.DataDir != "" {
		if dataDir, err = filepath.Abs(opts.DataDir); err != nil {
			return nil, fmt.Errorf("localstack: DynamoDB Local data directory: %w", err)
		}
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("localstack: creating DynamoDB Local data directory: %w", err)
		}
	}

	attempts := 1
	if opts.Port == 0 {
		attempts = portAttempts
		unlock, err := lockStarts()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freeLoopbackPort(); err != nil {
				return nil, err
			}
		}
		d, err := startDynamoDB(ctx, dir, port, dataDir, opts)
		if err == nil || attempt == attempts || !errors.Is(err, errPortInUse) {
			return d, err
		}
	}
}

// startDynamoDB makes one attempt at starting DynamoDB Local on port.
func startDynamoDB(ctx context.Context, dir string, port int, dataDir string, opts DynamoDBOptions) (*DynamoDB, error) {
	// DynamoDB Local binds 0.0.0.0: check the port is free on every
	// interface, or the readiness probe could be answered by whatever
	// holds it while our process fails to bind.
	if err := checkPortFree(port); err != nil {
		return nil, err
	}

	args := slices.Concat(opts.JVMArgs, []string{
		"-Djava.library.path=" + filepath.Join(dir, dynamoDBLocalLib),
		"-jar", filepath.Join(dir, dynamoDBLocalJar),
		"-port", strconv.Itoa(port),
		"-disableTelemetry",
		// One database whatever the clients' credentials and region.
		"-sharedDb",
	})
	if dataDir == "" {
		args = append(args, "-inMemory")
	} else {
		args = append(args, "-dbPath", dataDir)
	}
	java := cmp.Or(opts.Java, "java")
	cmd := exec.Command(java, args...)
	output := newTailBuffer(outputTail)
	cmd.Stdout = &teeWriter{tail: output, w: opts.Stdout}
	cmd.Stderr = &teeWriter{tail: output, w: opts.Stderr}
	if interfaceEqual(opts.Stdout, opts.Stderr) {
		// One pipe, so that writes to the shared writer are not
		// concurrent (as exec.Cmd promises) and the output keeps its order.
		cmd.Stderr = cmd.Stdout
	}
	cmd.WaitDelay = time.Second // don't hang on output pipes held by strays
	configureProcess(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localstack: starting DynamoDB Local with %q (Java 17 or later is needed): %w", java, err)
	}

	d := &DynamoDB{
		cmd:      cmd,
		endpoint: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		output:   output,
		exited:   make(chan struct{}),
	}
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()

	if err := d.waitReady(ctx); err != nil {
		d.killAndWait()
		return nil, err
	}
	return d, nil
}

// waitReady polls DynamoDB Local with ListTables until it answers, the
// process exits, ctx is done or startTimeout passes.
func (d *DynamoDB) waitReady(ctx context.Context) error {
	client := NewDynamoDBClient(d.endpoint, func(o *dynamodb.Options) {
		o.Retryer = aws.NopRetryer{}
	})
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()

	var lastErr error
	for {
		probeCtx, cancel := context.WithTimeout(ctx, probeTimeout)
		_, err := client.ListTables(probeCtx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		cancel()
		if err == nil {
			select {
			case <-d.exited:
				// The answer came from another server: ours has exited.
				return d.exitError("exited during start")
			default:
				return nil
			}
		}
		lastErr = err

		select {
		case <-ctx.Done():
			return fmt.Errorf("localstack: DynamoDB Local start interrupted: %w", context.Cause(ctx))
		case <-d.exited:
			return d.exitError("exited during start")
		case <-deadline.C:
			return fmt.Errorf("localstack: DynamoDB Local did not answer on %s within %s (last error: %v)%s",
				d.endpoint, startTimeout, lastErr, d.outputSuffix())
		case <-ticker.C:
		}
	}
}

// Endpoint returns the URL clients use, such as "http://127.0.0.1:8000".
func (d *DynamoDB) Endpoint() string { return d.endpoint }

// PID returns the process id of the DynamoDB Local JVM, which is also the
// id of its process group.
func (d *DynamoDB) PID() int { return d.cmd.Process.Pid }

// Stop sends SIGTERM to DynamoDB Local's process group, then SIGKILL if it
// has not exited after 5 seconds, and waits for it to exit. It returns an
// error if the process had already exited on its own. Calling Stop again
// returns the first call's result.
func (d *DynamoDB) Stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.stop() })
	return d.stopErr
}

func (d *DynamoDB) stop() error {
	select {
	case <-d.exited:
		return d.exitError("had exited before Stop")
	default:
	}
	if err := terminate(d.cmd.Process); err != nil {
		return fmt.Errorf("localstack: stopping DynamoDB Local (pid %d): %w", d.PID(), err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-d.exited:
	case <-timer.C:
		d.killAndWait()
	}
	return nil
}

// killAndWait kills the process group unless the process has already been
// waited for, and waits for it to exit.
func (d *DynamoDB) killAndWait() {
	select {
	case <-d.exited:
		return
	default:
	}
	if err := kill(d.cmd.Process); err != nil {
		return // cannot happen for our own child; don't wait forever
	}
	<-d.exited
}

// exitError describes the exit of the process; call only after d.exited is
// closed.
func (d *DynamoDB) exitError(what string) error {
	cause := d.waitErr
	if cause == nil {
		cause = errors.New("exit status 0")
	}
	if out := d.output.String(); strings.Contains(out, "Address already in use") || strings.Contains(out, "Failed to bind") {
		cause = fmt.Errorf("%w (%w)", errPortInUse, cause)
	}
	return fmt.Errorf("localstack: DynamoDB Local on %s %s: %w%s", d.endpoint, what, cause, d.outputSuffix())
}

// outputSuffix quotes the tail of the process's output for an error message.
func (d *DynamoDB) outputSuffix() string {
	out := strings.TrimSpace(d.output.String())
	if out == "" {
		return "; no output"
	}
	return "; output:\n" + out
}

// freeLoopbackPort returns a TCP port that is free on 127.0.0.1 right now.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localstack: picking a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("localstack: picking a free port: %w", err)
	}
	return port, nil
}

// checkPortFree reports whether port can be bound on every interface.
func checkPortFree(port int) error {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("localstack: DynamoDB Local port %d: %w", port, errPortInUse)
	}
	if err != nil {
		return fmt.Errorf("localstack: DynamoDB Local port %d: %w", port, err)
	}
	return ln.Close()
}

// teeWriter copies what it is given to tail and, if it is not nil, to w.
// An error from w stops the copies to w only: the process must not block
// or fail on a broken output.
type teeWriter struct {
	tail  *tailBuffer
	w     io.Writer
	wDone bool
}

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = t.tail.Write(p) // never fails
	if t.w != nil && !t.wDone {
		if _, err := t.w.Write(p); err != nil {
			t.wDone = true
		}
	}
	return len(p), nil
}

// interfaceEqual protects against panics from comparing writers of
// uncomparable types, as os/exec does.
func interfaceEqual(a, b any) bool {
	defer func() { _ = recover() }()
	return a == b
}

// tailBuffer keeps the last size bytes written to it. It is safe for
// concurrent use.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	size      int
	truncated bool
}

func newTailBuffer(size int) *tailBuffer { return &tailBuffer{size: size} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.size; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.truncated {
		return "[...]" + string(t.buf)
	}
	return string(t.buf)
}
