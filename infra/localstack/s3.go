package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// s3ShutdownTimeout bounds the graceful shutdown in S3.Stop.
const s3ShutdownTimeout = 5 * time.Second

// S3Options configures [StartS3]. The zero value serves an in-memory S3 on
// a free loopback port.
type S3Options struct {
	// Addr is the loopback address to listen on, such as
	// "127.0.0.1:9000"; empty means "127.0.0.1:0" (a free port). Addresses
	// that are not loopback are refused: the server has no authentication.
	Addr string
	// DataDir, if set, is the directory (created if needed) where buckets
	// and objects are kept as files (objects under DataDir/buckets, their
	// metadata under DataDir/metadata), so that they survive restarts.
	// Empty keeps everything in memory.
	DataDir string
}

// S3 is a running S3-compatible server (gofakes3). Stop it with [S3.Stop].
type S3 struct {
	server   *http.Server
	endpoint string
	served   chan error // receives Serve's result, then is closed

	stopOnce sync.Once
	stopErr  error
}

// StartS3 starts an S3-compatible server on loopback, in this process.
// It accepts path-style requests (http://127.0.0.1:P/bucket/key), does not
// check signatures, and does not compare the clients' clock with its own,
// so requests signed at fixed or old times work.
func StartS3(opts S3Options) (*S3, error) {
	addr := cmp.Or(opts.Addr, "127.0.0.1:0")
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	backend, err := newS3Backend(opts.DataDir)
	if err != nil {
		return nil, err
	}
	faker := gofakes3.New(backend,
		gofakes3.WithTimeSkewLimit(0), // 0 disables the x-amz-date check
		gofakes3.WithHostBucket(false),
		gofakes3.WithLogger(gofakes3.DiscardLog()),
	)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("localstack: S3 listening on %s: %w", addr, err)
	}
	s := &S3{
		server: &http.Server{
			Handler:           faker.Server(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
		},
		endpoint: "http://" + ln.Addr().String(),
		served:   make(chan error, 1),
	}
	go func() {
		s.served <- s.server.Serve(ln)
		close(s.served)
	}()
	return s, nil
}

// newS3Backend returns an in-memory backend, or one keeping files under
// dataDir.
func newS3Backend(dataDir string) (gofakes3.Backend, error) {
	if dataDir == "" {
		return s3mem.New(), nil
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("localstack: S3 data directory: %w", err)
	}
	// FsPath creates dir and roots an OS file system there.
	fs, err := s3afero.FsPath(dir, s3afero.FsPathCreateAll)
	if err != nil {
		return nil, fmt.Errorf("localstack: S3 data directory: %w", err)
	}
	backend, err := s3afero.MultiBucket(fs)
	if err != nil {
		return nil, fmt.Errorf("localstack: S3 data directory %s: %w", dir, err)
	}
	return backend, nil
}

// checkLoopback reports whether addr (host:port) names a loopback host.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("localstack: S3 address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("localstack: S3 address %q is not a loopback address such as 127.0.0.1:9000", addr)
}

// Endpoint returns the URL clients use, such as "http://127.0.0.1:9000".
func (s *S3) Endpoint() string { return s.endpoint }

// Stop shuts the server down gracefully: it stops accepting connections and
// waits up to 5 seconds for requests in flight, then closes the remaining
// connections. Calling Stop again returns the first call's result.
func (s *S3) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *S3) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), s3ShutdownTimeout)
	defer cancel()
	err := s.server.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.server.Close()
	}
	if serveErr := <-s.served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("localstack: S3 server on %s: %w", s.endpoint, serveErr)
	}
	if err != nil {
		return fmt.Errorf("localstack: stopping S3 server on %s: %w", s.endpoint, err)
	}
	return nil
}
