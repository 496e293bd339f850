package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack"
)

// Target is the stack under load: its API, the demo tenant's keys, and
// where its raw store is (read once the traffic is over, to check the
// stored messageIds).
type Target struct {
	URL                                        string
	Tenant                                     string
	WriteKey, ReadKey, AdminKey, WebhookSecret string
	S3Endpoint, Bucket                         string
}

// Local is a stack started by [StartLocal].
type Local struct {
	Target
	dir    string
	db     *localstack.DynamoDB
	s3     *localstack.S3
	server *http.Server
	served chan error
}

// StartLocal starts DynamoDB Local and the S3 server with their data in a
// new temporary folder, and serves the `make dev` router, with the demo
// tenant, on a free loopback port. Close stops it all and removes the
// folder. The template is found from the working directory.
func StartLocal(ctx context.Context, log *slog.Logger) (_ *Local, err error) {
	dir, err := os.MkdirTemp("", "uptake-load-")
	if err != nil {
		return nil, fmt.Errorf("temporary data folder: %w", err)
	}
	l := &Local{dir: dir}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.db, err = localstack.StartDynamoDB(ctx, localstack.DynamoDBOptions{DataDir: filepath.Join(dir, "dynamodb")}); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	if l.s3, err = localstack.StartS3(localstack.S3Options{DataDir: filepath.Join(dir, "s3")}); err != nil {
		return nil, fmt.Errorf("start S3 server: %w", err)
	}
	const table, bucket = "uptake", "uptake-local"
	ds, err := devstack.New(ctx, devstack.Options{DynamoDBEndpoint: l.db.Endpoint(), S3Endpoint: l.s3.Endpoint(), Table: table, Bucket: bucket, Log: log})
	if err != nil {
		return nil, err
	}
	demo := devstack.Demo()
	if err := ds.Provision(ctx, demo); err != nil {
		return nil, fmt.Errorf("provision tenant %s: %w", demo.ID, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l.server = &http.Server{Handler: ds.Router, ReadHeaderTimeout: 10 * time.Second}
	l.served = make(chan error, 1)
	go func() { l.served <- l.server.Serve(ln) }()
	l.Target = Target{
		URL: "http://" + ln.Addr().String(), Tenant: demo.ID,
		WriteKey: string(demo.WriteKey), ReadKey: string(demo.ReadKey), AdminKey: string(demo.AdminKey), WebhookSecret: string(demo.WebhookSecret),
		S3Endpoint: l.s3.Endpoint(), Bucket: bucket,
	}
	return l, nil
}

// Dir is the temporary folder of the stack's data.
func (l *Local) Dir() string { return l.dir }

// Close stops the API, the S3 server and DynamoDB Local, and removes the
// data folder.
func (l *Local) Close() error {
	var errs []error
	if l.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, l.server.Shutdown(ctx))
		cancel()
		if err := <-l.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if l.s3 != nil {
		errs = append(errs, l.s3.Stop())
	}
	if l.db != nil {
		errs = append(errs, l.db.Stop())
	}
	errs = append(errs, os.RemoveAll(l.dir))
	return errors.Join(errs...)
}
