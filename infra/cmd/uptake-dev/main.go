// Command uptake-dev runs Uptake's local stack (`make dev`): DynamoDB Local,
// an S3-compatible server and the API on 127.0.0.1:3000, serving
// template.yaml's routes with the same handlers Lambda runs. Data lives in
// .data/ and survives restarts.
//
//	uptake-dev serve              start the stack (Ctrl-C stops all of it)
//	uptake-dev aggregate -from D -to D   run the nightly job for those days
//	uptake-dev nightly            run the scheduled job as EventBridge would
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/shared/logging"
	"github.com/uptakehq/uptake/shared/tenant"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The fields of the Lambda functions' JSON logs, as text for people.
	level, err := logging.ParseLevel(os.Getenv("LOG_LEVEL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptake-dev:", err)
		os.Exit(2)
	}
	log := logging.New(os.Stderr, logging.Text, level)
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, log, os.Args[2:])
	case "aggregate":
		err = aggregate(ctx, os.Args[2:])
	case "nightly":
		err = nightly(ctx, log, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptake-dev:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: uptake-dev serve | aggregate -from YYYY-MM-DD -to YYYY-MM-DD | nightly")
	os.Exit(2)
}

type settings struct {
	dataDir, table, bucket, apiAddr, s3Addr string
	dynamoPort                              int
}

// flags declares the settings' flags on a new flag set; the settings hold
// the flags' values once the set has parsed the arguments.
func flags(name string, args []string) (*settings, *flag.FlagSet) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	s := &settings{}
	port := env("PORT", "3000")
	fs.StringVar(&s.dataDir, "data", env("UPTAKE_DATA_DIR", ".data"), "folder for DynamoDB and S3 data")
	fs.StringVar(&s.table, "table", env("TABLE_NAME", "uptake"), "DynamoDB table")
	fs.StringVar(&s.bucket, "bucket", env("BUCKET_NAME", "uptake-local"), "S3 bucket")
	fs.StringVar(&s.apiAddr, "addr", "127.0.0.1:"+port, "API address")
	fs.StringVar(&s.s3Addr, "s3-addr", env("UPTAKE_S3_ADDR", "127.0.0.1:9000"), "S3 server address")
	fs.IntVar(&s.dynamoPort, "dynamodb-port", 8000, "DynamoDB Local port")
	return s, fs
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parts starts DynamoDB Local and the S3 server on the data folder.
func parts(ctx context.Context, s settings) (*localstack.DynamoDB, *localstack.S3, error) {
	dataDir, err := filepath.Abs(s.dataDir)
	if err != nil {
		return nil, nil, err
	}
	db, err := localstack.StartDynamoDB(ctx, localstack.DynamoDBOptions{Port: s.dynamoPort, DataDir: filepath.Join(dataDir, "dynamodb")})
	if err != nil {
		return nil, nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	s3, err := localstack.StartS3(localstack.S3Options{Addr: s.s3Addr, DataDir: filepath.Join(dataDir, "s3")})
	if err != nil {
		db.Stop()
		return nil, nil, fmt.Errorf("start S3 server: %w", err)
	}
	return db, s3, nil
}

// open starts the parts and assembles the stack on them; stop stops both.
func open(ctx context.Context, log *slog.Logger, s settings) (*devstack.Stack, *localstack.DynamoDB, *localstack.S3, func(), error) {
	db, s3, err := parts(ctx, s)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	stop := func() {
		s3.Stop()
		db.Stop()
	}
	ds, err := devstack.New(ctx, devstack.Options{DynamoDBEndpoint: db.Endpoint(), S3Endpoint: s3.Endpoint(), Table: s.table, Bucket: s.bucket, Log: log,
		SecretsKey: os.Getenv("UPTAKE_SECRETS_KEY")})
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	return ds, db, s3, stop, nil
}

func demoTenant() devstack.Tenant {
	t := devstack.Demo()
	t.WriteKey = tenant.Secret(env("UPTAKE_DEMO_WRITE_KEY", string(t.WriteKey)))
	t.ReadKey = tenant.Secret(env("UPTAKE_DEMO_READ_KEY", string(t.ReadKey)))
	t.AdminKey = tenant.Secret(env("UPTAKE_DEMO_ADMIN_KEY", string(t.AdminKey)))
	t.WebhookSecret = tenant.Secret(env("UPTAKE_DEMO_WEBHOOK_SECRET", string(t.WebhookSecret)))
	return t
}

func serve(ctx context.Context, log *slog.Logger, args []string) error {
	s, fs := flags("serve", args)
	fs.Parse(args)
	ds, db, s3, stop, err := open(ctx, log, *s)
	if err != nil {
		return err
	}
	defer stop()
	if err := ds.Provision(ctx, demoTenant()); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.apiAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.apiAddr, err)
	}
	// The alert outbox is drained here as the one-minute schedule does
	// when deployed.
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				ds.App.SendAlerts(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
			}
		}
	}()
	srv := &http.Server{Handler: ds.Router, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "\nUptake local stack\n  API       http://%s  (tenant demo: demo-write-key, demo-read-key, demo-admin-key)\n  DynamoDB  %s\n  S3        %s  (bucket %s)\n  data      %s\nCtrl-C stops everything.\n\n",
		ln.Addr(), db.Endpoint(), s3.Endpoint(), s.bucket, s.dataDir)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(os.Stderr, "stopping")
	return nil
}

// aggregate asks the running stack's admin route to run the nightly job.
func aggregate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("aggregate", flag.ExitOnError)
	from := fs.String("from", "", "first day, YYYY-MM-DD")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: from)")
	api := fs.String("api", "http://127.0.0.1:"+env("PORT", "3000"), "API base URL")
	key := fs.String("key", string(demoTenant().AdminKey), "admin key")
	fs.Parse(args)
	if *from == "" {
		return errors.New("aggregate: -from is required (make aggregate FROM=YYYY-MM-DD TO=YYYY-MM-DD)")
	}
	if *to == "" {
		*to = *from
	}
	body, _ := json.Marshal(map[string]string{"from": *from, "to": *to})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *api+"/v1/admin/aggregate", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+*key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is `make dev` running? %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	fmt.Println(string(out))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("aggregate: %s", resp.Status)
	}
	return nil
}

// nightly runs the scheduled function's handler against the data folder,
// with the stack stopped, as EventBridge would at 00:15.
func nightly(ctx context.Context, log *slog.Logger, args []string) error {
	s, fs := flags("nightly", args)
	fs.Parse(args)
	ds, _, _, stop, err := open(ctx, log, *s)
	if err != nil {
		return err
	}
	defer stop()
	return ds.App.Nightly(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
}
